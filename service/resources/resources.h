/* resources.h — the route table of every resource; main() serves them all. */
#ifndef ACREDITA_RESOURCES_H
#define ACREDITA_RESOURCES_H

#include "http/http.h"

extern const struct route_table SERVICE_ROUTES;
extern const struct route_table TOKEN_ROUTES;
extern const struct route_table USER_ROUTES;
extern const struct route_table CLIENT_ROUTES;
extern const struct route_table ME_ROUTES;
extern const struct route_table CHANGE_ROUTES;
extern const struct route_table AGENCY_ROUTES;
extern const struct route_table TRANSITION_ROUTES;
extern const struct route_table REPORTING_ROUTES;
extern const struct route_table STATS_ROUTES;
extern const struct route_table AUDIT_ROUTES;
extern const struct route_table STANDARD_ROUTES;
extern const struct route_table COMPLIANCE_ROUTES;
extern const struct route_table TASK_ROUTES;
extern const struct route_table WEBINAR_ROUTES;
extern const struct route_table WORKSHOP_ROUTES;
extern const struct route_table IMPORT_ROUTES;
extern const struct route_table WEBHOOK_ROUTES;
extern const struct route_table CALENDAR_ROUTES;

/* The members every stored record's representation has, none of them a body's to set. */
#define RECORD_FIELDS                                                                              \
  {"id", F_UUID, F_READ_ONLY}, {"created_at", F_DATETIME, F_READ_ONLY},                            \
      {"updated_at", F_DATETIME, F_READ_ONLY}, {                                                   \
    "version", F_INT, F_READ_ONLY                                                                  \
  }

/* Adds a field error when body's timezone is not one of PostgreSQL's (zones.c): checked
 * with the other fields, so that every error is reported at once (a trigger checks too).
 * A_OK, or A_ERR with the problem set. */
int check_timezone(struct req *r, const json_t *body);

/* The query of one record kept for its history: ?archived=true reads it once archived
 * (admin). Lists of such records take the same parameter last. */
extern const struct qparam ARCHIVED_QUERY[];

/* The routes of a record kept for its history (admin): restore an archived one, or erase one
 * without history (the path is the record's: "/v1/users/:id"). */
#define KEPT_RECORD_ROUTES(path, spec)                                                             \
  {"POST", path "/restore", ROLE_ADMIN, resource_restore, R_TX, .resource = spec}, {               \
    "POST", path "/erasure", ROLE_ADMIN, resource_erase, R_BODY_JSON | R_TX, .resource = spec      \
  }

/* Whether the caller may see the change feed's entries of resource (its first len bytes: "task"
 * of "task.created"): its role and scopes admit the resource's GET (changes.c). The change
 * feed and webhook subscriptions apply this one rule. */
bool change_readable(const struct req *r, const char *resource, size_t len);

/* Registers the stats overview's cache with the listener (db_listen_register); before
 * db_listen_start(). */
void stats_cache_init(void);

/* Every table, NULL-terminated. */
extern const struct route_table *const ALL_ROUTES[];

#endif
