/*
 * test_compliance.c — per-agency compliance: defaults for standards without a record (a
 * Tier 1 agency does not see advanced-only standards), the role matrix and scoping, PUT's
 * rules (only reviewers set result; proofs name real bullets), and the summary's arithmetic
 * on a hand-made fixture.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("compliance", false);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

#define LE_TIER1 "aaaaaaaa-0000-4000-8000-000000000001"
#define LE_ADVANCED "aaaaaaaa-0000-4000-8000-000000000002"
#define ACADEMY "aaaaaaaa-0000-4000-8000-000000000003"
#define ADVISOR "bbbbbbbb-0000-4000-8000-000000000001"
#define OTHER_ADVISOR "bbbbbbbb-0000-4000-8000-000000000002"
#define STD(n) "cccccccc-0000-4000-8000-0000000000" n
/* Law enforcement 6.15: 1.1.1 (both tiers), 1.1.2 (advanced), 1.2.1 (both, annual),
 * 2.1.1 (both), 2.1.2 (advanced), 2.1.3 (inactive); 6.9 has an older 1.1.1. */
#define S_111 STD("01")
#define S_112 STD("02")
#define S_121 STD("03")
#define S_211 STD("04")
#define S_212 STD("05")

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

/* The fixture, made once (every statement is idempotent). */
static void fixture(void) {
  free(th_sql(
      "INSERT INTO users (id, email, name, role) VALUES"
      " ('" ADVISOR "', 'asesor1@prueba.mx', 'Asesor Uno', 'advisor'),"
      " ('" OTHER_ADVISOR "', 'asesor2@prueba.mx', 'Asesor Dos', 'advisor')"
      " ON CONFLICT DO NOTHING;"
      "INSERT INTO agencies (id, name, type, level, state, tier, status, advisor_ids) VALUES"
      " ('" LE_TIER1 "', 'Policía Estatal de Prueba', 'law_enforcement', 'state', 'MX-GUA',"
      "  'tier1', 'self_assessment', ARRAY['" ADVISOR "']::uuid[]),"
      " ('" LE_ADVANCED "', 'Policía Municipal de Prueba', 'law_enforcement', 'municipal',"
      "  'MX-QUE', 'advanced', 'accredited', '{}'),"
      " ('" ACADEMY "', 'Academia de Prueba', 'training_academy', 'state', 'MX-SON', NULL,"
      "  'accredited', ARRAY['" ADVISOR "']::uuid[])"
      " ON CONFLICT DO NOTHING;"
      "INSERT INTO standards (id, program, manual_version, number, chapter_number,"
      " chapter_title, title, bullets, tiers, time_sensitive, active)"
      " SELECT id::uuid, p, v, n, split_part(n, '.', 1)::int,"
      "  jsonb_build_object('es', 'Capítulo ' || split_part(n, '.', 1)),"
      "  jsonb_build_object('es', 'Estándar ' || n),"
      "  '[{\"key\":\"a\",\"summary\":{\"es\":\"a\"}},{\"key\":\"b\",\"summary\":{\"es\":\"b\"}}]',"
      "  t::text[], ts, act FROM (VALUES"
      "  ('" S_111 "', 'law_enforcement', '6.15', '1.1.1', '{tier1,advanced}', NULL, true),"
      "  ('" S_112 "', 'law_enforcement', '6.15', '1.1.2', '{advanced}', NULL, true),"
      "  ('" S_121 "', 'law_enforcement', '6.15', '1.2.1', '{tier1,advanced}', 'annual', true),"
      "  ('" S_211 "', 'law_enforcement', '6.15', '2.1.1', '{tier1,advanced}', NULL, true),"
      "  ('" S_212 "', 'law_enforcement', '6.15', '2.1.2', '{advanced}', NULL, true),"
      "  ('" STD(
          "06") "', 'law_enforcement', '6.15', '2.1.3', '{tier1,advanced}', NULL, false),"
                "  ('" STD(
                    "07") "', 'law_enforcement', '6.9', '1.1.1', '{tier1,advanced}', NULL, true),"
                          "  ('" STD(
                              "11") "', 'training_academy', '2.5', '1.1.1', '{}', NULL, true),"
                                    "  ('" STD(
                                        "12") "', 'training_academy', '2.5', '1.1.2', '{}', NULL, "
                                              "true),"
                                              "  ('" STD(
                                                  "13") "', 'training_academy', '2.5', '1.1.3', "
                                                        "'{}', NULL, true),"
                                                        "  ('" STD(
                                                            "14") "', 'training_academy', '2.5', "
                                                                  "'1.1.4', '{}', NULL, true),"
                                                                  "  ('" STD(
                                                                      "15") "', "
                                                                            "'training_academy', "
                                                                            "'2.5', '2.1.1', '{}', "
                                                                            "NULL, true),"
                                                                            "  ('" STD(
                                                                                "16") "', "
                                                                                      "'training_"
                                                                                      "academy', "
                                                                                      "'2.5', "
                                                                                      "'2.1.2', "
                                                                                      "'{}', NULL, "
                                                                                      "true),"
                                                                                      "  ('" STD(
                                                                                          "17") "',"
                                                                                                " '"
                                                                                                "tr"
                                                                                                "ai"
                                                                                                "ni"
                                                                                                "ng"
                                                                                                "_a"
                                                                                                "ca"
                                                                                                "de"
                                                                                                "my"
                                                                                                "',"
                                                                                                " '"
                                                                                                "2."
                                                                                                "5'"
                                                                                                ", "
                                                                                                "'2"
                                                                                                ".1"
                                                                                                ".3"
                                                                                                "',"
                                                                                                " '"
                                                                                                "{}"
                                                                                                "',"
                                                                                                " N"
                                                                                                "UL"
                                                                                                "L,"
                                                                                                " t"
                                                                                                "ru"
                                                                                                "e)"
                                                                                                " )"
                                                                                                " x"
                                                                                                "(i"
                                                                                                "d,"
                                                                                                " p"
                                                                                                ", "
                                                                                                "v,"
                                                                                                " n"
                                                                                                ", "
                                                                                                "t,"
                                                                                                " t"
                                                                                                "s,"
                                                                                                " a"
                                                                                                "ct"
                                                                                                ") "
                                                                                                "ON"
                                                                                                " C"
                                                                                                "ON"
                                                                                                "FL"
                                                                                                "IC"
                                                                                                "T "
                                                                                                "DO"
                                                                                                " N"
                                                                                                "OT"
                                                                                                "HI"
                                                                                                "N"
                                                                                                "G"));
}

static char *token(const char *role, const char *sub, const char *agency) {
  return th_token(role, sub, agency);
}

static void numbers_of(const json_t *page, char *out, size_t cap) {
  out[0] = '\0';
  size_t i;
  const json_t *item;
  json_array_foreach(json_object_get(page, "data"), i, item) {
    size_t u = strlen(out);
    snprintf(out + u, cap - u, "%s%s", i ? " " : "",
             jstr(json_object_get(item, "standard"), "number"));
  }
}

static bool has_error(const json_t *problem, const char *field, const char *code) {
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(problem, "errors"), i, e) {
    if (strcmp(jstr(e, "field"), field) == 0 && strcmp(jstr(e, "code"), code) == 0)
      return true;
  }
  return false;
}

/* ------------------------------------------------------------- defaults */

Test(compliance, tier1_defaults_exclude_advanced_only) {
  fixture();
  struct th_resp r = th_req("GET", "/v1/agencies/" LE_TIER1 "/compliance", th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char got[256];
  numbers_of(r.json, got, sizeof got);
  cr_assert_str_eq(got, "1.1.1 1.2.1 2.1.1");
  const json_t *first = json_array_get(json_object_get(r.json, "data"), 0);
  cr_assert_str_eq(jstr(first, "progress"), "not_started");
  cr_assert_str_eq(jstr(first, "result"), "not_assessed");
  cr_assert(json_is_null(json_object_get(first, "id")));
  cr_assert_str_eq(jstr(first, "standard_id"), S_111);
  cr_assert_str_eq(jstr(json_object_get(first, "standard"), "manual_version"), "6.15");
  th_free(&r);

  r = th_req("GET", "/v1/agencies/" LE_ADVANCED "/compliance", th_admin(), NULL, NULL);
  numbers_of(r.json, got, sizeof got);
  cr_assert_str_eq(got, "1.1.1 1.1.2 1.2.1 2.1.1 2.1.2");
  th_free(&r);

  /* An older manual version on request. */
  r = th_req("GET", "/v1/agencies/" LE_ADVANCED "/compliance?manual_version=6.9", th_admin(), NULL,
             NULL);
  numbers_of(r.json, got, sizeof got);
  cr_assert_str_eq(got, "1.1.1");
  th_free(&r);

  /* The item of an advanced-only standard does not exist for a Tier 1 agency. */
  r = th_req("GET", "/v1/agencies/" LE_TIER1 "/compliance/" S_112, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  r = th_req("PUT", "/v1/agencies/" LE_TIER1 "/compliance/" S_112, th_admin(),
             "{\"progress\":\"done\"}", NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
}

Test(compliance, paging_follows_numbers_across_cursors) {
  fixture();
  const char *want[] = {"1.1.1 1.1.2", "1.2.1 2.1.1", "2.1.2"};
  char path[1024] = "/v1/agencies/" LE_ADVANCED "/compliance?limit=2", got[256];
  for (int page = 0; page < 3; page++) {
    struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    numbers_of(r.json, got, sizeof got);
    cr_assert_str_eq(got, want[page]);
    if (page < 2)
      snprintf(path, sizeof path, "/v1/agencies/" LE_ADVANCED "/compliance?limit=2&cursor=%s",
               jstr(r.json, "next_cursor"));
    else
      cr_assert(json_is_null(json_object_get(r.json, "next_cursor")));
    th_free(&r);
  }
  /* A cursor of one agency's list is refused on another's. */
  struct th_resp r =
      th_req("GET", "/v1/agencies/" LE_ADVANCED "/compliance?limit=1", th_admin(), NULL, NULL);
  snprintf(path, sizeof path, "/v1/agencies/" LE_TIER1 "/compliance?limit=1&cursor=%s",
           jstr(r.json, "next_cursor"));
  th_free(&r);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 400, "%s", r.body);
  th_free(&r);
}

/* ----------------------------------------------------------------- roles */

Test(compliance, role_matrix_and_scoping) {
  fixture();
  struct {
    const char *role, *sub, *agency;
    long want; /* on LE_TIER1 */
  } callers[] = {
      {"admin", "00000000-0000-4000-8000-000000000001", NULL, 200},
      {"inl", "00000000-0000-4000-8000-000000000002", NULL, 200},
      {"advisor", ADVISOR, NULL, 200},
      {"advisor", OTHER_ADVISOR, NULL, 403},
      {"agency", "dddddddd-0000-4000-8000-000000000001", LE_TIER1, 200},
      {"agency", "dddddddd-0000-4000-8000-000000000002", LE_ADVANCED, 404}, /* not its own */
      {"coalition", "dddddddd-0000-4000-8000-000000000003", NULL, 403},
      {"partner", "dddddddd-0000-4000-8000-000000000004", NULL, 403},
  };
  const char *paths[] = {"/v1/agencies/" LE_TIER1 "/compliance",
                         "/v1/agencies/" LE_TIER1 "/compliance/summary",
                         "/v1/agencies/" LE_TIER1 "/compliance/" S_211};
  for (size_t i = 0; i < sizeof callers / sizeof *callers; i++) {
    char *t = token(callers[i].role, callers[i].sub, callers[i].agency);
    for (size_t p = 0; p < 3; p++) {
      struct th_resp r = th_req("GET", paths[p], t, NULL, NULL);
      cr_assert_eq(r.status, callers[i].want, "%s %s %s: %ld", callers[i].role, callers[i].sub,
                   paths[p], r.status);
      th_free(&r);
    }
    struct th_resp r = th_req("PUT", paths[2], t, "{\"progress\":\"in_progress\"}", NULL);
    long want = callers[i].want;
    cr_assert(r.status == want || (want == 200 && r.status == 201), "%s PUT: %ld %s",
              callers[i].role, r.status, r.body);
    th_free(&r);
    free(t);
  }
  struct th_resp r = th_req("GET", paths[0], NULL, NULL, NULL);
  cr_assert_eq(r.status, 401);
  th_free(&r);
  r = th_req("GET", "/v1/agencies/aaaaaaaa-0000-4000-8000-0000000000ff/compliance", th_admin(),
             NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  r = th_req("GET", "/v1/agencies/nope/compliance/summary", th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
}

/* ------------------------------------------------------------------- PUT */

Test(compliance, put_records_progress_proofs_and_reviews) {
  fixture();
  char *agency_user = token("agency", "dddddddd-0000-4000-8000-000000000001", LE_TIER1);
  char *advisor = token("advisor", ADVISOR, NULL);
  const char *path = "/v1/agencies/" LE_TIER1 "/compliance/" S_121;

  struct th_resp r = th_req(
      "PUT", path, agency_user,
      "{\"progress\":\"in_progress\",\"due_on\":\"2030-01-31\",\"note\":\"Pendiente\","
      "\"assignee_id\":\"" ADVISOR "\",\"proofs\":[{\"cycle_year\":1,\"bullets\":[\"a\",\"b\"],"
      "\"title\":\"Informe anual 2024\",\"url\":\"https://docs.example.mx/p/1\"}]}",
      NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *location = th_header(&r, "Location");
  cr_assert_str_eq(location, path);
  free(location);
  cr_assert_str_eq(jstr(r.json, "progress"), "in_progress");
  cr_assert_str_eq(jstr(r.json, "result"), "not_assessed");
  cr_assert_str_eq(jstr(r.json, "due_on"), "2030-01-31");
  const json_t *proof = json_array_get(json_object_get(r.json, "proofs"), 0);
  cr_assert_str_eq(jstr(proof, "kind"), "document");
  cr_assert_eq(json_integer_value(json_object_get(proof, "cycle_year")), 1);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 1);
  char *record = strdup(jstr(r.json, "id"));
  th_free(&r);

  /* The reviewer's fields are not the agency's. */
  r = th_req("PUT", path, agency_user,
             "{\"result\":\"compliant\",\"reviewed_at\":\"2024-01-01T00:00:00Z\"}", NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/result", "not_allowed"));
  cr_assert(has_error(r.json, "/reviewed_at", "not_allowed"));
  th_free(&r);

  /* Bullets must exist on the standard; every bad one is named. */
  r = th_req("PUT", path, agency_user,
             "{\"proofs\":[{\"cycle_year\":2,\"bullets\":[\"a\",\"z\"],\"title\":\"T\","
             "\"url\":\"https://x.mx\"},{\"cycle_year\":5,\"bullets\":[\"q\"],\"title\":\"T\","
             "\"url\":\"ftp://x\"}]}",
             NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/proofs/1/cycle_year", "out_of_range"), "%s", r.body);
  cr_assert(has_error(r.json, "/proofs/1/url", "invalid_format"), "%s", r.body);
  th_free(&r);
  r = th_req("PUT", path, agency_user,
             "{\"proofs\":[{\"cycle_year\":2,\"bullets\":[\"a\",\"z\"],\"title\":\"T\","
             "\"url\":\"https://x.mx\"},{\"cycle_year\":3,\"bullets\":[\"q\"],\"title\":\"T\","
             "\"url\":\"https://x.mx\"}]}",
             NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/proofs/0/bullets/1", "invalid_enum"), "%s", r.body);
  cr_assert(has_error(r.json, "/proofs/1/bullets/0", "invalid_enum"), "%s", r.body);
  th_free(&r);

  /* An advisor's finding stamps who and when; fields not sent keep their values. */
  struct th_resp g = th_req("GET", path, advisor, NULL, NULL);
  char *etag = th_header(&g, "ETag");
  th_free(&g);
  char if_match[128];
  snprintf(if_match, sizeof if_match, "If-Match: %s", etag);
  const char *hdrs[] = {if_match, NULL};
  r = th_req("PUT", path, advisor, "{\"result\":\"partially_compliant\"}", hdrs);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "result"), "partially_compliant");
  cr_assert_str_eq(jstr(r.json, "reviewed_by"), ADVISOR);
  cr_assert_not_null(jstr(r.json, "reviewed_at"));
  cr_assert_str_eq(jstr(r.json, "progress"), "in_progress");
  cr_assert_str_eq(jstr(r.json, "note"), "Pendiente");
  cr_assert_eq(json_array_size(json_object_get(r.json, "proofs")), 1);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 2);
  th_free(&r);
  r = th_req("PUT", path, advisor, "{\"result\":\"compliant\"}", hdrs);
  cr_assert_eq(r.status, 412, "%s", r.body);
  th_free(&r);

  /* An unknown assignee is a field error, the same as a user who may not be assigned. */
  r = th_req("PUT", path, advisor, "{\"assignee_id\":\"eeeeeeee-0000-4000-8000-000000000009\"}",
             NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/assignee_id", "not_assignable"));
  th_free(&r);
  r = th_req("PUT", path, advisor, "{}", NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  th_free(&r);

  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT string_agg(action, ',' ORDER BY seq) FROM audit WHERE resource = 'compliance'"
           " AND resource_id = '%s'",
           record);
  char *actions = th_sql(sql);
  cr_assert_str_eq(actions, "created,updated");
  free(actions);
  free(etag);
  free(record);
  free(agency_user);
  free(advisor);
}

Test(compliance, list_filters) {
  fixture();
  free(th_sql("INSERT INTO compliance (agency_id, standard_id, progress, result) VALUES"
              " ('" LE_ADVANCED "', '" S_112 "', 'done', 'compliant'),"
              " ('" LE_ADVANCED "', '" S_211 "', 'in_review', 'not_assessed')"
              " ON CONFLICT DO NOTHING"));
  struct {
    const char *query, *want;
  } cases[] = {
      {"progress=done&progress=in_review", "1.1.2 2.1.1"},
      {"progress=not_started", "1.1.1 1.2.1 2.1.2"},
      {"result=compliant", "1.1.2"},
      {"chapter=2", "2.1.1 2.1.2"},
      {"time_sensitive=true", "1.2.1"},
  };
  char path[256], got[256];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    snprintf(path, sizeof path, "/v1/agencies/" LE_ADVANCED "/compliance?%s", cases[i].query);
    struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    numbers_of(r.json, got, sizeof got);
    cr_assert_str_eq(got, cases[i].want, "%s: %s", cases[i].query, got);
    th_free(&r);
  }
  struct th_resp r = th_req("GET", "/v1/agencies/" LE_ADVANCED "/compliance?progress=finished&id=x",
                            th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 400);
  cr_assert(has_error(r.json, "/query/progress", "invalid_enum"));
  cr_assert(has_error(r.json, "/query/id", "unknown_parameter"));
  th_free(&r);
}

/* --------------------------------------------------------------- summary */

static const json_t *chapter_counts(const json_t *summary, int number) {
  size_t i;
  const json_t *c;
  json_array_foreach(json_object_get(summary, "chapters"), i, c) {
    if (json_integer_value(json_object_get(c, "number")) == number)
      return json_object_get(c, "counts");
  }
  return NULL;
}

static long count_at(const json_t *counts, const char *axis, const char *key) {
  const json_t *o = axis ? json_object_get(counts, axis) : counts;
  return (long)json_integer_value(json_object_get(o, key));
}

/* True when the first "percent_compliant" of body is written exactly as want. */
static bool percent_text_is(const char *body, const char *want) {
  const char *p = strstr(body, "\"percent_compliant\"");
  if (p == NULL)
    return false;
  p += strlen("\"percent_compliant\"");
  while (*p == ' ' || *p == ':')
    p++;
  return strncmp(p, want, strlen(want)) == 0 && (p[strlen(want)] == ',' || p[strlen(want)] == '}');
}

Test(compliance, summary_arithmetic) {
  fixture();
  /* Chapter 1: compliant, not_applicable, compliant, partially -> 2 of 3 applicable (66.7).
   * Chapter 2: compliant, (no record), non_compliant -> 1 of 3 (33.3).
   * Overall: 3 compliant of 6 applicable among 7 standards (50.0). */
  free(th_sql(
      "INSERT INTO compliance (agency_id, standard_id, progress, result) VALUES"
      " ('" ACADEMY "', '" STD(
          "11") "', 'done', 'compliant'),"
                " ('" ACADEMY "', '" STD(
                    "12") "', 'done', 'not_applicable'),"
                          " ('" ACADEMY "', '" STD(
                              "13") "', 'in_review', 'compliant'),"
                                    " ('" ACADEMY "', '" STD(
                                        "14") "', 'in_progress', 'partially_compliant'),"
                                              " ('" ACADEMY "', '" STD(
                                                  "15") "', 'done', 'compliant'),"
                                                        " ('" ACADEMY "', '" STD(
                                                            "17") "', 'in_review', 'non_compliant')"
                                                                  " ON CONFLICT DO NOTHING"));
  char *t = token("agency", "dddddddd-0000-4000-8000-000000000005", ACADEMY);
  struct th_resp r = th_req("GET", "/v1/agencies/" ACADEMY "/compliance/summary", t, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "manual_version"), "2.5");
  cr_assert_str_eq(jstr(r.json, "program"), "training_academy");
  const json_t *all = json_object_get(r.json, "overall");
  cr_assert_eq(count_at(all, NULL, "standards"), 7);
  cr_assert_eq(count_at(all, NULL, "applicable"), 6);
  cr_assert_eq(count_at(all, NULL, "compliant"), 3);
  cr_assert_float_eq(json_number_value(json_object_get(all, "percent_compliant")), 50.0, 1e-9);
  cr_assert_eq(count_at(all, "progress", "done"), 3);
  cr_assert_eq(count_at(all, "progress", "in_review"), 2);
  cr_assert_eq(count_at(all, "progress", "in_progress"), 1);
  cr_assert_eq(count_at(all, "progress", "not_started"), 1);
  cr_assert_eq(count_at(all, "result", "compliant"), 3);
  cr_assert_eq(count_at(all, "result", "not_applicable"), 1);
  cr_assert_eq(count_at(all, "result", "partially_compliant"), 1);
  cr_assert_eq(count_at(all, "result", "non_compliant"), 1);
  cr_assert_eq(count_at(all, "result", "not_assessed"), 1);

  const json_t *c1 = chapter_counts(r.json, 1), *c2 = chapter_counts(r.json, 2);
  cr_assert_not_null(c1);
  cr_assert_not_null(c2);
  cr_assert_eq(count_at(c1, NULL, "standards"), 4);
  cr_assert_eq(count_at(c1, NULL, "applicable"), 3);
  cr_assert_float_eq(json_number_value(json_object_get(c1, "percent_compliant")), 66.7, 1e-9);
  cr_assert_eq(count_at(c2, NULL, "standards"), 3);
  cr_assert_float_eq(json_number_value(json_object_get(c2, "percent_compliant")), 33.3, 1e-9);
  cr_assert_eq(count_at(c2, "progress", "not_started"), 1);
  /* One decimal in the body itself (50.0, not 50). */
  cr_assert(percent_text_is(r.body, "50.0"), "%s", r.body);
  th_free(&r);
  free(t);

  /* The Tier 1 agency's summary counts its own catalog only. */
  r = th_req("GET", "/v1/agencies/" LE_TIER1 "/compliance/summary", th_admin(), NULL, NULL);
  cr_assert_eq(count_at(json_object_get(r.json, "overall"), NULL, "standards"), 3);
  th_free(&r);
}
