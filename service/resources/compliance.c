/*
 * compliance.c — /v1/agencies/{id}/compliance: where each standard of the agency's catalog
 * stands, on the two axes assessors use: progress (the agency's work) and result (the
 * reviewer's finding), with proofs per year of the four-year cycle. Proofs belong to the
 * agency's accreditation cycle (each award starts the next): a PUT files those of the current
 * cycle, and the earlier cycles' are kept and shown apart (earlier_proofs).
 *
 * A standard without a record reads as not_started / not_assessed, so the list is every
 * standard of the agency's program and tier (PostgreSQL joins them: agency_compliance_items).
 * PUT creates the record on first write and otherwise changes only the fields it names, so
 * an agency user's write can never touch the reviewer's fields. Only admin, inl and advisor
 * set result, reviewed_by and reviewed_at; an agency user who sends them gets a field error
 * (422, code not_allowed). Agency users reach only their agency, advisors only the agencies
 * they are assigned to (403 otherwise).
 */
#include "resources/agencies.h"
#include "resources/resources.h"
#include "resources/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum problem compliance_list(struct req *r);
static enum problem compliance_summary(struct req *r);
static enum problem compliance_get(struct req *r);
static enum problem compliance_put(struct req *r);
static struct list_spec COMPLIANCE_LIST;

static const char *const PROGRESS_VALUES[] = {"not_started", "in_progress", "in_review", "done",
                                              NULL};
static const char *const RESULT_VALUES[] = {
    "not_assessed", "compliant", "partially_compliant", "non_compliant", "not_applicable", NULL};
static const char *const PROOF_KINDS[] = {"directive",   "document",  "record", "photo", "video",
                                          "observation", "interview", "other",  NULL};

#define COMPLIANCE_ROLES (ROLE_ADMIN | ROLE_INL | ROLE_ADVISOR | ROLE_AGENCY)

static const struct qparam LIST_QUERY[] = {{"id", Q_PATH},
                                           {"manual_version", Q_STRING},
                                           {"chapter", Q_INT},
                                           {"progress", Q_ENUM, true, PROGRESS_VALUES},
                                           {"result", Q_ENUM, true, RESULT_VALUES},
                                           {"assignee_id", Q_UUID},
                                           {"time_sensitive", Q_BOOL},
                                           {NULL}};
static const struct qparam SUMMARY_QUERY[] = {{"manual_version", Q_STRING}, {NULL}};

static const struct route ROUTES[] = {
    {"GET", "/v1/agencies/:id/compliance", COMPLIANCE_ROLES, compliance_list, R_LIST, LIST_QUERY,
     .list = &COMPLIANCE_LIST},
    {"GET", "/v1/agencies/:id/compliance/summary", COMPLIANCE_ROLES, compliance_summary, 0,
     SUMMARY_QUERY},
    {"GET", "/v1/agencies/:id/compliance/:standard_id", COMPLIANCE_ROLES, compliance_get},
    {"PUT", "/v1/agencies/:id/compliance/:standard_id", COMPLIANCE_ROLES, compliance_put,
     R_BODY_JSON | R_TX},
    {NULL}};

const struct route_table COMPLIANCE_ROUTES = {"compliance", ROUTES};

/* ------------------------------------------------------------- validation */

/* cycle, when sent, must be the agency's current one (checked with the data). */
static const struct field PROOF_FIELDS[] = {{"cycle", F_INT, 0, 0, 1000},
                                            {"cycle_year", F_INT, F_REQUIRED, 1, 4},
                                            {"bullets", F_STRING_ARRAY, 0, 0, 52},
                                            {"title", F_STRING, F_REQUIRED, 1, 300},
                                            {"url", F_URL, F_REQUIRED, 1, 2000},
                                            {"kind", F_ENUM, 0, 0, 0, PROOF_KINDS},
                                            {NULL}};
static const struct field COMPLIANCE_FIELDS[] = {
    {"progress", F_ENUM, 0, 0, 0, PROGRESS_VALUES},
    {"result", F_ENUM, 0, 0, 0, RESULT_VALUES},
    {"assignee_id", F_UUID, F_NULLABLE},
    {"due_on", F_DATE, F_NULLABLE},
    {"note", F_STRING, F_NULLABLE, 0, 4000},
    {"reviewed_by", F_UUID, F_NULLABLE},
    {"reviewed_at", F_DATETIME, F_NULLABLE},
    {"proofs", F_ARRAY_OF, 0, 0, 200, NULL, PROOF_FIELDS},
    {NULL}};
/* The reviewer's fields: agency users may not send them. */
static const char *const REVIEWER_FIELDS[] = {"result", "reviewed_by", "reviewed_at", NULL};

/* ------------------------------------------------------------------- SQL */

#define COMPLIANCE_WHERE                                                                           \
  "agency_scope_allows($5::uuid, $1::text, $2::text, $3::text)"                                    \
  " AND ($4::timestamptz IS NULL OR x.record_updated_at >= $4::timestamptz)"                       \
  " AND ($7::int IS NULL OR x.chapter = $7::int)"                                                  \
  " AND ($8::jsonb IS NULL OR $8::jsonb ? x.progress)"                                             \
  " AND ($9::jsonb IS NULL OR $9::jsonb ? x.result)"                                               \
  " AND ($10::uuid IS NULL OR x.assignee_id = $10::uuid)"                                          \
  " AND ($11::boolean IS NULL OR (x.time_sensitive IS NOT NULL) = $11::boolean)"
#define COMPLIANCE_FROM "agency_compliance_items($5::uuid, $6::text) x"

static struct list_sort COMPLIANCE_SORTS[] = {LIST_SORT("compliance_by_number", "number", "x.item",
                                                        COMPLIANCE_FROM, COMPLIANCE_WHERE,
                                                        "x.sort_key", "int[]", "12", "13", "14"),
                                              {NULL}};
static struct list_spec COMPLIANCE_LIST = {
    COMPLIANCE_SORTS, LIST_COUNT("compliance_count", COMPLIANCE_FROM, COMPLIANCE_WHERE)};
static struct db_stmt COMPLIANCE_SUMMARY = {
    "compliance_summary", "SELECT agency_compliance_summary($1::uuid, $2::text)", 0};
static struct db_stmt COMPLIANCE_ITEM = {
    "compliance_item",
    "SELECT compliance_item_json(s, c, a.id) FROM agencies a"
    " JOIN standards s ON standard_applies(s, a)"
    " LEFT JOIN compliance c ON c.agency_id = a.id AND c.standard_id = s.id"
    " WHERE a.id = $1::uuid AND s.id = $2::uuid",
    0};
/* The item under the pair's lock; no row when the standard is not in the agency's catalog. */
static struct db_stmt COMPLIANCE_ITEM_LOCKED = {
    "compliance_item_locked",
    "SELECT compliance_item_locked(a.id, s.id) FROM agencies a"
    " JOIN standards s ON standard_applies(s, a) WHERE a.id = $1::uuid AND s.id = $2::uuid",
    0};
/* The field errors of the proofs that need the data: bullets the standard lacks (with the
 * keys it has), a cycle other than the agency's (in both languages). $1 agency, $2 standard, $3
 * proofs. */
static struct db_stmt COMPLIANCE_PROOF_PROBLEMS = {
    "compliance_proof_problems",
    "SELECT field, code, arg, arg_es FROM compliance_proof_problems($1::uuid, $2::uuid, $3::jsonb)",
    0};
/* $1 agency, $2 standard, $3 the patch, $4 caller sub. */
static struct db_stmt COMPLIANCE_WRITE = {
    "compliance_write", "SELECT item, record, created FROM compliance_write($1::uuid, $2::uuid,"
                        " $3::jsonb, $4::text)"};

static const struct refusal COMPLIANCE_REFUSALS[] = {
    {"compliance_assignee_allowed", P_VALIDATION, "/assignee_id", "not_assignable"},
    {"compliance_assignee_id_fkey", P_VALIDATION, "/assignee_id", "not_assignable"},
    {"compliance_reviewed_by_fkey", P_VALIDATION, "/reviewed_by", "not_found"},
    {NULL}};

/* -------------------------------------------------------------- handlers */

static enum problem item_not_found(struct req *r) {
  return req_fail(r, P_NOT_FOUND, "This standard is not in the agency's catalog.",
                  "Este estándar no está en el catálogo de la agencia.");
}

static enum problem compliance_list(struct req *r) {
  enum problem rc = agency_access(r, req_path_param(r, "id"));
  return rc != P_NONE ? rc : list_respond(r);
}

static enum problem compliance_summary(struct req *r) {
  const char *agency = req_path_param(r, "id");
  enum problem rc = agency_access(r, agency);
  if (rc != P_NONE)
    return rc;
  const char *p[] = {agency, req_query_value(r, "manual_version")};
  return reply_row(r, req_exec(r, &COMPLIANCE_SUMMARY, 2, p), agency_missing);
}

static enum problem compliance_get(struct req *r) {
  const char *agency = req_path_param(r, "id"), *standard = req_path_param(r, "standard_id");
  enum problem rc = agency_access(r, agency);
  if (rc != P_NONE)
    return rc;
  if (!uuid_valid(standard))
    return item_not_found(r);
  const char *p[] = {agency, standard};
  return reply_row(r, req_exec(r, &COMPLIANCE_ITEM, 2, p), item_not_found);
}

/* Field errors of the proofs found with the data (bullets the standard does not have, another
 * cycle than the agency's), in the same pass as the shape errors: every one at once. Returns
 * their number, or -1 when the query failed (the problem is set). */
static int check_proofs(struct req *r, const char *agency, const char *standard) {
  const json_t *proofs = json_object_get(r->body, "proofs");
  if (proofs == NULL)
    return 0;
  char *text = json_dumps(proofs, JSON_COMPACT);
  const char *p[] = {agency, standard, text};
  PGresult *res = req_exec(r, &COMPLIANCE_PROOF_PROBLEMS, 3, p);
  free(text);
  if (res == NULL)
    return -1;
  int n = PQntuples(res);
  for (int i = 0; i < n; i++)
    req_field_error_text(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                         PQgetisnull(res, i, 3) ? PQgetvalue(res, i, 2) : PQgetvalue(res, i, 3));
  PQclear(res);
  return n;
}

static enum problem compliance_put(struct req *r) {
  const char *agency = req_path_param(r, "id"), *standard = req_path_param(r, "standard_id");
  PGresult *current = NULL, *res = NULL;
  char *text = NULL;
  enum problem rc = agency_access(r, agency);
  if (rc != P_NONE)
    return rc;
  validate_body(r, r->body, COMPLIANCE_FIELDS, BODY_PATCH);
  for (size_t i = 0; r->caller.role == ROLE_AGENCY && REVIEWER_FIELDS[i] != NULL; i++)
    if (json_object_get(r->body, REVIEWER_FIELDS[i]) != NULL) {
      char ptr[32];
      snprintf(ptr, sizeof ptr, "/%s", REVIEWER_FIELDS[i]);
      req_field_error(r, ptr, "not_allowed", NULL);
    }
  if (!uuid_valid(standard))
    return item_not_found(r);
  const char *lp[] = {agency, standard};
  rc = req_lock_row(r, &COMPLIANCE_ITEM_LOCKED, 2, lp, item_not_found, &current);
  if (rc != P_NONE)
    goto out;
  if (check_proofs(r, agency, standard) < 0) {
    rc = r->problem;
    goto out;
  }
  if (r->errors != NULL) {
    rc = req_fail(r, P_VALIDATION, NULL, NULL);
    goto out;
  }
  text = json_dumps(r->body, JSON_COMPACT);
  const char *p[] = {agency, standard, text, req_caller_sub(r)};
  res = req_exec(r, &COMPLIANCE_WRITE, 4, p);
  if (res == NULL) {
    rc = req_refused(r, COMPLIANCE_REFUSALS);
    goto out;
  }
  /* A record is reached by its agency and standard: a new one's Location is this path. */
  const char *json = PQgetvalue(res, 0, 0), *id = PQgetvalue(res, 0, 1);
  bool created = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
  rc = req_audit(r, created ? "created" : "updated", "compliance", id,
                 created ? NULL : PQgetvalue(current, 0, 0), json);
  if (rc == P_NONE && created)
    reply_header(r, "Location", r->in->url_path);
  if (rc == P_NONE)
    reply_json(r, created ? 201 : 200, json);
out:
  free(text);
  PQclear(current);
  PQclear(res);
  return rc;
}
