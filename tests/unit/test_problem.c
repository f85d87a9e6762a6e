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

/* ------------------------------------------------------- issue 17, 15.9 */

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
