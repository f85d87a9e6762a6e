/* test_validate.c — http/validate.c: bodies against field tables, new and merge patches. */
#include "unit.h"

#include <criterion/criterion.h>

static const char *const COLOURS[] = {"red", "green", NULL};
static const struct field FIELDS[] = {{"name", F_STRING, F_REQUIRED, 1, 5},
                                      {"colour", F_ENUM, 0, 0, 0, COLOURS},
                                      {"on", F_DATE, F_NULLABLE},
                                      {"title", F_BILINGUAL},
                                      {NULL}};

Test(validate, every_error_at_once) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  json_t *body = json_loads("{\"colour\":\"blue\",\"on\":\"2023-02-29\",\"title\":{\"en\":\"x\"},"
                            "\"extra\":1}",
                            0, NULL);
  cr_assert_eq(validate_body(&c.r, body, FIELDS, BODY_NEW), 5);
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
  cr_assert_eq(validate_body(&c.r, empty, FIELDS, BODY_PATCH), 1);
  json_decref(empty);
  json_t *body = json_loads("{\"name\":\"ñññññ\",\"on\":null}", 0, NULL);
  cr_assert_eq(validate_body(&c.r, body, FIELDS, BODY_PATCH), 0, "5 characters, not 10 bytes");
  json_decref(body);
  body = json_loads("{\"name\":\"ññññññ\"}", 0, NULL);
  cr_assert_eq(validate_body(&c.r, body, FIELDS, BODY_PATCH), 1);
  json_decref(body);
  ctx_free(&c);
}

static const struct field PERSON[] = {
    {"name", F_STRING, F_REQUIRED, 1, 50}, {"email", F_EMAIL, F_NULLABLE, 3, 254}, {NULL}};
static const struct field RECORD[] = {{"id", F_UUID, F_READ_ONLY},
                                      {"owner", F_UUID, F_REQUIRED | F_FIXED},
                                      {"person", F_OBJECT, F_NULLABLE, 0, 0, NULL, PERSON},
                                      {"people", F_ARRAY_OF, 0, 0, 5, NULL, PERSON},
                                      {"password", F_STRING, F_SECRET, 12, 100},
                                      {NULL}};

static int check(struct ctx *c, const char *text, enum body_kind kind) {
  json_t *body = json_loads(text, 0, NULL);
  cr_assert_not_null(body, "%s", text);
  int n = validate_body(&c->r, body, RECORD, kind);
  json_decref(body);
  return n;
}

Test(validate, a_merge_patch_requires_nothing_but_array_items_are_whole) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  /* A nested object merges: its name may be absent. An array replaces: each item is new. */
  cr_assert_eq(check(&c, "{\"person\":{\"email\":\"a@b.mx\"}}", BODY_PATCH), 0);
  cr_assert_eq(check(&c, "{\"people\":[{\"email\":\"a@b.mx\"}]}", BODY_PATCH), 1);
  cr_assert(ctx_has_error(&c, "/people/0/name", "required"));
  /* A new record needs its required members, nested ones included. */
  cr_assert_eq(check(&c, "{\"person\":{}}", BODY_NEW), 2);
  cr_assert(ctx_has_error(&c, "/owner", "required"));
  cr_assert(ctx_has_error(&c, "/person/name", "required"));
  ctx_free(&c);
}

Test(validate, read_only_and_fixed_members) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  const char *owner = "\"owner\":\"7c0e2f4e-0000-4000-8000-000000000001\"";
  char body[200];
  snprintf(body, sizeof body, "{%s,\"id\":\"7c0e2f4e-0000-4000-8000-000000000002\"}", owner);
  cr_assert_eq(check(&c, body, BODY_NEW), 1, "id is never a body's");
  cr_assert(ctx_has_error(&c, "/id", "read_only"));
  json_decref(c.r.errors);
  c.r.errors = NULL;
  snprintf(body, sizeof body, "{%s}", owner);
  cr_assert_eq(check(&c, body, BODY_NEW), 0, "owner is set when the record is created");
  cr_assert_eq(check(&c, body, BODY_PATCH), 1, "and never changed");
  cr_assert(ctx_has_error(&c, "/owner", "read_only"));
  json_decref(c.r.errors);
  c.r.errors = NULL;
  /* A secret is validated like any member: what the database gets is the hook's business. */
  cr_assert_eq(check(&c, "{\"password\":\"short\"}", BODY_PATCH), 1);
  cr_assert(ctx_has_error(&c, "/password", "too_short"));
  ctx_free(&c);
}

/* ------------------------------------------------------- issue 17, 15.9 */

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
