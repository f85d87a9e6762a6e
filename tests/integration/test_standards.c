/*
 * test_standards.c — the standards catalog: the role matrix, numeric order of numbers in
 * lists and across cursors, filters, rules across fields, and the NDJSON import (all or
 * nothing, every bad line reported).
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("standards", false);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static char *token_of(const char *role) {
  return th_token(role, "11111111-1111-4111-8111-111111111111",
                  strcmp(role, "agency") == 0 ? "22222222-2222-4222-8222-222222222222" : NULL);
}

/* A standard's JSON; version and number vary, the rest is fixed. */
static void standard_body(char *out, size_t cap, const char *program, const char *version,
                          const char *number) {
  int chapter = atoi(number);
  bool le = strcmp(program, "law_enforcement") == 0;
  snprintf(out, cap,
           "{\"program\":\"%s\",\"manual_version\":\"%s\",\"number\":\"%s\","
           "\"chapter\":{\"number\":%d,\"title\":{\"es\":\"Capítulo %d\",\"en\":\"Chapter %d\"}},"
           "\"title\":{\"es\":\"Estándar %s de prueba\",\"en\":\"Test standard %s\"},"
           "\"summary\":{\"es\":\"Texto inventado para pruebas.\"},"
           "\"bullets\":[{\"key\":\"a\",\"summary\":{\"es\":\"Inciso a\"}},"
           "{\"key\":\"b\",\"summary\":{\"es\":\"Inciso b\",\"en\":\"Bullet b\"}}]%s}",
           program, version, number, chapter, chapter, chapter, number, number,
           le ? ",\"tiers\":[\"tier1\",\"advanced\"]" : "");
}

/* Creates a standard as admin and returns its id (malloc'd). */
static char *create_standard(const char *program, const char *version, const char *number) {
  char body[2048];
  standard_body(body, sizeof body, program, version, number);
  struct th_resp r = th_req("POST", "/v1/standards", th_admin(), body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  th_free(&r);
  return id;
}

static bool has_error(const json_t *problem, const char *field, const char *code) {
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(problem, "errors"), i, e) {
    if (strcmp(jstr(e, "field"), field) == 0 &&
        (code == NULL || strcmp(jstr(e, "code"), code) == 0))
      return true;
  }
  return false;
}

/* The numbers of a list page, space-separated, into out. */
static void numbers_of(const json_t *page, char *out, size_t cap) {
  out[0] = '\0';
  size_t i;
  const json_t *s;
  json_array_foreach(json_object_get(page, "data"), i, s) {
    size_t u = strlen(out);
    snprintf(out + u, cap - u, "%s%s", i ? " " : "", jstr(s, "number"));
  }
}

/* ---------------------------------------------------------------- roles */

Test(standards, role_matrix) {
  char *id = create_standard("communications_center", "1.0", "1.1.1");
  static const char *const ROLES[] = {"admin", "inl", "advisor", "agency", "coalition", "partner"};
  char path[128];
  snprintf(path, sizeof path, "/v1/standards/%s", id);
  for (size_t i = 0; i < sizeof ROLES / sizeof *ROLES; i++) {
    char *t = token_of(ROLES[i]);
    struct th_resp r = th_req("GET", "/v1/standards", t, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s list: %ld", ROLES[i], r.status);
    th_free(&r);
    r = th_req("GET", path, t, NULL, NULL);
    cr_assert_eq(r.status, 200, "%s get: %ld", ROLES[i], r.status);
    th_free(&r);
    bool admin = strcmp(ROLES[i], "admin") == 0;
    if (!admin) {
      char body[2048];
      standard_body(body, sizeof body, "communications_center", "1.0", "1.1.2");
      r = th_req("POST", "/v1/standards", t, body, NULL);
      cr_assert_eq(r.status, 403, "%s create: %ld", ROLES[i], r.status);
      th_free(&r);
      r = th_req("PATCH", path, t, "{\"active\":false}", NULL);
      cr_assert_eq(r.status, 403, "%s patch: %ld", ROLES[i], r.status);
      th_free(&r);
      r = th_req("DELETE", path, t, NULL, NULL);
      cr_assert_eq(r.status, 403, "%s delete: %ld", ROLES[i], r.status);
      th_free(&r);
      r = th_req_to(NULL, "POST", "/v1/standards/import", t, "application/x-ndjson", "\n", 1, NULL);
      cr_assert_eq(r.status, 403, "%s import: %ld", ROLES[i], r.status);
      th_free(&r);
    }
    free(t);
  }
  struct th_resp r = th_req("GET", "/v1/standards", NULL, NULL, NULL);
  cr_assert_eq(r.status, 401);
  th_free(&r);
  r = th_req("GET", "/v1/standards/not-a-uuid", th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  free(id);
}

/* ----------------------------------------------------------------- order */

Test(standards, numeric_order_across_cursors) {
  /* Created out of order, in a version of their own. */
  const char *numbers[] = {"10.1.1", "9.1.10", "9.2.1", "9.1.2", "9.1.9"};
  for (size_t i = 0; i < 5; i++)
    free(create_standard("training_academy", "77.1", numbers[i]));
  const char *want[] = {"9.1.2 9.1.9", "9.1.10 9.2.1", "10.1.1"};
  char path[1024] = "/v1/standards?program=training_academy&manual_version=77.1&limit=2";
  char got[256];
  for (int page = 0; page < 3; page++) {
    struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    numbers_of(r.json, got, sizeof got);
    cr_assert_str_eq(got, want[page], "page %d: %s", page, got);
    const char *next = jstr(r.json, "next_cursor");
    if (page < 2) {
      cr_assert_not_null(next);
      char *link = th_header(&r, "Link");
      cr_assert(link && strstr(link, "rel=\"next\""));
      free(link);
      snprintf(path, sizeof path,
               "/v1/standards?program=training_academy&manual_version=77.1&limit=2&cursor=%s",
               next);
    } else {
      cr_assert(json_is_null(json_object_get(r.json, "next_cursor")));
    }
    th_free(&r);
  }
  /* Descending, and a cursor reused with another filter. */
  struct th_resp r = th_req("GET", "/v1/standards?manual_version=77.1&sort=-number&limit=3",
                            th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200);
  numbers_of(r.json, got, sizeof got);
  cr_assert_str_eq(got, "10.1.1 9.2.1 9.1.10");
  snprintf(path, sizeof path, "/v1/standards?manual_version=77.1&sort=-number&limit=3&cursor=%s",
           jstr(r.json, "next_cursor"));
  struct th_resp r2 = th_req("GET", path, th_admin(), NULL, NULL);
  numbers_of(r2.json, got, sizeof got);
  cr_assert_str_eq(got, "9.1.9 9.1.2");
  th_free(&r2);
  snprintf(path, sizeof path, "/v1/standards?manual_version=77.2&sort=-number&limit=3&cursor=%s",
           jstr(r.json, "next_cursor"));
  r2 = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r2.status, 400);
  th_free(&r2);
  th_free(&r);
  r = th_req("GET", "/v1/standards?manual_version=77.1&count=exact&limit=1", th_admin(), NULL,
             NULL);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 5);
  th_free(&r);
}

/* --------------------------------------------------------------- filters */

Test(standards, filters) {
  char body[2048];
  snprintf(body, sizeof body,
           "{\"program\":\"law_enforcement\",\"manual_version\":\"88.1\",\"number\":\"4.1.1\","
           "\"chapter\":{\"number\":4,\"title\":{\"es\":\"Operaciones\"}},"
           "\"title\":{\"es\":\"Persecución en vehículos\",\"en\":\"Vehicle pursuits\"},"
           "\"tiers\":[\"advanced\"],\"time_sensitive\":\"annual\"}");
  struct th_resp r = th_req("POST", "/v1/standards", th_admin(), body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(json_object_get(r.json, "title"), "es"), "Persecución en vehículos");
  cr_assert(json_is_null(json_object_get(r.json, "summary")));
  cr_assert_eq(json_array_size(json_object_get(r.json, "bullets")), 0);
  th_free(&r);
  free(create_standard("law_enforcement", "88.1", "4.1.2"));
  free(create_standard("law_enforcement", "88.1", "5.1.1"));

  struct {
    const char *query;
    const char *want;
  } cases[] = {
      {"tier=tier1", "4.1.2 5.1.1"},
      {"tier=advanced", "4.1.1 4.1.2 5.1.1"},
      {"time_sensitive=true", "4.1.1"},
      {"time_sensitive=annual", "4.1.1"},
      {"time_sensitive=false", "4.1.2 5.1.1"},
      {"chapter=5", "5.1.1"},
      {"q=PERSECUCION", "4.1.1"},
      {"q=pursuit", "4.1.1"},
      {"q=5.1", "5.1.1"},
  };
  char path[256], got[256];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    snprintf(path, sizeof path, "/v1/standards?manual_version=88.1&%s", cases[i].query);
    r = th_req("GET", path, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
    numbers_of(r.json, got, sizeof got);
    cr_assert_str_eq(got, cases[i].want, "%s: %s", cases[i].query, got);
    th_free(&r);
  }
  r = th_req("GET", "/v1/standards?tier=gold&chapter=x&bogus=1", th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 400);
  cr_assert(has_error(r.json, "/query/tier", "invalid_enum"));
  cr_assert(has_error(r.json, "/query/chapter", "invalid_format"));
  cr_assert(has_error(r.json, "/query/bogus", "unknown_parameter"));
  th_free(&r);
}

/* ----------------------------------------------------------------- rules */

Test(standards, rules_across_fields_all_at_once) {
  const char *body =
      "{\"program\":\"communications_center\",\"manual_version\":\"6.x\",\"number\":\"3.01.2\","
      "\"chapter\":{\"number\":4,\"title\":{\"es\":\"Capítulo\"}},"
      "\"title\":{\"en\":\"no Spanish\"},\"tiers\":[\"tier1\"],"
      "\"bullets\":[{\"key\":\"a\",\"summary\":{\"es\":\"x\"}},{\"key\":\"a\",\"summary\":{\"es\":"
      "\"y\"}},"
      "{\"key\":\"B\",\"summary\":{\"es\":\"z\"}}],\"time_sensitive\":\"weekly\",\"extra\":1}";
  struct th_resp r = th_req("POST", "/v1/standards", th_admin(), body, NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/manual_version", "invalid_format"));
  cr_assert(has_error(r.json, "/number", "invalid_format"));
  cr_assert(has_error(r.json, "/title/es", "required"));
  cr_assert(has_error(r.json, "/tiers", "invalid"));
  cr_assert(has_error(r.json, "/bullets/1/key", "taken"));
  cr_assert(has_error(r.json, "/bullets/2/key", "invalid_format"));
  cr_assert(has_error(r.json, "/time_sensitive", "invalid_enum"));
  cr_assert(has_error(r.json, "/extra", "unknown_field"));
  th_free(&r);

  /* Law enforcement needs tiers; the chapter is the number's first part. */
  body = "{\"program\":\"law_enforcement\",\"manual_version\":\"6.15\",\"number\":\"3.1.2\","
         "\"chapter\":{\"number\":4,\"title\":{\"es\":\"Capítulo\"}},\"title\":{\"es\":\"T\"}}";
  r = th_req("POST", "/v1/standards", th_admin(), body, NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/tiers", "required"));
  cr_assert(has_error(r.json, "/chapter/number", "invalid"));
  th_free(&r);
}

Test(standards, unique_per_program_and_version) {
  free(create_standard("communications_center", "2.0", "7.1.1"));
  char body[2048];
  standard_body(body, sizeof body, "communications_center", "2.0", "7.1.1");
  struct th_resp r = th_req("POST", "/v1/standards", th_admin(), body, NULL);
  cr_assert_eq(r.status, 409, "%s", r.body);
  th_free(&r);
  /* Same number, another version or program: fine. */
  free(create_standard("communications_center", "2.1", "7.1.1"));
  free(create_standard("training_academy", "2.0", "7.1.1"));
}

Test(standards, patch_if_match_delete_and_audit) {
  char *id = create_standard("training_academy", "3.0", "2.1.1");
  char path[128];
  snprintf(path, sizeof path, "/v1/standards/%s", id);
  struct th_resp g = th_req("GET", path, th_admin(), NULL, NULL);
  char *etag = th_header(&g, "ETag");
  th_free(&g);

  char if_match[128];
  snprintf(if_match, sizeof if_match, "If-Match: %s", etag);
  const char *hdrs[] = {if_match, NULL};
  struct th_resp r = th_req("PATCH", path, th_admin(), "{\"time_sensitive\":\"triennial\"}", hdrs);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "time_sensitive"), "triennial");
  cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 2);
  th_free(&r);
  r = th_req("PATCH", path, th_admin(), "{\"active\":false}", hdrs);
  cr_assert_eq(r.status, 412);
  th_free(&r);
  /* A patch that breaks a rule across fields (tiers outside law enforcement). */
  r = th_req("PATCH", path, th_admin(), "{\"tiers\":[\"tier1\"]}", NULL);
  cr_assert_eq(r.status, 422);
  cr_assert(has_error(r.json, "/tiers", "invalid"));
  th_free(&r);
  /* The number may move within its chapter only together with the chapter. */
  r = th_req("PATCH", path, th_admin(), "{\"number\":\"3.1.1\"}", NULL);
  cr_assert_eq(r.status, 422);
  cr_assert(has_error(r.json, "/chapter/number", "invalid"));
  th_free(&r);

  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM audit WHERE resource = 'standard' AND resource_id = '%s'", id);
  cr_assert_eq(th_sql_long(sql), 2);
  r = th_req("DELETE", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 204);
  th_free(&r);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  cr_assert_eq(th_sql_long(sql), 3);
  free(etag);
  free(id);
}

/* ---------------------------------------------------------------- import */

static struct th_resp import(const char *ndjson) {
  return th_req_to(NULL, "POST", "/v1/standards/import", th_admin(), "application/x-ndjson", ndjson,
                   strlen(ndjson), NULL);
}

Test(standards, import_creates_all) {
  char l1[2048], l2[2048], l3[2048], body[8192];
  standard_body(l1, sizeof l1, "law_enforcement", "9.9", "1.1.2");
  standard_body(l2, sizeof l2, "law_enforcement", "9.9", "1.1.10");
  standard_body(l3, sizeof l3, "law_enforcement", "9.9", "1.1.1");
  snprintf(body, sizeof body, "%s\r\n\n%s\n%s", l1, l2, l3);
  struct th_resp r = import(body);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "created")), 3);
  th_free(&r);
  r = th_req("GET", "/v1/standards?manual_version=9.9", th_admin(), NULL, NULL);
  char got[256];
  numbers_of(r.json, got, sizeof got);
  cr_assert_str_eq(got, "1.1.1 1.1.2 1.1.10");
  th_free(&r);
  cr_assert_eq(th_sql_long("SELECT count(*) FROM audit WHERE resource = 'standard' AND changes ? "
                           "'manual_version' AND changes->'manual_version'->>1 = '9.9'"),
               3);
}

Test(standards, import_all_or_nothing_with_line_errors) {
  char l1[2048], l4[2048], l5[2048], body[8192];
  standard_body(l1, sizeof l1, "communications_center", "5.5", "1.1.1");
  standard_body(l4, sizeof l4, "communications_center", "5.5", "1.1.1");
  standard_body(l5, sizeof l5, "communications_center", "5.5", "1.1.3");
  /* Line 2: not JSON; line 3: no title, a bad number; line 4: line 1's number again;
   * line 5: fine. */
  snprintf(body, sizeof body,
           "%s\n{\"program\":\n"
           "{\"program\":\"communications_center\",\"manual_version\":\"5.5\",\"number\":\"1.1\","
           "\"chapter\":{\"number\":1,\"title\":{\"es\":\"C\"}}}\n%s\n%s\n",
           l1, l4, l5);
  struct th_resp r = import(body);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "type"), "https://acredita.dev/problems/validation");
  cr_assert(has_error(r.json, "/2", "invalid_type"), "%s", r.body);
  cr_assert(has_error(r.json, "/3/title", "required"), "%s", r.body);
  cr_assert(has_error(r.json, "/3/number", "invalid_format"), "%s", r.body);
  cr_assert(has_error(r.json, "/4/number", "taken"), "%s", r.body);
  cr_assert_eq(json_array_size(json_object_get(r.json, "errors")), 4, "%s", r.body);
  th_free(&r);
  cr_assert_eq(th_sql_long("SELECT count(*) FROM standards WHERE manual_version = '5.5'"), 0);

  /* A number that exists already fails its line, and nothing else is kept. */
  free(create_standard("communications_center", "5.5", "1.1.3"));
  snprintf(body, sizeof body, "%s\n%s\n", l1, l5);
  r = import(body);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/2/number", "taken"), "%s", r.body);
  th_free(&r);
  cr_assert_eq(th_sql_long("SELECT count(*) FROM standards WHERE manual_version = '5.5'"), 1);
}

Test(standards, import_limits_and_media_type) {
  struct th_resp r = th_req("POST", "/v1/standards/import", th_admin(), "{}", NULL);
  cr_assert_eq(r.status, 415, "%s", r.body);
  th_free(&r);
  r = import("\n\n");
  cr_assert_eq(r.status, 422, "%s", r.body);
  th_free(&r);
  size_t n = 5001 * 3;
  char *big = malloc(n + 1);
  for (size_t i = 0; i < 5001; i++)
    memcpy(big + 3 * i, "{}\n", 3);
  big[n] = '\0';
  r = import(big);
  cr_assert_eq(r.status, 413, "%s", r.body);
  th_free(&r);
  free(big);
}
