/* test_problem.c — http/problem.c: problem bodies and refusal tables. */
#include "unit.h"

#include <criterion/criterion.h>

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

static const struct refusal REFUSALS[] = {
    {"things_name_key", P_CONFLICT, NULL, NULL, "Taken.", "Ocupado."},
    {"things_owner_fkey", P_VALIDATION, "/owner", "not_found"},
    {"tier", P_RULE, "/tier", "required", "needs a tier", "necesita un nivel"},
    {"*check", P_VALIDATION, "", "invalid", "a rule of the data", "una regla de los datos"},
    {NULL}};

/* The answer to a refusal of status on constraint (or, raised, with hint). */
static json_t *refused(enum lang lang, enum db_status status, const char *constraint,
                       const char *hint) {
  struct ctx c;
  ctx_init(&c, lang);
  struct db_conn db = {.status = status};
  snprintf(db.constraint, sizeof db.constraint, "%s", constraint);
  snprintf(db.hint, sizeof db.hint, "%s", hint);
  c.r.db = &db;
  problem_from_db(&c.r, &db);
  req_refused(&c.r, REFUSALS);
  problem_render(&c.r);
  json_t *doc = json_loadb(c.out.binary_body, c.out.binary_body_length, 0, NULL);
  ctx_free(&c);
  return doc;
}

static const char *first_error(const json_t *doc, const char *member) {
  return json_string_value(
      json_object_get(json_array_get(json_object_get(doc, "errors"), 0), member));
}

Test(problem, refusals_map_constraints_to_fields_and_never_name_them) {
  json_t *doc = refused(LANG_EN, DB_UNIQUE, "things_name_key", "");
  cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 409);
  cr_assert_str_eq(json_string_value(json_object_get(doc, "detail")), "Taken.");
  json_decref(doc);
  doc = refused(LANG_ES, DB_FOREIGN_KEY, "things_owner_fkey", "");
  cr_assert_eq(json_integer_value(json_object_get(doc, "status")), 422);
  cr_assert_str_eq(first_error(doc, "field"), "/owner");
  cr_assert_str_eq(first_error(doc, "message"), "no existe");
  json_decref(doc);
  /* A rule our SQL raises is found by its HINT's first word. */
  doc = refused(LANG_ES, DB_RAISED, "", "tier|/tier|required");
  cr_assert_str_eq(first_error(doc, "field"), "/tier");
  cr_assert_str_eq(json_string_value(json_object_get(doc, "type")),
                   "https://acredita.dev/problems/rule-violation");
  json_decref(doc);
  /* A class row answers the rest of its class; an unknown refusal keeps the generic answer,
   * which does not name the constraint. */
  doc = refused(LANG_EN, DB_CHECK, "things_secret_internal_name", "");
  cr_assert_str_eq(first_error(doc, "message"), "is not valid: a rule of the data");
  json_decref(doc);
  doc = refused(LANG_EN, DB_FOREIGN_KEY, "things_secret_internal_name", "");
  cr_assert_null(strstr(json_string_value(json_object_get(doc, "detail")), "things_secret"));
  json_decref(doc);
}
