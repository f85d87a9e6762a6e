/*
 * test_agencies.c — /v1/agencies on the demo data: the role matrix, the full and public
 * views, validation, merge patches, filters, sorts and paging, CSV, concurrent writes with
 * If-Match, the audit trail, and the date rules at month ends and leap years.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("agencies", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

/* Demo records (db/demo): agency 1 is the demo agency user's, assigned to the demo advisor. */
#define A1 "a0000000-0000-4000-8000-000000000001"
#define A3 "a0000000-0000-4000-8000-000000000003"
#define ADVISOR_ID "00000000-0000-4000-8000-000000000003"
#define OTHER_ADVISOR_ID "00000000-0000-4000-8000-000000000118"

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static void assert_problem(const struct th_resp *r, long status, const char *slug) {
  cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body);
  char want[128];
  snprintf(want, sizeof want, "https://acredita.dev/problems/%s", slug);
  cr_assert_str_eq(jstr(r->json, "type"), want, "%s", r->body);
}

/* True when the problem's errors[] has an entry for field with code. */
static bool has_error(const struct th_resp *r, const char *field, const char *code) {
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(r->json, "errors"), i, e) {
    if (strcmp(jstr(e, "field"), field) == 0 && strcmp(jstr(e, "code"), code) == 0)
      return true;
  }
  return false;
}

static const char *tok(const char *role) {
  static char *t[8];
  static const char *const roles[] = {"inl",       "advisor", "advisor2", "agency",
                                      "coalition", "partner", NULL};
  for (int i = 0; roles[i] != NULL; i++) {
    if (strcmp(roles[i], role) != 0)
      continue;
    if (t[i] == NULL) {
      if (strcmp(role, "inl") == 0)
        t[i] = th_token("inl", "00000000-0000-4000-8000-000000000002", NULL);
      else if (strcmp(role, "advisor") == 0)
        t[i] = th_token("advisor", ADVISOR_ID, NULL);
      else if (strcmp(role, "advisor2") == 0)
        t[i] = th_token("advisor", OTHER_ADVISOR_ID, NULL);
      else if (strcmp(role, "agency") == 0)
        t[i] = th_token("agency", "00000000-0000-4000-8000-000000000004", A1);
      else if (strcmp(role, "coalition") == 0)
        t[i] = th_token("coalition", "00000000-0000-4000-8000-000000000005", NULL);
      else
        t[i] = th_token("partner", "00000000-0000-4000-8000-000000000006", NULL);
    }
    return t[i];
  }
  if (strcmp(role, "admin") == 0)
    return th_admin();
  return NULL; /* anonymous */
}

/* Creates an agency from a JSON body (admin) and returns its id (malloc'd). */
static char *create_agency(const char *body) {
  struct th_resp r = th_req("POST", "/v1/agencies", th_admin(), body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  th_free(&r);
  return id;
}

static char *simple_agency(const char *name) {
  char body[512];
  snprintf(body, sizeof body,
           "{\"name\":\"%s\",\"type\":\"training_academy\",\"level\":\"state\","
           "\"state\":\"MX-JAL\",\"applied_on\":\"2023-05-02\",\"advisor_ids\":[\"%s\"]}",
           name, ADVISOR_ID);
  return create_agency(body);
}

/* ------------------------------------------------------------ role matrix */

enum view { NONE, FULL, PUBLIC };

struct case_ {
  const char *role; /* NULL: anonymous */
  const char *method;
  const char *path; /* %s is the test agency's id */
  const char *body;
  long status;
  enum view view;
};

/* A representation is public when it has exactly the public members. */
static void assert_view(const json_t *agency, enum view v, const char *what) {
  cr_assert(json_is_object(agency), "%s: no agency in the answer", what);
  if (v == PUBLIC) {
    cr_assert_eq(json_object_size(agency), 8, "%s: public view has %zu members", what,
                 json_object_size(agency));
    cr_assert_null(json_object_get(agency, "ceo"), "%s", what);
    cr_assert_null(json_object_get(agency, "membership"), "%s", what);
    cr_assert_not_null(json_object_get(agency, "accreditation_expires_on"), "%s", what);
  } else {
    cr_assert_not_null(json_object_get(agency, "ceo"), "%s: full view lacks ceo", what);
    cr_assert_not_null(json_object_get(agency, "membership"), "%s", what);
    cr_assert_not_null(json_object_get(agency, "self_assessment_due"), "%s", what);
  }
}

Test(agencies, role_matrix) {
  char *t = simple_agency("Academia de la Matriz de Roles (prueba)");
  const struct case_ cases[] = {
      /* the list */
      {NULL, "GET", "/v1/agencies", NULL, 200, PUBLIC},
      {"partner", "GET", "/v1/agencies", NULL, 200, PUBLIC},
      {"admin", "GET", "/v1/agencies", NULL, 200, FULL},
      {"inl", "GET", "/v1/agencies", NULL, 200, FULL},
      {"advisor", "GET", "/v1/agencies", NULL, 200, FULL},
      {"agency", "GET", "/v1/agencies", NULL, 200, NONE},
      {"coalition", "GET", "/v1/agencies", NULL, 200, FULL},
      /* one agency: the demo agency user's, in the public directory */
      {NULL, "GET", "/v1/agencies/" A1, NULL, 200, PUBLIC},
      {"partner", "GET", "/v1/agencies/" A1, NULL, 200, PUBLIC},
      {"admin", "GET", "/v1/agencies/" A1, NULL, 200, FULL},
      {"inl", "GET", "/v1/agencies/" A1, NULL, 200, FULL},
      {"advisor2", "GET", "/v1/agencies/" A1, NULL, 200, FULL},
      {"agency", "GET", "/v1/agencies/" A1, NULL, 200, FULL},
      {"coalition", "GET", "/v1/agencies/" A1, NULL, 200, FULL},
      /* another agency's user sees its public view; anonymous callers only the directory */
      {"agency", "GET", "/v1/agencies/" A3, NULL, 200, PUBLIC},
      {"agency", "GET", "/v1/agencies/%s", NULL, 200, PUBLIC},
      {NULL, "GET", "/v1/agencies/%s", NULL, 404, NONE},
      {"partner", "GET", "/v1/agencies/%s", NULL, 200, PUBLIC},
      /* create */
      {NULL, "POST", "/v1/agencies", "{}", 401, NONE},
      {"partner", "POST", "/v1/agencies", "{}", 403, NONE},
      {"agency", "POST", "/v1/agencies", "{}", 403, NONE},
      {"coalition", "POST", "/v1/agencies", "{}", 403, NONE},
      {"advisor", "POST", "/v1/agencies", "{}", 403, NONE},
      {"inl", "POST", "/v1/agencies", "{}", 403, NONE},
      /* update: assigned advisors, coalition on membership, admin */
      {NULL, "PATCH", "/v1/agencies/%s", "{\"acronym\":\"X\"}", 401, NONE},
      {"partner", "PATCH", "/v1/agencies/%s", "{\"acronym\":\"X\"}", 403, NONE},
      {"agency", "PATCH", "/v1/agencies/%s", "{\"acronym\":\"X\"}", 403, NONE},
      {"inl", "PATCH", "/v1/agencies/%s", "{\"acronym\":\"X\"}", 403, NONE},
      {"advisor2", "PATCH", "/v1/agencies/%s", "{\"acronym\":\"X\"}", 403, NONE},
      {"advisor", "PATCH", "/v1/agencies/%s", "{\"acronym\":\"AMR\"}", 200, FULL},
      {"advisor", "PATCH", "/v1/agencies/%s", "{\"membership\":{\"member\":true}}", 422, NONE},
      {"coalition", "PATCH", "/v1/agencies/%s", "{\"acronym\":\"X\"}", 422, NONE},
      {"coalition", "PATCH", "/v1/agencies/%s", "{\"membership\":{\"member\":true}}", 200, FULL},
      {"admin", "PATCH", "/v1/agencies/%s", "{\"municipality\":\"Zapopan\"}", 200, FULL},
      /* history and awards */
      {NULL, "GET", "/v1/agencies/" A1 "/transitions", NULL, 401, NONE},
      {"partner", "GET", "/v1/agencies/" A1 "/transitions", NULL, 403, NONE},
      {"agency", "GET", "/v1/agencies/" A1 "/transitions", NULL, 200, NONE},
      {"agency", "GET", "/v1/agencies/" A3 "/transitions", NULL, 404, NONE},
      {"coalition", "GET", "/v1/agencies/" A1 "/transitions", NULL, 200, NONE},
      {"advisor2", "GET", "/v1/agencies/" A1 "/transitions", NULL, 200, NONE},
      {"inl", "GET", "/v1/agencies/" A1 "/transitions", NULL, 200, NONE},
      {NULL, "GET", "/v1/agencies/" A1 "/awards", NULL, 200, NONE},
      {"partner", "GET", "/v1/agencies/" A1 "/awards", NULL, 200, NONE},
      {"agency", "GET", "/v1/agencies/" A3 "/awards", NULL, 200, NONE},
      /* moves: INL approves, advisors do the rest */
      {NULL, "POST", "/v1/agencies/%s/transitions", "{\"to\":\"approved\"}", 401, NONE},
      {"partner", "POST", "/v1/agencies/%s/transitions", "{\"to\":\"approved\"}", 403, NONE},
      {"agency", "POST", "/v1/agencies/%s/transitions", "{\"to\":\"approved\"}", 403, NONE},
      {"coalition", "POST", "/v1/agencies/%s/transitions", "{\"to\":\"approved\"}", 403, NONE},
      {"advisor", "POST", "/v1/agencies/%s/transitions", "{\"to\":\"approved\"}", 403, NONE},
      {"inl", "POST", "/v1/agencies/%s/transitions", "{\"to\":\"approved\"}", 201, NONE},
      {"inl", "POST", "/v1/agencies/%s/transitions", "{\"to\":\"enrolled\"}", 403, NONE},
      {"advisor2", "POST", "/v1/agencies/%s/transitions", "{\"to\":\"enrolled\"}", 403, NONE},
      {"advisor", "POST", "/v1/agencies/%s/transitions", "{\"to\":\"enrolled\"}", 201, NONE},
      /* dashboard and audit */
      {NULL, "GET", "/v1/stats/overview", NULL, 401, NONE},
      {"partner", "GET", "/v1/stats/overview", NULL, 403, NONE},
      {"advisor", "GET", "/v1/stats/overview", NULL, 403, NONE},
      {"coalition", "GET", "/v1/stats/overview", NULL, 403, NONE},
      {"agency", "GET", "/v1/stats/overview", NULL, 403, NONE},
      {"inl", "GET", "/v1/stats/overview", NULL, 200, NONE},
      {"admin", "GET", "/v1/stats/overview", NULL, 200, NONE},
      {NULL, "GET", "/v1/audit", NULL, 401, NONE},
      {"advisor", "GET", "/v1/audit", NULL, 403, NONE},
      {"coalition", "GET", "/v1/audit", NULL, 403, NONE},
      {"partner", "GET", "/v1/audit", NULL, 403, NONE},
      {"agency", "GET", "/v1/audit", NULL, 403, NONE},
      {"inl", "GET", "/v1/audit", NULL, 200, NONE},
      {"admin", "GET", "/v1/audit", NULL, 200, NONE},
      /* delete: admin only */
      {NULL, "DELETE", "/v1/agencies/%s", NULL, 401, NONE},
      {"inl", "DELETE", "/v1/agencies/%s", NULL, 403, NONE},
      {"advisor", "DELETE", "/v1/agencies/%s", NULL, 403, NONE},
      {"coalition", "DELETE", "/v1/agencies/%s", NULL, 403, NONE},
      {"agency", "DELETE", "/v1/agencies/%s", NULL, 403, NONE},
      {"partner", "DELETE", "/v1/agencies/%s", NULL, 403, NONE},
      {"admin", "DELETE", "/v1/agencies/%s", NULL, 204, NONE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const struct case_ *c = &cases[i];
    char path[256], what[400];
    const char *hole = strstr(c->path, "%s");
    if (hole != NULL)
      snprintf(path, sizeof path, "%.*s%s%s", (int)(hole - c->path), c->path, t, hole + 2);
    else
      snprintf(path, sizeof path, "%s", c->path);
    snprintf(what, sizeof what, "%s %s as %s", c->method, path, c->role ? c->role : "anonymous");
    struct th_resp r = th_req(c->method, path, tok(c->role ? c->role : ""), c->body, NULL);
    cr_assert_eq(r.status, c->status, "%s: %ld, want %ld: %s", what, r.status, c->status, r.body);
    if (c->view != NONE) {
      const json_t *data = json_object_get(r.json, "data");
      const json_t *agency = data ? json_array_get(data, 0) : r.json;
      assert_view(agency, c->view, what);
    }
    th_free(&r);
  }
  free(t);
}

/* ---------------------------------------------------------------- writes */

Test(agencies, create_full_and_read_back) {
  const char *body =
      "{\"name\":\"Centro de Comunicaciones de Prueba, Querétaro\",\"acronym\":\"CCP\","
      "\"type\":\"communications_center\",\"level\":\"municipal\",\"state\":\"MX-QUE\","
      "\"municipality\":\"Corregidora\",\"website\":\"https://ccp.example.mx\","
      "\"ceo\":{\"name\":\"Lucía Ibáñez\",\"title\":\"Directora\"},"
      "\"accreditation_manager\":{\"name\":\"Óscar Peña\",\"email\":\"oscar@example.mx\","
      "\"phone\":\"+52 442 000 0000\"},"
      "\"regional_manager_id\":\"00000000-0000-4000-8000-000000000102\","
      "\"advisor_ids\":[\"" ADVISOR_ID "\",\"00000000-0000-4000-8000-000000000111\"],"
      "\"applied_on\":\"2023-11-30\",\"reporting\":{\"last_report_on\":\"2024-01-05\"},"
      "\"membership\":{\"member\":true,\"member_since\":\"2023-01-01\","
      "\"dues_paid_through\":\"2024-12-31\",\"external_id\":\"CAISPMEX-T01\"},"
      "\"external_ids\":{\"erp\":\"A-17\"}}";
  struct th_resp r = th_req("POST", "/v1/agencies", th_admin(), body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *loc = th_header(&r, "Location");
  char want[128];
  snprintf(want, sizeof want, "/v1/agencies/%s", jstr(r.json, "id"));
  cr_assert_str_eq(loc, want);
  free(loc);
  cr_assert_str_eq(jstr(r.json, "status"), "applied");
  cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 1);
  /* applied + 3 months, at a month end in a leap year */
  cr_assert_str_eq(jstr(r.json, "implementation_plan_due"), "2024-02-29");
  cr_assert_str_eq(jstr(json_object_get(r.json, "ceo"), "name"), "Lucía Ibáñez");
  cr_assert_str_eq(jstr(json_object_get(r.json, "membership"), "external_id"), "CAISPMEX-T01");
  /* monthly reports until the first award, none due before the CALEA agreement */
  cr_assert_str_eq(jstr(json_object_get(r.json, "reporting"), "frequency"), "monthly");
  cr_assert(json_is_null(json_object_get(json_object_get(r.json, "reporting"), "next_report_due")));
  cr_assert_eq(json_array_size(json_object_get(r.json, "advisor_ids")), 2);
  cr_assert_eq(json_array_size(json_object_get(r.json, "continuation_fees_due")), 0);
  cr_assert(json_is_null(json_object_get(r.json, "self_assessment_due")));

  struct th_resp g = th_req("GET", want, th_admin(), NULL, NULL);
  cr_assert_eq(g.status, 200);
  cr_assert(json_equal(g.json, r.json), "GET differs from the created representation");
  th_free(&g);
  /* its history starts with the application */
  snprintf(want, sizeof want, "/v1/agencies/%s/transitions", jstr(r.json, "id"));
  g = th_req("GET", want, th_admin(), NULL, NULL);
  cr_assert_eq(g.status, 200);
  const json_t *first = json_array_get(json_object_get(g.json, "data"), 0);
  cr_assert(json_is_null(json_object_get(first, "from")));
  cr_assert_str_eq(jstr(first, "to"), "applied");
  cr_assert_str_eq(jstr(first, "on"), "2023-11-30");
  th_free(&g);
  /* the same external membership id twice is a conflict */
  struct th_resp d = th_req("POST", "/v1/agencies", th_admin(), body, NULL);
  assert_problem(&d, 409, "conflict");
  th_free(&d);
  th_free(&r);
}

Test(agencies, validation_reports_every_field) {
  const char *body = "{\"name\":\"\",\"type\":\"police\",\"level\":\"state\",\"state\":\"MX-XXX\","
                     "\"tier\":\"tier1\",\"website\":\"ftp://x\",\"ceo\":{\"title\":\"Director\"},"
                     "\"advisor_ids\":[\"00000000-0000-4000-8000-000000000001\"],"
                     "\"applied_on\":\"2999-01-01\",\"status\":\"accredited\",\"colour\":\"red\","
                     "\"external_ids\":{\"erp\":5},\"reporting\":{\"frequency\":\"weekly\"}}";
  struct th_resp r = th_req("POST", "/v1/agencies", th_admin(), body, NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/name", "too_short"), "%s", r.body);
  cr_assert(has_error(&r, "/type", "invalid_enum"), "%s", r.body);
  cr_assert(has_error(&r, "/state", "invalid_enum"), "%s", r.body);
  cr_assert(has_error(&r, "/website", "invalid_format"), "%s", r.body);
  cr_assert(has_error(&r, "/ceo/name", "required"), "%s", r.body);
  cr_assert(has_error(&r, "/advisor_ids/0", "not_found"), "%s", r.body);
  cr_assert(has_error(&r, "/applied_on", "out_of_range"), "%s", r.body);
  cr_assert(has_error(&r, "/status", "read_only"), "%s", r.body);
  cr_assert(has_error(&r, "/colour", "unknown_field"), "%s", r.body);
  cr_assert(has_error(&r, "/external_ids/erp", "invalid_type"), "%s", r.body);
  /* the reporting protocol is the program's, not a body's */
  cr_assert(has_error(&r, "/reporting/frequency", "read_only"), "%s", r.body);
  th_free(&r);
  /* a tier belongs to law enforcement only */
  r = th_req("POST", "/v1/agencies", th_admin(),
             "{\"name\":\"A\",\"type\":\"training_academy\",\"level\":\"state\","
             "\"state\":\"MX-JAL\",\"tier\":\"tier1\"}",
             NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/tier", "invalid"), "%s", r.body);
  th_free(&r);
}

Test(agencies, status_never_changes_by_patch) {
  char *id = simple_agency("Academia del Estado Inmutable (prueba)");
  char path[128];
  snprintf(path, sizeof path, "/v1/agencies/%s", id);
  struct th_resp r = th_req("PATCH", path, th_admin(),
                            "{\"status\":\"accredited\",\"accredited_on\":\"2020-01-01\"}", NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/status", "read_only"));
  cr_assert(has_error(&r, "/accredited_on", "read_only"));
  cr_assert(strstr(jstr(r.json, "detail"), "transitions") != NULL, "%s", r.body);
  th_free(&r);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_str_eq(jstr(r.json, "status"), "applied");
  cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 1);
  th_free(&r);
  r = th_req("PATCH", path, th_admin(), "{}", NULL);
  assert_problem(&r, 422, "validation");
  th_free(&r);
  free(id);
}

Test(agencies, patch_is_a_merge_patch) {
  char *id = create_agency(
      "{\"name\":\"Policía de Prueba\",\"type\":\"law_enforcement\",\"level\":\"state\","
      "\"state\":\"MX-SON\",\"tier\":\"tier1\",\"municipality\":\"Hermosillo\","
      "\"ceo\":{\"name\":\"Ana\",\"title\":\"Comisaria\"},\"external_ids\":{\"a\":\"1\",\"b\":"
      "\"2\"}}");
  char path[128];
  snprintf(path, sizeof path, "/v1/agencies/%s", id);
  struct th_resp r = th_req("PATCH", path, th_admin(),
                            "{\"ceo\":{\"title\":\"Comisaria General\"},\"municipality\":null,"
                            "\"external_ids\":{\"a\":null,\"c\":\"3\"},\"tier\":\"advanced\","
                            "\"reporting\":{\"last_report_on\":\"2024-02-01\"}}",
                            NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  const json_t *ceo = json_object_get(r.json, "ceo");
  cr_assert_str_eq(jstr(ceo, "name"), "Ana");
  cr_assert_str_eq(jstr(ceo, "title"), "Comisaria General");
  cr_assert(json_is_null(json_object_get(r.json, "municipality")));
  const json_t *ids = json_object_get(r.json, "external_ids");
  cr_assert_null(json_object_get(ids, "a"));
  cr_assert_str_eq(jstr(ids, "b"), "2");
  cr_assert_str_eq(jstr(ids, "c"), "3");
  cr_assert_str_eq(jstr(r.json, "tier"), "advanced");
  cr_assert_str_eq(jstr(json_object_get(r.json, "reporting"), "last_report_on"), "2024-02-01");
  cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 2);
  th_free(&r);
  /* the CEO cannot lose the name */
  r = th_req("PATCH", path, th_admin(), "{\"ceo\":{\"name\":null}}", NULL);
  assert_problem(&r, 422, "validation");
  th_free(&r);
  /* changing the type away from law enforcement with a tier is refused on the tier */
  r = th_req("PATCH", path, th_admin(), "{\"type\":\"training_academy\"}", NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/tier", "invalid"), "%s", r.body);
  th_free(&r);
  free(id);
}

Test(agencies, not_found_and_delete_archives) {
  struct th_resp r = th_req("GET", "/v1/agencies/not-a-uuid", th_admin(), NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  r = th_req("GET", "/v1/agencies/a0000000-0000-4000-8000-0000000009ff", th_admin(), NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  r = th_req("PATCH", "/v1/agencies/a0000000-0000-4000-8000-0000000009ff", th_admin(),
             "{\"acronym\":\"X\"}", NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  /* an agency with users is archived, not erased */
  char *id = simple_agency("Academia con Usuarios (prueba)");
  char body[256], path[128];
  snprintf(body, sizeof body,
           "{\"email\":\"am.prueba@example.mx\",\"name\":\"AM\",\"role\":\"agency\","
           "\"agency_id\":\"%s\",\"password\":\"correct horse battery\"}",
           id);
  r = th_req("POST", "/v1/users", th_admin(), body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  th_free(&r);
  snprintf(path, sizeof path, "/v1/agencies/%s", id);
  r = th_req("DELETE", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 204, "%s", r.body);
  th_free(&r);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  snprintf(path, sizeof path, "/v1/agencies/%s?archived=true", id);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_not_null(jstr(r.json, "archived_at"));
  th_free(&r);
  free(id);
}

/* ------------------------------------------------------- filters and sorts */

static long total_of(const char *path, const char *token) {
  struct th_resp r = th_req("GET", path, token, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
  long n = (long)json_integer_value(json_object_get(r.json, "total"));
  th_free(&r);
  return n;
}

Test(agencies, filters) {
  const char *a = th_admin();
  /* the demo data: six municipal agencies, seven withdrawn or removed, five for the demo
   * advisor, the Guanajuato agencies including the state police outside the program */
  cr_assert_eq(total_of("/v1/agencies?level=municipal&q=(demo)&count=exact", a), 6);
  cr_assert_eq(total_of("/v1/agencies?status=withdrawn&status=removed&q=(demo)&count=exact", a), 7);
  cr_assert_eq(total_of("/v1/agencies?status=withdrawn&q=(demo)&count=exact", a), 5);
  cr_assert_eq(total_of("/v1/agencies?advisor_id=" ADVISOR_ID "&q=(demo)&count=exact", a), 5);
  cr_assert_eq(total_of("/v1/agencies?state=MX-GUA&in_program=true&q=(demo)&count=exact", a), 3);
  cr_assert_eq(total_of("/v1/agencies?state=MX-GUA&in_program=false&count=exact", a), 1);
  cr_assert_eq(total_of("/v1/agencies?type=communications_center&in_program=true&"
                        "state=MX-QUE&q=(demo)&count=exact",
                        a),
               1);
  cr_assert_gt(total_of("/v1/agencies?tier=advanced&count=exact", a), 0);
  cr_assert_gt(total_of("/v1/agencies?member=true&count=exact", a), 10);
  cr_assert_eq(total_of("/v1/agencies?status=expired&status=accredited&status=reaccreditation"
                        "&type=training_academy&in_program=true&q=(demo)&count=exact",
                        a),
               29);
  /* q ignores accents and case */
  struct th_resp r = th_req("GET", "/v1/agencies?q=QUERETARO&limit=200", a, NULL, NULL);
  cr_assert_eq(r.status, 200);
  size_t i;
  const json_t *it;
  cr_assert_geq(json_array_size(json_object_get(r.json, "data")), 4);
  json_array_foreach(json_object_get(r.json, "data"), i, it) {
    cr_assert(strstr(jstr(it, "name"), "Querétaro") != NULL, "%s", jstr(it, "name"));
  }
  th_free(&r);
  /* bad values are 400s; private filters are not for public callers */
  const char *bad[] = {"/v1/agencies?type=police",
                       "/v1/agencies?status=gone",
                       "/v1/agencies?member=maybe",
                       "/v1/agencies?advisor_id=x",
                       "/v1/agencies?sort=state",
                       "/v1/agencies?colour=red",
                       "/v1/agencies?report_overdue=maybe",
                       "/v1/agencies?tasks_overdue=1x",
                       "/v1/agencies?expires_from=2024-02-30",
                       "/v1/agencies?expires_to=tomorrow",
                       NULL};
  for (int k = 0; bad[k] != NULL; k++) {
    r = th_req("GET", bad[k], a, NULL, NULL);
    assert_problem(&r, 400, "invalid-query");
    th_free(&r);
  }
  r = th_req("GET", "/v1/agencies?member=true", NULL, NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
  r = th_req("GET", "/v1/agencies?advisor_id=" ADVISOR_ID, tok("partner"), NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
  /* anonymous callers see the directory: agencies that were ever accredited; in_program is
   * not in their view, so they may not filter on it */
  cr_assert_eq(total_of("/v1/agencies?q=(demo)&count=exact", NULL),
               th_sql_long("SELECT count(*) FROM agencies WHERE demo AND accredited_on IS NOT NULL"
                           " AND name LIKE '%(demo)%'"));
  r = th_req("GET", "/v1/agencies?in_program=true", NULL, NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
}

/* The dashboard's attention lists stay bounded however many agencies they count, and the
 * filters their links use select exactly those agencies. */
Test(agencies, attention_lists_are_bounded) {
  const char *a = th_admin();
  /* Applied in 2023, with no plan recorded: each one's Implementation Plan is overdue. */
  long before =
      total_of("/v1/agencies?in_program=true&implementation_plan_overdue=true&count=exact", a);
  char *first = NULL;
  for (int i = 0; i < 21; i++) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"name\":\"Atención %02d\",\"type\":\"law_enforcement\",\"level\":\"municipal\","
             "\"state\":\"MX-JAL\",\"applied_on\":\"2023-05-%02d\",\"in_program\":true}",
             i, 1 + i);
    char *id = create_agency(body);
    if (first == NULL)
      first = id;
    else
      free(id);
  }
  cr_assert_eq(total_of("/v1/agencies?implementation_plan_overdue=true&q=Atención&count=exact", a),
               21);
  cr_assert_eq(total_of("/v1/agencies?implementation_plan_overdue=false&q=Atención&count=exact", a),
               0);
  struct th_resp r = th_req("GET", "/v1/stats/overview", a, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  const json_t *attention = json_object_get(r.json, "attention");
  const json_t *list = json_object_get(attention, "overdue_implementation_plans");
  cr_assert_eq(json_integer_value(json_object_get(list, "count")), before + 21);
  cr_assert_eq(json_array_size(json_object_get(list, "data")), 20);
  cr_assert_str_eq(jstr(list, "link"),
                   "/v1/agencies?in_program=true&implementation_plan_overdue=true");
  th_free(&r);
  /* enrolled in January 2024 and no report since: its monthly report is overdue */
  cr_assert_eq(total_of("/v1/agencies?report_overdue=true&q=Atención&count=exact", a), 0);
  char path[256];
  snprintf(path, sizeof path, "/v1/agencies/%s/transitions", first);
  r = th_req("POST", path, a, "{\"to\":\"approved\",\"on\":\"2023-12-01\"}", NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  th_free(&r);
  r = th_req("POST", path, a, "{\"to\":\"enrolled\",\"on\":\"2024-01-10\"}", NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  th_free(&r);
  cr_assert_eq(total_of("/v1/agencies?report_overdue=true&q=Atención&count=exact", a), 1);
  /* an overdue task puts its agency in tasks_overdue; done, it takes it out */
  char body[256];
  snprintf(body, sizeof body,
           "{\"agency_id\":\"%s\",\"kind\":\"written_directive\",\"title\":\"Late\","
           "\"due_on\":\"2024-01-31\"}",
           first);
  r = th_req("POST", "/v1/tasks", a, body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char task[256];
  snprintf(task, sizeof task, "/v1/tasks/%s", jstr(r.json, "id"));
  th_free(&r);
  cr_assert_eq(total_of("/v1/agencies?tasks_overdue=true&q=Atención&count=exact", a), 1);
  r = th_req("PATCH", task, a, "{\"status\":\"done\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  cr_assert_eq(total_of("/v1/agencies?tasks_overdue=true&q=Atención&count=exact", a), 0);
  free(first);
  /* expiry windows are inclusive at both ends */
  cr_assert_eq(
      total_of("/v1/agencies?expires_from=2000-01-01&expires_to=1999-12-31&count=exact", a), 0);
}

/* Follows next_cursor through every page; returns the ids in order (a JSON array). */
static json_t *all_ids(const char *first, const char *token, const char *field) {
  json_t *ids = json_array();
  char path[2048];
  snprintf(path, sizeof path, "%s", first);
  for (int pages = 0; pages < 100; pages++) {
    struct th_resp r = th_req("GET", path, token, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(r.json, "data"), i, it) {
      json_array_append(ids, json_object_get(it, field));
    }
    const char *next = jstr(r.json, "next_cursor");
    if (next == NULL) {
      th_free(&r);
      return ids;
    }
    snprintf(path, sizeof path, "%s%scursor=%s", first, strchr(first, '?') ? "&" : "?", next);
    th_free(&r);
  }
  cr_assert_fail("too many pages");
  return ids;
}

Test(agencies, sorts_and_paging) {
  json_t *by_name =
      all_ids("/v1/agencies?sort=name&limit=7&in_program=true&q=(demo)", th_admin(), "name");
  cr_assert_eq(json_array_size(by_name), 82);
  for (size_t i = 1; i < json_array_size(by_name); i++)
    cr_assert_leq(strcmp(json_string_value(json_array_get(by_name, i - 1)),
                         json_string_value(json_array_get(by_name, i))),
                  0);
  json_t *desc =
      all_ids("/v1/agencies?sort=-name&limit=9&in_program=true&q=(demo)", th_admin(), "name");
  cr_assert_eq(json_array_size(desc), 82);
  cr_assert(json_equal(json_array_get(by_name, 0), json_array_get(desc, 81)));
  json_decref(by_name);
  json_decref(desc);
  /* a cursor belongs to its filters */
  struct th_resp r = th_req("GET", "/v1/agencies?limit=2&level=state", th_admin(), NULL, NULL);
  char path[1024];
  snprintf(path, sizeof path, "/v1/agencies?limit=2&level=federal&cursor=%s",
           jstr(r.json, "next_cursor"));
  th_free(&r);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
}

/* ---------------------------------------------------------------- CSV */

/* Splits CSV text into records of cells (RFC 4180, quoted cells). Returns a JSON array of
 * arrays of strings. */
static json_t *parse_csv(const char *s, size_t len) {
  json_t *rows = json_array(), *row = json_array();
  char *cell = malloc(len + 1);
  size_t n = 0;
  bool quoted = false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < len && s[i + 1] == '"') {
        cell[n++] = '"';
        i++;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell[n++] = c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',' || c == '\r') {
      if (c == ',' || s[i + 1] == '\n') {
        cell[n] = '\0';
        json_array_append_new(row, json_string(cell));
        n = 0;
      }
      if (c == '\r') {
        json_array_append_new(rows, row);
        row = json_array();
        i++;
      }
    } else {
      cell[n++] = c;
    }
  }
  free(cell);
  json_decref(row);
  return rows;
}

Test(agencies, csv_has_the_same_rows_as_json) {
  const char *filter = "/v1/agencies?state=MX-QUE&sort=-name";
  const char *const accept[] = {"Accept: text/csv", NULL};
  struct th_resp r = th_req("GET", filter, th_admin(), NULL, accept);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char *ct = th_header(&r, "Content-Type");
  cr_assert(ct && strncmp(ct, "text/csv", 8) == 0, "%s", ct);
  free(ct);
  /* streamed as it is read (chunked), with a tag known before the first byte: a repeated
   * request answers 304, a download link (?format=csv) gets the same document */
  char *te = th_header(&r, "Transfer-Encoding");
  cr_assert(te && strstr(te, "chunked"), "%s", te ? te : "(no Transfer-Encoding)");
  free(te);
  char *etag = th_header(&r, "ETag");
  cr_assert_not_null(etag);
  char inm[128];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *const again[] = {"Accept: text/csv", inm, NULL};
  struct th_resp r304 = th_req("GET", filter, th_admin(), NULL, again);
  cr_assert_eq(r304.status, 304, "%s", r304.body);
  th_free(&r304);
  struct th_resp link =
      th_req("GET", "/v1/agencies?state=MX-QUE&sort=-name&format=csv", th_admin(), NULL, NULL);
  cr_assert_eq(link.status, 200);
  cr_assert_eq(link.len, r.len);
  cr_assert(memcmp(link.body, r.body, r.len) == 0);
  char *link_tag = th_header(&link, "ETag");
  cr_assert_str_eq(link_tag, etag);
  free(link_tag);
  th_free(&link);
  free(etag);
  /* UTF-8 with a byte order mark, for Excel */
  cr_assert(r.len > 3 && memcmp(r.body, "\xEF\xBB\xBF", 3) == 0);
  json_t *rows = parse_csv(r.body + 3, r.len - 3);
  json_t *header = json_array_get(rows, 0);
  cr_assert_str_eq(json_string_value(json_array_get(header, 0)), "id");
  cr_assert_str_eq(json_string_value(json_array_get(header, 1)), "name");
  json_t *ids = all_ids("/v1/agencies?state=MX-QUE&sort=-name&limit=2", th_admin(), "id");
  json_t *names = all_ids("/v1/agencies?state=MX-QUE&sort=-name&limit=3", th_admin(), "name");
  cr_assert_eq(json_array_size(rows), json_array_size(ids) + 1, "%zu CSV rows, %zu JSON",
               json_array_size(rows) - 1, json_array_size(ids));
  bool accent = false;
  for (size_t i = 0; i < json_array_size(ids); i++) {
    json_t *row = json_array_get(rows, i + 1);
    cr_assert_eq(json_array_size(row), json_array_size(header));
    cr_assert(json_equal(json_array_get(row, 0), json_array_get(ids, i)), "row %zu", i);
    cr_assert(json_equal(json_array_get(row, 1), json_array_get(names, i)), "row %zu: %s", i,
              json_string_value(json_array_get(row, 1)));
    accent |= strstr(json_string_value(json_array_get(row, 1)), "Querétaro") != NULL;
  }
  cr_assert(accent, "no accented name came through");
  json_decref(rows);
  json_decref(ids);
  json_decref(names);
  th_free(&r);

  /* public callers get the public columns; paging parameters make no sense here */
  r = th_req("GET", "/v1/agencies?state=MX-QUE", NULL, NULL, accept);
  cr_assert_eq(r.status, 200);
  cr_assert(strncmp(r.body + 3, "id,name,type,level,state,status,accredited_on,", 46) == 0, "%.80s",
            r.body + 3);
  th_free(&r);
  r = th_req("GET", "/v1/agencies?limit=5", th_admin(), NULL, accept);
  rows = parse_csv(r.body + 3, r.len - 3);
  cr_assert_eq(json_array_size(rows), 6, "the header and at most limit rows");
  json_decref(rows);
  th_free(&r);
  r = th_req("GET", "/v1/agencies?cursor=x", th_admin(), NULL, accept);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
  r = th_req("GET", "/v1/agencies?format=xml", th_admin(), NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
  /* every page at once: the whole directory */
  r = th_req("GET", "/v1/agencies?in_program=true&q=(demo)", th_admin(), NULL, accept);
  rows = parse_csv(r.body + 3, r.len - 3);
  cr_assert_eq(json_array_size(rows), 83);
  json_decref(rows);
  th_free(&r);
}

/* ------------------------------------------------------------ concurrency */

struct racer {
  const char *path;
  const char *etag;
  int n;
  long status;
};

static void *race(void *arg) {
  struct racer *x = arg;
  char body[128], ifm[128];
  snprintf(body, sizeof body, "{\"acronym\":\"R%d\"}", x->n);
  snprintf(ifm, sizeof ifm, "If-Match: %s", x->etag);
  const char *const headers[] = {ifm, NULL};
  struct th_resp r = th_req("PATCH", x->path, th_admin(), body, headers);
  x->status = r.status;
  th_free(&r);
  return NULL;
}

Test(agencies, concurrent_patches_with_if_match) {
  char *id = simple_agency("Academia de las Carreras (prueba)");
  char path[128];
  snprintf(path, sizeof path, "/v1/agencies/%s", id);
  struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
  char *etag = th_header(&r, "ETag");
  th_free(&r);
  enum { N = 8 };
  struct racer racers[N];
  pthread_t threads[N];
  for (int i = 0; i < N; i++) {
    racers[i] = (struct racer){path, etag, i, 0};
    pthread_create(&threads[i], NULL, race, &racers[i]);
  }
  int won = -1, refused = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(threads[i], NULL);
    if (racers[i].status == 200) {
      cr_assert_eq(won, -1, "two PATCHes won");
      won = i;
    } else {
      cr_assert_eq(racers[i].status, 412, "status %ld", racers[i].status);
      refused++;
    }
  }
  cr_assert_neq(won, -1, "no PATCH won");
  cr_assert_eq(refused, N - 1);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  char want[16];
  snprintf(want, sizeof want, "R%d", won);
  cr_assert_str_eq(jstr(r.json, "acronym"), want);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 2);
  th_free(&r);
  /* the stale tag stays stale */
  const char *ifm_hdr[] = {NULL, NULL};
  char ifm[128];
  snprintf(ifm, sizeof ifm, "If-Match: %s", etag);
  ifm_hdr[0] = ifm;
  r = th_req("DELETE", path, th_admin(), NULL, ifm_hdr);
  assert_problem(&r, 412, "precondition-failed");
  th_free(&r);
  free(etag);
  free(id);
}

/* ------------------------------------------------------------------ audit */

Test(agencies, every_write_is_audited) {
  char *id = simple_agency("Academia Auditada (prueba)");
  char path[160];
  snprintf(path, sizeof path, "/v1/agencies/%s", id);
  const char *const rid[] = {"X-Request-Id: audit-test-request-1", NULL};
  struct th_resp r = th_req("PATCH", path, tok("advisor"), "{\"municipality\":\"Tonalá\"}", rid);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  snprintf(path, sizeof path, "/v1/audit?resource=agency&id=%s", id);
  r = th_req("GET", path, tok("inl"), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  const json_t *data = json_object_get(r.json, "data");
  cr_assert_eq(json_array_size(data), 2, "%s", r.body);
  const json_t *created = json_array_get(data, 0), *updated = json_array_get(data, 1);
  cr_assert_str_eq(jstr(created, "action"), "created");
  cr_assert_str_eq(jstr(created, "role"), "admin");
  cr_assert_str_eq(jstr(updated, "action"), "updated");
  cr_assert_str_eq(jstr(updated, "actor"), ADVISOR_ID);
  cr_assert_str_eq(jstr(updated, "role"), "advisor");
  cr_assert_str_eq(jstr(updated, "request_id"), "audit-test-request-1");
  cr_assert_str_eq(jstr(updated, "resource"), "agency");
  cr_assert_str_eq(jstr(updated, "id"), id);
  cr_assert_not_null(jstr(updated, "at"));
  const json_t *change = json_object_get(json_object_get(updated, "changes"), "municipality");
  cr_assert(json_is_null(json_array_get(change, 0)));
  cr_assert_str_eq(json_string_value(json_array_get(change, 1)), "Tonalá");
  cr_assert_eq(json_object_size(json_object_get(updated, "changes")), 1, "only what changed");
  th_free(&r);
  /* filters: actor, time window, newest first */
  r = th_req("GET", "/v1/audit?actor=" ADVISOR_ID "&since=2020-01-01T00:00:00Z&sort=-at",
             th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_geq(json_array_size(json_object_get(r.json, "data")), 1);
  th_free(&r);
  r = th_req("GET", "/v1/audit?until=2000-01-01T00:00:00Z&count=exact", th_admin(), NULL, NULL);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 0);
  th_free(&r);
  r = th_req("GET", "/v1/audit?since=yesterday", th_admin(), NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
  free(id);
}

Test(agencies, audit_pages_in_order) {
  for (int i = 0; i < 3; i++)
    free(simple_agency("Academia Paginada (prueba)"));
  json_t *at = all_ids("/v1/audit?resource=agency&actor=00000000-0000-4000-8000-000000000001"
                       "&limit=2",
                       th_admin(), "at");
  cr_assert_geq(json_array_size(at), 3);
  for (size_t i = 1; i < json_array_size(at); i++)
    cr_assert_leq(strcmp(json_string_value(json_array_get(at, i - 1)),
                         json_string_value(json_array_get(at, i))),
                  0);
  json_decref(at);
}

/* ------------------------------------------------------------- date rules */

static void assert_sql(const char *sql, const char *want) {
  char *got = th_sql(sql);
  cr_assert_str_eq(got ? got : "(null)", want, "%s", sql);
  free(got);
}

Test(agencies, date_rules_at_month_ends_and_leap_years) {
#define ROW(json) "jsonb_populate_record(NULL::agencies, '" json "')"
  /* implementation plan: applied + 3 months */
  assert_sql("SELECT agency_implementation_plan_due(" ROW("{\"applied_on\":\"2023-11-30\"}") ")",
             "2024-02-29");
  assert_sql("SELECT agency_implementation_plan_due(" ROW("{\"applied_on\":\"2022-11-30\"}") ")",
             "2023-02-28");
  assert_sql("SELECT agency_implementation_plan_due(" ROW("{\"applied_on\":\"2020-01-31\"}") ")",
             "2020-04-30");
  /* self-assessment: 36 months for law enforcement, 24 for the others */
  assert_sql("SELECT agency_self_assessment_due(" ROW(
                 "{\"type\":\"law_enforcement\",\"enrolled_on\":\"2020-02-29\"}") ")",
             "2023-02-28");
  assert_sql("SELECT agency_self_assessment_due(" ROW(
                 "{\"type\":\"training_academy\",\"enrolled_on\":\"2020-02-29\"}") ")",
             "2022-02-28");
  assert_sql("SELECT agency_self_assessment_due(" ROW(
                 "{\"type\":\"communications_center\",\"enrolled_on\":\"2018-08-31\"}") ")",
             "2020-08-31");
  /* accreditation: four years, a leap day to a leap day */
  assert_sql("SELECT accreditation_expiry('2020-02-29')", "2024-02-29");
  assert_sql("SELECT accreditation_expiry('2019-03-23')", "2023-03-23");
  /* continuation fees: 30 days after the award, then three anniversaries */
  assert_sql("SELECT agency_continuation_fees_due(" ROW("{\"accredited_on\":\"2020-02-29\"}") ")",
             "{2020-03-30,2021-02-28,2022-02-28,2023-02-28}");
  assert_sql("SELECT agency_continuation_fees_due(" ROW("{\"accredited_on\":\"2023-12-15\"}") ")",
             "{2024-01-14,2024-12-15,2025-12-15,2026-12-15}");
  /* annual reviews: the next anniversary on or after a day, within the accreditation */
#define LEAP_AWARD                                                                                 \
  ROW("{\"accredited_on\":\"2020-02-29\",\"accreditation_expires_on\":\"2024-02-29\"}")
  assert_sql("SELECT agency_next_annual_review_due(" LEAP_AWARD ", '2021-03-01')", "2022-02-28");
  assert_sql("SELECT agency_next_annual_review_due(" LEAP_AWARD ", '2021-02-28')", "2021-02-28");
  assert_sql("SELECT agency_next_annual_review_due(" LEAP_AWARD ", '2024-03-01')", "(null)");
#undef LEAP_AWARD
#undef ROW
}
