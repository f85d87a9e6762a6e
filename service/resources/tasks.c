/*
 * tasks.c — /v1/tasks and /v1/agencies/{id}/tasks: the tasks of implementation plans and
 * corrective actions; and GET /v1/agencies/{id}/due, what falls due for one agency.
 *
 * Scoping is SQL's (agency_scope_allows): an agency user sees and writes only its agency's
 * tasks, an advisor only those of the agencies it is assigned to; a task outside the
 * caller's scope reads as absent (404) in /v1/tasks/{id}, and an agency outside it is a 403
 * in the nested paths. `overdue` is computed from Mexico City's date; `completed_at` is set
 * and cleared by a trigger as a task enters and leaves `done`. Both lists also answer CSV.
 */
#include "resources/agencies.h"
#include "resources/resources.h"
#include "resources/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The widest window GET /due accepts, in days: a whole accreditation cycle. */
#define DUE_MAX_DAYS 1461
#define DUE_DEFAULT_DAYS "90"

static const char *const KIND_VALUES[] = {"written_directive",
                                          "proof_of_compliance",
                                          "training",
                                          "pre_assessment",
                                          "review",
                                          "corrective_action",
                                          "progress_report",
                                          "other",
                                          NULL};
static const char *const STATUS_VALUES[] = {"open", "in_progress", "blocked",
                                            "done", "cancelled",   NULL};
static const char *const PRIORITY_VALUES[] = {"low", "normal", "high", NULL};

static enum problem agency_task_list(struct req *r);
static enum problem agency_task_create(struct req *r);
static enum problem agency_due(struct req *r);
static struct resource TASK;
static struct list_spec TASK_LIST;

/* The two lists declare their parameters in the same order: TASK_WHERE numbers them ($5 is
 * the agency, from the query or the path). */
#define TASK_FILTERS                                                                               \
  {"assignee_id", Q_UUID}, {"standard_id", Q_UUID}, {"kind", Q_ENUM, true, KIND_VALUES},           \
      {"status", Q_ENUM, true, STATUS_VALUES}, {"due_before", Q_DATE}, {"due_after", Q_DATE},      \
      {"overdue", Q_BOOL}, {                                                                       \
    NULL                                                                                           \
  }
static const struct qparam TASK_QUERY[] = {{"agency_id", Q_UUID}, TASK_FILTERS};
static const struct qparam AGENCY_TASK_QUERY[] = {{"id", Q_PATH}, TASK_FILTERS};
static const struct qparam DUE_QUERY[] = {{"days", Q_INT}, {NULL}};

#define TASK_READERS (ROLE_ADMIN | ROLE_INL | ROLE_ADVISOR | ROLE_AGENCY)
#define TASK_WRITERS (ROLE_ADMIN | ROLE_ADVISOR | ROLE_AGENCY)

static const struct route ROUTES[] = {
    {"GET", "/v1/tasks", TASK_READERS, list_respond, R_LIST, TASK_QUERY, .list = &TASK_LIST},
    {"POST", "/v1/tasks", TASK_WRITERS, resource_create, R_BODY_JSON | R_IDEMPOTENT,
     .resource = &TASK},
    {"GET", "/v1/tasks/:id", TASK_READERS, resource_get, .resource = &TASK},
    {"PATCH", "/v1/tasks/:id", TASK_WRITERS, resource_patch, R_BODY_JSON | R_TX, .resource = &TASK},
    {"DELETE", "/v1/tasks/:id", TASK_WRITERS, resource_delete, R_TX, .resource = &TASK},
    {"GET", "/v1/agencies/:id/tasks", TASK_READERS, agency_task_list, R_LIST, AGENCY_TASK_QUERY,
     .list = &TASK_LIST},
    {"POST", "/v1/agencies/:id/tasks", TASK_WRITERS, agency_task_create, R_BODY_JSON | R_IDEMPOTENT,
     .resource = &TASK},
    {"GET", "/v1/agencies/:id/due", TASK_READERS, agency_due, 0, DUE_QUERY},
    {NULL}};

const struct route_table TASK_ROUTES = {"tasks", ROUTES};

/* ------------------------------------------------------------- validation */

static const struct field TASK_FIELDS[] = {{"agency_id", F_UUID, F_REQUIRED | F_FIXED},
                                           {"standard_id", F_UUID, F_NULLABLE},
                                           {"kind", F_ENUM, F_REQUIRED, 0, 0, KIND_VALUES},
                                           {"title", F_STRING, F_REQUIRED, 1, 300},
                                           {"description", F_STRING, F_NULLABLE, 0, 10000},
                                           {"assignee_id", F_UUID, F_NULLABLE},
                                           {"due_on", F_DATE, F_NULLABLE},
                                           {"status", F_ENUM, 0, 0, 0, STATUS_VALUES},
                                           {"priority", F_ENUM, 0, 0, 0, PRIORITY_VALUES},
                                           {"overdue", F_BOOL, F_READ_ONLY},
                                           {"completed_at", F_DATETIME, F_READ_ONLY},
                                           RECORD_FIELDS,
                                           {NULL}};

static const struct refusal TASK_REFUSALS[] = {
    {"tasks_assignee_allowed", P_VALIDATION, "/assignee_id", "not_assignable"},
    {"tasks_assignee_id_fkey", P_VALIDATION, "/assignee_id", "not_assignable"},
    {"tasks_standard_id_fkey", P_VALIDATION, "/standard_id", "not_found"},
    {"tasks_agency_id_fkey", P_VALIDATION, "/agency_id", "not_found"},
    {"tasks_standard_program", P_VALIDATION, "/standard_id", "invalid",
     "the standard is not one of the agency's program",
     "el estándar no es del programa de la agencia"},
    {NULL}};

/* ------------------------------------------------------------------- SQL */

/* The tasks of archived agencies are admin's only (role: the caller's role parameter). An
 * anti-join on the few archived agencies (the index agencies_archived), not a lookup per task:
 * lists are planned for each request's values, so for admin the condition folds away. */
#define TASK_AGENCY_LIVE(role)                                                                     \
  "(" role "::text = 'admin' OR NOT EXISTS (SELECT 1 FROM agencies x WHERE x.id = t.agency_id"     \
  " AND x.archived_at IS NOT NULL))"

/* $1 role, $2 sub, $3 agency, $4 updated_since, then the filters ($5 the agency). */
#define TASK_WHERE                                                                                 \
  "agency_scope_allows(t.agency_id, $1::text, $2::text, $3::text) AND " TASK_AGENCY_LIVE(          \
      "$1") " AND ($4::timestamptz IS NULL OR t.updated_at >= $4::timestamptz)"                    \
            " AND ($5::uuid IS NULL OR t.agency_id = $5::uuid)"                                    \
            " AND ($6::uuid IS NULL OR t.assignee_id = $6::uuid)"                                  \
            " AND ($7::uuid IS NULL OR t.standard_id = $7::uuid)"                                  \
            " AND ($8::jsonb IS NULL OR $8::jsonb ? t.kind)"                                       \
            " AND ($9::jsonb IS NULL OR $9::jsonb ? t.status)"                                     \
            " AND ($10::date IS NULL OR t.due_on < $10::date)"                                     \
            " AND ($11::date IS NULL OR t.due_on > $11::date)"                                     \
            " AND ($12::boolean IS NULL OR task_is_overdue(t.due_on, t.status, mx_today()) = "     \
            "$12::boolean)"

/* Tasks without a due date sort after every dated one. */
LIST_SPEC_CSV(TASK_LIST, "tasks", "due_on", "task_document(t)", "task_csv_row(t)",
              "SELECT task_csv_header()", "tasks.csv", "tasks t", TASK_WHERE,
              "coalesce(t.due_on, 'infinity'::date)", "date", "t", "13", "14", "15");

/* $1 id, $2 body, $3 role, $4 sub, $5 agency (see struct resource). */
#define TASK_SCOPE                                                                                 \
  "agency_scope_allows(t.agency_id, $3::text, $4::text, $5::text) AND " TASK_AGENCY_LIVE("$3")
static struct db_stmt AGENCY_DUE = {"agency_due",
                                    "SELECT agency_due_json($1::uuid, mx_today(), $2::int)"};

/* -------------------------------------------------------------- handlers */

/* A new task's agency must be one the caller works on (a patch cannot move a task). */
static int task_check(struct req *r, json_t *doc, const char *id) {
  const char *agency = json_string_value(json_object_get(doc, "agency_id"));
  if (id != NULL || agency == NULL || agency_access(r, agency) == P_NONE)
    return A_OK;
  if (r->problem != P_NOT_FOUND)
    return A_ERR;
  /* An agency named in the body is a field of it: a 422 like the others, not a 404. */
  r->problem = P_NONE;
  r->detail[0] = '\0';
  req_field_error(r, "/agency_id", "not_found", NULL);
  return A_OK;
}

/* The agency of a nested path, checked. */
static enum problem path_agency(struct req *r, const char **agency) {
  *agency = req_path_param(r, "id");
  return agency_access(r, *agency);
}

static enum problem agency_task_list(struct req *r) {
  const char *agency;
  enum problem rc = path_agency(r, &agency);
  return rc != P_NONE ? rc : list_respond(r);
}

/* A task of the path's agency: the body's agency_id, when sent, must be that one. */
static enum problem agency_task_create(struct req *r) {
  const char *agency;
  enum problem rc = path_agency(r, &agency);
  if (rc != P_NONE)
    return rc;
  const json_t *given = json_object_get(r->body, "agency_id");
  if (given != NULL &&
      (!json_is_string(given) || strcasecmp(json_string_value(given), agency) != 0)) {
    req_field_error_text(r, "/agency_id", "invalid", "it must be the agency of the path, or absent",
                         "debe ser la agencia de la ruta, o estar ausente");
    json_object_del(r->body, "agency_id");
  }
  json_object_set_new(r->body, "agency_id", json_string(agency));
  return resource_create(r);
}

static enum problem agency_due(struct req *r) {
  const char *agency;
  enum problem rc = path_agency(r, &agency);
  if (rc != P_NONE)
    return rc;
  const char *days = req_query_value(r, "days");
  if (days == NULL)
    days = DUE_DEFAULT_DAYS;
  if (strtol(days, NULL, 10) > DUE_MAX_DAYS) {
    char range[32];
    snprintf(range, sizeof range, "0..%d", DUE_MAX_DAYS);
    req_field_error(r, "/query/days", "out_of_range", range);
    return req_fail(r, P_INVALID_QUERY, NULL, NULL);
  }
  const char *p[] = {agency, days};
  return reply_row(r, req_exec(r, &AGENCY_DUE, 2, p), agency_missing);
}

static struct resource TASK = {
    "task",
    "/v1/tasks",
    "No task has this id.",
    "Ninguna tarea tiene este id.",
    .fields = TASK_FIELDS,
    .get = {"task_get", "SELECT task_document(t) FROM tasks t"
                        " WHERE t.id = $1::uuid AND " TASK_SCOPE},
    .lock = {"task_lock",
             "SELECT task_json(t), jsonb_merge_patch(task_json(t)::jsonb, $2::jsonb)::text"
             " FROM tasks t WHERE t.id = $1::uuid AND " TASK_SCOPE " FOR UPDATE"},
    .create = {"task_create", "SELECT t.document, t.id FROM task_create($2::jsonb) t"},
    .update = {"task_update", "SELECT t.document FROM task_update($1::uuid, $2::jsonb) t"},
    .remove = {"task_delete", "DELETE FROM tasks WHERE id = $1::uuid"},
    .check = task_check,
    .refusals = TASK_REFUSALS,
};
