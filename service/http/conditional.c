/*
 * conditional.c — conditional requests: If-None-Match on reads (304), If-Match on writes
 * (412), checked against the row a write locks, so that the check and the write see the same
 * version of the record.
 */
#include "http/http.h"

#include <string.h>

enum problem req_check_if_match(struct req *r, const char *current_json) {
  const char *h = req_header(r, "If-Match");
  if (h == NULL)
    return P_NONE;
  char tag[40];
  etag_of(current_json, strlen(current_json), tag);
  if (etag_matches(h, tag))
    return P_NONE;
  return req_fail(r, P_PRECONDITION_FAILED,
                  "If-Match does not name the current version; fetch it again.",
                  "If-Match no corresponde a la versión actual; vuelva a obtenerla.");
}

bool req_not_modified(const struct req *r) {
  return r->status == 200 && strcmp(r->in->http_verb, "GET") == 0 &&
         etag_matches(req_header(r, "If-None-Match"), r->etag);
}

enum problem req_lock_row(struct req *r, struct db_stmt *lock, int n, const char *const *params,
                          handler_fn not_found, PGresult **current) {
  *current = NULL;
  if (!uuid_valid(params[0]))
    return not_found(r);
  enum problem rc = req_one_row(r, lock, n, params, not_found, current);
  return rc != P_NONE ? rc : req_check_if_match(r, PQgetvalue(*current, 0, 0));
}
