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
extern const struct route_table STATS_ROUTES;
extern const struct route_table AUDIT_ROUTES;
extern const struct route_table STANDARD_ROUTES;
extern const struct route_table COMPLIANCE_ROUTES;
extern const struct route_table TASK_ROUTES;
extern const struct route_table WEBINAR_ROUTES;
extern const struct route_table WORKSHOP_ROUTES;
extern const struct route_table IMPORT_ROUTES;

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

/* Registers the stats overview's cache with the listener (db_listen_register); before
 * db_listen_start(). */
void stats_cache_init(void);

/* Every table, NULL-terminated. */
extern const struct route_table *const ALL_ROUTES[];

#endif
