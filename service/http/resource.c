/*
 * resource.c — the steps every resource's handlers share: answering one row, locking a row
 * for a write under If-Match, and auditing a creation, update or deletion together with its
 * answer. A resource keeps only its SQL, its validation and its rules.
 */
#include "http/http.h"

#include <stdio.h>

enum problem reply_row(struct req *r, PGresult *res, handler_fn not_found) {
  if (res == NULL)
    return r->problem;
  enum problem rc = PQntuples(res) == 1 ? reply_json(r, 200, PQgetvalue(res, 0, 0)) : not_found(r);
  PQclear(res);
  return rc;
}

enum problem req_lock_row(struct req *r, struct db_stmt *lock, int n, const char *const *params,
                          handler_fn not_found, PGresult **current) {
  *current = NULL;
  if (!uuid_valid(params[0]))
    return not_found(r);
  PGresult *res = req_exec(r, lock, n, params);
  if (res == NULL)
    return r->problem;
  if (PQntuples(res) == 0) {
    PQclear(res);
    return not_found(r);
  }
  *current = res;
  return req_check_if_match(r, PQgetvalue(res, 0, 0));
}

enum problem reply_created(struct req *r, const char *resource, const char *collection,
                           const char *id, const char *json) {
  enum problem rc = req_audit(r, "created", resource, id, NULL, json);
  if (rc != P_NONE)
    return rc;
  char location[256];
  snprintf(location, sizeof location, "%s/%s", collection, id);
  reply_header(r, "Location", location);
  return reply_json(r, 201, json);
}

enum problem reply_updated(struct req *r, const char *resource, const char *id, const char *before,
                           const char *after) {
  enum problem rc = req_audit(r, "updated", resource, id, before, after);
  return rc != P_NONE ? rc : reply_json(r, 200, after);
}

enum problem reply_deleted(struct req *r, const char *resource, const char *id,
                           const char *before) {
  enum problem rc = req_audit(r, "deleted", resource, id, before, NULL);
  return rc != P_NONE ? rc : reply_empty(r, 204);
}
