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

/* ------------------------------------------------------- issue 17, 15.9 */

Test(cursor, sealed_nothing_readable) {
  char *c = cursor_encode("Policía de Querétaro", "7c0e2f4e-0000-4000-8000-000000000001", "b1");
  size_t n = strlen(c);
  cr_assert(strchr(c, '.') == NULL);
  unsigned char *raw = malloc(n + 8);
  size_t len = 0;
  cr_assert(o_base64url_decode((const unsigned char *)c, n / 4 * 4, raw, &len));
  cr_assert(memmem(raw, len, "Quer", 4) == NULL, "the sort key reads in the clear");
  cr_assert(memmem(raw, len, "7c0e2f4e", 8) == NULL, "the id reads in the clear");
  free(raw);
  /* The same position gives the same cursor (a poller at the end of the feed gets its own
   * back); another position, or another list, another one. */
  char *d = cursor_encode("Policía de Querétaro", "7c0e2f4e-0000-4000-8000-000000000001", "b1");
  char *e = cursor_encode("Policía de Querétaro", "7c0e2f4e-0000-4000-8000-000000000002", "b1");
  char *f = cursor_encode("Policía de Querétaro", "7c0e2f4e-0000-4000-8000-000000000001", "b2");
  cr_assert_str_eq(c, d);
  cr_assert_str_neq(c, e);
  cr_assert_str_neq(c, f);
  free(c);
  free(d);
  free(e);
  free(f);
}

/* Words that are English, not Spanish (" a " is both, and left out). */
static const char *const ENGLISH_WORDS[] = {
    " must ",    " is ",    " an ",     "a string",   "string",  "integer", "number",
    "object",    "array",   "address",  "one of",     " only ",  " the ",   " or ",
    "date-time", " field ", "does not", "characters", "allowed", "within",  "least",
    "most",      "whole",   "valid:",   "may be",     "must"};

static void assert_spanish(const char *text, const char *what) {
  for (size_t k = 0; k < sizeof ENGLISH_WORDS / sizeof *ENGLISH_WORDS; k++)
    cr_assert(strstr(text, ENGLISH_WORDS[k]) == NULL, "%s: \"%s\" has \"%s\"", what, text,
              ENGLISH_WORDS[k]);
}

/* Every code of the catalogue, with every phrase validation gives it (and with none), renders
 * in Spanish without an English word. */
Test(spanish, every_code_with_every_phrase) {
  size_t codes = 0;
  for (const char *code; (code = problem_field_code(codes)) != NULL; codes++) {
    for (int ph = -1; ph < PH__COUNT; ph++) {
      struct ctx c;
      ctx_init(&c, LANG_ES);
      if (ph < 0)
        req_field_error(&c.r, "/x", code, "1..5");
      else
        req_field_must_be(&c.r, "/x", code, (enum phrase_id)ph);
      const char *m = json_string_value(json_object_get(json_array_get(c.r.errors, 0), "message"));
      char what[96];
      snprintf(what, sizeof what, "%s with phrase %d", code, ph);
      assert_spanish(m, what);
      ctx_free(&c);
    }
  }
  cr_assert_gt(codes, 15);
}

/* A refusal of the database never shows PostgreSQL's own words: constraint, type, function
 * names go to the log. */
Test(problem, database_messages_stay_in_the_log) {
  static const struct {
    enum db_status status;
    const char *message, *constraint;
  } CASES[] = {
      {DB_INVALID_INPUT, "invalid input syntax for type uuid: \"x\"", ""},
      {DB_RAISED, "function agency_transition() raised: relation \"agencies\"", ""},
      {DB_UNIQUE, "duplicate key value violates unique constraint", "users_email_key"},
      {DB_FOREIGN_KEY, "insert or update on table \"tasks\" violates foreign key constraint",
       "tasks_assignee_id_fkey"},
      {DB_CHECK, "new row violates check constraint", "agencies_tier_law_enforcement"},
  };
  for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
    for (int lang = LANG_EN; lang <= LANG_ES; lang++) {
      struct ctx c;
      ctx_init(&c, (enum lang)lang);
      struct db_conn db;
      memset(&db, 0, sizeof db);
      db.status = CASES[i].status;
      snprintf(db.message, sizeof db.message, "%s", CASES[i].message);
      snprintf(db.constraint, sizeof db.constraint, "%s", CASES[i].constraint);
      problem_from_db(&c.r, &db);
      problem_render(&c.r);
      const char *body = c.out.binary_body;
      static const char *const INTERNAL[] = {"syntax", "uuid",  "function",  "relation", "violates",
                                             "_key",   "_fkey", "agencies_", "tasks"};
      for (size_t k = 0; k < sizeof INTERNAL / sizeof *INTERNAL; k++)
        cr_assert(strstr(body, INTERNAL[k]) == NULL, "%s", body);
      ctx_free(&c);
    }
  }
}

static bool url_accepted(const char *url) {
  static const struct field F = {"u", F_URL, 0, 0, 0, NULL, NULL};
  struct ctx c;
  ctx_init(&c, LANG_EN);
  json_t *v = json_string(url);
  int errs = validate_value(&c.r, v, &F, "/u", BODY_NEW);
  json_decref(v);
  ctx_free(&c);
  return errs == 0;
}

Test(validate, urls_are_absolute_http_without_quotes) {
  static const char *const GOOD[] = {
      "https://ssp.gob.mx",         "http://ssp.gob.mx/",
      "HTTPS://SSP.GOB.MX/Agencia", "https://ssp.gob.mx:8443/a%20b/c?d=1&e=(2)#f",
      "https://[2001:db8::1]/x",    "https://192.0.2.1/grabacion.mp4"};
  static const char *const BAD[] = {"https://x\" onmouseover=\"alert(1)",
                                    "https://x onmouseover=alert(1)",
                                    "https://x.mx/'",
                                    "https://",
                                    "https:///x",
                                    "https://:80/",
                                    "ftp://x.mx",
                                    "javascript:alert(1)",
                                    "//x.mx",
                                    "https://x.mx:99999/",
                                    "https://user:pass@x.mx/",
                                    "https://x.mx/<script>",
                                    "https://x.mx/\\",
                                    "https://x.mx/%2",
                                    "https://x.mx/\x01",
                                    "https://x.mx/ñ",
                                    "https://x.mx/a#b#c",
                                    "https://[zz]/"};
  for (size_t i = 0; i < sizeof GOOD / sizeof *GOOD; i++)
    cr_assert(url_accepted(GOOD[i]), "%s refused", GOOD[i]);
  for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++)
    cr_assert_not(url_accepted(BAD[i]), "%s accepted", BAD[i]);
}

Test(problem, errors_are_capped) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  for (int i = 0; i < 250; i++)
    req_field_error(&c.r, "/x", "required", NULL);
  c.r.problem = P_VALIDATION;
  problem_render(&c.r);
  json_t *doc = json_loadb(c.out.binary_body, c.out.binary_body_length, 0, NULL);
  cr_assert_eq(json_array_size(json_object_get(doc, "errors")), HTTP_MAX_FIELD_ERRORS);
  cr_assert_eq(json_integer_value(json_object_get(doc, "errors_omitted")), 150);
  json_decref(doc);
  ctx_free(&c);
}
