/*
 * reporting.c — /v1/agencies/{id}/reporting-requests: requests for monthly reporting.
 *
 * The protocol (the final report): an agency reports monthly until its first award and
 * quarterly after it (agency_transition() switches it). A regional manager who believes an
 * accredited agency needs closer assistance asks for monthly reporting, with a rationale and
 * the day it expects the agency back on quarterly reports; INL (its director) approves or
 * rejects the request; an approved one ends when the agency returns to quarterly reporting.
 * Who may do what, and what each move does to the agency, is SQL's
 * (db/functions/11_reporting.sql); this file turns its refusals into answers and audits the
 * request and the agency.
 */
#include "resources/agencies.h"
#include "resources/resources.h"
#include "resources/sql.h"

#include <stdio.h>
#include <string.h>

static const char *const MOVES[] = {"approved", "rejected", "withdrawn", "ended", NULL};
static const char *const STATUSES[] = {"requested", "approved", "rejected",
                                       "withdrawn", "ended",    NULL};

static enum problem request_list(struct req *r);
static enum problem request_move(struct req *r);
static struct resource REQUEST;
static struct list_spec REQUEST_LIST;

static const struct qparam LIST_QUERY[] = {
    {"id", Q_PATH}, {"status", Q_ENUM, true, STATUSES}, {NULL}};

#define READERS (ROLE_ADMIN | ROLE_INL | ROLE_ADVISOR | ROLE_AGENCY)

static const struct route ROUTES[] = {
    {"GET", "/v1/agencies/:id/reporting-requests", READERS, request_list, R_LIST, LIST_QUERY,
     .list = &REQUEST_LIST},
    {"POST", "/v1/agencies/:id/reporting-requests", ROLE_ADMIN | ROLE_ADVISOR, resource_create,
     R_BODY_JSON | R_IDEMPOTENT, .resource = &REQUEST},
    {"GET", "/v1/agencies/:id/reporting-requests/:rid", READERS, resource_get,
     .resource = &REQUEST},
    {"PATCH", "/v1/agencies/:id/reporting-requests/:rid", ROLE_ADMIN | ROLE_INL | ROLE_ADVISOR,
     request_move, R_BODY_JSON | R_TX, .resource = &REQUEST},
    {NULL}};

const struct route_table REPORTING_ROUTES = {"reporting", ROUTES};

/* ------------------------------------------------------------- validation */

static const struct field REQUEST_FIELDS[] = {{"rationale", F_STRING, F_REQUIRED, 1, 4000},
                                              {"expected_return_on", F_DATE, F_REQUIRED},
                                              {NULL}};
/* A PATCH moves the request: its new status and why. */
static const struct field MOVE_FIELDS[] = {
    {"status", F_ENUM, F_REQUIRED, 0, 0, MOVES}, {"note", F_STRING, F_NULLABLE, 1, 2000}, {NULL}};

static const struct refusal REQUEST_REFUSALS[] = {
    {"not_found", P_NOT_FOUND, NULL, NULL, "No agency has this id, or it has no such request.",
     "Ninguna agencia tiene este id, o no tiene esa solicitud."},
    {"forbidden", P_FORBIDDEN, NULL, NULL,
     "The agency's regional manager asks for monthly reporting, INL approves or rejects the "
     "request, its requester withdraws it, and INL or the regional manager ends it.",
     "El gerente regional de la agencia pide el reporte mensual, INL aprueba o rechaza la "
     "solicitud, quien la pidió la retira, e INL o el gerente regional la terminan."},
    {"not_accredited", P_CONFLICT, NULL, NULL,
     "An agency reports monthly until its first award: only an accredited agency that is still "
     "in the program can be asked to report monthly again.",
     "Una agencia reporta mensualmente hasta su primera acreditación: solo a una agencia "
     "acreditada que sigue en el programa se le puede pedir de nuevo el reporte mensual."},
    {"reporting_requests_open", P_CONFLICT, NULL, NULL,
     "The agency has an open request (requested or approved) already.",
     "La agencia ya tiene una solicitud abierta (pedida o aprobada)."},
    {"return_date", P_VALIDATION, "/expected_return_on", "out_of_range", "after today",
     "posterior a hoy"},
    {"request_conflict", P_CONFLICT, NULL, NULL,
     "A request that is requested may become approved, rejected or withdrawn; an approved one "
     "ended; no other move is allowed.",
     "Una solicitud pedida puede pasar a approved, rejected o withdrawn; una aprobada a ended; "
     "no se permite otro cambio."},
    {"note_required", P_VALIDATION, "/note", "required"},
    {NULL}};

/* ------------------------------------------------------------------- SQL */

/* $1 role, $2 sub, $3 agency, $4 updated_since, $5 the agency (path), $6 status[]; pages add
 * $7 key, $8 id, $9 limit. */
#define REQUEST_WHERE                                                                              \
  "q.agency_id = $5::uuid AND agency_scope_allows(q.agency_id, $1::text, $2::text, $3::text)"      \
  " AND ($4::timestamptz IS NULL OR q.updated_at >= $4::timestamptz)"                              \
  " AND ($6::jsonb IS NULL OR $6::jsonb ? q.status)"

static struct list_sort REQUEST_SORTS[] = {
    LIST_SORTS_BY_TIME("reporting_requests", "reporting_request_json(q)", "reporting_requests q",
                       REQUEST_WHERE, "q", "7", "8", "9"),
    {NULL}};
static struct list_spec REQUEST_LIST = {
    REQUEST_SORTS, LIST_COUNT("reporting_requests_count", "reporting_requests q", REQUEST_WHERE)};

/* $1 request, $3 role, $4 sub, $5 caller's agency, $6 the agency (see struct resource). */
#define REQUEST_SCOPE                                                                              \
  "q.id = $1::uuid AND q.agency_id = $6::uuid"                                                     \
  " AND agency_scope_allows(q.agency_id, $3::text, $4::text, $5::text)"

/* The request under its row lock, for If-Match: $1 request, $2 agency, $3 role, $4 sub,
 * $5 caller's agency. The agency's own lock is taken by the move. */
static struct db_stmt REQUEST_LOCK = {
    "reporting_request_lock",
    "SELECT reporting_request_json(q) FROM reporting_requests q WHERE q.id = $1::uuid"
    " AND q.agency_id = $2::uuid AND agency_scope_allows(q.agency_id, $3, $4, $5) FOR UPDATE OF q"};
/* $1 request, $2 agency, $3 status, $4 note, $5 sub, $6 role. */
static struct db_stmt REQUEST_MOVE = {
    "reporting_request_move", "SELECT request_before, request_after, agency_before, agency_after"
                              " FROM reporting_request_move($1::uuid, $2::uuid, $3, $4, $5, $6)"};

static struct resource REQUEST = {
    "reporting_request",
    NULL,
    "This agency has no reporting request with this id.",
    "Esta agencia no tiene una solicitud de reporte con este id.",
    .id_param = "rid",
    .parent_param = "id",
    .fields = REQUEST_FIELDS,
    .get = {"reporting_request_get",
            "SELECT reporting_request_json(q) FROM reporting_requests q WHERE " REQUEST_SCOPE},
    .create = {"reporting_request_create",
               "SELECT reporting_request_json(q), q.id"
               " FROM reporting_request_create($6::uuid, $2::jsonb, $4, $3) q"},
    .refusals = REQUEST_REFUSALS,
};

/* -------------------------------------------------------------- handlers */

static enum problem request_list(struct req *r) {
  enum problem rc = agency_access(r, req_path_param(r, "id"));
  return rc != P_NONE ? rc : list_respond(r);
}

/* Moves the request (the audit gets the request's change and, when its protocol moved, the
 * agency's, both with the note) and answers the request as it is now. */
static enum problem request_move(struct req *r) {
  const char *agency = req_path_param(r, "id"), *request = req_path_param(r, "rid");
  PGresult *current = NULL, *res = NULL;
  if (!uuid_valid(agency) || !uuid_valid(request))
    return resource_missing(r);
  if (validate_body(r, r->body, MOVE_FIELDS, BODY_NEW) > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  const char *lp[] = {request, agency, role_name(r->caller.role), req_caller_sub(r),
                      req_caller_agency(r)};
  enum problem rc = req_lock_row(r, &REQUEST_LOCK, 5, lp, resource_missing, &current);
  if (rc != P_NONE)
    goto out;
  const char *note = req_body_string(r, "note");
  const char *p[] = {request,
                     agency,
                     req_body_string(r, "status"),
                     note,
                     req_caller_sub(r),
                     role_name(r->caller.role)};
  res = req_exec(r, &REQUEST_MOVE, 6, p);
  if (res == NULL) {
    rc = req_refused(r, REQUEST_REFUSALS);
    goto out;
  }
  rc = req_audit_note(r, "updated", "reporting_request", request, PQgetvalue(res, 0, 0),
                      PQgetvalue(res, 0, 1), note);
  if (rc == P_NONE)
    rc = agency_audit_change(r, agency, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3), note);
  if (rc == P_NONE)
    rc = reply_json(r, 200, PQgetvalue(res, 0, 1));
out:
  PQclear(current);
  PQclear(res);
  return rc;
}
