/* test_http.c — the HTTP helpers on their own: cursors, tags, UTF-8, validation, problems. */
#include "http/http.h"

#include <criterion/criterion.h>
#include <orcania.h>
#include <stdio.h>
#include <string.h>

static void keys(void) {
  memset(&g_config, 0, sizeof g_config);
  memset(g_config.cursor_key, 7, sizeof g_config.cursor_key);
}

TestSuite(cursor, .init = keys);

Test(cursor, round_trip) {
  char *c = cursor_encode("2024-01-25 15:00:00+00", "7c0e2f4e-0000-4000-8000-000000000001",
                          "/v1/users|created_at");
  char *k = NULL, *id = NULL;
  cr_assert_eq(cursor_decode(c, "/v1/users|created_at", &k, &id), A_OK);
  cr_assert_str_eq(k, "2024-01-25 15:00:00+00");
  cr_assert_str_eq(id, "7c0e2f4e-0000-4000-8000-000000000001");
  free(k);
  free(id);
  free(c);
}

Test(cursor, refused_when_tampered_or_rebound) {
  char *c = cursor_encode("abc", "7c0e2f4e-0000-4000-8000-000000000001", "b1");
  char *k = NULL, *id = NULL;
  cr_assert_eq(cursor_decode(c, "b2", &k, &id), A_ERR, "other filters");
  char *t = strdup(c);
  t[3] = t[3] == 'A' ? 'B' : 'A';
  cr_assert_eq(cursor_decode(t, "b1", &k, &id), A_ERR, "edited payload");
  t[3] = c[3];
  t[strlen(t) - 1] = t[strlen(t) - 1] == 'A' ? 'B' : 'A';
  cr_assert_eq(cursor_decode(t, "b1", &k, &id), A_ERR, "edited MAC");
  cr_assert_eq(cursor_decode("", "b1", &k, &id), A_ERR);
  cr_assert_eq(cursor_decode("no-dot", "b1", &k, &id), A_ERR);
  cr_assert_eq(cursor_decode("....", "b1", &k, &id), A_ERR);
  memset(g_config.cursor_key, 8, sizeof g_config.cursor_key);
  cr_assert_eq(cursor_decode(c, "b1", &k, &id), A_ERR, "another key");
  free(t);
  free(c);
}

Test(etag, from_data_and_matching) {
  char a[40], b[40], c[40];
  etag_of("{\"x\":1}", 7, a);
  etag_of("{\"x\":1}", 7, b);
  etag_of("{\"x\":2}", 7, c);
  cr_assert_str_eq(a, b);
  cr_assert_str_neq(a, c);
  cr_assert_eq(a[0], '"');
  cr_assert(etag_matches(a, a));
  char list[128];
  snprintf(list, sizeof list, "\"zzz\", W/%s", a);
  cr_assert(etag_matches(list, a));
  cr_assert(etag_matches("*", a));
  cr_assert_not(etag_matches(c, a));
  cr_assert_not(etag_matches(NULL, a));
}

Test(utf8, accepts_and_refuses) {
  cr_assert(utf8_valid("Querétaro", strlen("Querétaro")));
  cr_assert_not(utf8_valid("\xff", 1));
  cr_assert_not(utf8_valid("a\0b", 3));
  cr_assert_not(utf8_valid("\xc0\xaf", 2), "overlong");
  cr_assert_not(utf8_valid("\xed\xa0\x80", 3), "surrogate");
  cr_assert_not(utf8_valid("\xc3", 1), "truncated");
}

/* A request context good enough for validation and problem rendering. */
struct ctx {
  struct _u_request in;
  struct _u_response out;
  struct req r;
};

static void ctx_init(struct ctx *c, enum lang lang) {
  memset(c, 0, sizeof *c);
  ulfius_init_request(&c->in);
  ulfius_init_response(&c->out);
  c->in.url_path = o_strdup("/v1/things");
  c->r.in = &c->in;
  c->r.out = &c->out;
  c->r.lang = lang;
  snprintf(c->r.request_id, sizeof c->r.request_id, "req-1");
}

static void ctx_free(struct ctx *c) {
  json_decref(c->r.errors);
  ulfius_clean_request(&c->in);
  ulfius_clean_response(&c->out);
}

static const char *const COLOURS[] = {"red", "green", NULL};
static const struct field FIELDS[] = {{"name", F_STRING, F_REQUIRED, 1, 5, NULL, NULL},
                                      {"colour", F_ENUM, 0, 0, 0, COLOURS, NULL},
                                      {"on", F_DATE, F_NULLABLE, 0, 0, NULL, NULL},
                                      {"title", F_BILINGUAL, 0, 0, 0, NULL, NULL},
                                      {NULL, 0, 0, 0, 0, NULL, NULL}};

Test(validate, every_error_at_once) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  json_t *body = json_loads("{\"colour\":\"blue\",\"on\":\"2023-02-29\",\"title\":{\"en\":\"x\"},"
                            "\"extra\":1}",
                            0, NULL);
  cr_assert_eq(validate_body(&c.r, body, FIELDS, false), 5);
  const char *want[] = {"/colour", "/on", "/title/es", "/extra", "/name"};
  for (size_t i = 0; i < 5; i++) {
    bool found = false;
    for (size_t j = 0; j < json_array_size(c.r.errors); j++)
      found |= strcmp(json_string_value(json_object_get(json_array_get(c.r.errors, j), "field")),
                      want[i]) == 0;
    cr_assert(found, "no error for %s", want[i]);
  }
  json_decref(body);
  ctx_free(&c);
}

Test(validate, patch_needs_something_and_checks_lengths) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  json_t *empty = json_object();
  cr_assert_eq(validate_body(&c.r, empty, FIELDS, true), 1);
  json_decref(empty);
  json_t *body = json_loads("{\"name\":\"ñññññ\",\"on\":null}", 0, NULL);
  cr_assert_eq(validate_body(&c.r, body, FIELDS, true), 0, "5 characters, not 10 bytes");
  json_decref(body);
  body = json_loads("{\"name\":\"ññññññ\"}", 0, NULL);
  cr_assert_eq(validate_body(&c.r, body, FIELDS, true), 1);
  json_decref(body);
  ctx_free(&c);
}

static json_t *render(enum lang lang, enum problem kind) {
  struct ctx c;
  ctx_init(&c, lang);
  req_field_error(&c.r, "/name", "required", NULL);
  c.r.problem = kind;
  problem_render(&c.r);
  json_t *doc = json_loadb(c.out.binary_body, c.out.binary_body_length, 0, NULL);
  cr_assert_str_eq(u_map_get_case(c.out.map_header, "Content-Type"), "application/problem+json");
  ctx_free(&c);
  return doc;
}

Test(problem, both_languages_same_codes) {
  json_t *en = render(LANG_EN, P_VALIDATION), *es = render(LANG_ES, P_VALIDATION);
  cr_assert_str_eq(json_string_value(json_object_get(en, "type")),
                   "https://acredita.dev/problems/validation");
  cr_assert_str_eq(json_string_value(json_object_get(en, "type")),
                   json_string_value(json_object_get(es, "type")));
  cr_assert_eq(json_integer_value(json_object_get(en, "status")), 422);
  cr_assert_str_eq(json_string_value(json_object_get(en, "title")),
                   "The request has invalid fields");
  cr_assert_str_eq(json_string_value(json_object_get(es, "title")),
                   "La solicitud tiene campos inválidos");
  json_t *e_en = json_array_get(json_object_get(en, "errors"), 0);
  json_t *e_es = json_array_get(json_object_get(es, "errors"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(e_en, "code")), "required");
  cr_assert_str_eq(json_string_value(json_object_get(e_es, "code")), "required");
  cr_assert_str_eq(json_string_value(json_object_get(e_es, "message")), "es obligatorio");
  cr_assert_str_eq(json_string_value(json_object_get(en, "request_id")), "req-1");
  cr_assert_str_eq(json_string_value(json_object_get(en, "instance")), "/v1/things");
  json_decref(en);
  json_decref(es);
}

Test(problem, errors_only_on_400_and_422) {
  json_t *doc = render(LANG_EN, P_CONFLICT);
  cr_assert_null(json_object_get(doc, "errors"));
  cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 409);
  json_decref(doc);
  doc = render(LANG_EN, P_OAUTH_INVALID_GRANT);
  cr_assert_str_eq(json_string_value(json_object_get(doc, "error")), "invalid_grant");
  json_decref(doc);
}
