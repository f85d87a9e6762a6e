/*
 * agencies.c — /v1/agencies: the agencies of the program (API.md §3).
 *
 * What each role sees and may write is decided in SQL with the caller
 * (db/functions/03_agencies.sql): agency_visible_to() scopes reads (an agency user sees only
 * its agency: others answer 404; anonymous callers see only the public directory),
 * agency_json_for() picks the full or the public representation, agency_writable_by() says
 * who may write. Which fields a role may write is the table below the routes. status and the
 * lifecycle dates never change here: only transitions (transitions.c) move them, so sending
 * them is a 422.
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

static struct resource AGENCY;
static struct list_spec AGENCY_LIST;

/* In the order of the $5 … $13 parameters of AGENCY_WHERE. */
/* Tier, membership, team and program are not in the public view: filtering on them would
 * reveal them (hidden). */
static const struct qparam AGENCY_QUERY[] = {{"type", Q_ENUM, false, TYPES},
                                             {"level", Q_ENUM, false, LEVELS},
                                             {"state", Q_STRING},
                                             {"status", Q_ENUM, true, STATUSES},
                                             {"tier", Q_ENUM, false, TIERS, true},
                                             {"member", Q_BOOL, .hidden = true},
                                             {"advisor_id", Q_UUID, .hidden = true},
                                             {"in_program", Q_BOOL, .hidden = true},
                                             {"q", Q_STRING},
                                             {NULL}};

static const struct route ROUTES[] = {
    {"GET", "/v1/agencies", ROLES_ALL, list_respond, R_LIST, AGENCY_QUERY, .list = &AGENCY_LIST},
    {"POST", "/v1/agencies", ROLE_ADMIN, resource_create, R_BODY_JSON | R_IDEMPOTENT,
     .resource = &AGENCY},
    {"GET", "/v1/agencies/:id", ROLES_ALL, resource_get, .resource = &AGENCY},
    {"PATCH", "/v1/agencies/:id", ROLE_ADMIN | ROLE_ADVISOR | ROLE_COALITION, resource_patch,
     R_BODY_JSON | R_TX, .resource = &AGENCY},
    {"DELETE", "/v1/agencies/:id", ROLE_ADMIN, resource_delete, R_TX, .resource = &AGENCY},
    {NULL}};

const struct route_table AGENCY_ROUTES = {"agencies", ROUTES};

/* ------------------------------------------------------------- validation */

static const struct field CEO_FIELDS[] = {
    {"name", F_STRING, F_REQUIRED, 1, 200}, {"title", F_STRING, F_NULLABLE, 1, 200}, {NULL}};
static const struct field MANAGER_FIELDS[] = {{"name", F_STRING, F_REQUIRED, 1, 200},
                                              {"email", F_EMAIL, F_NULLABLE, 3, 254},
                                              {"phone", F_STRING, F_NULLABLE, 1, 40},
                                              {NULL}};
static const struct field REPORTING_FIELDS[] = {{"frequency", F_ENUM, 0, 0, 0, FREQUENCIES},
                                                {"last_report_on", F_DATE, F_NULLABLE},
                                                {"next_report_due", F_DATE, F_NULLABLE},
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
    {"demo", F_BOOL, F_READ_ONLY},
    RECORD_FIELDS,
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
 * in AGENCY_QUERY's order ($5 type … $13 q). */
#define AGENCY_WHERE                                                                               \
  "agency_visible_to(a, $1, $3)"                                                                   \
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
  " AND ($13::text IS NULL OR fold(a.name || CASE WHEN $1 IN ('anonymous', 'partner') THEN ''"     \
  "      ELSE ' ' || coalesce(a.acronym, '') || ' ' || coalesce(a.municipality, '') END)"          \
  "      LIKE contains_pattern($13))"

/* Pages render with agency_list_json(), agency_json_for() in plpgsql: a list is planned
 * again for each request, and planning the inlined representation cost more than rendering
 * the page. The CSV export has the same rows as records (agency_csv_record()). */
#define AGENCY_PAGE "agency_list_json(a, $1)"
/* What anonymous callers and partners may sort on: the public view has no dates of record. */
static const char *const PUBLIC_SORTS[] = {"name", NULL};
#define AGENCY_CSV "agency_csv_record(a, $1)"
static struct list_sort AGENCY_SORTS[] = {LIST_SORTS_CSV("agencies", "name", AGENCY_PAGE,
                                                         AGENCY_CSV, "agencies a", AGENCY_WHERE,
                                                         "a.name", "text", "a", "14", "15", "16")};
static struct list_spec AGENCY_LIST = {
    AGENCY_SORTS,
    LIST_COUNT("agencies_count", "agencies a", AGENCY_WHERE),
    {"agencies_csv_header", "SELECT rtrim(agency_csv_header($1), E'\\r\\n')"},
    CSV_FINGERPRINT("agencies_csv_fingerprint", "a", "agencies a", AGENCY_WHERE),
    "agencies.csv",
    ROLE_ANONYMOUS | ROLE_PARTNER,
    PUBLIC_SORTS};

/* $1 id, $2 body, $3 role, $4 sub, $5 agency, $7 request id (see struct resource). */
/* Field errors that need the data. $1 the document (a new agency's, or the one a patch
 * makes), $2 the patch (NULL for a new agency): only the members it names are judged. */
static struct db_stmt AGENCY_PROBLEMS = {
    "agency_problems",
    "SELECT field, code, arg, coalesce(arg_es, arg) FROM agency_problems($1::jsonb,"
    " CASE WHEN $2::jsonb IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_object_keys($2::jsonb)) END)"};

/* Whether the caller may work on the agency; no row when the agency does not exist or the
 * caller may not see it at all (an agency user, another agency: "not yours" and "not there"
 * must answer alike). */
static struct db_stmt AGENCY_SCOPE = {
    "agency_scope", "SELECT agency_scope_allows(a.id, $2::text, $3::text, $4::text)"
                    " FROM agencies a WHERE a.id = $1::uuid AND agency_visible_to(a, $2, $4)"};

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
    {"*foreign_key", P_CONFLICT, NULL, NULL,
     "Other records (users, tasks, …) still refer to this agency; remove them first, or withdraw "
     "the agency instead.",
     "Otros registros (usuarios, tareas, …) aún hacen referencia a esta agencia; elimínelos "
     "primero, o retire la agencia."},
    {NULL}};

static struct resource AGENCY = {
    "agency",
    "/v1/agencies",
    "No agency has this id.",
    "Ninguna agencia tiene este id.",
    .fields = AGENCY_FIELDS,
    .get = {"agency_get", "SELECT agency_json_for(a, $3) FROM agencies a"
                          " WHERE a.id = $1::uuid AND agency_visible_to(a, $3, $5)"},
    .lock = {"agency_lock",
             "SELECT agency_json(a), jsonb_merge_patch(agency_json(a)::jsonb, $2::jsonb)::text,"
             " agency_writable_by(a, $3, $4) FROM agencies a WHERE a.id = $1::uuid FOR UPDATE"},
    .create = {"agency_create",
               "SELECT agency_json(a), a.id"
               " FROM agency_create($2::jsonb, coalesce($4, 'anonymous'), $3, $7) a"},
    .update = {"agency_update", "SELECT agency_json(a) FROM agency_update($1::uuid, $2::jsonb) a"},
    .remove = {"agency_delete", "SELECT agency_delete($1::uuid)"},
    .check = agency_check,
    .refusals = AGENCY_REFUSALS,
    .forbidden_en = "Only the agency's assigned advisors may change it.",
    .forbidden_es = "Solo los asesores asignados a la agencia pueden modificarla.",
};
