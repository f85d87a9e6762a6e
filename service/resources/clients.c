/*
 * clients.c — /v1/clients: machine clients (partner systems, CAISPMEX's systems) that sign
 * in with the client-credentials grant. The secret is generated here, shown once in the
 * creating response, and stored only as a yescrypt hash.
 */
#include "resources/resources.h"
#include "resources/sql.h"

#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CLIENT_ROLES[] = {"partner", "coalition", "inl", NULL};
static const char *const BOOL_VALUES[] = {"true", "false", NULL};

static enum problem client_create(struct req *r);
static struct resource CLIENT;
static struct list_spec CLIENT_LIST;

static const struct qparam CLIENT_QUERY[] = {
    {"role", Q_ENUM, false, CLIENT_ROLES}, {"active", Q_ENUM, false, BOOL_VALUES}, {NULL}};

static const struct route ROUTES[] = {
    {"GET", "/v1/clients", ROLE_ADMIN, list_respond, R_LIST, CLIENT_QUERY, .list = &CLIENT_LIST},
    {"POST", "/v1/clients", ROLE_ADMIN, client_create, R_BODY_JSON | R_IDEMPOTENT,
     .resource = &CLIENT},
    {"GET", "/v1/clients/:id", ROLE_ADMIN, resource_get, .resource = &CLIENT},
    {"DELETE", "/v1/clients/:id", ROLE_ADMIN, resource_delete, R_TX, .resource = &CLIENT},
    {NULL}};

const struct route_table CLIENT_ROUTES = {"clients", ROUTES};

static const struct field CLIENT_FIELDS[] = {{"name", F_STRING, F_REQUIRED, 1, 200},
                                             {"role", F_ENUM, F_REQUIRED, 0, 0, CLIENT_ROLES},
                                             {"scopes", F_STRING_ARRAY, 0, 0, 50},
                                             {NULL}};

#define CLIENT_WHERE                                                                               \
  "($4::timestamptz IS NULL OR c.updated_at >= $4::timestamptz)"                                   \
  " AND ($5::text IS NULL OR c.role = $5::text)"                                                   \
  " AND ($6::boolean IS NULL OR c.active = $6::boolean)"

static struct list_sort CLIENT_SORTS[] = {LIST_SORT("clients_by_created", "created_at",
                                                    "client_json(c)", "clients c", CLIENT_WHERE,
                                                    "c.created_at", "timestamptz", "7", "8", "9"),
                                          {NULL}};
static struct list_spec CLIENT_LIST = {CLIENT_SORTS,
                                       LIST_COUNT("clients_count", "clients c", CLIENT_WHERE)};

static struct db_stmt CLIENT_INSERT = {
    "client_insert",
    "INSERT INTO clients AS c (name, role, scopes, secret_hash)"
    " SELECT b->>'name', b->>'role',"
    " coalesce(ARRAY(SELECT jsonb_array_elements_text(b->'scopes')), '{}'), $2::text"
    " FROM (SELECT $1::jsonb AS b) x RETURNING client_json(c), id"};

static struct resource CLIENT = {
    "client",
    "/v1/clients",
    "No client has this id.",
    "Ningún cliente tiene este id.",
    .fields = CLIENT_FIELDS,
    .get = {"client_get", "SELECT client_json(c) FROM clients c WHERE id = $1::uuid"},
    .lock = {"client_lock", "SELECT client_json(c) FROM clients c WHERE id = $1::uuid FOR UPDATE"},
    .remove = {"client_delete", "DELETE FROM clients WHERE id = $1::uuid"},
};

static enum problem client_create(struct req *r) {
  if (validate_body(r, r->body, CLIENT_FIELDS, BODY_NEW) > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  char secret[64], hash[256];
  /* 32 random bytes, base64url: the secret a client signs in with. */
  if (random_text(secret, sizeof secret, "", 32, true) != A_OK ||
      auth_password_hash(secret, hash) != A_OK)
    return req_fail(r, P_INTERNAL, NULL, NULL);
  char *text = json_dumps(r->body, JSON_COMPACT);
  const char *p[] = {text, hash};
  PGresult *res = req_exec(r, &CLIENT_INSERT, 2, p);
  free(text);
  if (res == NULL)
    return r->problem;
  /* The secret is shown once, in this answer: the audit records the client without it, and
   * a replay of the request (Idempotency-Key) answers that it was shown. */
  const char *json = PQgetvalue(res, 0, 0), *id = PQgetvalue(res, 0, 1);
  enum problem rc = req_audit(r, "created", "client", id, NULL, json);
  if (rc == P_NONE) {
    json_t *shown = json_loads(json, 0, NULL), *replay = json_deep_copy(shown);
    json_object_set_new(replay, "client_secret", json_null());
    json_object_set_new(replay, "client_secret_shown", json_true());
    r->replay_body = json_dumps(replay, JSON_COMPACT);
    json_decref(replay);
    json_object_set_new(shown, "client_secret", json_string(secret));
    char location[80];
    snprintf(location, sizeof location, "/v1/clients/%s", id);
    reply_header(r, "Location", location);
    reply_header(r, "Cache-Control", "no-store");
    rc = reply_jansson(r, 201, shown);
  }
  PQclear(res);
  return rc;
}
