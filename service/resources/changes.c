/*
 * changes.c — GET /v1/changes: the change feed for pollers.
 *
 * Rows are written by req_audit() in the transaction of each change and stamped with a commit
 * number just before COMMIT (db/records.c), so paging by (commit_no, id) gives every committed
 * change exactly once, in commit order, however many writers commit at once. The cursor is
 * opaque and MAC'd like list cursors, bound to the resource filter. At the end of the feed
 * next_cursor repeats the cursor (poll again later); an empty poll is cheap and answers 304
 * to If-None-Match. Feed rows are kept at least 90 days (housekeeping purges after 100); a
 * cursor older than the purge horizon answers 410 with how to resync.
 */
#include "resources/resources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum problem changes_list(struct req *r);

static const char *const RESOURCE_VALUES[] = {"agency",     "transition",   "standard",
                                              "compliance", "task",         "webinar",
                                              "workshop",   "registration", NULL};
/* Whose changes a caller sees: those of the resources whose route (here, in RESOURCE_VALUES'
 * order) the caller's role and scopes may read. Partners see agencies' public fields only. */
static const char *const READ_ROUTES[] = {"/v1/agencies/:id",
                                          "/v1/agencies/:id/transitions",
                                          "/v1/standards/:id",
                                          "/v1/agencies/:id/compliance",
                                          "/v1/tasks/:id",
                                          "/v1/webinars/:id",
                                          "/v1/workshops/:id",
                                          "/v1/workshops/:id/registrations",
                                          NULL};
static const struct qparam CHANGES_QUERY[] = {
    {"after", Q_STRING}, {"limit", Q_INT}, {"resource", Q_ENUM, false, RESOURCE_VALUES}, {NULL}};

static const struct route ROUTES[] = {{"GET", "/v1/changes",
                                       ROLE_ADMIN | ROLE_INL | ROLE_COALITION | ROLE_PARTNER,
                                       changes_list, 0, CHANGES_QUERY, "changes:read"},
                                      {NULL}};

const struct route_table CHANGE_ROUTES = {"changes", ROUTES};

#define FEED_DEFAULT_LIMIT 100
#define FEED_MAX_LIMIT 1000
#define FEED_CURSOR_ID_MAX "9223372036854775807"

static struct db_stmt FEED_PAGE = {
    "feed_page",
    "SELECT rfc3339(c.at), c.resource, c.resource_id, c.action,"
    " array_to_json(change_fields_for(c.changed, $4::text))::text,"
    " c.commit_no, c.id"
    " FROM changes c"
    " WHERE c.commit_no IS NOT NULL AND (c.commit_no, c.id) > ($1::bigint, $2::bigint)"
    " AND ($3::text IS NULL OR c.resource = $3::text) AND c.resource = ANY ($6::text[])"
    " AND change_visible_to(c.resource, c.changed, $4::text)"
    " ORDER BY c.commit_no, c.id LIMIT $5::int",
    0};
/* The end of the feed (last committed stamp) and the purge horizon. */
static struct db_stmt FEED_BOUNDS = {"feed_bounds", "SELECT last, purged_through FROM feed_clock",
                                     0};

static char *feed_cursor(const char *commit_no, const char *id, const char *binding) {
  char key[64];
  snprintf(key, sizeof key, "%s:%s", commit_no, id);
  /* The cursor codec wants a UUID-shaped id; the position lives in the key. */
  return cursor_encode(key, "00000000-0000-4000-8000-000000000000", binding);
}

static bool parse_position(const char *key, long long *commit_no, long long *id) {
  char tail;
  return sscanf(key, "%lld:%lld%c", commit_no, id, &tail) == 2 && *commit_no >= 0 && *id >= 0;
}

bool change_readable(const struct req *r, const char *resource, size_t len) {
  for (size_t i = 0; RESOURCE_VALUES[i] != NULL; i++)
    if (strlen(RESOURCE_VALUES[i]) == len && strncmp(RESOURCE_VALUES[i], resource, len) == 0)
      return (r->caller.role != ROLE_PARTNER || i == 0) && req_may_call(r, "GET", READ_ROUTES[i]);
  return false;
}

/* The resources whose changes the caller may see, as a PostgreSQL array literal into out;
 * false when resource (the filter, or NULL) is not one of them. */
static bool readable_resources(const struct req *r, const char *resource, char *out, size_t cap) {
  bool filter_ok = resource == NULL;
  snprintf(out, cap, "{");
  for (size_t i = 0; RESOURCE_VALUES[i] != NULL; i++) {
    if (!change_readable(r, RESOURCE_VALUES[i], strlen(RESOURCE_VALUES[i])))
      continue;
    size_t u = strlen(out);
    snprintf(out + u, cap - u, "%s%s", u > 1 ? "," : "", RESOURCE_VALUES[i]);
    filter_ok |= resource != NULL && strcmp(resource, RESOURCE_VALUES[i]) == 0;
  }
  snprintf(out + strlen(out), cap - strlen(out), "}");
  return filter_ok;
}

static enum problem changes_list(struct req *r) {
  const char *after = req_query_value(r, "after");
  const char *resource = req_query_value(r, "resource");
  const char *lv = req_query_value(r, "limit");
  long limit = lv ? strtol(lv, NULL, 10) : FEED_DEFAULT_LIMIT;
  if (limit < 1 || limit > FEED_MAX_LIMIT) {
    req_field_error(r, "/query/limit", "out_of_range", "1..1000");
    return req_fail(r, P_INVALID_QUERY, NULL, NULL);
  }
  char readable[160];
  if (!readable_resources(r, resource, readable, sizeof readable)) {
    req_field_error(r, "/query/resource", "not_allowed", NULL);
    return req_fail(r, P_INVALID_QUERY, NULL, NULL);
  }
  char binding[96];
  snprintf(binding, sizeof binding, "changes|%s", resource ? resource : "");

  PGresult *bounds = req_exec(r, &FEED_BOUNDS, 0, NULL), *res = NULL;
  if (bounds == NULL)
    return r->problem;
  long long last = atoll(PQgetvalue(bounds, 0, 0)), purged = atoll(PQgetvalue(bounds, 0, 1));
  PQclear(bounds);

  long long pos_commit = purged, pos_id = 0;
  if (after != NULL && strcmp(after, "now") == 0) {
    pos_commit = last;
    pos_id = atoll(FEED_CURSOR_ID_MAX);
  } else if (after != NULL) {
    char *key = NULL, *unused = NULL;
    bool ok = cursor_decode(after, binding, &key, &unused) == A_OK &&
              parse_position(key, &pos_commit, &pos_id);
    free(key);
    free(unused);
    if (!ok) {
      req_field_error(r, "/query/after", "invalid_cursor", NULL);
      return req_fail(r, P_INVALID_QUERY, NULL, NULL);
    }
    if (pos_commit < purged)
      return req_fail(r, P_GONE,
                      "This cursor is older than the feed's retention (at least 90 days). "
                      "Resync: read the resources in full, then poll from ?after=now.",
                      "Este cursor es anterior a la retención del feed (al menos 90 días). "
                      "Resincronice: lea los recursos completos y luego consulte desde "
                      "?after=now.");
  }

  char c_text[24], i_text[24], l_text[24];
  snprintf(c_text, sizeof c_text, "%lld", pos_commit);
  snprintf(i_text, sizeof i_text, "%lld", pos_id);
  snprintf(l_text, sizeof l_text, "%ld", limit);
  const char *p[] = {c_text, i_text, resource, role_name(r->caller.role), l_text, readable};
  res = req_exec(r, &FEED_PAGE, 6, p);
  if (res == NULL)
    return r->problem;

  json_t *data = json_array();
  int rows = PQntuples(res);
  for (int i = 0; i < rows; i++) {
    char *cur = feed_cursor(PQgetvalue(res, i, 5), PQgetvalue(res, i, 6), binding);
    json_array_append_new(data,
                          json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "cursor", cur, "at",
                                    PQgetvalue(res, i, 0), "resource", PQgetvalue(res, i, 1), "id",
                                    PQgetvalue(res, i, 2), "action", PQgetvalue(res, i, 3),
                                    "changed", json_loads(PQgetvalue(res, i, 4), 0, NULL)));
    free(cur);
  }
  /* The next poll starts after the last row seen, or where this one started. */
  char *next =
      rows > 0 ? feed_cursor(PQgetvalue(res, rows - 1, 5), PQgetvalue(res, rows - 1, 6), binding)
               : feed_cursor(c_text, i_text, binding);
  PQclear(res);
  json_t *body = json_pack("{s:o,s:s}", "data", data, "next_cursor", next);
  free(next);
  return reply_jansson(r, 200, body);
}
