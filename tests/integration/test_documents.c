/*
 * test_documents.c — the stored representations of agencies and tasks (issue "Lists as fast
 * as single reads"): after writes of every kind through the API, every stored document equals
 * a fresh render, byte for byte; and when "today" moves across a due date and an expiry, no
 * answer shows yesterday's derived values, before the midnight sweep (rendered on read) and
 * after it (stored again).
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("documents", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

#define ADVISOR "00000000-0000-4000-8000-000000000003" /* the demo advisor */

/* Documents that differ from a fresh render (as of the session's today). */
#define STALE_SQL                                                                                  \
  "SELECT (SELECT count(*) FROM agencies a WHERE a.document IS DISTINCT FROM agency_json(a)"       \
  "   OR a.public_document IS DISTINCT FROM agency_public_json(a))"                                \
  " + (SELECT count(*) FROM tasks t WHERE t.document IS DISTINCT FROM task_json(t))"

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

/* A write as admin that must succeed; returns the answer's id (malloc'd) when it has one. */
static char *must(const char *method, const char *path, const char *body, long want) {
  struct th_resp r = th_req(method, path, th_admin(), body, NULL);
  cr_assert_eq(r.status, want, "%s %s: %ld %s", method, path, r.status, r.body);
  char *id = r.json && jstr(r.json, "id") ? strdup(jstr(r.json, "id")) : NULL;
  th_free(&r);
  return id;
}

static char *date_from_today(int days) {
  char sql[96];
  snprintf(sql, sizeof sql, "SELECT (mx_today() + %d)::text", days);
  return th_sql(sql);
}

/* An accredited law-enforcement agency whose accreditation expires in `days` days. */
static char *agency_expiring_in(int days, const char *name) {
  char *applied = date_from_today(days - 4 * 365 - 400), body[400], path[128];
  snprintf(body, sizeof body,
           "{\"name\":\"%s\",\"type\":\"law_enforcement\",\"level\":\"municipal\","
           "\"state\":\"MX-JAL\",\"tier\":\"tier1\",\"applied_on\":\"%s\","
           "\"advisor_ids\":[\"" ADVISOR "\"]}",
           name, applied);
  char *id = must("POST", "/v1/agencies", body, 201);
  free(applied);
  /* The award is dated so that the four years end `days` days from today. */
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT ((mx_today() + %d) - interval '4 years')::date::text", days);
  char *awarded = th_sql(sql);
  const char *steps[] = {"approved",        "enrolled",         "self_assessment", "pre_assessment",
                         "site_assessment", "awaiting_hearing", "accredited"};
  snprintf(path, sizeof path, "/v1/agencies/%s/transitions", id);
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    char *on = i + 1 < sizeof steps / sizeof *steps ? date_from_today(days - 4 * 365 - 300 + (int)i)
                                                    : strdup(awarded);
    snprintf(body, sizeof body, "{\"to\":\"%s\",\"on\":\"%s\"}", steps[i], on);
    free(must("POST", path, body, 201));
    free(on);
  }
  free(awarded);
  return id;
}

static char *task_due_in(const char *agency, int days, const char *title) {
  char *due = date_from_today(days), body[300], path[96];
  snprintf(body, sizeof body, "{\"kind\":\"training\",\"title\":\"%s\",\"due_on\":\"%s\"}", title,
           due);
  snprintf(path, sizeof path, "/v1/agencies/%s/tasks", agency);
  char *id = must("POST", path, body, 201);
  free(due);
  return id;
}

/* Writes of every kind, many times over, from a fixed seed. */
static void write_at_random(unsigned seed) {
  srand(seed);
  char body[600], path[160], name[64];
  for (int i = 0; i < 12; i++) {
    snprintf(name, sizeof name, "Agencia Aleatoria %u-%d (prueba)", seed, i);
    char *applied = date_from_today(-(rand() % 900));
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"type\":\"%s\",\"level\":\"state\",\"state\":\"MX-OAX\","
             "\"applied_on\":\"%s\",\"ceo\":{\"name\":\"Titular %d\"},"
             "\"external_ids\":{\"npi\":\"N-%d\"},\"advisor_ids\":[\"" ADVISOR "\"]}",
             name, i % 2 ? "training_academy" : "communications_center", applied, i, i);
    free(applied);
    char *id = must("POST", "/v1/agencies", body, 201);
    snprintf(path, sizeof path, "/v1/agencies/%s", id);
    snprintf(body, sizeof body,
             "{\"website\":\"https://a%d.example.mx\",\"membership\":{\"member\":%s},"
             "\"ceo\":{\"title\":\"Director %d\"}}",
             i, rand() % 2 ? "true" : "false", i);
    free(must("PATCH", path, body, 200));
    snprintf(path, sizeof path, "/v1/agencies/%s/transitions", id);
    if (rand() % 2) {
      char *on = date_from_today(0);
      snprintf(body, sizeof body, "{\"to\":\"approved\",\"on\":\"%s\"}", on);
      free(must("POST", path, body, 201));
      free(on);
    }
    for (int k = 0; k < 3; k++) {
      char *task = task_due_in(id, rand() % 20 - 10, "Tarea aleatoria");
      snprintf(path, sizeof path, "/v1/tasks/%s", task);
      static const char *const STATUS[] = {"done", "in_progress", "cancelled", "open"};
      snprintf(body, sizeof body, "{\"status\":\"%s\",\"priority\":\"high\"}", STATUS[rand() % 4]);
      free(must("PATCH", path, body, 200));
      free(task);
    }
    free(id);
  }
  /* The member import: external ids of the demo's members, a membership changed. */
  const char *lines = "{\"membership\":{\"external_id\":\"CAISPMEX-001\","
                      "\"dues_paid_through\":\"2031-03-31\"}}\n"
                      "{\"membership\":{\"external_id\":\"CAISPMEX-031\","
                      "\"dues_paid_through\":\"2031-03-31\"}}\n";
  struct th_resp r = th_req_to(NULL, "POST", "/v1/agencies/import", th_admin(),
                               "application/x-ndjson", lines, strlen(lines), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
}

Test(documents, every_stored_document_equals_a_fresh_render) {
  cr_assert_eq(th_sql_long(STALE_SQL), 0, "after the demo data");
  write_at_random(20261204);
  cr_assert_eq(th_sql_long(STALE_SQL), 0, "after writes of every kind");
  /* The answers are the stored documents, byte for byte. */
  struct th_resp r = th_req("GET", "/v1/agencies?limit=200&q=aleatoria", th_admin(), NULL, NULL);
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(r.json, "data"), i, item) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT document FROM agencies WHERE id = '%s'", jstr(item, "id"));
    char *doc = th_sql(sql);
    cr_assert_not_null(strstr(r.body, doc), "%s is not answered as stored", jstr(item, "id"));
    free(doc);
  }
  cr_assert_eq(i, 12, "%s", r.body);
  th_free(&r);
}

Test(documents, true_across_midnight) {
  char *expiring = agency_expiring_in(2, "Policía que expira (prueba)");
  char *due = task_due_in(expiring, 1, "Vence mañana");
  char path[128];
  snprintf(path, sizeof path, "/v1/agencies/%s", expiring);
  struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_str_eq(jstr(r.json, "status"), "accredited", "%s", r.body);
  th_free(&r);

  /* Three days later: the accreditation expired yesterday, the task is overdue. Sessions
   * that start now see that date; the stored documents were rendered for the earlier one. */
  char *later = date_from_today(3), sql[256];
  snprintf(sql, sizeof sql, "ALTER DATABASE acredita_test_documents SET acredita.today = '%s'",
           later);
  free(th_sql(sql));
  cr_assert_gt(th_sql_long(STALE_SQL), 0, "stored for the earlier date");
  /* Before the sweep, a read renders afresh: agency_document() and task_document() equal a
   * fresh render for every row. */
  cr_assert_eq(
      th_sql_long("SELECT count(*) FROM agencies a"
                  " WHERE agency_document(a, 'admin', NULL) IS DISTINCT FROM agency_json(a)"
                  " OR agency_document(a, 'agency', a.id::text) IS DISTINCT FROM"
                  " agency_json(a)"
                  " OR agency_document(a, 'anonymous', NULL) IS DISTINCT FROM"
                  " agency_public_json(a)"
                  " OR agency_document(a, 'agency', NULL) IS DISTINCT FROM"
                  " agency_public_json(a)"),
      0);
  cr_assert_eq(th_sql_long("SELECT count(*) FROM tasks t"
                           " WHERE task_document(t) IS DISTINCT FROM task_json(t)"),
               0);

  /* A server started now answers with today's values, and its housekeeping stores them. */
  int port;
  const char *env[] = {"DB_POOL_SIZE=2", NULL};
  pid_t pid = th_server_spawn(th_db_url(), env, &port);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  r = th_req_to(base, "GET", path, th_admin(), NULL, NULL, 0, NULL);
  cr_assert_str_eq(jstr(r.json, "status"), "expired", "%s", r.body);
  th_free(&r);
  r = th_req_to(base, "GET", "/v1/agencies?q=expira&status=expired", NULL, NULL, NULL, 0, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 1, "public directory: %s", r.body);
  th_free(&r);
  snprintf(path, sizeof path, "/v1/tasks/%s", due);
  r = th_req_to(base, "GET", path, th_admin(), NULL, NULL, 0, NULL);
  cr_assert(json_is_true(json_object_get(r.json, "overdue")), "%s", r.body);
  th_free(&r);
  long stale = -1;
  for (int i = 0; i < 100 && stale != 0; i++) {
    usleep(100 * 1000);
    stale = th_sql_long(STALE_SQL);
  }
  cr_assert_eq(stale, 0, "the sweep stored every document again");
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agencies WHERE rendered_on <> mx_today()"
                           " AND fresh_until <= mx_today()"),
               0);
  th_server_kill(pid, SIGTERM);
  free(th_sql("ALTER DATABASE acredita_test_documents RESET acredita.today"));
  free(th_sql("SELECT documents_render_all()")); /* back to the real today for the others */
  free(later);
  free(due);
  free(expiring);
}
