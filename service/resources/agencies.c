/*
 * agencies.c — /v1/agencies: the agencies of the program (API.md §3).
 *
 * What each role sees and may write is decided in SQL with the caller
 * (db/functions/03_agencies.sql): agency_visible_to() scopes reads (anonymous callers see
 * only the public directory, archived agencies only admin), agency_json_for() picks the full
 * or the public representation (an agency user gets its own agency in full and the others'
 * public view, never less than an anonymous caller), agency_writable_by() says who may
 * write. Which fields a role may write is the table below the routes. status and the
 * lifecycle dates never change here: only transitions (transitions.c) move them, so sending
 * them is a 422. An agency with history is archived, not deleted (DELETE), and restored by
 * admin; only one without history may be erased.
 *
 * A PATCH is a JSON Merge Patch (RFC 7396) of the representation: nested objects merge,
 * null clears. The list answers CSV too (every row, streamed) for spreadsheets.
 */
#include "resources/agencies.h"
#include "resources/resources.h"
#include "resources/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const TYPES[] = {"law_enforcement", "training_academy", "communications_center",
                                    NULL};
static const char *const LEVELS[] = {"municipal", "state", "federal", NULL};
static const char *const TIERS[] = {"tier1", "advanced", NULL};
static const char *const FREQUENCIES[] = {"monthly", "quarterly", NULL};
/* The statuses a list can filter on: the stored ones and the derived "expired". */
static const char *const STATUSES[] = {AGENCY_STATES, "expired", NULL};

static enum problem agency_list(struct req *r);
static enum problem agency_manual_put(struct req *r);
static struct resource AGENCY;
static struct list_spec AGENCY_LIST;

/* In the order of the $5 … $19 parameters of AGENCY_WHERE. Tier, membership, team, program
 * and what is overdue are not in the public view: filtering on them would reveal them
 * (hidden). */
static const struct qparam AGENCY_QUERY[] = {
    {"type", Q_ENUM, false, TYPES},
    {"level", Q_ENUM, false, LEVELS},
    {"state", Q_STRING},
    {"status", Q_ENUM, true, STATUSES},
    {"tier", Q_ENUM, false, TIERS, true},
    {"member", Q_BOOL, .hidden = true},
    {"advisor_id", Q_UUID, .hidden = true},
    {"in_program", Q_BOOL, .hidden = true},
    {"q", Q_STRING},
    {"archived", Q_BOOL},
    {"report_overdue", Q_BOOL, .hidden = true},
    {"tasks_overdue", Q_BOOL, .hidden = true},
    {"expires_from", Q_DATE},
    {"expires_to", Q_DATE},
    {"implementation_plan_overdue", Q_BOOL, .hidden = true},
    {NULL}};

static const struct route ROUTES[] = {
    {"GET", "/v1/agencies", ROLES_ALL, agency_list, R_LIST, AGENCY_QUERY, .list = &AGENCY_LIST},
    {"POST", "/v1/agencies", ROLE_ADMIN, resource_create, R_BODY_JSON | R_IDEMPOTENT,
     .resource = &AGENCY},
    {"GET", "/v1/agencies/:id", ROLES_ALL, resource_get, 0, ARCHIVED_QUERY, .resource = &AGENCY},
    {"PATCH", "/v1/agencies/:id", ROLE_ADMIN | ROLE_ADVISOR | ROLE_COALITION, resource_patch,
     R_BODY_JSON | R_TX, .resource = &AGENCY},
    {"DELETE", "/v1/agencies/:id", ROLE_ADMIN, resource_delete, R_TX, .resource = &AGENCY},
    KEPT_RECORD_ROUTES("/v1/agencies/:id", &AGENCY),
    {"PUT", "/v1/agencies/:id/manual-version", ROLE_ADMIN | ROLE_ADVISOR, agency_manual_put,
     R_BODY_JSON | R_TX},
    {NULL}};

const struct route_table AGENCY_ROUTES = {"agencies", ROUTES};

/* ------------------------------------------------------------- validation */

static const struct field CEO_FIELDS[] = {
    {"name", F_STRING, F_REQUIRED, 1, 200}, {"title", F_STRING, F_NULLABLE, 1, 200}, {NULL}};
static const struct field MANAGER_FIELDS[] = {{"name", F_STRING, F_REQUIRED, 1, 200},
                                              {"email", F_EMAIL, F_NULLABLE, 3, 254},
                                              {"phone", F_STRING, F_NULLABLE, 1, 40},
                                              {NULL}};
/* Filing a report is setting last_report_on; the protocol (frequency, since, monthly_until)
 * moves with the awards and the monthly-reporting requests (reporting.c), and the due date
 * follows from both. */
static const struct field REPORTING_FIELDS[] = {
    {"frequency", F_ENUM, F_READ_ONLY, 0, 0, FREQUENCIES},
    {"last_report_on", F_DATE, F_NULLABLE},
    {"next_report_due", F_DATE, F_READ_ONLY},
    {"since", F_DATE, F_READ_ONLY},
    {"monthly_until", F_DATE, F_READ_ONLY},
    {NULL}};
static const struct field MEMBERSHIP_FIELDS[] = {{"member", F_BOOL},
                                                 {"member_since", F_DATE, F_NULLABLE},
                                                 {"dues_paid_through", F_DATE, F_NULLABLE},
                                                 {"external_id", F_STRING, F_NULLABLE, 1, 100},
                                                 {NULL}};

/* The lifecycle moves by transitions, the derived dates follow from it, the rest is kept by
 * the service: read-only. */
static const struct field AGENCY_FIELDS[] = {

    {"name", F_STRING, F_REQUIRED, 1, 300},
    {"type", F_ENUM, F_REQUIRED, 0, 0, TYPES},
    {"level", F_ENUM, F_REQUIRED, 0, 0, LEVELS},
    {"state", F_STRING, F_REQUIRED, 1, 10},
    {"ceo", F_OBJECT, F_NULLABLE, 0, 0, NULL, CEO_FIELDS},
    {"accreditation_manager", F_OBJECT, F_NULLABLE, 0, 0, NULL, MANAGER_FIELDS},
    {"acronym", F_STRING, F_NULLABLE, 1, 40},
    {"municipality", F_STRING, F_NULLABLE, 1, 200},
    {"website", F_URL, F_NULLABLE, 1, 500},
    {"regional_manager_id", F_UUID, F_NULLABLE},
    {"advisor_ids", F_STRING_ARRAY, 0, 0, 20},
    {"tier", F_ENUM, F_NULLABLE, 0, 0, TIERS},
    {"applied_on", F_DATE},
    {"implementation_plan_submitted_on", F_DATE, F_NULLABLE},
    {"reporting", F_OBJECT, 0, 0, 0, NULL, REPORTING_FIELDS},
    {"membership", F_OBJECT, 0, 0, 0, NULL, MEMBERSHIP_FIELDS},
    {"external_ids", F_JSON, F_NULLABLE},
    {"in_program", F_BOOL},
    {"status", F_ENUM, F_READ_ONLY, 0, 0, STATUSES},
    {"status_reason", F_STRING, F_READ_ONLY},
    {"status_before_probation", F_STRING, F_READ_ONLY},
    {"approved_on", F_DATE, F_READ_ONLY},
    {"enrolled_on", F_DATE, F_READ_ONLY},
    {"accredited_on", F_DATE, F_READ_ONLY},
    {"accreditation_expires_on", F_DATE, F_READ_ONLY},
    {"withdrawn_on", F_DATE, F_READ_ONLY},
    {"removed_on", F_DATE, F_READ_ONLY},
    {"implementation_plan_due", F_DATE, F_READ_ONLY},
    {"self_assessment_due", F_DATE, F_READ_ONLY},
    {"next_annual_review_due", F_DATE, F_READ_ONLY},
    {"continuation_fees_due", F_STRING_ARRAY, F_READ_ONLY},
    {"manual_version", F_STRING, F_READ_ONLY},
    {"cycle", F_INT, F_READ_ONLY},
    {"cycle_year", F_INT, F_READ_ONLY},
    {"demo", F_BOOL, F_READ_ONLY},
    {"archived_at", F_DATETIME, F_READ_ONLY},
    RECORD_FIELDS,
    {NULL}};

/* PUT /v1/agencies/{id}/manual-version: the version to work against, and why. */
static const struct field MANUAL_FIELDS[] = {{"manual_version", F_STRING, F_REQUIRED, 1, 19},
                                             {"note", F_STRING, F_NULLABLE, 1, 2000},
                                             {NULL}};

/* What a role may PATCH: coalition only the CAISPMEX membership; an advisor everything but
 * the membership and the team assignment (the program's administrators assign teams). */
static const char *const COALITION_WRITABLE[] = {"membership", NULL};
static const char *const ADVISOR_UNWRITABLE[] = {"membership", "regional_manager_id", "advisor_ids",
                                                 "in_program", NULL};

static bool listed(const char *const *names, const char *name) {
  for (size_t i = 0; names[i] != NULL; i++)
    if (strcmp(names[i], name) == 0)
      return true;
  return false;
}

/* external_ids holds free keys for partner systems; their values are strings. */
static void external_ids_errors(struct req *r, const json_t *body) {
  const json_t *ids = json_object_get(body, "external_ids");
  const char *key;
  const json_t *v;
  char ptr[200];
  json_object_foreach((json_t *)ids, key, v) {
    snprintf(ptr, sizeof ptr, "/external_ids/%.100s", key);
    if (strlen(key) == 0 || strlen(key) > 100)
      req_field_error_text(r, ptr, "invalid", "keys have 1 to 100 characters",
                           "las claves tienen de 1 a 100 caracteres");
    else if (!json_is_string(v) && !json_is_null(v))
      req_field_error_text(r, ptr, "invalid_type", "a string", "una cadena");
    else if (json_is_string(v) && json_string_length(v) > 200)
      req_field_error(r, ptr, "too_long", "200");
  }
}

/* What the import (agency_import.c) checks the same way. */

int agency_shape_errors(struct req *r, const json_t *doc, bool patch) {
  size_t before = (r->errors != NULL ? json_array_size(r->errors) : 0) + r->errors_omitted;
  validate_body(r, doc, AGENCY_FIELDS, patch ? BODY_PATCH : BODY_NEW);
  external_ids_errors(r, doc);
  return (int)((r->errors != NULL ? json_array_size(r->errors) : 0) + r->errors_omitted - before);
}

bool agency_read_only(const char *name) {
  for (const struct field *f = AGENCY_FIELDS; f->name != NULL; f++)
    if (strcmp(f->name, name) == 0)
      return (f->flags & F_READ_ONLY) != 0;
  return false;
}

bool agency_role_may_write(enum role role, const char *name) {
  if (role == ROLE_COALITION)
    return listed(COALITION_WRITABLE, name);
  if (role == ROLE_ADVISOR)
    return !listed(ADVISOR_UNWRITABLE, name);
  return true;
}

/* ------------------------------------------------------------------- SQL */

/* Parameters: $1 role, $2 sub, $3 agency_id, $4 updated_since, then the query parameters
 * in AGENCY_QUERY's order ($5 type … $13 q, $14 archived, $15 report_overdue … $19). */
#define AGENCY_WHERE                                                                               \
  "agency_visible_to(a, $1, $3) AND (a.archived_at IS NOT NULL) = coalesce($14::boolean, false)"   \
  " AND ($4::timestamptz IS NULL OR a.updated_at >= $4::timestamptz)"                              \
  " AND ($5::text IS NULL OR a.type = $5)"                                                         \
  " AND ($6::text IS NULL OR a.level = $6)"                                                        \
  " AND ($7::text IS NULL OR a.state = $7)"                                                        \
  " AND ($8::jsonb IS NULL OR agency_status(a) IN (SELECT jsonb_array_elements_text($8::jsonb)))"  \
  " AND ($8::jsonb IS NULL OR a.status = ANY (agency_stored_statuses($8::jsonb)))"                 \
  " AND ($9::text IS NULL OR a.tier = $9)"                                                         \
  " AND ($10::boolean IS NULL OR a.member = $10::boolean)"                                         \
  " AND ($11::uuid IS NULL OR $11::uuid = ANY (a.advisor_ids)"                                     \
  "      OR a.regional_manager_id = $11::uuid)"                                                    \
  " AND ($12::boolean IS NULL OR a.in_program = $12::boolean)"                                     \
  " AND ($13::text IS NULL OR fold(a.name || CASE WHEN agency_public_for(a, $1, $3) THEN ''"       \
  "      ELSE ' ' || coalesce(a.acronym, '') || ' ' || coalesce(a.municipality, '') END)"          \
  "      LIKE contains_pattern($13))"                                                              \
  " AND ($15::boolean IS NULL OR agency_report_overdue(a, mx_today()) = $15::boolean)"             \
  " AND ($16::boolean IS NULL OR agency_tasks_overdue(a.id, mx_today()) = $16::boolean)"           \
  " AND ($17::date IS NULL OR a.accreditation_expires_on >= $17::date)"                            \
  " AND ($18::date IS NULL OR a.accreditation_expires_on <= $18::date)"                            \
  " AND ($19::boolean IS NULL"                                                                     \
  "      OR agency_implementation_plan_overdue(a, mx_today()) = $19::boolean)"

/* Pages send the stored documents (agency_document()): nothing is rendered on read. The CSV
 * export has the same rows as records (agency_csv_record()). */
#define AGENCY_PAGE "agency_document(a, $1, $3)"
#define AGENCY_CSV "agency_csv_record(a, $1, $3)"
/* What callers who see the public view (anonymous callers, partners, and agency users, of
 * every agency but their own) may sort on: the public view has no dates of record. */
static const char *const PUBLIC_SORTS[] = {"name", NULL};
LIST_SPEC_CSV_PUBLIC(AGENCY_LIST, "agencies", "name", AGENCY_PAGE, AGENCY_CSV,
                     "SELECT rtrim(agency_csv_header($1), E'\\r\\n')", "agencies.csv", "agencies a",
                     AGENCY_WHERE, "a.name", "text", "a", "20", "21", "22",
                     ROLE_ANONYMOUS | ROLE_PARTNER | ROLE_AGENCY, PUBLIC_SORTS);

/* $1 id, $2 body, $3 role, $4 sub, $5 agency, $7 request id (see struct resource). */
/* Field errors that need the data. $1 the document (a new agency's, or the one a patch
 * makes), $2 the patch (NULL for a new agency): only the members it names are judged. */
static struct db_stmt AGENCY_PROBLEMS = {
    "agency_problems",
    "SELECT field, code, arg, coalesce(arg_es, arg) FROM agency_problems($1::jsonb,"
    " CASE WHEN $2::jsonb IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_object_keys($2::jsonb)) END)"};

/* Whether the caller may work on the agency; no row when the agency does not exist, is
 * archived (but to admin), or the caller may not see its records at all (an agency user,
 * another agency: "not yours" and "not there" must answer alike). */
static struct db_stmt AGENCY_SCOPE = {
    "agency_scope", "SELECT agency_scope_allows(a.id, $2::text, $3::text, $4::text)"
                    " FROM agencies a WHERE a.id = $1::uuid"
                    " AND agency_history_visible_to(a, $2::text, $4::text)"};
/* The agency under its row lock, for If-Match. */
static struct db_stmt AGENCY_LOCK_LIVE = {
    "agency_lock_live",
    "SELECT agency_json(a) FROM agencies a WHERE a.id = $1::uuid AND a.archived_at IS NULL"
    " FOR UPDATE"};
/* $1 agency, $2 version, $3 sub, $4 role: the agency before and after. */
static struct db_stmt MANUAL_MOVE = {
    "agency_move_manual",
    "SELECT before_json, after_json FROM agency_move_manual($1::uuid, $2, $3, $4)"};
static const struct refusal MANUAL_REFUSALS[] = {
    {"not_found", P_NOT_FOUND, NULL, NULL, "No agency has this id.",
     "Ninguna agencia tiene este id."},
    {"forbidden", P_FORBIDDEN, NULL, NULL,
     "Only admin and the agency's assigned advisors move it to another manual version.",
     "Solo la administración y los asesores asignados a la agencia la pasan a otra versión del "
     "manual."},
    {"manual_unknown", P_VALIDATION, "/manual_version", "not_found"},
    {"manual_older", P_CONFLICT, NULL, NULL,
     "An agency moves only to a newer manual version than the one it works against.",
     "Una agencia solo pasa a una versión del manual más reciente que la que usa."},
    {NULL}};
/* Whether a state filter names one of Mexico's entities, and their codes. */
static struct db_stmt STATE_KNOWN = {
    "agency_state_known", "SELECT EXISTS (SELECT 1 FROM mx_states WHERE code = $1),"
                          " (SELECT string_agg(code, ', ' ORDER BY code) FROM mx_states)"};

/* -------------------------------------------------------------- handlers */

enum problem agency_missing(struct req *r) {
  return req_fail(r, P_NOT_FOUND, "No agency has this id.", "Ninguna agencia tiene este id.");
}

enum problem agency_access(struct req *r, const char *agency) {
  if (!uuid_valid(agency))
    return agency_missing(r);
  const char *p[] = {agency, role_name(r->caller.role), req_caller_sub(r), req_caller_agency(r)};
  PGresult *res = req_exec(r, &AGENCY_SCOPE, 4, p);
  if (res == NULL)
    return r->problem;
  enum problem rc = P_NONE;
  if (PQntuples(res) == 0)
    rc = agency_missing(r);
  else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
    rc = req_fail(r, P_FORBIDDEN, "This agency is not yours to see or change.",
                  "Esta agencia no le corresponde.");
  PQclear(res);
  return rc;
}

enum problem agency_audit_change(struct req *r, const char *agency, const char *before,
                                 const char *after, const char *note) {
  if (strcmp(before, after) == 0)
    return P_NONE;
  return req_audit_note(r, "updated", "agency", agency, before, after, note);
}

/* The members a role may not write in a PATCH (not_allowed), the read-only lifecycle's
 * detail, external_ids, and the field errors found in the database. */
static int agency_check(struct req *r, json_t *doc, const char *id) {
  const char *key;
  const json_t *v;
  char ptr[160];
  json_object_foreach(r->body, key, v) {
    if (id != NULL && !agency_role_may_write(r->caller.role, key)) {
      snprintf(ptr, sizeof ptr, "/%.100s", key);
      req_field_error(r, ptr, "not_allowed", NULL);
    }
    if (strcmp(key, "status") == 0 || (agency_read_only(key) && strstr(key, "_on") != NULL))
      req_fail(r, P_VALIDATION,
               "The status and its dates change only through POST /v1/agencies/{id}/transitions.",
               "El estado y sus fechas cambian solo mediante POST "
               "/v1/agencies/{id}/transitions.");
  }
  external_ids_errors(r, r->body);
  char *text = json_dumps(doc, JSON_COMPACT), *patch = NULL;
  if (id != NULL)
    patch = json_dumps(r->body, JSON_COMPACT);
  const char *p[] = {text, patch};
  PGresult *res = req_exec(r, &AGENCY_PROBLEMS, 2, p);
  free(text);
  free(patch);
  if (res == NULL)
    return A_ERR;
  for (int i = 0; i < PQntuples(res); i++)
    req_field_error_text(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                         PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2),
                         PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3));
  PQclear(res);
  return A_OK;
}

static const struct refusal AGENCY_REFUSALS[] = {
    {"agencies_membership_external_id_key", P_CONFLICT, NULL, NULL,
     "Another agency has this membership.external_id.",
     "Otra agencia tiene este membership.external_id."},
    {"agencies_ceo_shape", P_VALIDATION, "/ceo/name", "required"},
    {"agencies_manager_shape", P_VALIDATION, "/accreditation_manager/name", "required"},
    {"agencies_tier_law_enforcement", P_VALIDATION, "/tier", "invalid",
     "only law-enforcement agencies have a tier", "solo las agencias policiales tienen nivel"},
    {NULL}};

/* A state filter must name one of Mexico's 32 entities, exactly as ISO 3166-2:MX writes it
 * (like every enum filter: MX-QUE, not mx-que). Adds the field error; A_ERR when the query
 * failed (the problem is set). */
static int check_state_filter(struct req *r) {
  const char *state = req_query_value(r, "state");
  if (state == NULL)
    return A_OK;
  const char *p[] = {state};
  PGresult *res = req_exec(r, &STATE_KNOWN, 1, p);
  if (res == NULL)
    return A_ERR;
  if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
    req_field_error(r, "/query/state", "invalid_enum", PQgetvalue(res, 0, 1));
  PQclear(res);
  return A_OK;
}

/* The state filter is checked here; the list's own checks (hidden filters among them) add
 * their errors to its, so that every bad parameter is reported at once. */
static enum problem agency_list(struct req *r) {
  if (check_state_filter(r) != A_OK)
    return r->problem;
  return list_respond(r);
}

/* Moves the agency to another manual version of its program (agency_move_manual()); audited
 * with the note when the version changed. Answers the agency. */
static enum problem agency_manual_put(struct req *r) {
  const char *id = req_path_param(r, "id");
  PGresult *current = NULL, *res = NULL;
  if (validate_body(r, r->body, MANUAL_FIELDS, BODY_NEW) > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  const char *lp[] = {id};
  enum problem rc = req_lock_row(r, &AGENCY_LOCK_LIVE, 1, lp, agency_missing, &current);
  if (rc != P_NONE)
    goto out;
  const char *p[] = {id, req_body_string(r, "manual_version"), req_caller_sub(r),
                     role_name(r->caller.role)};
  res = req_exec(r, &MANUAL_MOVE, 4, p);
  if (res == NULL) {
    rc = req_refused(r, MANUAL_REFUSALS);
    goto out;
  }
  rc = agency_audit_change(r, id, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                           req_body_string(r, "note"));
  if (rc == P_NONE)
    rc = reply_json(r, 200, PQgetvalue(res, 0, 1));
out:
  PQclear(current);
  PQclear(res);
  return rc;
}

static struct resource AGENCY = {
    "agency",
    "/v1/agencies",
    "No agency has this id.",
    "Ninguna agencia tiene este id.",
    .fields = AGENCY_FIELDS,
    .get = {"agency_get", "SELECT agency_document(a, $3, $5) FROM agencies a WHERE a.id = $1::uuid"
                          " AND agency_visible_to(a, $3, $5)"
                          " AND (a.archived_at IS NOT NULL) = coalesce($8::boolean, false)"},
    .lock = {"agency_lock",
             "SELECT agency_json(a), jsonb_merge_patch(agency_json(a)::jsonb, $2::jsonb)::text,"
             " agency_writable_by(a, $3, $4), a.archived_at IS NOT NULL"
             " FROM agencies a WHERE a.id = $1::uuid FOR UPDATE"},
    .create = {"agency_create",
               "SELECT a.document, a.id"
               " FROM agency_create($2::jsonb, coalesce($4, 'anonymous'), $3, $7) a"},
    .update = {"agency_update", "SELECT a.document FROM agency_update($1::uuid, $2::jsonb) a"},
    .remove = {"agency_archive", "UPDATE agencies SET archived_at = now() WHERE id = $1::uuid"},
    .restore = {"agency_restore", "UPDATE agencies a SET archived_at = NULL WHERE id = $1::uuid"
                                  " RETURNING a.document"},
    .erase = {"agency_erase", "SELECT agency_erase($1::uuid)"},
    .dependents = {"agency_dependents", "SELECT agency_dependents($1::uuid)"},
    .check = agency_check,
    .refusals = AGENCY_REFUSALS,
    .forbidden_en = "Only the agency's assigned advisors may change it.",
    .forbidden_es = "Solo los asesores asignados a la agencia pueden modificarla.",
};
