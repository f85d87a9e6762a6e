/*
 * audit.c — GET /v1/audit: the audit trail (admin, inl), one entry per write with who, as
 * what role, when, under which request, and the fields that changed {field: [before, after]}.
 * Entries are written by req_audit() in the transaction of each write; this file only reads.
 *
 * Entries are paged in the order they were recorded (the audit table's sequence). The cursor
 * codec wants a UUID beside the sort key, so the sequence also stands in as one.
 */
#include "resources/resources.h"
#include "resources/sql.h"

static struct list_spec AUDIT_LIST;

/* In the order of $5 … $9. */
static const struct qparam AUDIT_QUERY[] = {{"resource", Q_STRING}, {"id", Q_STRING},
                                            {"actor", Q_STRING},    {"since", Q_DATETIME},
                                            {"until", Q_DATETIME},  {NULL}};

static const struct route ROUTES[] = {{"GET", "/v1/audit", ROLE_ADMIN | ROLE_INL, list_respond,
                                       R_LIST, AUDIT_QUERY, .list = &AUDIT_LIST},
                                      {NULL}};

const struct route_table AUDIT_ROUTES = {"audit", ROUTES};

/* $5 resource, $6 id, $7 actor, $8 since, $9 until; $10 cursor key, $11 cursor id, $12 limit. */
#define AUDIT_WHERE                                                                                \
  "($4::timestamptz IS NULL OR e.at >= $4::timestamptz)"                                           \
  " AND ($5::text IS NULL OR e.resource = $5)"                                                     \
  " AND ($6::text IS NULL OR e.resource_id = lower($6))"                                           \
  " AND ($7::text IS NULL OR e.actor = $7)"                                                        \
  " AND ($8::timestamptz IS NULL OR e.at >= $8::timestamptz)"                                      \
  " AND ($9::timestamptz IS NULL OR e.at <= $9::timestamptz)"

#define AUDIT_PAGE(op, dir)                                                                        \
  "SELECT audit_json(e), e.seq::text, lpad(to_hex(e.seq), 32, '0')::uuid::text FROM audit e"       \
  " WHERE " AUDIT_WHERE " AND ($10::bigint IS NULL OR e.seq " op " $10::bigint)"                   \
  " AND ($11::uuid IS NULL OR $11::uuid IS NOT NULL)"                                              \
  " ORDER BY e.seq " dir " LIMIT $12::int"

static struct list_sort AUDIT_SORTS[] = {
    {"at",
     {{"audit_by_at_asc", AUDIT_PAGE(">", "ASC")}, {"audit_by_at_desc", AUDIT_PAGE("<", "DESC")}}},
    {NULL}};
static struct list_spec AUDIT_LIST = {AUDIT_SORTS,
                                      LIST_COUNT("audit_count", "audit e", AUDIT_WHERE)};
