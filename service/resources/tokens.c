/*
 * tokens.c — POST /v1/auth/token: the password grant for people and the client-credentials
 * grant for machine clients (OAuth 2 style, JSON or form-encoded).
 *
 * A wrong password, an unknown account and an inactive one answer alike and take the same
 * time (a hash is always verified). Failures are counted per account in PostgreSQL, so every
 * instance throttles alike; the count is written outside any transaction on purpose: a
 * failed sign-in must still be remembered.
 */
#include "resources/resources.h"

#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum problem token_create(struct req *r);

static const struct route ROUTES[] = {
    {"POST", "/v1/auth/token", ROLES_ALL, token_create, R_BODY_JSON | R_BODY_FORM}, {NULL}};

const struct route_table TOKEN_ROUTES = {"tokens", ROUTES};

/* Failures allowed in the window before the account is locked for LOCK. */
#define MAX_FAILURES "5"
#define WINDOW "interval '15 minutes'"
#define LOCK "interval '5 minutes'"

static struct db_stmt LOCKED_FOR = {
    "login_locked_for",
    "SELECT ceil(extract(epoch FROM locked_until - now()))::int FROM login_failures"
    " WHERE account = $1 AND locked_until > now()",
    0};
static struct db_stmt RECORD_FAILURE = {
    "login_record_failure",
    "INSERT INTO login_failures AS f (account, failures, window_started_at)"
    " VALUES ($1, 1, now()) ON CONFLICT (account) DO UPDATE SET"
    " failures = CASE WHEN f.window_started_at < now() - " WINDOW " THEN 1"
    "   ELSE f.failures + 1 END,"
    " window_started_at = CASE WHEN f.window_started_at < now() - " WINDOW " THEN now()"
    "   ELSE f.window_started_at END,"
    " locked_until = CASE WHEN f.window_started_at >= now() - " WINDOW
    "   AND f.failures + 1 >= " MAX_FAILURES " THEN now() + " LOCK " ELSE f.locked_until END",
    0};
static struct db_stmt CLEAR_FAILURES = {"login_clear_failures",
                                        "DELETE FROM login_failures WHERE account = $1", 0};
static struct db_stmt USER_FOR_LOGIN = {
    "user_for_login",
    "SELECT id, role, coalesce(agency_id::text, ''), name, password_hash, active"
    " FROM users WHERE lower(email) = lower($1)",
    0};
static struct db_stmt CLIENT_FOR_LOGIN = {
    "client_for_login",
    "SELECT id, role, name, secret_hash, active, array_to_string(scopes, ' ')"
    " FROM clients WHERE id = $1::uuid",
    0};

/* 429 with Retry-After when the account is locked; P_NONE otherwise. */
static enum problem check_lock(struct req *r, const char *account) {
  const char *p[] = {account};
  PGresult *res = req_exec(r, &LOCKED_FOR, 1, p);
  if (res == NULL)
    return r->problem;
  enum problem rc = P_NONE;
  if (PQntuples(res) == 1) {
    reply_header(r, "Retry-After", PQgetvalue(res, 0, 0));
    rc = req_fail(r, P_TOO_MANY_REQUESTS, "Too many failed sign-ins; retry in %s seconds.",
                  "Demasiados intentos fallidos; reintente en %s segundos.", PQgetvalue(res, 0, 0));
  }
  PQclear(res);
  return rc;
}

static enum problem record_outcome(struct req *r, const char *account, bool ok) {
  const char *p[] = {account};
  PGresult *res = req_exec(r, ok ? &CLEAR_FAILURES : &RECORD_FAILURE, 1, p);
  if (res == NULL)
    return r->problem;
  PQclear(res);
  return P_NONE;
}

static enum problem issue(struct req *r, const struct caller *c) {
  char *token = auth_issue_token(c, AUTH_DEFAULT_TTL);
  if (token == NULL)
    return req_fail(r, P_INTERNAL, NULL, NULL);
  json_t *body = json_pack("{s:s,s:s,s:i}", "access_token", token, "token_type", "Bearer",
                           "expires_in", AUTH_DEFAULT_TTL);
  free(token);
  reply_header(r, "Cache-Control", "no-store");
  return reply_jansson(r, 200, body);
}

static enum problem password_grant(struct req *r) {
  const char *email = req_body_string(r, "email");
  const char *password = req_body_string(r, "password");
  if (email == NULL || password == NULL || strlen(email) > 254 || strlen(password) > 1024)
    return req_fail(r, P_OAUTH_INVALID_REQUEST, "email and password are required.",
                    "Se requieren email y password.");
  char account[300];
  snprintf(account, sizeof account, "user:%s", email);
  for (char *p = account; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
  if (check_lock(r, account) != P_NONE)
    return r->problem;

  const char *p[] = {email};
  PGresult *res = req_exec(r, &USER_FOR_LOGIN, 1, p);
  if (res == NULL)
    return r->problem;
  bool found = PQntuples(res) == 1;
  const char *hash = found && !PQgetisnull(res, 0, 4) ? PQgetvalue(res, 0, 4) : NULL;
  bool ok = auth_password_verify(password, hash) && strcmp(PQgetvalue(res, 0, 5), "t") == 0;
  struct caller c;
  memset(&c, 0, sizeof c);
  if (ok) {
    c.role = role_from_name(PQgetvalue(res, 0, 1));
    snprintf(c.sub, sizeof c.sub, "%s", PQgetvalue(res, 0, 0));
    snprintf(c.agency_id, sizeof c.agency_id, "%s", PQgetvalue(res, 0, 2));
    snprintf(c.name, sizeof c.name, "%s", PQgetvalue(res, 0, 3));
  }
  PQclear(res);
  if (record_outcome(r, account, ok) != P_NONE)
    return r->problem;
  if (!ok)
    return req_fail(r, P_OAUTH_INVALID_GRANT, "The email or the password is wrong.",
                    "El correo o la contraseña son incorrectos.");
  return issue(r, &c);
}

static enum problem client_grant(struct req *r) {
  const char *id = req_body_string(r, "client_id");
  const char *secret = req_body_string(r, "client_secret");
  if (id == NULL || secret == NULL || strlen(secret) > 1024)
    return req_fail(r, P_OAUTH_INVALID_REQUEST, "client_id and client_secret are required.",
                    "Se requieren client_id y client_secret.");
  char account[80];
  snprintf(account, sizeof account, "client:%.60s", id);
  if (check_lock(r, account) != P_NONE)
    return r->problem;

  PGresult *res = NULL;
  if (uuid_valid(id)) {
    const char *p[] = {id};
    res = req_exec(r, &CLIENT_FOR_LOGIN, 1, p);
    if (res == NULL)
      return r->problem;
  }
  bool found = res != NULL && PQntuples(res) == 1;
  bool ok = auth_password_verify(secret, found ? PQgetvalue(res, 0, 3) : NULL) &&
            strcmp(PQgetvalue(res, 0, 4), "t") == 0;
  struct caller c;
  memset(&c, 0, sizeof c);
  if (ok) {
    snprintf(c.sub, sizeof c.sub, "%s", PQgetvalue(res, 0, 0));
    c.role = role_from_name(PQgetvalue(res, 0, 1));
    snprintf(c.name, sizeof c.name, "%s", PQgetvalue(res, 0, 2));
    snprintf(c.scope, sizeof c.scope, "%s", PQgetvalue(res, 0, 5));
    c.scoped = true;
  }
  PQclear(res);
  if (record_outcome(r, account, ok) != P_NONE)
    return r->problem;
  if (!ok)
    return req_fail(r, P_OAUTH_INVALID_CLIENT, "The client credentials are wrong.",
                    "Las credenciales del cliente son incorrectas.");
  return issue(r, &c);
}

static enum problem token_create(struct req *r) {
  const char *grant = req_body_string(r, "grant_type");
  if (grant == NULL)
    return req_fail(r, P_OAUTH_INVALID_REQUEST, "grant_type is required.",
                    "Se requiere grant_type.");
  if (strcmp(grant, "password") == 0)
    return password_grant(r);
  if (strcmp(grant, "client_credentials") == 0)
    return client_grant(r);
  return req_fail(r, P_OAUTH_UNSUPPORTED_GRANT,
                  "grant_type must be password or client_credentials.",
                  "grant_type debe ser password o client_credentials.");
}
