/*
 * test_tasks.c — tasks: the role matrix and scoping (agency users, assigned advisors),
 * completed_at following done, overdue at Mexico City's day boundary, filters and paging,
 * the CSV export, and GET /v1/agencies/{id}/due with one item of each kind.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("tasks", false);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

#define AGENCY_A "aaaaaaaa-1000-4000-8000-000000000001" /* law enforcement, advisor assigned */
#define AGENCY_B "aaaaaaaa-1000-4000-8000-000000000002" /* training academy, not assigned */
#define AGENCY_DUE "aaaaaaaa-1000-4000-8000-000000000003"
#define ADVISOR "bbbbbbbb-1000-4000-8000-000000000001"
#define AGENCY_USER_A "dddddddd-1000-4000-8000-000000000001"
#define LE_STANDARD "cccccccc-1000-4000-8000-000000000001"
#define TA_STANDARD "cccccccc-1000-4000-8000-000000000002"

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static void fixture(void) {
  free(th_sql(
      "INSERT INTO users (id, email, name, role) VALUES"
      " ('" ADVISOR "', 'asesora@prueba.mx', 'Asesora', 'advisor') ON CONFLICT DO NOTHING;"
      "INSERT INTO agencies (id, name, type, level, state, tier, status, advisor_ids) VALUES"
      " ('" AGENCY_A "', 'Policía de Prueba A', 'law_enforcement', 'state', 'MX-NLE', 'tier1',"
      "  'self_assessment', ARRAY['" ADVISOR "']::uuid[]),"
      " ('" AGENCY_B "', 'Academia de Prueba B', 'training_academy', 'state', 'MX-YUC', NULL,"
      "  'enrolled', '{}')"
      " ON CONFLICT DO NOTHING;"
      "INSERT INTO standards (id, program, manual_version, number, chapter_number, chapter_title,"
      " title, tiers) VALUES"
      " ('" LE_STANDARD "', 'law_enforcement', '6.15', '41.2.2', 41, '{\"es\":\"Operaciones\"}',"
      "  '{\"es\":\"Persecuciones\"}', '{tier1,advanced}'),"
      " ('" TA_STANDARD "', 'training_academy', '2.5', '3.1.1', 3, '{\"es\":\"Instructores\"}',"
      "  '{\"es\":\"Instructores\"}', '{}')"
      " ON CONFLICT DO NOTHING"));
}

static char *agency_user_a(void) {
  return th_token("agency", AGENCY_USER_A, AGENCY_A);
}
static char *advisor(void) {
  return th_token("advisor", ADVISOR, NULL);
}

/* Creates a task through the API as admin; returns its id (malloc'd). */
static char *create_task(const char *agency, const char *title, const char *extra) {
  char body[1024];
  snprintf(body, sizeof body,
           "{\"agency_id\":\"%s\",\"kind\":\"written_directive\",\"title\":\"%s\"%s%s}", agency,
           title, extra ? "," : "", extra ? extra : "");
  struct th_resp r = th_req("POST", "/v1/tasks", th_admin(), body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  th_free(&r);
  return id;
}

static bool has_error(const json_t *problem, const char *field, const char *code) {
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(problem, "errors"), i, e) {
    if (strcmp(jstr(e, "field"), field) == 0 && strcmp(jstr(e, "code"), code) == 0)
      return true;
  }
  return false;
}

/* The titles of a list page, joined by '|'. */
static void titles_of(const json_t *page, char *out, size_t cap) {
  out[0] = '\0';
  size_t i;
  const json_t *t;
  json_array_foreach(json_object_get(page, "data"), i, t) {
    size_t u = strlen(out);
    snprintf(out + u, cap - u, "%s%s", i ? "|" : "", jstr(t, "title"));
  }
}

/* ----------------------------------------------------------------- roles */

Test(tasks, role_matrix_and_scoping) {
  fixture();
  char *in_a = create_task(AGENCY_A, "Matriz A", NULL);
  char *in_b = create_task(AGENCY_B, "Matriz B", NULL);
  char path_a[80], path_b[80];
  snprintf(path_a, sizeof path_a, "/v1/tasks/%s", in_a);
  snprintf(path_b, sizeof path_b, "/v1/tasks/%s", in_b);

  struct {
    const char *role, *sub, *agency;
    long get_a, get_b, create_a, create_b;
  } callers[] = {
      {"admin", "00000000-0000-4000-8000-000000000001", NULL, 200, 200, 201, 201},
      {"inl", "00000000-0000-4000-8000-000000000002", NULL, 200, 200, 403, 403},
      {"advisor", ADVISOR, NULL, 200, 404, 201, 403},
      {"agency", AGENCY_USER_A, AGENCY_A, 200, 404, 201, 404},
      {"coalition", "dddddddd-1000-4000-8000-000000000009", NULL, 403, 403, 403, 403},
      {"partner", "dddddddd-1000-4000-8000-000000000008", NULL, 403, 403, 403, 403},
  };
  for (size_t i = 0; i < sizeof callers / sizeof *callers; i++) {
    char *t = th_token(callers[i].role, callers[i].sub, callers[i].agency);
    struct th_resp r = th_req("GET", path_a, t, NULL, NULL);
    cr_assert_eq(r.status, callers[i].get_a, "%s get A: %ld", callers[i].role, r.status);
    th_free(&r);
    r = th_req("GET", path_b, t, NULL, NULL);
    cr_assert_eq(r.status, callers[i].get_b, "%s get B: %ld", callers[i].role, r.status);
    th_free(&r);
    r = th_req("POST", "/v1/tasks", t,
               "{\"agency_id\":\"" AGENCY_A "\",\"kind\":\"other\",\"title\":\"Por rol\"}", NULL);
    cr_assert_eq(r.status, callers[i].create_a, "%s create A: %ld %s", callers[i].role, r.status,
                 r.body);
    th_free(&r);
    r = th_req("POST", "/v1/agencies/" AGENCY_B "/tasks", t,
               "{\"kind\":\"other\",\"title\":\"Por rol\"}", NULL);
    cr_assert_eq(r.status, callers[i].create_b, "%s create B: %ld %s", callers[i].role, r.status,
                 r.body);
    th_free(&r);
    /* Lists: nobody sees tasks outside their scope. */
    r = th_req("GET", "/v1/tasks?agency_id=" AGENCY_B, t, NULL, NULL);
    if (callers[i].get_b == 404) {
      cr_assert_eq(r.status, 200);
      cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 0, "%s", callers[i].role);
    }
    th_free(&r);
    r = th_req("GET", "/v1/agencies/" AGENCY_B "/tasks", t, NULL, NULL);
    /* An advisor sees agency B but does not work on it (403); an agency user does not even
     * see it, and "not yours" reads as "not there" (404). */
    long want = callers[i].get_b == 404 ? callers[i].create_b : callers[i].get_b;
    cr_assert_eq(r.status, want, "%s list B: %ld", callers[i].role, r.status);
    th_free(&r);
    free(t);
  }
  /* Writes outside the scope read as absent. */
  char *t = agency_user_a();
  struct th_resp r = th_req("PATCH", path_b, t, "{\"status\":\"done\"}", NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  r = th_req("DELETE", path_b, t, NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  r = th_req("DELETE", path_a, t, NULL, NULL);
  cr_assert_eq(r.status, 204);
  th_free(&r);
  free(t);
  r = th_req("GET", "/v1/tasks", NULL, NULL, NULL);
  cr_assert_eq(r.status, 401);
  th_free(&r);
  r = th_req("GET", "/v1/agencies/aaaaaaaa-1000-4000-8000-0000000000ff/tasks", th_admin(), NULL,
             NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);

  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT string_agg(action, ',' ORDER BY seq) FROM audit WHERE resource = 'task'"
           " AND resource_id = '%s'",
           in_a);
  char *actions = th_sql(sql);
  cr_assert_str_eq(actions, "created,deleted");
  free(actions);
  free(in_a);
  free(in_b);
}

/* ------------------------------------------------------------ completion */

Test(tasks, completed_at_follows_done) {
  fixture();
  char *id = create_task(AGENCY_A, "Completar", NULL);
  char path[80];
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  char *t = advisor();
  struct th_resp r = th_req("GET", path, t, NULL, NULL);
  cr_assert(json_is_null(json_object_get(r.json, "completed_at")));
  cr_assert_str_eq(jstr(r.json, "status"), "open");
  cr_assert_str_eq(jstr(r.json, "priority"), "normal");
  th_free(&r);
  r = th_req("PATCH", path, t, "{\"status\":\"done\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char *completed = strdup(jstr(r.json, "completed_at"));
  th_free(&r);
  free(th_sql("SELECT pg_sleep(1.1)"));
  r = th_req("PATCH", path, t, "{\"title\":\"Completada\"}", NULL);
  cr_assert_str_eq(jstr(r.json, "completed_at"), completed);
  th_free(&r);
  r = th_req("PATCH", path, t, "{\"status\":\"in_progress\"}", NULL);
  cr_assert(json_is_null(json_object_get(r.json, "completed_at")));
  th_free(&r);
  /* Created done: completed at once. completed_at is not the client's to write. */
  char *done = create_task(AGENCY_A, "Ya hecha", "\"status\":\"done\"");
  snprintf(path, sizeof path, "/v1/tasks/%s", done);
  r = th_req("GET", path, t, NULL, NULL);
  cr_assert_not_null(jstr(r.json, "completed_at"));
  th_free(&r);
  r = th_req("PATCH", path, t, "{\"completed_at\":\"2020-01-01T00:00:00Z\"}", NULL);
  cr_assert_eq(r.status, 422);
  cr_assert(has_error(r.json, "/completed_at", "read_only"));
  th_free(&r);
  free(done);
  free(completed);
  free(t);
  free(id);
}

/* --------------------------------------------------------------- overdue */

Test(tasks, overdue_at_mexico_city_day_boundary) {
  fixture();
  free(th_sql(
      "INSERT INTO agencies (id, name, type, level, state, status) VALUES"
      " ('aaaaaaaa-1000-4000-8000-000000000010', 'Centro de Prueba', 'communications_center',"
      "  'state', 'MX-CMX', 'self_assessment') ON CONFLICT DO NOTHING;"
      "INSERT INTO tasks (agency_id, kind, title, due_on, status) VALUES"
      " ('aaaaaaaa-1000-4000-8000-000000000010', 'other', 'ayer', mx_today() - 1, 'open'),"
      " ('aaaaaaaa-1000-4000-8000-000000000010', 'other', 'hoy', mx_today(), 'open'),"
      " ('aaaaaaaa-1000-4000-8000-000000000010', 'other', 'ayer bloqueada', mx_today() - 1,"
      "  'blocked'),"
      " ('aaaaaaaa-1000-4000-8000-000000000010', 'other', 'ayer hecha', mx_today() - 1, 'done'),"
      " ('aaaaaaaa-1000-4000-8000-000000000010', 'other', 'ayer cancelada', mx_today() - 1,"
      "  'cancelled'),"
      " ('aaaaaaaa-1000-4000-8000-000000000010', 'other', 'sin fecha', NULL, 'open'),"
      /* Mexico City is behind UTC: a task due on the UTC date is never overdue there. */
      " ('aaaaaaaa-1000-4000-8000-000000000010', 'other', 'hoy en UTC',"
      "  (now() AT TIME ZONE 'UTC')::date, 'open')"));
  const char *base = "/v1/agencies/aaaaaaaa-1000-4000-8000-000000000010/tasks";
  char path[256], got[512];
  snprintf(path, sizeof path, "%s?overdue=true", base);
  struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  titles_of(r.json, got, sizeof got);
  cr_assert(strcmp(got, "ayer|ayer bloqueada") == 0 || strcmp(got, "ayer bloqueada|ayer") == 0,
            "%s", got);
  th_free(&r);
  snprintf(path, sizeof path, "%s?overdue=false", base);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  size_t i;
  const json_t *t;
  const char *want[] = {"hoy", "ayer hecha", "ayer cancelada", "sin fecha", "hoy en UTC"};
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 5, "%s", r.body);
  for (size_t w = 0; w < 5; w++) {
    bool found = false;
    json_array_foreach(json_object_get(r.json, "data"), i, t) {
      found |= strcmp(jstr(t, "title"), want[w]) == 0;
      cr_assert(json_is_false(json_object_get(t, "overdue")), "%s", jstr(t, "title"));
    }
    cr_assert(found, "%s missing: %s", want[w], r.body);
  }
  th_free(&r);
  /* The same answer in /v1/tasks, and the task's own overdue. */
  char *yesterday = th_sql("SELECT id FROM tasks WHERE title = 'ayer'");
  snprintf(path, sizeof path, "/v1/tasks/%s", yesterday);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert(json_is_true(json_object_get(r.json, "overdue")));
  th_free(&r);
  free(yesterday);
}

/* ------------------------------------------------------ filters and paging */

Test(tasks, filters_sort_and_cursors) {
  fixture();
  free(th_sql(
      "INSERT INTO agencies (id, name, type, level, state, status, advisor_ids) VALUES"
      " ('aaaaaaaa-1000-4000-8000-000000000020', 'Policía Filtros', 'law_enforcement',"
      "  'federal', 'MX-JAL', 'self_assessment', ARRAY['" ADVISOR "']::uuid[])"
      " ON CONFLICT DO NOTHING;"
      "INSERT INTO tasks (agency_id, kind, title, due_on, status, priority, standard_id,"
      " assignee_id) VALUES"
      " ('aaaaaaaa-1000-4000-8000-000000000020', 'training', 't1', '2030-01-10', 'open', 'high',"
      "  NULL, '" ADVISOR "'),"
      " ('aaaaaaaa-1000-4000-8000-000000000020', 'review', 't2', '2030-01-02', 'blocked', 'low',"
      "  '" LE_STANDARD "', NULL),"
      " ('aaaaaaaa-1000-4000-8000-000000000020', 'training', 't3', NULL, 'in_progress', 'normal',"
      "  NULL, NULL),"
      " ('aaaaaaaa-1000-4000-8000-000000000020', 'other', 't4', '2030-01-05', 'done', 'normal',"
      "  '" LE_STANDARD "', '" ADVISOR "')"));
  const char *base = "/v1/agencies/aaaaaaaa-1000-4000-8000-000000000020/tasks";
  struct {
    const char *query, *want;
  } cases[] = {
      {"", "t2|t4|t1|t3"},
      {"sort=-due_on", "t3|t1|t4|t2"},
      {"kind=training", "t1|t3"},
      {"kind=training&kind=review", "t2|t1|t3"},
      {"status=open&status=blocked", "t2|t1"},
      {"due_before=2030-01-05", "t2"},
      {"due_after=2030-01-05", "t1"},
      {"due_after=2030-01-01&due_before=2030-01-10", "t2|t4"},
      {"assignee_id=" ADVISOR, "t4|t1"},
      {"standard_id=" LE_STANDARD, "t2|t4"},
  };
  char path[512], got[256];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    snprintf(path, sizeof path, "%s?%s", base, cases[i].query);
    struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
    titles_of(r.json, got, sizeof got);
    cr_assert_str_eq(got, cases[i].want, "%s: %s", cases[i].query, got);
    th_free(&r);
  }
  /* Pages of two, the undated task last. */
  const char *pages[] = {"t2|t4", "t1|t3"};
  snprintf(path, sizeof path, "%s?limit=2", base);
  for (int p = 0; p < 2; p++) {
    struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
    titles_of(r.json, got, sizeof got);
    cr_assert_str_eq(got, pages[p]);
    if (p == 0)
      snprintf(path, sizeof path, "%s?limit=2&cursor=%s", base, jstr(r.json, "next_cursor"));
    else
      cr_assert(json_is_null(json_object_get(r.json, "next_cursor")));
    th_free(&r);
  }
  struct th_resp r =
      th_req("GET", "/v1/tasks?status=later&due_before=soon&sort=title", th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 400);
  cr_assert(has_error(r.json, "/query/status", "invalid_enum"));
  cr_assert(has_error(r.json, "/query/due_before", "invalid_format"));
  th_free(&r);
}

/* -------------------------------------------------------------- validation */

Test(tasks, validation) {
  fixture();
  struct th_resp r = th_req("POST", "/v1/tasks", th_admin(),
                            "{\"kind\":\"chore\",\"title\":\"\",\"due_on\":\"2024-02-30\"}", NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/agency_id", "required"));
  cr_assert(has_error(r.json, "/kind", "invalid_enum"));
  cr_assert(has_error(r.json, "/title", "too_short"));
  cr_assert(has_error(r.json, "/due_on", "invalid_format"));
  th_free(&r);
  /* A standard of another program, an unknown assignee, an unknown agency. */
  r = th_req("POST", "/v1/tasks", th_admin(),
             "{\"agency_id\":\"" AGENCY_A "\",\"kind\":\"other\",\"title\":\"x\","
             "\"standard_id\":\"" TA_STANDARD "\"}",
             NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/standard_id", "invalid"));
  th_free(&r);
  r = th_req("POST", "/v1/tasks", th_admin(),
             "{\"agency_id\":\"" AGENCY_A "\",\"kind\":\"other\",\"title\":\"x\","
             "\"assignee_id\":\"eeeeeeee-1000-4000-8000-000000000001\"}",
             NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/assignee_id", "not_assignable"));
  th_free(&r);
  r = th_req("POST", "/v1/tasks", th_admin(),
             "{\"agency_id\":\"eeeeeeee-1000-4000-8000-000000000002\",\"kind\":\"other\","
             "\"title\":\"x\"}",
             NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/agency_id", "not_found"));
  th_free(&r);
  r = th_req("POST", "/v1/agencies/" AGENCY_A "/tasks", th_admin(),
             "{\"agency_id\":\"" AGENCY_B "\",\"kind\":\"other\",\"title\":\"x\"}", NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/agency_id", "invalid"));
  th_free(&r);
  /* A task stays with its agency; a stale If-Match changes nothing. */
  char *id = create_task(AGENCY_A, "Validar", "\"standard_id\":\"" LE_STANDARD "\"");
  char path[80];
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  r = th_req("PATCH", path, th_admin(), "{\"agency_id\":\"" AGENCY_B "\"}", NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(has_error(r.json, "/agency_id", "read_only"));
  th_free(&r);
  const char *stale[] = {"If-Match: \"0000\"", NULL};
  r = th_req("PATCH", path, th_admin(), "{\"priority\":\"high\"}", stale);
  cr_assert_eq(r.status, 412);
  th_free(&r);
  r = th_req("GET", "/v1/tasks/nope", th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  free(id);
}

/* -------------------------------------------------------------------- CSV */

Test(tasks, csv_export) {
  fixture();
  free(
      th_sql("INSERT INTO agencies (id, name, type, level, state, status) VALUES"
             " ('aaaaaaaa-1000-4000-8000-000000000030', 'Academia, \"CSV\" de Querétaro',"
             "  'training_academy', 'state', 'MX-QUE', 'self_assessment') ON CONFLICT DO NOTHING;"
             "INSERT INTO tasks (agency_id, kind, title, description, due_on) VALUES"
             " ('aaaaaaaa-1000-4000-8000-000000000030', 'training', 'Capacitación, \"básica\"',"
             "  E'línea 1\\nlínea 2', '2031-01-01'),"
             " ('aaaaaaaa-1000-4000-8000-000000000030', 'other', '=SUM(A1)', NULL, '2030-01-01')"));
  const char *csv[] = {"Accept: text/csv", NULL};
  struct th_resp r = th_req("GET", "/v1/agencies/aaaaaaaa-1000-4000-8000-000000000030/tasks",
                            th_admin(), NULL, csv);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char *ct = th_header(&r, "Content-Type");
  cr_assert(ct && strncmp(ct, "text/csv", 8) == 0, "%s", ct);
  free(ct);
  cr_assert(memcmp(r.body, "\xEF\xBB\xBFid,agency_id,agency_name,", 28) == 0, "%s", r.body);
  /* Header, then the 2030 task (formula neutralised), then the 2031 one (quoted). */
  const char *second = strstr(r.body, "\r\n") + 2;
  cr_assert(strstr(second, "\"'=SUM(A1)\"") != NULL, "%s", r.body);
  cr_assert(strstr(r.body, "\"Academia, \"\"CSV\"\" de Querétaro\"") != NULL, "%s", r.body);
  cr_assert(strstr(r.body, "\"Capacitación, \"\"básica\"\"\",\"línea 1\nlínea 2\"") != NULL, "%s",
            r.body);
  cr_assert(strstr(second, "=SUM") < strstr(second, "Capacitaci"));
  cr_assert_eq(r.body[r.len - 1], '\n');
  th_free(&r);

  /* Filters apply; paging is refused; the agency user sees only its agency. */
  r = th_req("GET", "/v1/tasks?agency_id=aaaaaaaa-1000-4000-8000-000000000030&kind=training",
             th_admin(), NULL, csv);
  int rows = 0;
  for (const char *p = r.body; (p = strstr(p, "\r\n")) != NULL; p += 2)
    rows++;
  cr_assert_eq(rows, 2, "%s", r.body); /* the header and one task */
  th_free(&r);
  /* With CSV, limit caps the rows; cursors and counts belong to pages. */
  r = th_req("GET", "/v1/tasks?limit=1&sort=-due_on", th_admin(), NULL, csv);
  rows = 0;
  for (const char *p = r.body; (p = strstr(p, "\r\n")) != NULL; p += 2)
    rows++;
  cr_assert_eq(rows, 2, "%s", r.body); /* the header and one task */
  th_free(&r);
  r = th_req("GET", "/v1/tasks?count=exact&sort=nope", th_admin(), NULL, csv);
  cr_assert_eq(r.status, 400);
  cr_assert(has_error(r.json, "/query/count", "invalid"));
  cr_assert(has_error(r.json, "/query/sort", "invalid_enum"));
  th_free(&r);
  char *t = agency_user_a();
  r = th_req("GET", "/v1/tasks", t, NULL, csv);
  cr_assert(strstr(r.body, "Querétaro") == NULL);
  th_free(&r);
  free(t);
}

/* -------------------------------------------------------------------- due */

Test(tasks, due_lists_one_item_of_each_kind) {
  fixture();
  /* One agency with a bit of everything: an application three months ago (less ten days),
   * an agreement 36 months ago (less twenty days), an award a year ago (less thirty days).
   * Not a real lifecycle, but every kind of reminder at once. */
  free(th_sql(
      "INSERT INTO agencies (id, name, type, level, state, tier, status, applied_on, enrolled_on,"
      " accredited_on) VALUES ('" AGENCY_DUE "', 'Policía Vencimientos', 'law_enforcement',"
      " 'state', 'MX-SON', 'tier1', 'enrolled', mx_today() + 10 - interval '3 months',"
      " mx_today() + 20 - interval '36 months', mx_today() + 30 - interval '1 year')"
      " ON CONFLICT DO NOTHING;"
      "INSERT INTO standards (id, program, manual_version, number, chapter_number, chapter_title,"
      " title, tiers, time_sensitive, bullets) VALUES"
      " ('cccccccc-1000-4000-8000-000000000011', 'law_enforcement', '6.15', '1.1.1', 1,"
      "  '{\"es\":\"C1\"}', '{\"es\":\"Anual sin prueba\"}', '{tier1,advanced}', 'annual', '[]'),"
      " ('cccccccc-1000-4000-8000-000000000012', 'law_enforcement', '6.15', '1.1.2', 1,"
      "  '{\"es\":\"C1\"}', '{\"es\":\"Anual con prueba\"}', '{tier1,advanced}', 'annual', '[]'),"
      " ('cccccccc-1000-4000-8000-000000000013', 'law_enforcement', '6.15', '1.1.3', 1,"
      "  '{\"es\":\"C1\"}', '{\"es\":\"Bienal\"}', '{tier1,advanced}', 'biennial', '[]'),"
      " ('cccccccc-1000-4000-8000-000000000014', 'law_enforcement', '6.15', '1.1.4', 1,"
      "  '{\"es\":\"C1\"}', '{\"es\":\"No aplica\"}', '{tier1,advanced}', 'monthly', '[]'),"
      " ('cccccccc-1000-4000-8000-000000000015', 'law_enforcement', '6.15', '1.1.5', 1,"
      "  '{\"es\":\"C1\"}', '{\"es\":\"Avanzado\"}', '{advanced}', 'annual', '[]')"
      " ON CONFLICT DO NOTHING;"
      "INSERT INTO compliance (agency_id, standard_id, result, proofs) VALUES"
      " ('" AGENCY_DUE "', 'cccccccc-1000-4000-8000-000000000012', 'not_assessed',"
      "  "
      "'[{\"cycle\":0,\"cycle_year\":1,\"bullets\":[],\"title\":\"p\",\"url\":\"https://"
      "x.mx\",\"kind\":\"record\"}]'),"
      " ('" AGENCY_DUE "', 'cccccccc-1000-4000-8000-000000000014', 'not_applicable', '[]')"
      " ON CONFLICT DO NOTHING;"
      "INSERT INTO tasks (agency_id, kind, title, due_on, status) VALUES"
      " ('" AGENCY_DUE "', 'training', 'Curso pendiente', mx_today() + 5, 'open'),"
      " ('" AGENCY_DUE "', 'review', 'Revisión atrasada', mx_today() - 2, 'in_progress'),"
      " ('" AGENCY_DUE "', 'review', 'Hecha', mx_today() + 3, 'done'),"
      " ('" AGENCY_DUE "', 'review', 'Lejana', mx_today() + 200, 'open')"));
  char *t = th_token("agency", "dddddddd-1000-4000-8000-000000000003", AGENCY_DUE);
  struct th_resp r = th_req("GET", "/v1/agencies/" AGENCY_DUE "/due", t, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "days")), 90);
  char *today = th_sql("SELECT mx_today()::text");
  cr_assert_str_eq(jstr(r.json, "today"), today);
  const json_t *data = json_object_get(r.json, "data");
  static const char *const KINDS[] = {
      "task",          "proof",           "implementation_plan", "self_assessment",
      "annual_review", "continuation_fee"};
  int seen[6] = {0};
  const char *previous = "";
  size_t i;
  const json_t *item;
  json_array_foreach(data, i, item) {
    const char *kind = jstr(item, "kind"), *date = jstr(item, "date");
    cr_assert(strcmp(previous, date) <= 0, "not sorted by date: %s", r.body);
    previous = date;
    cr_assert_not_null(jstr(json_object_get(item, "reason"), "es"));
    cr_assert_not_null(jstr(json_object_get(item, "reason"), "en"));
    for (int k = 0; k < 6; k++)
      seen[k] += strcmp(kind, KINDS[k]) == 0;
    cr_assert_eq(json_is_true(json_object_get(item, "overdue")), strcmp(date, today) < 0);
    if (strcmp(kind, "proof") == 0)
      cr_assert_str_eq(jstr(item, "standard_id"), "cccccccc-1000-4000-8000-000000000011");
    if (strcmp(kind, "task") == 0)
      cr_assert_not_null(jstr(item, "task_id"));
  }
  cr_assert_eq(seen[0], 2, "tasks: %s", r.body); /* the overdue one and the one in 5 days */
  for (int k = 1; k < 6; k++)
    cr_assert_eq(seen[k], 1, "%s: %s", KINDS[k], r.body);
  cr_assert_eq(json_array_size(data), 7);
  /* The first is the overdue task. */
  cr_assert(json_is_true(json_object_get(json_array_get(data, 0), "overdue")));

  /* Each date is the one the agency's own rules give. */
  char *plan = th_sql(
      "SELECT agency_implementation_plan_due(a)::text FROM agencies a WHERE id = '" AGENCY_DUE "'");
  bool found = false;
  json_array_foreach(data, i, item) {
    found |= strcmp(jstr(item, "kind"), "implementation_plan") == 0 &&
             strcmp(jstr(item, "date"), plan) == 0;
  }
  cr_assert(found, "%s vs %s", plan, r.body);
  free(plan);
  th_free(&r);

  /* days=0: what is overdue or due today only. */
  r = th_req("GET", "/v1/agencies/" AGENCY_DUE "/due?days=0", t, NULL, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 1, "%s", r.body);
  th_free(&r);
  r = th_req("GET", "/v1/agencies/" AGENCY_DUE "/due?days=2000", t, NULL, NULL);
  cr_assert_eq(r.status, 400);
  th_free(&r);
  r = th_req("GET", "/v1/agencies/" AGENCY_DUE "/due?days=-1", t, NULL, NULL);
  cr_assert_eq(r.status, 400);
  th_free(&r);
  /* Another agency's list is not this user's: it reads as absent. */
  r = th_req("GET", "/v1/agencies/" AGENCY_A "/due", t, NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  free(today);
  free(t);
}
