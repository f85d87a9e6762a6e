/*
 * users.c — /v1/users: the people who sign in (admin only). Passwords are write-only and
 * stored as yescrypt hashes; emails are unique case-insensitively (an index on lower(email)).
 */
#include "resources/resources.h"
#include "resources/sql.h"

#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ROLE_VALUES[] = {"admin",     "inl",     "advisor", "agency",
                                          "coalition", "partner", NULL};

/* ------------------------------------------------------------- validation */

static const struct field USER_FIELDS[] = {{"email", F_EMAIL, F_REQUIRED, 3, 254, NULL, NULL},
                                           {"name", F_STRING, F_REQUIRED, 1, 200, NULL, NULL},
                                           {"role", F_ENUM, F_REQUIRED, 0, 0, ROLE_VALUES, NULL},
                                           {"agency_id", F_UUID, F_NULLABLE, 0, 0, NULL, NULL},
                                           {"active", F_BOOL, 0, 0, 0, NULL, NULL},
                                           {"password", F_STRING, F_REQUIRED, 12, 200, NULL, NULL},
                                           {NULL, 0, 0, 0, 0, NULL, NULL}};

/* Only agency users belong to an agency, and they must. */
static int check_agency_rule(struct req *r, const json_t *body) {
  const char *role = json_string_value(json_object_get(body, "role"));
  const json_t *agency = json_object_get(body, "agency_id");
  if (role == NULL)
    return 0;
  bool has_agency = agency != NULL && !json_is_null(agency);
  if (strcmp(role, "agency") == 0 && !has_agency) {
    req_field_error(r, "/agency_id", "required", NULL);
    return 1;
  }
  if (strcmp(role, "agency") != 0 && has_agency) {
    req_field_error(r, "/agency_id", "invalid", "only agency users belong to an agency");
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------- SQL */

#define USER_WHERE                                                                                 \
  "($4::timestamptz IS NULL OR u.updated_at >= $4::timestamptz)"                                   \
  " AND ($5::text IS NULL OR u.role = $5::text)"                                                   \
  " AND ($6::uuid IS NULL OR u.agency_id = $6::uuid)"                                              \
  " AND ($7::boolean IS NULL OR u.active = $7::boolean)"                                           \
  " AND ($8::text IS NULL OR fold(u.email || ' ' || u.name) LIKE contains_pattern($8::text))"

static struct db_stmt USER_PAGES[] = {
    PAGE_PAIR("users_by_created", "user_json(u)", "users u", USER_WHERE, "u.created_at",
              "timestamptz", "9", "10", "11"),
    PAGE_PAIR("users_by_updated", "user_json(u)", "users u", USER_WHERE, "u.updated_at",
              "timestamptz", "9", "10", "11"),
    PAGE_PAIR("users_by_email", "user_json(u)", "users u", USER_WHERE, "lower(u.email)", "text",
              "9", "10", "11"),
    PAGE_PAIR("users_by_name", "user_json(u)", "users u", USER_WHERE, "u.name", "text", "9", "10",
              "11"),
};
static struct db_stmt USER_COUNT = {"users_count", "SELECT count(*) FROM users u WHERE " USER_WHERE,
                                    0};
static struct db_stmt USER_BY_ID = {"user_by_id",
                                    "SELECT user_json(u) FROM users u WHERE id = $1::uuid", 0};
static struct db_stmt USER_BY_ID_FOR_UPDATE = {
    "user_by_id_for_update", "SELECT user_json(u) FROM users u WHERE id = $1::uuid FOR UPDATE", 0};
static struct db_stmt USER_INSERT = {
    "user_insert",
    "INSERT INTO users AS u (email, name, role, agency_id, active, password_hash)"
    " SELECT b->>'email', b->>'name', b->>'role', (b->>'agency_id')::uuid,"
    " coalesce((b->'active')::boolean, true), $2::text FROM (SELECT $1::jsonb AS b) x"
    " RETURNING user_json(u), id",
    0};
static struct db_stmt USER_UPDATE = {
    "user_update",
    "UPDATE users u SET"
    " email = CASE WHEN $2::jsonb ? 'email' THEN $2::jsonb->>'email' ELSE email END,"
    " name = CASE WHEN $2::jsonb ? 'name' THEN $2::jsonb->>'name' ELSE name END,"
    " role = CASE WHEN $2::jsonb ? 'role' THEN $2::jsonb->>'role' ELSE role END,"
    " agency_id = CASE WHEN $2::jsonb ? 'agency_id' THEN ($2::jsonb->>'agency_id')::uuid"
    "   ELSE agency_id END,"
    " active = CASE WHEN $2::jsonb ? 'active' THEN ($2::jsonb->'active')::boolean"
    "   ELSE active END,"
    " password_hash = coalesce($3::text, password_hash)"
    " WHERE id = $1::uuid RETURNING user_json(u)",
    0};
static struct db_stmt USER_DELETE = {"user_delete", "DELETE FROM users WHERE id = $1::uuid", 0};

static struct db_stmt *const USER_PAGE_LIST[] = {&USER_PAGES[0], &USER_PAGES[1], &USER_PAGES[2],
                                                 &USER_PAGES[3], &USER_PAGES[4], &USER_PAGES[5],
                                                 &USER_PAGES[6], &USER_PAGES[7]};
static const char *const USER_SORTS[] = {"created_at", "updated_at", "email", "name", NULL};
static const struct list_spec USER_LIST = {USER_SORTS, (struct db_stmt **)USER_PAGE_LIST,
                                           &USER_COUNT};

/* -------------------------------------------------------------- handlers */

static enum problem not_found(struct req *r) {
  return req_fail(r, P_NOT_FOUND, "No user has this id.", "Ningún usuario tiene este id.");
}

/* Maps the database's refusal of a user write to field errors where it can. */
static enum problem write_refused(struct req *r) {
  if (r->db->status == DB_UNIQUE) {
    req_field_error(r, "/email", "taken", NULL);
    return req_fail(r, P_CONFLICT, "A user with this email exists.",
                    "Ya existe un usuario con este correo.");
  }
  if (r->db->status == DB_CHECK && strcmp(r->db->constraint, "users_agency_role") == 0) {
    req_field_error(r, "/agency_id", "invalid", "agency users, and only they, have an agency");
    return req_fail(r, P_VALIDATION, NULL, NULL);
  }
  return r->problem;
}

static enum problem user_list(struct req *r) {
  return list_respond(r, &USER_LIST);
}

static enum problem user_get(struct req *r) {
  const char *id = req_path_param(r, "id");
  if (!uuid_valid(id))
    return not_found(r);
  const char *p[] = {id};
  return reply_row(r, req_exec(r, &USER_BY_ID, 1, p), not_found);
}

static enum problem user_create(struct req *r) {
  if (validate_body(r, r->body, USER_FIELDS, false) + check_agency_rule(r, r->body) > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  char hash[256];
  if (auth_password_hash(req_body_string(r, "password"), hash) != A_OK)
    return req_fail(r, P_INTERNAL, NULL, NULL);
  json_t *fields = json_deep_copy(r->body);
  json_object_del(fields, "password");
  char *text = json_dumps(fields, JSON_COMPACT);
  json_decref(fields);
  const char *p[] = {text, hash};
  PGresult *res = req_exec(r, &USER_INSERT, 2, p);
  free(text);
  if (res == NULL)
    return write_refused(r);
  enum problem rc =
      reply_created(r, "user", "/v1/users", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
  PQclear(res);
  return rc;
}

static enum problem user_patch(struct req *r) {
  const char *id = req_path_param(r, "id");
  static const struct field PATCH_FIELDS[] = {{"email", F_EMAIL, 0, 3, 254, NULL, NULL},
                                              {"name", F_STRING, 0, 1, 200, NULL, NULL},
                                              {"role", F_ENUM, 0, 0, 0, ROLE_VALUES, NULL},
                                              {"agency_id", F_UUID, F_NULLABLE, 0, 0, NULL, NULL},
                                              {"active", F_BOOL, 0, 0, 0, NULL, NULL},
                                              {"password", F_STRING, 0, 12, 200, NULL, NULL},
                                              {NULL, 0, 0, 0, 0, NULL, NULL}};
  if (validate_body(r, r->body, PATCH_FIELDS, true) > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  PGresult *current = NULL, *res = NULL;
  char *text = NULL;
  const char *key[] = {id};
  enum problem rc = req_lock_row(r, &USER_BY_ID_FOR_UPDATE, 1, key, not_found, &current);
  if (rc != P_NONE)
    goto out;
  char hash[256];
  const char *password = req_body_string(r, "password");
  if (password != NULL && auth_password_hash(password, hash) != A_OK) {
    rc = req_fail(r, P_INTERNAL, NULL, NULL);
    goto out;
  }
  json_t *fields = json_deep_copy(r->body);
  json_object_del(fields, "password");
  text = json_dumps(fields, JSON_COMPACT);
  json_decref(fields);
  const char *p[] = {id, text, password ? hash : NULL};
  res = req_exec(r, &USER_UPDATE, 3, p);
  if (res == NULL) {
    rc = write_refused(r);
    goto out;
  }
  rc = reply_updated(r, "user", id, PQgetvalue(current, 0, 0), PQgetvalue(res, 0, 0));
out:
  free(text);
  PQclear(current);
  PQclear(res);
  return rc;
}

static enum problem user_delete(struct req *r) {
  const char *id = req_path_param(r, "id");
  PGresult *current = NULL, *res = NULL;
  const char *p[] = {id};
  enum problem rc = req_lock_row(r, &USER_BY_ID_FOR_UPDATE, 1, p, not_found, &current);
  if (rc != P_NONE)
    goto out;
  res = req_exec(r, &USER_DELETE, 1, p);
  rc = res == NULL ? r->problem : reply_deleted(r, "user", id, PQgetvalue(current, 0, 0));
out:
  PQclear(current);
  PQclear(res);
  return rc;
}

static const struct qparam USER_QUERY[] = {{"role", Q_ENUM, false, ROLE_VALUES},
                                           {"agency_id", Q_UUID, false, NULL},
                                           {"active", Q_BOOL, false, NULL},
                                           {"q", Q_STRING, false, NULL},
                                           {NULL, 0, false, NULL}};

static const struct route ROUTES[] = {
    {"GET", "/v1/users", ROLE_ADMIN, user_list, R_LIST, USER_QUERY, NULL},
    {"POST", "/v1/users", ROLE_ADMIN, user_create, R_BODY_JSON | R_IDEMPOTENT, NULL, NULL},
    {"GET", "/v1/users/:id", ROLE_ADMIN, user_get, 0, NULL, NULL},
    {"PATCH", "/v1/users/:id", ROLE_ADMIN, user_patch, R_BODY_JSON | R_TX, NULL, NULL},
    {"DELETE", "/v1/users/:id", ROLE_ADMIN, user_delete, R_TX, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, NULL, NULL}};

const struct route_table USER_ROUTES = {"users", ROUTES};
