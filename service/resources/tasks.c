/*
 * tasks.c — /v1/tasks and /v1/agencies/{id}/tasks: the tasks of implementation plans and
 * corrective actions; and GET /v1/agencies/{id}/due, what falls due for one agency.
 *
 * Scoping is SQL's (agency_scope_allows): an agency user sees and writes only its agency's
 * tasks, an advisor only those of the agencies it is assigned to; a task outside the
 * caller's scope reads as absent (404) in /v1/tasks/{id}, and an agency outside it is a 403
 * in the nested paths. `overdue` is computed from Mexico City's date; `completed_at` is set
 * and cleared by a trigger as a task enters and leaves `done`.
 *
 * Both lists also answer Accept: text/csv with every row of the filters (no paging, streamed),
 * UTF-8 with a byte-order mark so that spreadsheets read the accents, CRLF line ends, a
 * header row.
 */
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

/* ------------------------------------------------------------- validation */

static const struct field TASK_FIELDS[] = {
    {"agency_id", F_UUID, 0, 0, 0, NULL, NULL},
    {"standard_id", F_UUID, F_NULLABLE, 0, 0, NULL, NULL},
    {"kind", F_ENUM, F_REQUIRED, 0, 0, KIND_VALUES, NULL},
    {"title", F_STRING, F_REQUIRED, 1, 300, NULL, NULL},
    {"description", F_STRING, F_NULLABLE, 0, 10000, NULL, NULL},
    {"assignee_id", F_UUID, F_NULLABLE, 0, 0, NULL, NULL},
    {"due_on", F_DATE, F_NULLABLE, 0, 0, NULL, NULL},
    {"status", F_ENUM, 0, 0, 0, STATUS_VALUES, NULL},
    {"priority", F_ENUM, 0, 0, 0, PRIORITY_VALUES, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL}};
/* A task stays with its agency: agency_id is not among the fields a PATCH changes. */
static const struct field TASK_PATCH_FIELDS[] = {
    {"standard_id", F_UUID, F_NULLABLE, 0, 0, NULL, NULL},
    {"kind", F_ENUM, 0, 0, 0, KIND_VALUES, NULL},
    {"title", F_STRING, 0, 1, 300, NULL, NULL},
    {"description", F_STRING, F_NULLABLE, 0, 10000, NULL, NULL},
    {"assignee_id", F_UUID, F_NULLABLE, 0, 0, NULL, NULL},
    {"due_on", F_DATE, F_NULLABLE, 0, 0, NULL, NULL},
    {"status", F_ENUM, 0, 0, 0, STATUS_VALUES, NULL},
    {"priority", F_ENUM, 0, 0, 0, PRIORITY_VALUES, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL}};

/* ------------------------------------------------------------------- SQL */

static struct db_stmt TASK_AGENCY_ACCESS = {
    "task_agency_access",
    "SELECT agency_scope_allows(a.id, $2::text, $3::text, $4::text) FROM agencies a"
    " WHERE a.id = $1::uuid",
    0};

/* Both lists bind the same parameters: $5 is the agency_id filter of /v1/tasks or the path's
 * agency of /v1/agencies/{id}/tasks; TASK_LIST_PARAMS of them in all. */
#define TASK_LIST_PARAMS 8
#define TASK_WHERE                                                                                 \
  "agency_scope_allows(t.agency_id, $1::text, $2::text, $3::text)"                                 \
  " AND ($4::timestamptz IS NULL OR t.updated_at >= $4::timestamptz)"                              \
  " AND ($5::uuid IS NULL OR t.agency_id = $5::uuid)"                                              \
  " AND ($6::uuid IS NULL OR t.assignee_id = $6::uuid)"                                            \
  " AND ($7::uuid IS NULL OR t.standard_id = $7::uuid)"                                            \
  " AND ($8::jsonb IS NULL OR $8::jsonb ? t.kind)"                                                 \
  " AND ($9::jsonb IS NULL OR $9::jsonb ? t.status)"                                               \
  " AND ($10::date IS NULL OR t.due_on < $10::date)"                                               \
  " AND ($11::date IS NULL OR t.due_on > $11::date)"                                               \
  " AND ($12::boolean IS NULL OR task_is_overdue(t.due_on, t.status, mx_today()) = $12::boolean)"

/* Tasks without a due date sort after every dated one. */
static struct db_stmt TASK_PAGES[] = {
    PAGE_PAIR("tasks_by_due", "task_json(t)", "tasks t", TASK_WHERE,
              "coalesce(t.due_on, 'infinity'::date)", "date", "13", "14", "15"),
    PAGE_PAIR("tasks_by_created", "task_json(t)", "tasks t", TASK_WHERE, "t.created_at",
              "timestamptz", "13", "14", "15"),
    PAGE_PAIR("tasks_by_updated", "task_json(t)", "tasks t", TASK_WHERE, "t.updated_at",
              "timestamptz", "13", "14", "15"),
};
static struct db_stmt TASK_COUNT = {"tasks_count", "SELECT count(*) FROM tasks t WHERE " TASK_WHERE,
                                    0};
/* The CSV export, streamed in keyset batches (reply_csv_stream): the list's page statements
 * with a CSV record in place of the JSON. */
static struct db_stmt TASK_CSV_PAGES[] = {
    PAGE_PAIR("tasks_csv_by_due", "task_csv_row(t)", "tasks t", TASK_WHERE,
              "coalesce(t.due_on, 'infinity'::date)", "date", "13", "14", "15"),
    PAGE_PAIR("tasks_csv_by_created", "task_csv_row(t)", "tasks t", TASK_WHERE, "t.created_at",
              "timestamptz", "13", "14", "15"),
    PAGE_PAIR("tasks_csv_by_updated", "task_csv_row(t)", "tasks t", TASK_WHERE, "t.updated_at",
              "timestamptz", "13", "14", "15"),
};
static struct db_stmt TASK_CSV_HEADER = {"tasks_csv_header", "SELECT task_csv_header()", 0};
static struct db_stmt TASK_BY_ID = {
    "task_by_id",
    "SELECT task_json(t) FROM tasks t WHERE id = $1::uuid"
    " AND agency_scope_allows(t.agency_id, $2::text, $3::text, $4::text)",
    0};
static struct db_stmt TASK_BY_ID_FOR_UPDATE = {
    "task_by_id_for_update",
    "SELECT task_json(t) FROM tasks t WHERE id = $1::uuid"
    " AND agency_scope_allows(t.agency_id, $2::text, $3::text, $4::text) FOR UPDATE",
    0};
static struct db_stmt TASK_INSERT = {
    "task_insert",
    "INSERT INTO tasks AS t (agency_id, standard_id, kind, title, description, assignee_id,"
    " due_on, status, priority)"
    " SELECT $1::uuid, (b->>'standard_id')::uuid, b->>'kind', b->>'title', b->>'description',"
    " (b->>'assignee_id')::uuid, (b->>'due_on')::date, coalesce(b->>'status', 'open'),"
    " coalesce(b->>'priority', 'normal') FROM (SELECT $2::jsonb AS b) x"
    " WHERE agency_scope_allows($1::uuid, $3::text, $4::text, $5::text)"
    " RETURNING task_json(t), id",
    0};
static struct db_stmt TASK_UPDATE = {
    "task_update",
    "UPDATE tasks t SET"
    " standard_id = CASE WHEN $2::jsonb ? 'standard_id' THEN ($2::jsonb->>'standard_id')::uuid"
    "  ELSE standard_id END,"
    " kind = CASE WHEN $2::jsonb ? 'kind' THEN $2::jsonb->>'kind' ELSE kind END,"
    " title = CASE WHEN $2::jsonb ? 'title' THEN $2::jsonb->>'title' ELSE title END,"
    " description = CASE WHEN $2::jsonb ? 'description' THEN $2::jsonb->>'description'"
    "  ELSE description END,"
    " assignee_id = CASE WHEN $2::jsonb ? 'assignee_id' THEN ($2::jsonb->>'assignee_id')::uuid"
    "  ELSE assignee_id END,"
    " due_on = CASE WHEN $2::jsonb ? 'due_on' THEN ($2::jsonb->>'due_on')::date ELSE due_on END,"
    " status = CASE WHEN $2::jsonb ? 'status' THEN $2::jsonb->>'status' ELSE status END,"
    " priority = CASE WHEN $2::jsonb ? 'priority' THEN $2::jsonb->>'priority' ELSE priority END"
    " WHERE id = $1::uuid RETURNING task_json(t)",
    0};
static struct db_stmt TASK_DELETE = {"task_delete", "DELETE FROM tasks WHERE id = $1::uuid", 0};
static struct db_stmt AGENCY_DUE = {"agency_due",
                                    "SELECT agency_due_json($1::uuid, mx_today(), $2::int)", 0};

static struct db_stmt *const TASK_PAGE_LIST[] = {&TASK_PAGES[0], &TASK_PAGES[1], &TASK_PAGES[2],
                                                 &TASK_PAGES[3], &TASK_PAGES[4], &TASK_PAGES[5]};
static const char *const TASK_SORTS[] = {"due_on", "created_at", "updated_at", NULL};
static const struct list_spec TASK_LIST = {TASK_SORTS, (struct db_stmt **)TASK_PAGE_LIST,
                                           &TASK_COUNT};

/* -------------------------------------------------------------- helpers */

static const char *caller_sub(const struct req *r) {
  return r->caller.sub[0] ? r->caller.sub : NULL;
}
static const char *caller_agency(const struct req *r) {
  return r->caller.agency_id[0] ? r->caller.agency_id : NULL;
}

static enum problem not_found(struct req *r) {
  return req_fail(r, P_NOT_FOUND, "No task has this id.", "Ninguna tarea tiene este id.");
}

static enum problem agency_forbidden(struct req *r) {
  return req_fail(r, P_FORBIDDEN, "This agency's tasks are not yours to see or change.",
                  "Las tareas de esta agencia no le corresponden.");
}

/* Whether the caller may work on the agency: P_NONE; 403; or, when it does not exist,
 * missing (a 404 for a path, a field error for a body). */
static enum problem agency_access(struct req *r, const char *agency, bool in_body) {
  const char *p[] = {agency, role_name(r->caller.role), caller_sub(r), caller_agency(r)};
  PGresult *res = req_exec(r, &TASK_AGENCY_ACCESS, 4, p);
  if (res == NULL)
    return r->problem;
  enum problem rc = P_NONE;
  if (PQntuples(res) == 0 && in_body) {
    req_field_error(r, "/agency_id", "not_found", NULL);
    rc = req_fail(r, P_VALIDATION, NULL, NULL);
  } else if (PQntuples(res) == 0) {
    rc = req_fail(r, P_NOT_FOUND, "No agency has this id.", "Ninguna agencia tiene este id.");
  } else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
    rc = agency_forbidden(r);
  }
  PQclear(res);
  return rc;
}

/* The agency of a nested path, checked: a non-UUID is a 404 like a missing one. */
static enum problem path_agency(struct req *r, const char **agency) {
  *agency = req_path_param(r, "id");
  if (!uuid_valid(*agency))
    return req_fail(r, P_NOT_FOUND, "No agency has this id.", "Ninguna agencia tiene este id.");
  return agency_access(r, *agency, false);
}

/* Maps the database's refusal of a task write to field errors where it can. */
static enum problem write_refused(struct req *r) {
  const struct db_conn *c = r->db;
  static const struct {
    enum db_status status;
    const char *constraint, *field, *code, *arg;
  } MAP[] = {
      {DB_FOREIGN_KEY, "tasks_assignee_id_fkey", "/assignee_id", "not_found", NULL},
      {DB_FOREIGN_KEY, "tasks_standard_id_fkey", "/standard_id", "not_found", NULL},
      {DB_FOREIGN_KEY, "tasks_agency_id_fkey", "/agency_id", "not_found", NULL},
      {DB_CHECK, "tasks_standard_program", "/standard_id", "invalid",
       "the standard is not one of the agency's program"},
  };
  for (size_t i = 0; i < sizeof MAP / sizeof *MAP; i++)
    if (c->status == MAP[i].status && strcmp(c->constraint, MAP[i].constraint) == 0) {
      req_field_error(r, MAP[i].field, MAP[i].code, MAP[i].arg);
      return req_fail(r, P_VALIDATION, NULL, NULL);
    }
  return r->problem;
}

/* ------------------------------------------------------------------ lists */

/* True when the client asks for CSV rather than JSON. */
static bool wants_csv(const struct req *r) {
  const char *accept = req_header(r, "Accept");
  return accept != NULL && strstr(accept, "text/csv") != NULL &&
         strstr(accept, "application/json") == NULL;
}

/* Every row of the list's filters as one CSV document, streamed. Paging does not apply:
 * limit, cursor and count are refused rather than ignored; sort orders the rows. */
static enum problem task_csv(struct req *r) {
  static const char *const PAGING[] = {"limit", "cursor", "count", NULL};
  char ptr[32];
  for (size_t i = 0; PAGING[i] != NULL; i++)
    if (req_query_value(r, PAGING[i]) != NULL) {
      snprintf(ptr, sizeof ptr, "/query/%s", PAGING[i]);
      req_field_error(r, ptr, "invalid", "CSV has every row; no paging");
    }
  const char *sort = req_query_value(r, "sort");
  if (sort == NULL)
    sort = TASK_SORTS[0];
  bool desc = sort[0] == '-';
  size_t k = 0;
  while (TASK_SORTS[k] != NULL && strcmp(sort + desc, TASK_SORTS[k]) != 0)
    k++;
  if (TASK_SORTS[k] == NULL)
    req_field_error(r, "/query/sort", "invalid_enum",
                    "due_on, -due_on, created_at, -created_at, updated_at, -updated_at");
  if (r->errors != NULL)
    return req_fail(r, P_INVALID_QUERY, NULL, NULL);

  enum { NQUERY = TASK_LIST_PARAMS };
  const char *p[NQUERY + 4];
  char *owned[NQUERY] = {0};
  p[0] = role_name(r->caller.role);
  p[1] = caller_sub(r);
  p[2] = caller_agency(r);
  p[3] = req_query_value(r, "updated_since");
  for (size_t i = 0; i < NQUERY; i++)
    p[4 + i] = owned[i] = req_query_sql(r, &r->route->query[i]);
  enum problem rc;
  PGresult *header = req_exec(r, &TASK_CSV_HEADER, 0, NULL);
  if (header == NULL) {
    rc = r->problem;
    goto out;
  }
  reply_header(r, "Content-Disposition", "attachment; filename=\"tasks.csv\"");
  rc = reply_csv_stream(r, &TASK_CSV_PAGES[2 * k + desc], NQUERY + 4, p, PQgetvalue(header, 0, 0));
out:
  PQclear(header);
  for (size_t i = 0; i < NQUERY; i++)
    free(owned[i]);
  return rc;
}

static enum problem task_list(struct req *r) {
  return wants_csv(r) ? task_csv(r) : list_respond(r, &TASK_LIST);
}

static enum problem agency_task_list(struct req *r) {
  const char *agency;
  enum problem rc = path_agency(r, &agency);
  if (rc != P_NONE)
    return rc;
  return task_list(r);
}

/* ----------------------------------------------------------- single tasks */

static enum problem task_get(struct req *r) {
  const char *id = req_path_param(r, "id");
  if (!uuid_valid(id))
    return not_found(r);
  const char *p[] = {id, role_name(r->caller.role), caller_sub(r), caller_agency(r)};
  return reply_row(r, req_exec(r, &TASK_BY_ID, 4, p), not_found);
}

/* Creates a task of agency (checked) from the body (validated). */
static enum problem create_in(struct req *r, const char *agency) {
  char *text = json_dumps(r->body, JSON_COMPACT);
  const char *p[] = {agency, text, role_name(r->caller.role), caller_sub(r), caller_agency(r)};
  PGresult *res = req_exec(r, &TASK_INSERT, 5, p);
  free(text);
  if (res == NULL)
    return write_refused(r);
  enum problem rc = P_NONE;
  if (PQntuples(res) == 0) {
    rc = agency_forbidden(r);
    goto out;
  }
  rc = reply_created(r, "task", "/v1/tasks", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
out:
  PQclear(res);
  return rc;
}

static enum problem task_create(struct req *r) {
  int errs = validate_body(r, r->body, TASK_FIELDS, false);
  const char *agency = req_body_string(r, "agency_id");
  if (json_object_get(r->body, "agency_id") == NULL) {
    req_field_error(r, "/agency_id", "required", NULL);
    errs++;
  }
  if (errs > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  enum problem rc = agency_access(r, agency, true);
  return rc != P_NONE ? rc : create_in(r, agency);
}

static enum problem agency_task_create(struct req *r) {
  const char *agency = req_path_param(r, "id");
  if (!uuid_valid(agency))
    return req_fail(r, P_NOT_FOUND, "No agency has this id.", "Ninguna agencia tiene este id.");
  int errs = validate_body(r, r->body, TASK_FIELDS, false);
  const char *given = req_body_string(r, "agency_id");
  if (given != NULL && strcasecmp(given, agency) != 0) {
    req_field_error(r, "/agency_id", "invalid", "it must be the agency of the path, or absent");
    errs++;
  }
  if (errs > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  enum problem rc = agency_access(r, agency, false);
  return rc != P_NONE ? rc : create_in(r, agency);
}

/* Locks the task's row (if the caller may see it) and checks If-Match; *current is the
 * row's JSON (PQclear it). */
static enum problem lock_current(struct req *r, const char *id, PGresult **current) {
  const char *p[] = {id, role_name(r->caller.role), caller_sub(r), caller_agency(r)};
  return req_lock_row(r, &TASK_BY_ID_FOR_UPDATE, 4, p, not_found, current);
}

static enum problem task_patch(struct req *r) {
  const char *id = req_path_param(r, "id");
  int errs = 0;
  if (json_object_get(r->body, "agency_id") != NULL) {
    req_field_error(r, "/agency_id", "invalid", "a task stays with its agency");
    errs++;
    json_object_del(r->body, "agency_id");
  }
  if (errs == 0 || json_object_size(r->body) > 0)
    errs += validate_body(r, r->body, TASK_PATCH_FIELDS, true);
  if (errs > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  PGresult *current = NULL, *res = NULL;
  char *text = NULL;
  enum problem rc = lock_current(r, id, &current);
  if (rc != P_NONE)
    goto out;
  text = json_dumps(r->body, JSON_COMPACT);
  const char *p[] = {id, text};
  res = req_exec(r, &TASK_UPDATE, 2, p);
  if (res == NULL) {
    rc = write_refused(r);
    goto out;
  }
  rc = reply_updated(r, "task", id, PQgetvalue(current, 0, 0), PQgetvalue(res, 0, 0));
out:
  free(text);
  PQclear(current);
  PQclear(res);
  return rc;
}

static enum problem task_delete(struct req *r) {
  const char *id = req_path_param(r, "id");
  PGresult *current = NULL, *res = NULL;
  enum problem rc = lock_current(r, id, &current);
  if (rc != P_NONE)
    goto out;
  const char *p[] = {id};
  res = req_exec(r, &TASK_DELETE, 1, p);
  if (res == NULL) {
    rc = r->problem;
    goto out;
  }
  rc = reply_deleted(r, "task", id, PQgetvalue(current, 0, 0));
out:
  PQclear(current);
  PQclear(res);
  return rc;
}

/* -------------------------------------------------------------------- due */

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
  PGresult *res = req_exec(r, &AGENCY_DUE, 2, p);
  if (res == NULL)
    return r->problem;
  rc = reply_json(r, 200, PQgetvalue(res, 0, 0));
  PQclear(res);
  return rc;
}

/* ----------------------------------------------------------------- routes */

#define TASK_READERS (ROLE_ADMIN | ROLE_INL | ROLE_ADVISOR | ROLE_AGENCY)
#define TASK_WRITERS (ROLE_ADMIN | ROLE_ADVISOR | ROLE_AGENCY)

/* The two lists declare their parameters in the same order: TASK_WHERE numbers them ($5 is
 * the agency, from the query or the path). */
static const struct qparam TASK_QUERY[] = {{"agency_id", Q_UUID, false, NULL},
                                           {"assignee_id", Q_UUID, false, NULL},
                                           {"standard_id", Q_UUID, false, NULL},
                                           {"kind", Q_ENUM, true, KIND_VALUES},
                                           {"status", Q_ENUM, true, STATUS_VALUES},
                                           {"due_before", Q_DATE, false, NULL},
                                           {"due_after", Q_DATE, false, NULL},
                                           {"overdue", Q_BOOL, false, NULL},
                                           {NULL, 0, false, NULL}};
static const struct qparam AGENCY_TASK_QUERY[] = {{"id", Q_PATH, false, NULL},
                                                  {"assignee_id", Q_UUID, false, NULL},
                                                  {"standard_id", Q_UUID, false, NULL},
                                                  {"kind", Q_ENUM, true, KIND_VALUES},
                                                  {"status", Q_ENUM, true, STATUS_VALUES},
                                                  {"due_before", Q_DATE, false, NULL},
                                                  {"due_after", Q_DATE, false, NULL},
                                                  {"overdue", Q_BOOL, false, NULL},
                                                  {NULL, 0, false, NULL}};
_Static_assert(sizeof TASK_QUERY / sizeof *TASK_QUERY == TASK_LIST_PARAMS + 1, "TASK_WHERE");
_Static_assert(sizeof AGENCY_TASK_QUERY / sizeof *AGENCY_TASK_QUERY == TASK_LIST_PARAMS + 1,
               "TASK_WHERE");
static const struct qparam DUE_QUERY[] = {{"days", Q_INT, false, NULL}, {NULL, 0, false, NULL}};

static const struct route ROUTES[] = {
    {"GET", "/v1/tasks", TASK_READERS, task_list, R_LIST, TASK_QUERY, NULL},
    {"POST", "/v1/tasks", TASK_WRITERS, task_create, R_BODY_JSON | R_IDEMPOTENT, NULL, NULL},
    {"GET", "/v1/tasks/:id", TASK_READERS, task_get, 0, NULL, NULL},
    {"PATCH", "/v1/tasks/:id", TASK_WRITERS, task_patch, R_BODY_JSON | R_TX, NULL, NULL},
    {"DELETE", "/v1/tasks/:id", TASK_WRITERS, task_delete, R_TX, NULL, NULL},
    {"GET", "/v1/agencies/:id/tasks", TASK_READERS, agency_task_list, R_LIST, AGENCY_TASK_QUERY,
     NULL},
    {"POST", "/v1/agencies/:id/tasks", TASK_WRITERS, agency_task_create, R_BODY_JSON | R_IDEMPOTENT,
     NULL, NULL},
    {"GET", "/v1/agencies/:id/due", TASK_READERS, agency_due, 0, DUE_QUERY, NULL},
    {NULL, NULL, 0, NULL, 0, NULL, NULL}};

const struct route_table TASK_ROUTES = {"tasks", ROUTES};
