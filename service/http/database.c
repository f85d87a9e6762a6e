/*
 * database.c — the database on behalf of a request: one connection per request, taken from
 * the pool on first use and given back by dispatch, and statements whose failure becomes
 * the request's problem.
 */
#include "http/http.h"

#include <string.h>

/* A GET that is not part of a write: a standby may answer it. */
static bool req_is_read(const struct req *r) {
  return r->route != NULL && !(r->route->flags & (R_TX | R_IDEMPOTENT)) &&
         strcmp(r->in->http_verb, "GET") == 0;
}

/* Takes the request's connection: a read from the lane given (flags), anything else from
 * the primary's ordinary lane. */
static struct db_conn *take(struct req *r, unsigned flags) {
  if (r->db == NULL) {
    if (req_is_read(r)) {
      const char *at = req_header(r, HTTP_POSITION_HEADER);
      if (at != NULL && db_lsn_parse(at, &r->position) != A_OK) {
        req_fail(r, P_BAD_REQUEST, "%s must be a position a write answered (like 0/3A2B1C8).",
                 "%s debe ser una posición que devolvió una escritura (como 0/3A2B1C8).",
                 HTTP_POSITION_HEADER);
        return NULL;
      }
      if (r->route->flags & R_PRIMARY)
        flags |= DB_READ_PRIMARY_FIRST;
      r->db = db_acquire_read(HTTP_DB_WAIT_MS, r->position, flags);
    } else {
      r->db = db_acquire(HTTP_DB_WAIT_MS);
    }
    if (r->db == NULL)
      req_fail(r, P_UNAVAILABLE, "The database is unavailable; retry shortly.",
               "La base de datos no está disponible; reintente en breve.");
  }
  return r->db;
}

struct db_conn *req_db(struct req *r) {
  return take(r, 0);
}

struct db_conn *req_db_export(struct req *r) {
  return take(r, DB_READ_EXPORT);
}

PGresult *req_exec(struct req *r, struct db_stmt *s, int n, const char *const *params) {
  struct db_conn *c = req_db(r);
  if (c == NULL)
    return NULL;
  PGresult *res = db_exec(c, s, n, params);
  /* A read whose server went away (or, a standby, cancelled it) runs again on another. */
  if (res == NULL && req_is_read(r) && db_read_retryable(c)) {
    r->db = c = db_reacquire_read(c, HTTP_DB_WAIT_MS, r->position);
    if (c == NULL) {
      req_fail(r, P_UNAVAILABLE, "The database is unavailable; retry shortly.",
               "La base de datos no está disponible; reintente en breve.");
      return NULL;
    }
    res = db_exec(c, s, n, params);
  }
  if (res == NULL)
    problem_from_db(r, c);
  return res;
}

enum problem req_one_row(struct req *r, struct db_stmt *s, int n, const char *const *params,
                         handler_fn not_found, PGresult **row) {
  *row = req_exec(r, s, n, params);
  if (*row == NULL)
    return r->problem;
  if (PQntuples(*row) > 0)
    return P_NONE;
  PQclear(*row);
  *row = NULL;
  return not_found(r);
}
