/*
 * tokens.c — POST /v1/auth/token: the password grant for people and the client-credentials
 * grant for machine clients (OAuth 2 style, JSON or form-encoded); POST /v1/auth/revoke: a
 * holder ends its token before it expires (RFC 7009).
 *
 * A wrong password, an unknown account and an inactive one answer alike and take the same
 * time (a hash is always verified). Failures are counted in PostgreSQL, so every instance
 * throttles alike, and written outside any transaction on purpose: a failed sign-in must
 * still be remembered. They are counted twice:
 *   - on the account itself (its id) once the email names one — PostgreSQL's lower() finds
 *     the account, so every spelling that reaches it counts against it — and on the
 *     address as lower() folds it when it names none;
 *   - on the client's address (req_client_address(): the peer, or what a trusted proxy's
 *     X-Forwarded-For says), which many accounts tried from one place run into.
 *
 * A token carries its account's token version ("ver"), which the account's changes move
 * (auth/revocation.c), and an id ("jti") by which it alone can be revoked. "scope" narrows
 * a token to the scopes asked for, each of which the caller must be allowed.
 */
#include "resources/resources.h"

#include "auth/auth.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yder.h>

static enum problem token_create(struct req *r);
static enum problem token_revoke(struct req *r);

static const struct route ROUTES[] = {
    {"POST", "/v1/auth/token", ROLES_ALL, token_create, R_BODY_JSON | R_BODY_FORM},
    {"POST", "/v1/auth/revoke", ROLES_ALL, token_revoke, R_BODY_JSON | R_BODY_FORM},
    {NULL}};

const struct route_table TOKEN_ROUTES = {"tokens", ROUTES};

/* Failures allowed in a window before the key is locked, for how long. */
struct throttle {
  const char *max_failures, *window, *lock;
};
static const struct throttle PER_ACCOUNT = {"5", "15 minutes", "5 minutes"};
static const struct throttle PER_ADDRESS = {"50", "15 minutes", "15 minutes"};

static struct db_stmt LOCKED_FOR = {
    "login_locked_for",
    "SELECT ceil(extract(epoch FROM locked_until - now()))::int FROM login_failures"
    " WHERE account = $1 AND locked_until > now()",
    0};
/* $1 the key, $2 failures allowed, $3 the window, $4 the lock. */
static struct db_stmt RECORD_FAILURE = {
    "login_record_failure",
    "INSERT INTO login_failures AS f (account, failures, window_started_at)"
    " VALUES ($1, 1, now()) ON CONFLICT (account) DO UPDATE SET"
    " failures = CASE WHEN f.window_started_at < now() - $3::interval THEN 1"
    "   ELSE f.failures + 1 END,"
    " window_started_at = CASE WHEN f.window_started_at < now() - $3::interval THEN now()"
    "   ELSE f.window_started_at END,"
    " locked_until = CASE WHEN f.window_started_at >= now() - $3::interval"
    "   AND f.failures + 1 >= $2::int THEN now() + $4::interval ELSE f.locked_until END",
    0};
static struct db_stmt CLEAR_FAILURES = {"login_clear_failures",
                                        "DELETE FROM login_failures WHERE account = $1", 0};
/* Always one row: the account, if the email names one, and the key its failures count on. */
static struct db_stmt USER_FOR_LOGIN = {
    "user_for_login",
    "SELECT u.id, u.role, coalesce(u.agency_id::text, ''), u.name, u.password_hash, u.active,"
    " u.token_version, coalesce('user:' || u.id, 'email:' || lower($1))"
    " FROM (SELECT 1) one LEFT JOIN users u ON lower(u.email) = lower($1)",
    0};
static struct db_stmt CLIENT_FOR_LOGIN = {
    "client_for_login",
    "SELECT id, role, name, secret_hash, active, array_to_string(scopes, ' '), token_version"
    " FROM clients WHERE id = $1::uuid",
    0};
static struct db_stmt TOKEN_REVOKED = {
    "token_revoked",
    "INSERT INTO revoked_tokens (jti, sub, expires_at) VALUES ($1, $2, to_timestamp($3::bigint))"
    " ON CONFLICT (jti) DO NOTHING",
    0};

/* ---------------------------------------------------------------- throttle */

/* 429 with Retry-After when key is locked; P_NONE otherwise. */
static enum problem check_lock(struct req *r, const char *key) {
  const char *p[] = {key};
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

static enum problem record_failure(struct req *r, const char *key, const struct throttle *t) {
  const char *p[] = {key, t->max_failures, t->window, t->lock};
  PGresult *res = req_exec(r, &RECORD_FAILURE, 4, p);
  PQclear(res);
  return res == NULL ? r->problem : P_NONE;
}

/* A success clears the account's count; the address keeps its own (one good account must
 * not reset the count of the many others tried from there). */
static enum problem record_outcome(struct req *r, const char *account, const char *address,
                                   bool ok) {
  if (!ok)
    return record_failure(r, account, &PER_ACCOUNT) != P_NONE
               ? r->problem
               : record_failure(r, address, &PER_ADDRESS);
  const char *p[] = {account};
  PGresult *res = req_exec(r, &CLEAR_FAILURES, 1, p);
  PQclear(res);
  return res == NULL ? r->problem : P_NONE;
}

/* The client address's key; 429 when it is locked. */
static enum problem address_key(struct req *r, char *key, size_t cap) {
  char addr[INET6_ADDRSTRLEN];
  req_client_address(r, addr, sizeof addr);
  snprintf(key, cap, "address:%s", addr);
  return check_lock(r, key);
}

/* ------------------------------------------------------------------ scopes */

/*
 * The scopes c's token gets. Without "scope" in the request: a client's own scopes, and
 * none (an unscoped token, governed by the role) for a person. With it: exactly the scopes
 * asked for, each of which must be the client's own, or, for a person, one that a route open
 * to the person's role needs. P_OAUTH_INVALID_SCOPE names the first that is not.
 */
static enum problem narrow_scope(struct req *r, struct caller *c) {
  const char *asked = req_body_string(r, "scope");
  if (asked == NULL || asked[strspn(asked, " ")] == '\0')
    return P_NONE;
  char granted[sizeof c->scope] = "";
  if (strlen(asked) >= sizeof granted)
    return req_fail(r, P_OAUTH_INVALID_SCOPE, "scope is too long.", "scope es demasiado largo.");
  char *copy = strdup(asked), *save = NULL;
  enum problem rc = P_NONE;
  for (char *s = strtok_r(copy, " ", &save); s != NULL && rc == P_NONE;
       s = strtok_r(NULL, " ", &save)) {
    bool allowed = c->scoped ? scope_has(c->scope, s) : http_scope_for_role(c->role, s);
    if (!allowed)
      rc = req_fail(r, P_OAUTH_INVALID_SCOPE, "The scope %s is not one this account may have.",
                    "El alcance %s no es uno que esta cuenta pueda tener.", s);
    else if (!scope_has(granted, s))
      snprintf(granted + strlen(granted), sizeof granted - strlen(granted), "%s%s",
               granted[0] ? " " : "", s);
  }
  free(copy);
  if (rc == P_NONE) {
    snprintf(c->scope, sizeof c->scope, "%s", granted);
    c->scoped = true;
  }
  return rc;
}

/* ---------------------------------------------------------------- granting */

static enum problem issue(struct req *r, struct caller *c) {
  if (narrow_scope(r, c) != P_NONE)
    return r->problem;
  char *token = auth_issue_token(c, AUTH_DEFAULT_TTL);
  if (token == NULL)
    return req_fail(r, P_INTERNAL, NULL, NULL);
  json_t *body = json_pack("{s:s,s:s,s:i}", "access_token", token, "token_type", "Bearer",
                           "expires_in", AUTH_DEFAULT_TTL);
  if (c->scoped)
    json_object_set_new(body, "scope", json_string(c->scope));
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
  char address[80];
  if (address_key(r, address, sizeof address) != P_NONE)
    return r->problem;
  const char *p[] = {email};
  PGresult *res = req_exec(r, &USER_FOR_LOGIN, 1, p);
  if (res == NULL)
    return r->problem;
  char account[300];
  snprintf(account, sizeof account, "%s", PQgetvalue(res, 0, 7));
  if (check_lock(r, account) != P_NONE) {
    PQclear(res);
    return r->problem;
  }
  bool found = !PQgetisnull(res, 0, 0);
  const char *hash = found && !PQgetisnull(res, 0, 4) ? PQgetvalue(res, 0, 4) : NULL;
  bool ok = auth_password_verify(password, hash) && strcmp(PQgetvalue(res, 0, 5), "t") == 0;
  struct caller c;
  memset(&c, 0, sizeof c);
  if (ok) {
    c.role = role_from_name(PQgetvalue(res, 0, 1));
    snprintf(c.sub, sizeof c.sub, "%s", PQgetvalue(res, 0, 0));
    snprintf(c.agency_id, sizeof c.agency_id, "%s", PQgetvalue(res, 0, 2));
    snprintf(c.name, sizeof c.name, "%s", PQgetvalue(res, 0, 3));
    c.token_version = atol(PQgetvalue(res, 0, 6));
  }
  PQclear(res);
  if (record_outcome(r, account, address, ok) != P_NONE)
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
  char address[80];
  if (address_key(r, address, sizeof address) != P_NONE)
    return r->problem;
  /* A client id is a UUID, which reads the same in either case: one key for all of them. */
  char account[80];
  snprintf(account, sizeof account, "client:%.60s", id);
  for (char *a = account; *a; a++)
    if (*a >= 'A' && *a <= 'Z')
      *a = (char)(*a - 'A' + 'a');
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
    c.token_version = atol(PQgetvalue(res, 0, 6));
  }
  PQclear(res);
  if (record_outcome(r, account, address, ok) != P_NONE)
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

/* ---------------------------------------------------------------- revoking */

/*
 * RFC 7009: the holder of a token ends it. Holding the token is the proof: whoever holds it
 * could use it anyway. The answer is 200 whether the token was valid, already expired, or
 * not ours at all (§2.2), so that it tells nothing about the token. A token that verifies is
 * recorded by its id until it expires; from then on every instance refuses it.
 */
static enum problem token_revoke(struct req *r) {
  const char *token = req_body_string(r, "token");
  if (token == NULL)
    return req_fail(r, P_OAUTH_INVALID_REQUEST, "token is required.", "Se requiere token.");
  struct caller c;
  memset(&c, 0, sizeof c);
  if (auth_verify_token(token, &c) == AUTH_OK && c.jti[0] != '\0') {
    char exp[24];
    snprintf(exp, sizeof exp, "%lld", c.expires);
    const char *p[] = {c.jti, c.sub, exp};
    PGresult *res = req_exec(r, &TOKEN_REVOKED, 3, p);
    if (res == NULL)
      return r->problem;
    PQclear(res);
    log_msg(Y_LOG_LEVEL_INFO, r->request_id, "token %s of %s revoked", c.jti, c.sub);
  }
  reply_header(r, "Cache-Control", "no-store");
  return reply_empty(r, 200);
}
