/*
 * records.c — the service's own bookkeeping tables: idempotency keys and the audit trail.
 * Both are written on the request's connection, inside its transaction, so that they
 * commit or vanish together with the change they describe.
 */
#include "db/records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct db_stmt IDEM_LOCK = {
    "idem_lock", "SELECT pg_try_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))", 0};
static struct db_stmt IDEM_FIND = {
    "idem_find",
    "SELECT request_hash, status, location, body, created_at > now() - interval '24 hours'"
    " FROM idempotency_keys WHERE principal = $1 AND key = $2",
    0};
static struct db_stmt IDEM_STORE = {
    "idem_store",
    "INSERT INTO idempotency_keys"
    " (principal, key, method, path, request_hash, status, location, body)"
    " VALUES ($1, $2, $3, $4, $5, $6::int, $7, $8)"
    " ON CONFLICT (principal, key) DO UPDATE SET method = EXCLUDED.method,"
    " path = EXCLUDED.path, request_hash = EXCLUDED.request_hash, status = EXCLUDED.status,"
    " location = EXCLUDED.location, body = EXCLUDED.body, created_at = now()",
    0};
/* The audit entry and, for the resources of the change feed (change_journaled()), its row:
 * record_write() in db/functions/08_feed.sql, the one definition the demo seed writes through
 * too. */
static struct db_stmt AUDIT_INSERT = {
    "audit_insert", "SELECT record_write($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9)", 0};
/* Stamps the rows by their ids (primary-key lookups): a search by transaction id would scan
 * the whole feed whenever the planner's statistics are stale, as on a fresh install. */
static struct db_stmt FEED_STAMP = {"feed_stamp", "SELECT feed_stamp($1::bigint[])", 0};

int db_idem_lock(struct db_conn *c, const char *principal, const char *key) {
  const char *p[] = {principal, key};
  PGresult *res = db_exec(c, &IDEM_LOCK, 2, p);
  if (res == NULL)
    return -1;
  int locked = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
  PQclear(res);
  return locked;
}

int db_idem_find(struct db_conn *c, const char *principal, const char *key,
                 struct idem_record *out) {
  const char *p[] = {principal, key};
  PGresult *res = db_exec(c, &IDEM_FIND, 2, p);
  if (res == NULL)
    return -1;
  int found = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 4), "t") == 0;
  if (found) {
    snprintf(out->request_hash, sizeof out->request_hash, "%s", PQgetvalue(res, 0, 0));
    out->status = atol(PQgetvalue(res, 0, 1));
    snprintf(out->location, sizeof out->location, "%s", PQgetvalue(res, 0, 2));
    out->body = strdup(PQgetvalue(res, 0, 3));
  }
  PQclear(res);
  return found;
}

int db_idem_store(struct db_conn *c, const char *principal, const char *key, const char *method,
                  const char *path, const char *request_hash, long status, const char *location,
                  const char *body) {
  char st[16];
  snprintf(st, sizeof st, "%ld", status);
  const char *p[] = {principal, key, method, path, request_hash, st, location, body};
  PGresult *res = db_exec(c, &IDEM_STORE, 8, p);
  if (res == NULL)
    return A_ERR;
  PQclear(res);
  return A_OK;
}

int db_audit(struct db_conn *c, const struct caller *who, const char *request_id,
             const char *action, const char *resource, const char *id, const char *before,
             const char *after, const char *note, long long *change_id) {
  const char *p[] = {who->sub[0] ? who->sub : "anonymous",
                     role_name(who->role),
                     request_id,
                     action,
                     resource,
                     id,
                     before,
                     after,
                     note};
  PGresult *res = db_exec(c, &AUDIT_INSERT, 9, p);
  if (res == NULL)
    return A_ERR;
  int journaled = !PQgetisnull(res, 0, 0);
  if (journaled > 0)
    *change_id = atoll(PQgetvalue(res, 0, 0));
  PQclear(res);
  return journaled;
}

int db_feed_stamp(struct db_conn *c, const char *ids) {
  const char *p[] = {ids};
  PGresult *res = db_exec(c, &FEED_STAMP, 1, p);
  if (res == NULL)
    return A_ERR;
  PQclear(res);
  return A_OK;
}
