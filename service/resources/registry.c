/* registry.c — the list of route tables the server serves, and what their tables share. */
#include "resources/resources.h"

const struct qparam ARCHIVED_QUERY[] = {{"archived", Q_BOOL}, {NULL}};

/* One table per line, so that adding a resource is a one-line change. */
// clang-format off
const struct route_table *const ALL_ROUTES[] = {
    &SERVICE_ROUTES,
    &TOKEN_ROUTES,
    &USER_ROUTES,
    &CLIENT_ROUTES,
    &ME_ROUTES,
    &CHANGE_ROUTES,
    &AGENCY_ROUTES,
    &TRANSITION_ROUTES,
    &REPORTING_ROUTES,
    &STATS_ROUTES,
    &AUDIT_ROUTES,
    &STANDARD_ROUTES,
    &COMPLIANCE_ROUTES,
    &TASK_ROUTES,
    &WEBINAR_ROUTES,
    &WORKSHOP_ROUTES,
    &IMPORT_ROUTES,
    &WEBHOOK_ROUTES,
    &CALENDAR_ROUTES,
    NULL,
};
// clang-format on
