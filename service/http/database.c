/*
 * database.c — the database on behalf of a request: one connection per request, taken from
 * the pool on first use and given back by dispatch, and statements whose failure becomes
 * the request's problem.
 */
#include "http/http.h"

struct db_conn *req_db(struct req *r) {
  if (r->db == NULL) {
    r->db = db_acquire(HTTP_DB_WAIT_MS);
    if (r->db == NULL)
      req_fail(r, P_UNAVAILABLE, "The database is unavailable; retry shortly.",
               "La base de datos no está disponible; reintente en breve.");
  }
  return r->db;
}

PGresult *req_exec(struct req *r, struct db_stmt *s, int n, const char *const *params) {
  struct db_conn *c = req_db(r);
  if (c == NULL)
    return NULL;
  PGresult *res = db_exec(c, s, n, params);
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
