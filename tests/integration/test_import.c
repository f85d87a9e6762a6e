/*
 * test_import.c — POST /v1/agencies/import (NDJSON and CSV, dry run, atomic and partial,
 * Idempotency-Key, the coalition's limits, 413, the round trip of the CSV export, audit and
 * change feed), and the streamed CSV exports of /v1/agencies and /v1/tasks (larger than one
 * batch, identical to the JSON list, a client that leaves mid-stream).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("import", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

#define COALITION_SUB "00000000-0000-4000-8000-000000000005"
#define A1 "a0000000-0000-4000-8000-000000000001"
#define NDJSON "application/x-ndjson"
#define CSV "text/csv"

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static const char *coalition(void) {
  static char *t;
  if (t == NULL)
    t = th_token("coalition", COALITION_SUB, NULL);
  return t;
}

/* POST /v1/agencies/import?query with body of content type ct. */
static struct th_resp import(const char *query, const char *ct, const char *body, const char *token,
                             const char *const *headers) {
  char path[256];
  snprintf(path, sizeof path, "/v1/agencies/import%s%s", query ? "?" : "", query ? query : "");
  return th_req_to(NULL, "POST", path, token, ct, body, strlen(body), headers);
}

/* The result of line number no in an import answer (200 or 422), or NULL. */
static json_t *line(const struct th_resp *r, int no) {
  size_t i;
  json_t *l;
  json_array_foreach(json_object_get(r->json, "lines"), i, l) {
    if (json_integer_value(json_object_get(l, "line")) == no)
      return l;
  }
  return NULL;
}

static const char *status_of(const struct th_resp *r, int no) {
  json_t *l = line(r, no);
  cr_assert_not_null(l, "no result for line %d: %s", no, r->body);
  return jstr(l, "status");
}

/* True when line no has an error at field with code. */
static bool line_has_error(const struct th_resp *r, int no, const char *field, const char *code) {
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(line(r, no), "errors"), i, e) {
    if (strcmp(jstr(e, "field"), field) == 0 && strcmp(jstr(e, "code"), code) == 0)
      return true;
  }
  return false;
}

static long count_of(const struct th_resp *r, const char *status) {
  return json_integer_value(json_object_get(json_object_get(r->json, "counts"), status));
}

/* Rows in the tables an import may write. */
struct footprint {
  long agencies, audit, changes, transitions;
};
static struct footprint footprint(void) {
  return (struct footprint){th_sql_long("SELECT count(*) FROM agencies"),
                            th_sql_long("SELECT count(*) FROM audit"),
                            th_sql_long("SELECT count(*) FROM changes"),
                            th_sql_long("SELECT count(*) FROM agency_transitions")};
}
static void assert_same_footprint(struct footprint a, struct footprint b) {
  cr_assert_eq(a.agencies, b.agencies, "agencies %ld -> %ld", a.agencies, b.agencies);
  cr_assert_eq(a.audit, b.audit, "audit %ld -> %ld", a.audit, b.audit);
  cr_assert_eq(a.changes, b.changes, "changes %ld -> %ld", a.changes, b.changes);
  cr_assert_eq(a.transitions, b.transitions, "transitions %ld -> %ld", a.transitions,
               b.transitions);
}

static long agencies_with_external_id(const char *ext) {
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM agencies WHERE membership_external_id = '%s'",
           ext);
  return th_sql_long(sql);
}

/* ------------------------------------------------------------------ NDJSON */

Test(import, ndjson_upserts_and_reports_every_line) {
  const char *body =
      "{\"name\":\"Policía de Prueba Uno (demo)\",\"type\":\"law_enforcement\","
      "\"level\":\"municipal\",\"state\":\"MX-QUE\",\"tier\":\"tier1\","
      "\"membership\":{\"member\":true,\"member_since\":\"2024-01-15\","
      "\"external_id\":\"T-NDJ-1\"}}\n"
      "\n" /* blank lines are skipped but counted */
      "{\"membership\":{\"external_id\":\"CAISPMEX-003\",\"dues_paid_through\":\"2026-06-30\"}}\r\n"
      "{\"id\":\"" A1 "\",\"acronym\":\"ASPG\"}\n"
      "not json\n"
      "{\"name\":\"\",\"type\":\"museum\",\"level\":\"state\",\"state\":\"MX-ZZZ\"}\n"
      "{\"id\":\"a0000000-0000-4000-8000-00000000ffff\",\"name\":\"Nadie\"}\n"
      "{\"membership\":{\"external_id\":\"T-NDJ-1\"}}\n";
  struct th_resp r = import("mode=partial", NDJSON, body, th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "mode"), "partial");
  cr_assert(json_is_false(json_object_get(r.json, "dry_run")));
  cr_assert_eq(json_array_size(json_object_get(r.json, "lines")), 7, "%s", r.body);
  cr_assert_str_eq(status_of(&r, 1), "created");
  cr_assert_str_eq(status_of(&r, 3), "updated");
  cr_assert_str_eq(jstr(line(&r, 3), "id"), "a0000000-0000-4000-8000-000000000003");
  cr_assert_str_eq(status_of(&r, 4), "unchanged"); /* A1's acronym is ASPG already */
  cr_assert_str_eq(status_of(&r, 5), "error");
  cr_assert(line_has_error(&r, 5, "", "invalid_type"), "%s", r.body);
  cr_assert(line_has_error(&r, 6, "/name", "too_short"), "%s", r.body);
  cr_assert(line_has_error(&r, 6, "/type", "invalid_enum"), "%s", r.body);
  cr_assert(line_has_error(&r, 6, "/state", "invalid_enum"), "%s", r.body); /* the data's */
  cr_assert(line_has_error(&r, 7, "/id", "not_found"), "%s", r.body);
  cr_assert(line_has_error(&r, 8, "/membership/external_id", "repeated"), "%s", r.body);
  cr_assert_eq(count_of(&r, "created"), 1);
  cr_assert_eq(count_of(&r, "updated"), 1);
  cr_assert_eq(count_of(&r, "unchanged"), 1);
  cr_assert_eq(count_of(&r, "error"), 4);

  /* What was written is what a GET shows, with the history of a new agency. */
  char path[128];
  snprintf(path, sizeof path, "/v1/agencies/%s", jstr(line(&r, 1), "id"));
  struct th_resp g = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(g.status, 200);
  cr_assert_str_eq(jstr(g.json, "name"), "Policía de Prueba Uno (demo)");
  cr_assert_str_eq(jstr(json_object_get(g.json, "membership"), "member_since"), "2024-01-15");
  cr_assert_str_eq(jstr(g.json, "status"), "applied");
  th_free(&g);
  g = th_req("GET", "/v1/agencies/a0000000-0000-4000-8000-000000000003", th_admin(), NULL, NULL);
  cr_assert_str_eq(jstr(json_object_get(g.json, "membership"), "dues_paid_through"), "2026-06-30");
  th_free(&g);
  th_free(&r);

  /* The same file again: nothing left to do. */
  r = import("mode=partial", NDJSON, body, th_admin(), NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(status_of(&r, 1), "unchanged");
  cr_assert_str_eq(status_of(&r, 3), "unchanged");
  th_free(&r);
}

Test(import, a_get_representation_imports_unchanged) {
  /* Read-only members equal to the stored ones are fine; a different status is not. */
  struct th_resp g =
      th_req("GET", "/v1/agencies/a0000000-0000-4000-8000-000000000005", th_admin(), NULL, NULL);
  cr_assert_eq(g.status, 200);
  char *doc = json_dumps(g.json, JSON_COMPACT);
  json_object_set_new(g.json, "status", json_string("withdrawn"));
  char *changed = json_dumps(g.json, JSON_COMPACT);
  size_t n = strlen(doc) + strlen(changed) + 4;
  char *body = malloc(n);
  snprintf(body, n, "%s\n%s\n", doc, changed);
  struct th_resp r = import("mode=partial", NDJSON, body, th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(status_of(&r, 1), "unchanged", "%s", r.body);
  cr_assert(line_has_error(&r, 2, "/status", "read_only"), "%s", r.body);
  th_free(&r);
  free(body);
  free(doc);
  free(changed);
  th_free(&g);
}

/* --------------------------------------------------------------------- CSV */

static const char *const CSV_FILE =
    "id,name,type,level,state,municipality,ceo_name,ceo_title,accreditation_manager_name,"
    "accreditation_manager_phone,advisor_ids,member,member_since,dues_paid_through,"
    "membership_external_id\r\n"
    ",\"Centro C4 de \"\"Prueba\"\", Oaxaca (demo)\",communications_center,state,MX-OAX,"
    "\"Oaxaca de Juárez\",\"José Pérez\",Director,\"Ana Núñez\",\"'+52 951 000 0000\",,TRUE,"
    "2023-05-01,2025-12-31,T-CSV-1\r\n"
    ",Academia de Prueba (demo),training_academy,state,MX-YUC,Mérida,,,,,,false,,,T-CSV-2\r\n";

Test(import, csv_with_and_without_byte_order_mark) {
  struct th_resp r = import(NULL, CSV, CSV_FILE, th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "mode"), "atomic");
  /* The header is line 1. */
  cr_assert_str_eq(status_of(&r, 2), "created");
  cr_assert_str_eq(status_of(&r, 3), "created");
  char path[128];
  snprintf(path, sizeof path, "/v1/agencies/%s", jstr(line(&r, 2), "id"));
  struct th_resp g = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_str_eq(jstr(g.json, "name"), "Centro C4 de \"Prueba\", Oaxaca (demo)");
  cr_assert_str_eq(jstr(g.json, "municipality"), "Oaxaca de Juárez");
  json_t *mgr = json_object_get(g.json, "accreditation_manager");
  /* The export's apostrophe before a formula-like text is taken off again. */
  cr_assert_str_eq(jstr(mgr, "phone"), "+52 951 000 0000");
  cr_assert_str_eq(jstr(json_object_get(g.json, "ceo"), "title"), "Director");
  cr_assert(json_is_true(json_object_get(json_object_get(g.json, "membership"), "member")));
  th_free(&g);
  snprintf(path, sizeof path, "/v1/agencies/%s", jstr(line(&r, 3), "id"));
  g = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert(json_is_null(json_object_get(g.json, "ceo")), "%s", g.body); /* empty cells */
  th_free(&g);
  th_free(&r);

  /* The same file with a byte order mark and LF line ends: the same agencies, unchanged. */
  size_t n = strlen(CSV_FILE) + 4;
  char *bom = malloc(n), *o = bom;
  o += sprintf(o, "\xEF\xBB\xBF");
  for (const char *p = CSV_FILE; *p; p++)
    if (*p != '\r')
      *o++ = *p;
  *o = '\0';
  r = import(NULL, "text/csv; charset=utf-8", bom, th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(count_of(&r, "unchanged"), 2, "%s", r.body);
  th_free(&r);
  free(bom);
  cr_assert_eq(agencies_with_external_id("T-CSV-1"), 1);

  /* A header with a column the import does not know, a row of the wrong width, a bad
   * boolean. */
  r = import(NULL, CSV, "name,colour\r\nx,y\r\n", th_admin(), NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "errors"), 0), "field"),
                   "/1/colour");
  th_free(&r);
  r = import("mode=partial", CSV, "membership_external_id,member\r\nT-CSV-2,yes\r\nT-CSV-2\r\n",
             th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert(line_has_error(&r, 2, "/membership/member", "invalid_type"), "%s", r.body);
  cr_assert(line_has_error(&r, 3, "", "invalid"), "%s", r.body);
  th_free(&r);
}

Test(import, bad_requests) {
  struct th_resp r = import(NULL, "application/json", "{}", th_admin(), NULL);
  cr_assert_eq(r.status, 415, "%s", r.body);
  th_free(&r);
  r = import(NULL, CSV, "name\r\n\xC1\xE9rida\r\n", th_admin(), NULL);
  cr_assert_eq(r.status, 400, "%s", r.body); /* Latin-1, not UTF-8 */
  th_free(&r);
  r = import("mode=all", NDJSON, "{}\n", th_admin(), NULL);
  cr_assert_eq(r.status, 400, "%s", r.body);
  th_free(&r);
  /* Other roles may not import. */
  char *t = th_token("advisor", "00000000-0000-4000-8000-000000000003", NULL);
  r = import(NULL, NDJSON, "{}\n", t, NULL);
  cr_assert_eq(r.status, 403);
  th_free(&r);
  free(t);
}

/* ------------------------------------------------------- dry run and modes */

/* Four lines: two new agencies (<prefix>-1, <prefix>-3), an update of the demo member
 * member, and a bad line 3 (<prefix>-2). Returns a static buffer. */
static const char *mixed(const char *prefix, const char *member) {
  static char body[1024];
  snprintf(body, sizeof body,
           "{\"name\":\"Modo Uno (demo)\",\"type\":\"training_academy\",\"level\":\"state\","
           "\"state\":\"MX-SON\",\"membership\":{\"external_id\":\"%s-1\"}}\n"
           "{\"membership\":{\"external_id\":\"%s\",\"dues_paid_through\":\"2030-01-31\"}}\n"
           "{\"name\":\"Modo Mal (demo)\",\"type\":\"training_academy\",\"level\":\"galactic\","
           "\"state\":\"MX-SON\",\"membership\":{\"external_id\":\"%s-2\"}}\n"
           "{\"name\":\"Modo Tres (demo)\",\"type\":\"training_academy\",\"level\":\"state\","
           "\"state\":\"MX-SON\",\"membership\":{\"external_id\":\"%s-3\"}}\n",
           prefix, member, prefix, prefix);
  return body;
}

Test(import, dry_run_changes_nothing) {
  struct footprint before = footprint();
  /* A good file: 200 with what would happen. */
  const char *good = "{\"name\":\"Seco (demo)\",\"type\":\"training_academy\",\"level\":\"state\","
                     "\"state\":\"MX-SON\",\"membership\":{\"external_id\":\"T-DRY-1\"}}\n"
                     "{\"membership\":{\"external_id\":\"CAISPMEX-007\",\"dues_paid_through\":"
                     "\"2031-01-31\"}}\n";
  struct th_resp r = import("dry_run=true", NDJSON, good, th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert(json_is_true(json_object_get(r.json, "dry_run")));
  cr_assert_str_eq(status_of(&r, 1), "created");
  cr_assert(json_is_null(json_object_get(line(&r, 1), "id")), "%s", r.body);
  cr_assert_str_eq(status_of(&r, 2), "updated");
  th_free(&r);
  /* A file with a bad line answers, in a dry run too, what the real request would. */
  r = import("dry_run=true&mode=atomic", NDJSON, mixed("T-DRY", "CAISPMEX-007"), th_admin(), NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  th_free(&r);
  r = import("dry_run=true&mode=partial", NDJSON, mixed("T-DRY", "CAISPMEX-007"), th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(count_of(&r, "created"), 2);
  th_free(&r);
  assert_same_footprint(before, footprint());
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agencies WHERE dues_paid_through = '2031-01-31'"),
               0);
}

Test(import, atomic_writes_nothing_when_one_line_is_bad) {
  struct footprint before = footprint();
  struct th_resp r =
      import("mode=atomic", NDJSON, mixed("T-ATOM", "CAISPMEX-005"), th_admin(), NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "type"), "https://acredita.dev/problems/validation");
  /* Every error as /<line><pointer>, and every line's result. */
  cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "errors"), 0), "field"), "/3/level");
  cr_assert_eq(json_array_size(json_object_get(r.json, "lines")), 4);
  cr_assert_str_eq(status_of(&r, 1), "created");
  cr_assert(json_is_null(json_object_get(line(&r, 1), "id")));
  cr_assert_str_eq(status_of(&r, 3), "error");
  th_free(&r);
  assert_same_footprint(before, footprint());
  cr_assert_eq(agencies_with_external_id("T-ATOM-1"), 0);
}

Test(import, partial_keeps_the_good_lines) {
  struct th_resp r =
      import("mode=partial", NDJSON, mixed("T-MODE", "CAISPMEX-005"), th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(status_of(&r, 1), "created");
  cr_assert_str_eq(status_of(&r, 2), "updated");
  cr_assert_str_eq(status_of(&r, 3), "error");
  cr_assert(line_has_error(&r, 3, "/level", "invalid_enum"));
  cr_assert_str_eq(status_of(&r, 4), "created");
  th_free(&r);
  cr_assert_eq(agencies_with_external_id("T-MODE-1"), 1);
  cr_assert_eq(agencies_with_external_id("T-MODE-2"), 0);
  cr_assert_eq(agencies_with_external_id("T-MODE-3"), 1);

  /* A line the database refuses (an external_id another agency holds) is kept apart too. */
  r = import(
      "mode=partial", NDJSON,
      "{\"id\":\"a0000000-0000-4000-8000-000000000009\","
      "\"membership\":{\"external_id\":\"T-MODE-1\"}}\n"
      "{\"membership\":{\"external_id\":\"T-MODE-3\",\"dues_paid_through\":\"2029-01-31\"}}\n",
      th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert(line_has_error(&r, 1, "/membership/external_id", "taken"), "%s", r.body);
  cr_assert_str_eq(status_of(&r, 2), "updated");
  th_free(&r);
}

/* ------------------------------------------------------------- idempotency */

Test(import, a_retried_upload_has_one_effect) {
  const char *body = "{\"name\":\"Reintento (demo)\",\"type\":\"training_academy\","
                     "\"level\":\"state\",\"state\":\"MX-JAL\","
                     "\"membership\":{\"external_id\":\"T-IDEM-1\"}}\n";
  const char *key[] = {"Idempotency-Key: import-retry-1", NULL};
  long audit = th_sql_long("SELECT count(*) FROM audit");
  struct th_resp a = import(NULL, NDJSON, body, th_admin(), key);
  cr_assert_eq(a.status, 200, "%s", a.body);
  struct th_resp b = import(NULL, NDJSON, body, th_admin(), key);
  cr_assert_eq(b.status, 200, "%s", b.body);
  char *replayed = th_header(&b, "Idempotent-Replayed");
  cr_assert(replayed && strcmp(replayed, "true") == 0);
  free(replayed);
  cr_assert_str_eq(a.body, b.body);
  cr_assert_str_eq(status_of(&b, 1), "created"); /* the first answer, replayed */
  th_free(&a);
  th_free(&b);
  cr_assert_eq(agencies_with_external_id("T-IDEM-1"), 1);
  cr_assert_eq(th_sql_long("SELECT count(*) FROM audit") - audit, 1);
  /* The same key on another request (a dry run of it) is refused. */
  a = import("dry_run=true", NDJSON, body, th_admin(), key);
  cr_assert_eq(a.status, 422, "%s", a.body);
  cr_assert_str_eq(jstr(a.json, "type"), "https://acredita.dev/problems/idempotency-mismatch");
  th_free(&a);
}

/* --------------------------------------------------------------- coalition */

Test(import, coalition_changes_only_membership) {
  const char *body =
      "{\"membership\":{\"external_id\":\"CAISPMEX-009\",\"dues_paid_through\":\"2027-12-31\"}}\n"
      "{\"membership\":{\"external_id\":\"CAISPMEX-011\"},\"name\":\"Otro nombre\","
      "\"ceo\":{\"title\":\"Jefe\"}}\n"
      "{\"name\":\"Nueva (demo)\",\"type\":\"training_academy\",\"level\":\"state\","
      "\"state\":\"MX-JAL\",\"membership\":{\"external_id\":\"T-COAL-NEW\"}}\n";
  struct th_resp r = import("mode=partial", NDJSON, body, coalition(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(status_of(&r, 1), "updated");
  cr_assert(line_has_error(&r, 2, "/name", "not_allowed"), "%s", r.body);
  cr_assert(line_has_error(&r, 2, "/ceo/title", "not_allowed"), "%s", r.body);
  /* It keeps the membership of agencies that exist; it does not create them. */
  cr_assert(line_has_error(&r, 3, "/membership/external_id", "not_found"), "%s", r.body);
  th_free(&r);
  cr_assert_eq(agencies_with_external_id("T-COAL-NEW"), 0);
  cr_assert_eq(
      th_sql_long("SELECT count(*) FROM agencies WHERE membership_external_id = 'CAISPMEX-009'"
                  " AND dues_paid_through = '2027-12-31'"),
      1);
  /* Members equal to the stored ones are no change, so the coalition may send them. */
  struct th_resp g = th_req("GET", "/v1/agencies?member=true&limit=1", coalition(), NULL, NULL);
  char *doc = json_dumps(json_array_get(json_object_get(g.json, "data"), 0), JSON_COMPACT);
  char *nd = malloc(strlen(doc) + 2);
  sprintf(nd, "%s\n", doc);
  r = import(NULL, NDJSON, nd, coalition(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(status_of(&r, 1), "unchanged");
  th_free(&r);
  free(nd);
  free(doc);
  th_free(&g);

  /* A machine client needs agencies:write. */
  char *reader =
      th_client_token("coalition", "c0000000-0000-4000-8000-0000000000c1", "agencies:read");
  r = import(NULL, NDJSON, "{}\n", reader, NULL);
  cr_assert_eq(r.status, 403);
  char *www = th_header(&r, "WWW-Authenticate");
  cr_assert(www && strstr(www, "insufficient_scope"));
  free(www);
  th_free(&r);
  free(reader);
  char *writer = th_client_token("coalition", "c0000000-0000-4000-8000-0000000000c1",
                                 "agencies:read agencies:write");
  r = import(NULL, NDJSON,
             "{\"membership\":{\"external_id\":\"CAISPMEX-009\","
             "\"dues_paid_through\":\"2027-12-31\"}}\n",
             writer, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(status_of(&r, 1), "unchanged");
  th_free(&r);
  free(writer);
}

/* ------------------------------------------------------------------ limits */

Test(import, limits_answer_413) {
  th_set_timeout(300); /* 16 MiB up and 10,000 lines back, under valgrind too */
  /* 10,001 lines. */
  size_t n = 10001 * 3 + 1;
  char *body = malloc(n);
  for (size_t i = 0; i < 10001; i++)
    memcpy(body + i * 3, "{}\n", 3);
  body[10001 * 3] = '\0';
  struct th_resp r = import(NULL, NDJSON, body, th_admin(), NULL);
  cr_assert_eq(r.status, 413, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "type"), "https://acredita.dev/problems/payload-too-large");
  th_free(&r);
  /* 10,000 lines are fine (each is an error here: {} names no agency and has no name). */
  body[10000 * 3] = '\0';
  r = import("dry_run=true&mode=partial", NDJSON, body, th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%.300s", r.body);
  cr_assert_eq(json_array_size(json_object_get(r.json, "lines")), 10000);
  th_free(&r);
  free(body);
  /* More than 16 MiB. */
  n = 16 * 1024 * 1024 + 2;
  body = malloc(n);
  memset(body, ' ', n - 1);
  body[n - 1] = '\0';
  r = import(NULL, NDJSON, body, th_admin(), NULL);
  cr_assert_eq(r.status, 413, "%.300s", r.body);
  th_free(&r);
  free(body);
}

Test(import, lines_across_chunks) {
  /* 1,200 new agencies (the service handles 500 lines at a time), then line 1's external_id
   * again: repeated, though its agency was created in another chunk. */
  size_t cap = 1300 * 160;
  char *body = malloc(cap), *o = body;
  for (int i = 1; i <= 1201; i++)
    o += sprintf(o,
                 "{\"name\":\"Lote %d (demo)\",\"type\":\"training_academy\","
                 "\"level\":\"state\",\"state\":\"MX-HID\","
                 "\"membership\":{\"external_id\":\"T-CHUNK-%04d\"}}\n",
                 i, i == 1201 ? 1 : i);
  struct footprint before = footprint();
  struct th_resp r = import("mode=partial&dry_run=true", NDJSON, body, th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%.300s", r.body);
  cr_assert_eq(count_of(&r, "created"), 1200, "%.300s", r.body);
  cr_assert(line_has_error(&r, 1201, "/membership/external_id", "repeated"));
  th_free(&r);
  assert_same_footprint(before, footprint());
  r = import("mode=partial", NDJSON, body, th_admin(), NULL);
  cr_assert_eq(count_of(&r, "created"), 1200, "%.300s", r.body);
  cr_assert(line_has_error(&r, 1201, "/membership/external_id", "repeated"));
  th_free(&r);
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agencies WHERE membership_external_id LIKE "
                           "'T-CHUNK-%'"),
               1200);
  free(body);
}

/* -------------------------------------------------- the CAISPMEX round trip */

static struct th_resp export_members(const char *token) {
  const char *accept[] = {"Accept: text/csv", NULL};
  return th_req("GET", "/v1/agencies?member=true", token, NULL, accept);
}

Test(import, csv_export_round_trips_unchanged) {
  struct th_resp e = export_members(th_admin());
  cr_assert_eq(e.status, 200);
  cr_assert(e.len > 3 && memcmp(e.body, "\xEF\xBB\xBF", 3) == 0);
  long members = th_sql_long("SELECT count(*) FROM agencies WHERE member");
  cr_assert_gt(members, 30);
  struct footprint before = footprint();
  struct th_resp r = import(NULL, CSV, e.body, th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%.500s", r.body);
  cr_assert_eq(count_of(&r, "unchanged"), members, "%.800s", r.body);
  cr_assert_eq(json_array_size(json_object_get(r.json, "lines")), (size_t)members);
  cr_assert_str_eq(status_of(&r, 2), "unchanged"); /* the header is line 1 */
  th_free(&r);
  assert_same_footprint(before, footprint());
  /* The coalition's own export too. */
  struct th_resp c = export_members(coalition());
  r = import(NULL, CSV, c.body, coalition(), NULL);
  cr_assert_eq(r.status, 200, "%.500s", r.body);
  cr_assert_eq(count_of(&r, "unchanged"), members);
  th_free(&r);
  th_free(&c);

  /* One edited cell in the spreadsheet: that line is updated, the rest unchanged. */
  char *edited = strdup(e.body);
  char *row = strstr(edited, "\"" A1 "\"");
  cr_assert_not_null(row);
  char *hit = strstr(row, "\"2027-03-31\""); /* A1's dues_paid_through (demo data) */
  cr_assert(hit != NULL && hit < strstr(row, "\r\n"));
  memcpy(hit + 1, "2028", 4);
  r = import(NULL, CSV, edited, coalition(), NULL);
  cr_assert_eq(r.status, 200, "%.500s", r.body);
  cr_assert_eq(count_of(&r, "updated"), 1);
  cr_assert_eq(count_of(&r, "unchanged"), members - 1);
  th_free(&r);
  free(edited);
  struct th_resp g = th_req("GET", "/v1/agencies/" A1, th_admin(), NULL, NULL);
  cr_assert_str_eq(jstr(json_object_get(g.json, "membership"), "dues_paid_through"), "2028-03-31");
  th_free(&g);
  th_free(&e);
}

/* ----------------------------------------------------- audit and the feed */

Test(import, every_change_is_audited_and_in_the_feed) {
  char *inl = th_token("inl", "00000000-0000-4000-8000-000000000002", NULL);
  struct th_resp f = th_req("GET", "/v1/changes?resource=agency&after=now", inl, NULL, NULL);
  cr_assert_eq(f.status, 200);
  char q[1024];
  snprintf(q, sizeof q, "/v1/changes?resource=agency&after=%s", jstr(f.json, "next_cursor"));
  th_free(&f);

  struct th_resp r =
      import("mode=partial", NDJSON,
             "{\"name\":\"Feed (demo)\",\"type\":\"training_academy\",\"level\":\"state\","
             "\"state\":\"MX-PUE\",\"membership\":{\"external_id\":\"T-FEED-1\"}}\n"
             "{\"membership\":{\"external_id\":\"CAISPMEX-013\",\"member_since\":\"2019-04-01\"}}\n"
             "{\"membership\":{\"external_id\":\"CAISPMEX-015\"}}\n",
             th_admin(), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  const char *created = jstr(line(&r, 1), "id"), *updated = jstr(line(&r, 2), "id");
  cr_assert_str_eq(status_of(&r, 2), "updated");
  cr_assert_str_eq(status_of(&r, 3), "unchanged");

  f = th_req("GET", q, inl, NULL, NULL);
  cr_assert_eq(f.status, 200, "%s", f.body);
  json_t *data = json_object_get(f.json, "data");
  cr_assert_eq(json_array_size(data), 2, "%s", f.body);
  cr_assert_str_eq(jstr(json_array_get(data, 0), "id"), created);
  cr_assert_str_eq(jstr(json_array_get(data, 0), "action"), "created");
  cr_assert_str_eq(jstr(json_array_get(data, 1), "id"), updated);
  cr_assert_str_eq(jstr(json_array_get(data, 1), "action"), "updated");
  cr_assert_str_eq(
      json_string_value(json_array_get(json_object_get(json_array_get(data, 1), "changed"), 0)),
      "membership");
  th_free(&f);

  char path[256];
  /* (newest first: a demo agency's history starts with the seed's entries) */
  snprintf(path, sizeof path, "/v1/audit?resource=agency&id=%s&sort=-at", updated);
  f = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(f.status, 200, "%s", f.body);
  json_t *entry = json_array_get(json_object_get(f.json, "data"), 0);
  cr_assert_str_eq(jstr(entry, "action"), "updated");
  cr_assert_str_eq(jstr(entry, "role"), "admin");
  cr_assert_not_null(json_object_get(json_object_get(entry, "changes"), "membership"), "%s",
                     f.body);
  th_free(&f);
  snprintf(path, sizeof path, "/v1/audit?resource=agency&id=%s", created);
  f = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_str_eq(jstr(json_array_get(json_object_get(f.json, "data"), 0), "action"), "created");
  th_free(&f);
  th_free(&r);
  free(inl);
}

/* ----------------------------------------------------- streamed CSV export */

/* Agencies and tasks enough for several batches of the stream (1,000 rows each); the names
 * carry accents and CSV's special characters. Safe to call again. */
#define BULK 2600
static void bulk_data(void) {
  free(th_sql("INSERT INTO agencies (name, type, level, state, municipality, ceo)"
              " SELECT 'Carga ' || lpad(g::text, 5, '0') || ', \"Querétaro\" Sección Ñ (demo)',"
              "  'training_academy', 'state', 'MX-QUE', 'Santiago de Querétaro',"
              "  jsonb_build_object('name', 'José Ángel Núñez', 'title', '=Director')"
              " FROM generate_series(1, 2600) g"
              " WHERE NOT EXISTS (SELECT 1 FROM agencies WHERE name LIKE 'Carga 00001%')"));
  free(th_sql("INSERT INTO tasks (agency_id, kind, title, due_on)"
              " SELECT 'a0000000-0000-4000-8000-000000000002', 'other',"
              "  'Tarea de carga ' || g || ' — revisión', date '2030-01-01' + g % 400"
              " FROM generate_series(1, 2300) g"
              " WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE title LIKE 'Tarea de carga %')"));
}

/* Splits CSV text (after the byte order mark) into records of cells. */
static json_t *parse_csv(const char *s, size_t len) {
  json_t *rows = json_array(), *row = json_array();
  char *cell = malloc(len + 1);
  size_t n = 0;
  bool quoted = false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < len && s[i + 1] == '"') {
        cell[n++] = '"';
        i++;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell[n++] = c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',' || (c == '\r' && i + 1 < len && s[i + 1] == '\n')) {
      json_array_append_new(row, json_stringn(cell, n));
      n = 0;
      if (c == '\r') {
        json_array_append_new(rows, row);
        row = json_array();
        i++;
      }
    } else {
      cell[n++] = c;
    }
  }
  free(cell);
  json_decref(row);
  return rows;
}

/* Every item of a JSON list, following next_cursor (limit 200). */
static json_t *json_list(const char *path) {
  json_t *all = json_array();
  char url[2048];
  snprintf(url, sizeof url, "%s&limit=200", path);
  for (;;) {
    struct th_resp r = th_req("GET", url, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_array_extend(all, json_object_get(r.json, "data"));
    const char *next = jstr(r.json, "next_cursor");
    if (next == NULL) {
      th_free(&r);
      break;
    }
    snprintf(url, sizeof url, "%s&limit=200&cursor=%s", path, next);
    th_free(&r);
  }
  return all;
}

/* Checks that the CSV export of path has the rows of its JSON list, in order: column
 * `column` of each record equals member `member` of each item. */
static void assert_csv_matches_json(const char *path, const char *column, const char *member,
                                    size_t at_least) {
  const char *accept[] = {"Accept: text/csv", NULL};
  struct th_resp r = th_req("GET", path, th_admin(), NULL, accept);
  cr_assert_eq(r.status, 200, "%.300s", r.body);
  char *te = th_header(&r, "Transfer-Encoding");
  cr_assert(te && strstr(te, "chunked"));
  free(te);
  cr_assert(memcmp(r.body, "\xEF\xBB\xBF", 3) == 0);
  cr_assert_eq(r.body[r.len - 1], '\n');
  json_t *rows = parse_csv(r.body + 3, r.len - 3);
  json_t *items = json_list(path);
  cr_assert_geq(json_array_size(items), at_least);
  cr_assert_eq(json_array_size(rows), json_array_size(items) + 1, "%zu CSV rows, %zu items",
               json_array_size(rows) - 1, json_array_size(items));
  json_t *header = json_array_get(rows, 0);
  size_t col = 0, id_col = 0;
  for (size_t i = 0; i < json_array_size(header); i++) {
    if (strcmp(json_string_value(json_array_get(header, i)), column) == 0)
      col = i;
    if (strcmp(json_string_value(json_array_get(header, i)), "id") == 0)
      id_col = i;
  }
  for (size_t i = 0; i < json_array_size(items); i++) {
    json_t *row = json_array_get(rows, i + 1), *item = json_array_get(items, i);
    cr_assert_eq(json_array_size(row), json_array_size(header), "row %zu", i);
    cr_assert_str_eq(json_string_value(json_array_get(row, id_col)), jstr(item, "id"), "row %zu",
                     i);
    cr_assert_str_eq(json_string_value(json_array_get(row, col)), jstr(item, member), "row %zu", i);
  }
  json_decref(rows);
  json_decref(items);
  th_free(&r);
}

Test(import, csv_export_streams_more_than_a_batch) {
  bulk_data();
  assert_csv_matches_json("/v1/agencies?q=carga&sort=-name", "name", "name", BULK);
  assert_csv_matches_json("/v1/agencies?q=carga&sort=created_at", "name", "name", BULK);
  assert_csv_matches_json("/v1/tasks?agency_id=a0000000-0000-4000-8000-000000000002&sort=due_on",
                          "title", "title", 2300);
  /* Accents and the formula guard come through. */
  const char *accept[] = {"Accept: text/csv", NULL};
  struct th_resp r = th_req("GET", "/v1/agencies?q=carga%2000042", th_admin(), NULL, accept);
  cr_assert(strstr(r.body, "\"Carga 00042, \"\"Querétaro\"\" Sección Ñ (demo)\"") != NULL, "%s",
            r.body);
  cr_assert(strstr(r.body, "\"José Ángel Núñez\",\"'=Director\"") != NULL, "%s", r.body);
  th_free(&r);
  /* An empty export is the header alone. */
  r = th_req("GET", "/v1/agencies?q=nadaquecoincida", th_admin(), NULL, accept);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(strstr(r.body, "\r\n") + 2, r.body + r.len, "%s", r.body);
  th_free(&r);
}

/* Enough rows (30,000 of some 220 bytes) that an export cannot sit whole in the sockets'
 * buffers: a client that stops reading holds it open. Safe to call again. */
static void padding_data(void) {
  free(th_sql("INSERT INTO agencies (name, type, level, state)"
              " SELECT 'Relleno ' || g || ' ' || repeat('x', 200) || ' (demo)', 'training_academy',"
              "  'state', 'MX-QUE' FROM generate_series(1, 30000) g"
              " WHERE NOT EXISTS (SELECT 1 FROM agencies WHERE name LIKE 'Relleno %')"));
}

/* Asks for a CSV export of every agency over a raw socket with a small receive buffer and
 * reads its first bytes (the answer has begun); returns the socket, unread from then on. */
static int start_export(int port, const char *token) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  cr_assert_eq(connect(s, (struct sockaddr *)&a, sizeof a), 0);
  char req[2048];
  int n = snprintf(req, sizeof req,
                   "GET /v1/agencies?format=csv HTTP/1.1\r\nHost: test\r\n"
                   "Authorization: Bearer %s\r\n\r\n",
                   token);
  cr_assert_eq(write(s, req, (size_t)n), n);
  char buf[64];
  ssize_t got = read(s, buf, sizeof buf - 1);
  cr_assert_gt(got, 0);
  buf[got] = '\0';
  cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
  return s;
}

/* Leaves with a reset, mid-stream. */
static void leave(int s) {
  struct linger hard = {1, 0};
  setsockopt(s, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  close(s);
}

static long metric(const char *base, const char *name) {
  struct th_resp m = th_req_to(base, "GET", "/metrics", NULL, NULL, NULL, 0, NULL);
  char key[128];
  snprintf(key, sizeof key, "\n%s ", name);
  const char *at = m.body ? strstr(m.body, key) : NULL;
  long v = at ? atol(at + strlen(key)) : -1;
  th_free(&m);
  return v;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(import, exports_past_the_cap_answer_503_and_ordinary_requests_do_not_wait) {
  th_set_timeout(300);
  padding_data();
  const char *env[] = {"DB_POOL_SIZE=1", "CSV_EXPORTS_MAX=1", NULL};
  int port;
  pid_t pid = th_server_spawn(th_db_url(), env, &port);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);

  /* One export streaming, its client not reading: it holds its place and its connection. */
  int held = start_export(port, th_admin());
  cr_assert_eq(metric(base, "acredita_csv_exports_active"), 1);

  /* One more is refused at once, as JSON or CSV asked for either way. */
  const char *accept[] = {"Accept: text/csv", NULL};
  struct th_resp r =
      th_req_to(base, "GET", "/v1/agencies?state=MX-QUE", th_admin(), NULL, NULL, 0, accept);
  th_assert_problem(&r, 503, "unavailable");
  char *retry = th_header(&r, "Retry-After");
  cr_assert_not_null(retry);
  cr_assert_gt(atoi(retry), 0);
  free(retry);
  cr_assert(strstr(th_str(r.json, "detail"), "CSV exports") != NULL, "%s", r.body);
  th_free(&r);
  r = th_req_to(base, "GET", "/v1/tasks?format=csv", th_admin(), NULL, NULL, 0, NULL);
  th_assert_problem(&r, 503, "unavailable");
  th_free(&r);
  cr_assert_eq(metric(base, "acredita_csv_exports_refused_total"), 2);

  /* Ordinary requests take the one ordinary connection, never the export's, and do not wait. */
  for (int i = 0; i < 5; i++) {
    double t0 = now_s();
    r = th_req_to(base, "GET", "/v1/agencies/" A1, th_admin(), NULL, NULL, 0, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_free(&r);
    r = th_req_to(base, "GET", "/v1/agencies?limit=5", th_admin(), NULL, NULL, 0, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_free(&r);
    r = th_req_to(base, "GET", "/healthz", NULL, NULL, NULL, 0, NULL);
    cr_assert_eq(r.status, 200);
    th_free(&r);
    /* HTTP_DB_WAIT_MS is far shorter: a request that had waited for a connection would have
     * answered 503 instead. */
    cr_assert_lt(now_s() - t0, 10.0);
  }
  cr_assert_eq(metric(base, "acredita_db_pool_waiting"), 0);

  /* The client leaves mid-stream: the place is free again, and the next export streams. */
  leave(held);
  long active = 1;
  for (int waited = 0; waited < 100 && (active = metric(base, "acredita_csv_exports_active")) != 0;
       waited++)
    usleep(100 * 1000);
  cr_assert_eq(active, 0);
  r = th_req_to(base, "GET", "/v1/agencies?format=csv&limit=10", th_admin(), NULL, NULL, 0, NULL);
  cr_assert_eq(r.status, 200, "%.300s", r.body);
  th_free(&r);
  cr_assert_eq(metric(base, "acredita_csv_exports_active"), 0);
  th_server_kill(pid, SIGTERM);
}

/* Asks for a CSV export over a raw socket, reads a little, and leaves with a reset. */
static void leave_mid_stream(int port, const char *token) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  cr_assert_eq(connect(s, (struct sockaddr *)&a, sizeof a), 0);
  char req[2048];
  int n = snprintf(req, sizeof req,
                   "GET /v1/agencies HTTP/1.1\r\nHost: test\r\nAccept: text/csv\r\n"
                   "Authorization: Bearer %s\r\n\r\n",
                   token);
  cr_assert_eq(write(s, req, (size_t)n), n);
  char buf[2048];
  cr_assert_gt(read(s, buf, sizeof buf), 0);
  struct linger hard = {1, 0};
  setsockopt(s, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  close(s);
}

struct fetch {
  const char *base;
  long status;
  size_t len;
};
static void *fetch_csv(void *arg) {
  struct fetch *f = arg;
  const char *accept[] = {"Accept: text/csv", NULL};
  struct th_resp r = th_req_to(f->base, "GET", "/v1/agencies", th_admin(), NULL, NULL, 0, accept);
  f->status = r.status;
  f->len = r.len;
  th_free(&r);
  return NULL;
}

Test(import, a_client_leaving_mid_stream_gives_its_connection_back) {
  /* Two exports of some 7 MB at once below: minutes under valgrind on a busy machine. */
  th_set_timeout(300);
  bulk_data();
  padding_data();
  char log[] = "/tmp/acredita-import-stream-XXXXXX";
  int fd = mkstemp(log);
  close(fd);
  char logenv[128];
  snprintf(logenv, sizeof logenv, "TH_STDERR=%s", log);
  const char *env[] = {"DB_POOL_SIZE=2", "LOG_LEVEL=info", logenv, NULL};
  int port;
  pid_t pid = th_server_spawn(th_db_url(), env, &port);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  for (int i = 0; i < 4; i++)
    leave_mid_stream(port, th_admin());
  usleep(300 * 1000);

  /* Both connections are back and usable: two exports at once, and ordinary requests. */
  struct th_resp m = th_req_to(base, "GET", "/metrics", NULL, NULL, NULL, 0, NULL);
  cr_assert(strstr(m.body, "acredita_db_pool_in_use 0\n") != NULL, "%s", m.body);
  cr_assert(strstr(m.body, "acredita_csv_exports_active 0\n") != NULL, "%s", m.body);
  th_free(&m);
  struct fetch f[2] = {{base, 0, 0}, {base, 0, 0}};
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, fetch_csv, &f[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(f[i].status, 200);
    cr_assert_gt(f[i].len, 30000u * 200u);
    cr_assert_eq(f[i].len, f[0].len);
  }
  for (int i = 0; i < 5; i++) {
    struct th_resp r = th_req_to(base, "GET", "/v1/agencies/" A1, th_admin(), NULL, NULL, 0, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_free(&r);
  }
  m = th_req_to(base, "GET", "/metrics", NULL, NULL, NULL, 0, NULL);
  cr_assert(strstr(m.body, "acredita_db_pool_in_use 0\n") != NULL, "%s", m.body);
  th_free(&m);
  th_server_kill(pid, SIGTERM);

  /* The clients did leave mid-stream, and the access log has the streamed requests. */
  FILE *lf = fopen(log, "r");
  cr_assert_not_null(lf);
  char text[1 << 16];
  size_t n = fread(text, 1, sizeof text - 1, lf);
  text[n] = '\0';
  fclose(lf);
  unlink(log);
  cr_assert(strstr(text, "CSV stream ended early") != NULL, "%s", text);
  cr_assert(strstr(text, "\"GET /v1/agencies\" 200 -1 ") != NULL, "%s", text);
  /* Under the sanitizers, the server's exit report lands here too. */
  cr_assert(strstr(text, "Sanitizer") == NULL, "%s", text);
}
