/*
 * users.c — /v1/users: the people who sign in (admin only). Passwords are write-only and
 * stored as yescrypt hashes, computed here (the database never sees a password); emails are
 * unique case-insensitively (an index on lower(email)). A user is archived, not deleted
 * (DELETE; it can no longer sign in), and erased only without history (user_dependents()).
 */
#include "resources/resources.h"
#include "resources/sql.h"

#include "auth/auth.h"

#include <string.h>

static const char *const ROLE_VALUES[] = {"admin",     "inl",     "advisor", "agency",
                                          "coalition", "partner", NULL};

static struct resource USER;
static struct list_spec USER_LIST;

static const struct qparam USER_QUERY[] = {{"role", Q_ENUM, false, ROLE_VALUES},
                                           {"agency_id", Q_UUID},
                                           {"active", Q_BOOL},
                                           {"q", Q_STRING},
                                           {"archived", Q_BOOL},
                                           {NULL}};

static const struct route ROUTES[] = {
    {"GET", "/v1/users", ROLE_ADMIN, list_respond, R_LIST, USER_QUERY, .list = &USER_LIST},
    {"POST", "/v1/users", ROLE_ADMIN, resource_create, R_BODY_JSON | R_IDEMPOTENT,
     .resource = &USER},
    {"GET", "/v1/users/:id", ROLE_ADMIN, resource_get, 0, ARCHIVED_QUERY, .resource = &USER},
    {"PATCH", "/v1/users/:id", ROLE_ADMIN, resource_patch, R_BODY_JSON | R_TX, .resource = &USER},
    {"DELETE", "/v1/users/:id", ROLE_ADMIN, resource_delete, R_TX, .resource = &USER},
    KEPT_RECORD_ROUTES("/v1/users/:id", &USER),
    {NULL}};

const struct route_table USER_ROUTES = {"users", ROUTES};

/* ------------------------------------------------------------- validation */

static const struct field USER_FIELDS[] = {{"email", F_EMAIL, F_REQUIRED, 3, 254},
                                           {"name", F_STRING, F_REQUIRED, 1, 200},
                                           {"role", F_ENUM, F_REQUIRED, 0, 0, ROLE_VALUES},
                                           {"agency_id", F_UUID, F_NULLABLE},
                                           {"active", F_BOOL},
                                           {"password", F_STRING, F_REQUIRED | F_SECRET, 12, 200},
                                           {"archived_at", F_DATETIME, F_READ_ONLY},
                                           RECORD_FIELDS,
                                           {NULL}};

/* Only agency users belong to an agency, and they must (doc: the user the write makes). The
 * password, when one is sent, is hashed into the body as password_hash. */
static int user_check(struct req *r, json_t *doc, const char *id) {
  (void)id;
  const char *role = json_string_value(json_object_get(doc, "role"));
  const json_t *agency = json_object_get(doc, "agency_id");
  bool has_agency = agency != NULL && !json_is_null(agency);
  if (role != NULL && strcmp(role, "agency") == 0 && !has_agency)
    req_field_error(r, "/agency_id", "required", NULL);
  else if (role != NULL && strcmp(role, "agency") != 0 && has_agency)
    req_field_error_text(r, "/agency_id", "invalid", "only agency users belong to an agency",
                         "solo los usuarios de agencia pertenecen a una agencia");
  const char *password = req_body_string(r, "password");
  if (password == NULL || r->errors != NULL)
    return A_OK;
  char hash[256];
  if (auth_password_hash(password, hash) != A_OK) {
    req_fail(r, P_INTERNAL, NULL, NULL);
    return A_ERR;
  }
  json_object_del(r->body, "password");
  json_object_set_new(r->body, "password_hash", json_string(hash));
  return A_OK;
}

static const struct refusal USER_REFUSALS[] = {
    {"users_email_key", P_CONFLICT, NULL, NULL, "A user with this email exists.",
     "Ya existe un usuario con este correo."},
    {"users_agency_fk", P_VALIDATION, "/agency_id", "not_found"},
    {"users_agency_role", P_VALIDATION, "/agency_id", "invalid",
     "agency users, and only they, have an agency",
     "los usuarios de agencia, y solo ellos, tienen una agencia"},
    {"*foreign_key", P_CONFLICT, NULL, NULL,
     "Other records (agencies, tasks, …) refer to this user; deactivate it instead.",
     "Otros registros (agencias, tareas, …) hacen referencia a este usuario; desactívelo en su "
     "lugar."},
    {NULL}};

/* ------------------------------------------------------------------- SQL */

#define USER_WHERE                                                                                 \
  "($4::timestamptz IS NULL OR u.updated_at >= $4::timestamptz)"                                   \
  " AND ($5::text IS NULL OR u.role = $5::text)"                                                   \
  " AND ($6::uuid IS NULL OR u.agency_id = $6::uuid)"                                              \
  " AND ($7::boolean IS NULL OR u.active = $7::boolean)"                                           \
  " AND ($8::text IS NULL OR fold(u.email || ' ' || u.name) LIKE contains_pattern($8::text))"      \
  " AND (u.archived_at IS NOT NULL) = coalesce($9::boolean, false)"

static struct list_sort USER_SORTS[] = {
    LIST_SORTS_BY_TIME("users", "user_json(u)", "users u", USER_WHERE, "u", "10", "11", "12"),
    LIST_SORT("users_by_email", "email", "user_json(u)", "users u", USER_WHERE, "lower(u.email)",
              "text", "10", "11", "12"),
    LIST_SORT("users_by_name", "name", "user_json(u)", "users u", USER_WHERE, "u.name", "text",
              "10", "11", "12"),
    {NULL}};
static struct list_spec USER_LIST = {USER_SORTS, LIST_COUNT("users_count", "users u", USER_WHERE)};

static struct resource USER = {
    "user",
    "/v1/users",
    "No user has this id.",
    "Ningún usuario tiene este id.",
    .fields = USER_FIELDS,
    .get = {"user_get", "SELECT user_json(u) FROM users u WHERE id = $1::uuid"
                        " AND (u.archived_at IS NOT NULL) = coalesce($8::boolean, false)"},
    .lock = {"user_lock",
             "SELECT user_json(u), jsonb_merge_patch(user_json(u)::jsonb, $2::jsonb)::text, true,"
             " u.archived_at IS NOT NULL FROM users u WHERE id = $1::uuid FOR UPDATE"},
    .create = {"user_create", "SELECT user_json(u), u.id FROM user_create($2::jsonb) u"},
    .update = {"user_update", "SELECT user_json(u) FROM user_update($1::uuid, $2::jsonb) u"},
    .remove = {"user_archive",
               "UPDATE users SET archived_at = now(), active = false WHERE id = $1::uuid"},
    .restore = {"user_restore", "UPDATE users u SET archived_at = NULL WHERE id = $1::uuid"
                                " RETURNING user_json(u)"},
    .erase = {"user_erase", "DELETE FROM users WHERE id = $1::uuid"},
    .dependents = {"user_dependents", "SELECT user_dependents($1::uuid)"},
    .check = user_check,
    .refusals = USER_REFUSALS,
};
