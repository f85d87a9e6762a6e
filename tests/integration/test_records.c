/*
 * test_records.c — safe records and the program's own rules (issue 15), on the demo data:
 * records with history are archived, restored and only erased without it; the demo's history
 * is in the audit and the change feed; each agency keeps the manual version it adopted;
 * proofs belong to an accreditation cycle; reporting follows the protocol, with monthly
 * reporting requests; the implementation plan's submission is recorded; agency users see
 * other agencies' public views; enum filters answer 400; every field error comes at once.
 *
 * Each test makes the records it changes, so that the tests do not depend on one another.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("records", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

/* Demo records: agency 1 (the demo agency user's, Guanajuato), agency 3 (Querétaro, in the
 * public directory), the demo advisor, and an advisor not assigned to the test agencies. */
#define A1 "a0000000-0000-4000-8000-000000000001"
#define A3 "a0000000-0000-4000-8000-000000000003"
#define ADVISOR_ID "00000000-0000-4000-8000-000000000003"
#define OTHER_ADVISOR_ID "00000000-0000-4000-8000-000000000118"

/* A token of the role named (demo accounts), or NULL for an anonymous caller. */
static const char *tok(const char *who) {
  static char *inl, *advisor, *advisor2, *agency, *partner;
  if (who == NULL)
    return NULL;
  if (strcmp(who, "inl") == 0)
    return inl ? inl : (inl = th_token("inl", "00000000-0000-4000-8000-000000000002", NULL));
  if (strcmp(who, "advisor") == 0)
    return advisor ? advisor : (advisor = th_token("advisor", ADVISOR_ID, NULL));
  if (strcmp(who, "advisor2") == 0)
    return advisor2 ? advisor2 : (advisor2 = th_token("advisor", OTHER_ADVISOR_ID, NULL));
  if (strcmp(who, "agency") == 0)
    return agency ? agency
                  : (agency = th_token("agency", "00000000-0000-4000-8000-000000000004", A1));
  if (strcmp(who, "partner") == 0)
    return partner ? partner
                   : (partner = th_token("partner", "00000000-0000-4000-8000-000000000006", NULL));
  return strcmp(who, "admin") == 0 ? th_admin() : NULL;
}

/* A request to fmt with its one "%s" replaced by arg; the caller th_frees the answer. */
static struct th_resp reqf(const char *method, const char *fmt, const char *arg, const char *who,
                           const char *body) {
  char path[512];
  const char *hole = strstr(fmt, "%s");
  snprintf(path, sizeof path, "%.*s%s%s", (int)(hole - fmt), fmt, arg, hole + 2);
  return th_req(method, path, tok(who), body, NULL);
}

/* The same, expecting status; returns the answer's JSON (json_decref it). */
static json_t *expect(long status, const char *method, const char *fmt, const char *arg,
                      const char *who, const char *body) {
  struct th_resp r = reqf(method, fmt, arg, who, body);
  cr_assert_eq(r.status, status, "%s %s as %s: %ld, want %ld: %s", method, fmt, who, r.status,
               status, r.body);
  json_t *doc = json_incref(r.json);
  th_free(&r);
  return doc;
}

/* A new agency (admin) advised and regionally managed by the demo advisor; its id. */
static char *new_agency(const char *name, const char *type, const char *applied_on) {
  char body[768];
  snprintf(body, sizeof body,
           "{\"name\":\"%s\",\"type\":\"%s\",\"level\":\"state\",\"state\":\"MX-QUE\","
           "\"applied_on\":\"%s\",\"regional_manager_id\":\"" ADVISOR_ID "\","
           "\"advisor_ids\":[\"" ADVISOR_ID "\"]%s}",
           name, type, applied_on,
           strcmp(type, "law_enforcement") == 0 ? ",\"tier\":\"tier1\"" : "");
  json_t *a = expect(201, "POST", "%s", "/v1/agencies", "admin", body);
  char *id = strdup(th_str(a, "id"));
  json_decref(a);
  return id;
}

/* Moves the agency (admin) to each "status:date" step in turn. */
static void walk(const char *id, const char *const *steps) {
  for (size_t i = 0; steps[i] != NULL; i++) {
    char body[256];
    const char *colon = strchr(steps[i], ':');
    snprintf(body, sizeof body, "{\"to\":\"%.*s\",\"on\":\"%s\",\"note\":\"prueba\"}",
             (int)(colon - steps[i]), steps[i], colon + 1);
    json_decref(expect(201, "POST", "/v1/agencies/%s/transitions", id, "admin", body));
  }
}

static const char *const TO_ENROLLED[] = {"approved:2024-02-01", "enrolled:2024-03-01", NULL};
static const char *const TO_SELF_ASSESSMENT[] = {"self_assessment:2024-03-15", NULL};
static const char *const TO_ACCREDITED[] = {
    "pre_assessment:2025-01-20", "site_assessment:2025-03-03", "awaiting_hearing:2025-04-07",
    "accredited:2025-05-05", NULL};

static char *today(int days_from_now) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT (mx_today() + %d)::text", days_from_now);
  return th_sql(sql);
}

/* The first audit entry of the resource with action, newest first (json_decref it). */
static json_t *audit_entry(const char *resource, const char *id, const char *action) {
  char path[256];
  snprintf(path, sizeof path, "/v1/audit?resource=%s&id=%s&sort=-at&limit=200", resource, id);
  struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  size_t i;
  json_t *e, *found = NULL;
  json_array_foreach(json_object_get(r.json, "data"), i, e) {
    if (found == NULL && strcmp(th_str(e, "action"), action) == 0)
      found = json_incref(e);
  }
  th_free(&r);
  cr_assert_not_null(found, "no %s entry for %s %s", action, resource, id);
  return found;
}

/* ------------------------------------------------------- records are kept */

/* The change feed's end, for reading what comes after it. */
static char *feed_end(void) {
  json_t *page = expect(200, "GET", "%s", "/v1/changes?after=now", "partner", NULL);
  char *cursor = strdup(th_str(page, "next_cursor"));
  json_decref(page);
  return cursor;
}

/* The actions of the partner's feed rows about id after cursor, comma-separated (malloc'd). */
static char *feed_actions_since(const char *cursor, const char *id) {
  char path[512];
  snprintf(path, sizeof path, "/v1/changes?limit=1000&after=%s", cursor);
  json_t *page = expect(200, "GET", "%s", path, "partner", NULL);
  char out[512] = "";
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(page, "data"), i, e) {
    if (strcmp(th_str(e, "id"), id) == 0) {
      size_t used = strlen(out);
      snprintf(out + used, sizeof out - used, "%s%s", used ? "," : "", th_str(e, "action"));
    }
  }
  json_decref(page);
  return strdup(out);
}

Test(records, an_agency_is_archived_restored_and_erased_only_without_history) {
  char *id = new_agency("Academia Archivable (prueba)", "training_academy", "2024-01-08");
  char *cursor = feed_end();

  /* DELETE archives: gone from reads and lists, a tombstone in the feed */
  json_decref(expect(204, "DELETE", "/v1/agencies/%s", id, "admin", NULL));
  json_decref(expect(404, "GET", "/v1/agencies/%s", id, "admin", NULL));
  json_decref(expect(404, "GET", "/v1/agencies/%s", id, "inl", NULL));
  json_decref(expect(404, "PATCH", "/v1/agencies/%s", id, "admin", "{\"acronym\":\"X\"}"));
  json_decref(expect(404, "DELETE", "/v1/agencies/%s", id, "admin", NULL));
  json_decref(
      expect(404, "POST", "/v1/agencies/%s/transitions", id, "admin", "{\"to\":\"approved\"}"));
  json_t *list = expect(200, "GET", "/v1/agencies?q=%s&count=exact", "Archivable", "admin", NULL);
  cr_assert_eq(json_integer_value(json_object_get(list, "total")), 0);
  json_decref(list);
  list = expect(200, "GET", "/v1/agencies?q=%s&archived=true&count=exact", "Archivable", "admin",
                NULL);
  cr_assert_eq(json_integer_value(json_object_get(list, "total")), 1);
  json_decref(list);
  /* only admin reads archived records */
  struct th_resp r = reqf("GET", "/v1/agencies/%s?archived=true", id, "inl", NULL);
  th_assert_problem(&r, 400, "invalid-query");
  cr_assert(th_has_error(&r, "/query/archived", "not_allowed"), "%s", r.body);
  th_free(&r);
  json_t *a = expect(200, "GET", "/v1/agencies/%s?archived=true", id, "admin", NULL);
  cr_assert_not_null(th_str(a, "archived_at"));
  json_decref(a);
  json_t *e = audit_entry("agency", id, "archived");
  cr_assert_str_eq(th_str(e, "role"), "admin");
  json_decref(e);
  char *actions = feed_actions_since(cursor, id);
  cr_assert_str_eq(actions, "deleted", "the partner's feed shows a tombstone");
  free(actions);

  /* restored by admin, audited, back in the feed */
  json_decref(expect(403, "POST", "/v1/agencies/%s/restore", id, "inl", NULL));
  a = expect(200, "POST", "/v1/agencies/%s/restore", id, "admin", NULL);
  cr_assert(json_is_null(json_object_get(a, "archived_at")));
  json_decref(a);
  json_decref(expect(409, "POST", "/v1/agencies/%s/restore", id, "admin", NULL));
  json_decref(audit_entry("agency", id, "restored"));
  actions = feed_actions_since(cursor, id);
  cr_assert_str_eq(actions, "deleted,created");
  free(actions);

  /* erasure needs a reason, admin, and no history */
  r = reqf("POST", "/v1/agencies/%s/erasure", id, "admin", "{}");
  th_assert_problem(&r, 422, "validation");
  cr_assert(th_has_error(&r, "/reason", "required"), "%s", r.body);
  th_free(&r);
  json_decref(expect(403, "POST", "/v1/agencies/%s/erasure", id, "advisor",
                     "{\"reason\":\"creada por error\"}"));
  json_decref(expect(204, "POST", "/v1/agencies/%s/erasure", id, "admin",
                     "{\"reason\":\"creada por error\"}"));
  json_decref(expect(404, "GET", "/v1/agencies/%s?archived=true", id, "admin", NULL));
  e = audit_entry("agency", id, "erased");
  cr_assert_str_eq(th_str(e, "note"), "creada por error");
  cr_assert_str_eq(th_str(json_object_get(e, "before"), "name"), "Academia Archivable (prueba)",
                   "the audit keeps the whole record as it was");
  json_decref(e);

  /* an archived agency's work is admin's only; its tasks are history: no erasure */
  char *worked = new_agency("Academia con Tareas (prueba)", "training_academy", "2024-01-08");
  json_decref(expect(201, "POST", "/v1/agencies/%s/tasks", worked, "advisor",
                     "{\"kind\":\"training\",\"title\":\"Curso\"}"));
  json_decref(expect(204, "DELETE", "/v1/agencies/%s", worked, "admin", NULL));
  json_t *tasks = expect(200, "GET", "/v1/tasks?agency_id=%s&count=exact", worked, "inl", NULL);
  cr_assert_eq(json_integer_value(json_object_get(tasks, "total")), 0);
  json_decref(tasks);
  tasks = expect(200, "GET", "/v1/tasks?agency_id=%s&count=exact", worked, "admin", NULL);
  cr_assert_eq(json_integer_value(json_object_get(tasks, "total")), 1);
  json_decref(tasks);
  json_decref(expect(404, "GET", "/v1/agencies/%s/tasks", worked, "inl", NULL));
  json_decref(expect(404, "GET", "/v1/agencies/%s/compliance", worked, "advisor", NULL));
  r = reqf("POST", "/v1/agencies/%s/erasure", worked, "admin", "{\"reason\":\"x\"}");
  th_assert_problem(&r, 409, "conflict");
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "dependents"), "tasks")),
               1);
  th_free(&r);
  free(worked);

  /* an agency with history is never erased: the 409 names what depends on it */
  r = reqf("POST", "/v1/agencies/%s/erasure", A1, "admin", "{\"reason\":\"prueba\"}");
  th_assert_problem(&r, 409, "conflict");
  const json_t *deps = json_object_get(r.json, "dependents");
  cr_assert_gt(json_integer_value(json_object_get(deps, "transitions")), 0, "%s", r.body);
  cr_assert_gt(json_integer_value(json_object_get(deps, "awards")), 0, "%s", r.body);
  cr_assert_gt(json_integer_value(json_object_get(deps, "users")), 0, "%s", r.body);
  th_free(&r);
  free(cursor);
  free(id);
}

Test(records, users_standards_and_workshops_are_archived_not_erased) {
  /* a user with history (the demo advisor) cannot be erased */
  struct th_resp r =
      reqf("POST", "/v1/users/%s/erasure", ADVISOR_ID, "admin", "{\"reason\":\"x\"}");
  th_assert_problem(&r, 409, "conflict");
  cr_assert_gt(
      json_integer_value(json_object_get(json_object_get(r.json, "dependents"), "agencies")), 0,
      "%s", r.body);
  th_free(&r);
  /* a new user is archived (and can no longer sign in), restored, then erased */
  json_t *u = expect(201, "POST", "%s", "/v1/users", "admin",
                     "{\"email\":\"archivable@example.mx\",\"name\":\"Archivable\","
                     "\"role\":\"inl\",\"password\":\"una contraseña larga\"}");
  char *uid = strdup(th_str(u, "id"));
  json_decref(u);
  json_decref(expect(204, "DELETE", "/v1/users/%s", uid, "admin", NULL));
  json_decref(expect(404, "GET", "/v1/users/%s", uid, "admin", NULL));
  u = expect(200, "GET", "/v1/users/%s?archived=true", uid, "admin", NULL);
  cr_assert(json_is_false(json_object_get(u, "active")));
  json_decref(u);
  r = th_req("POST", "/v1/auth/token", NULL,
             "{\"grant_type\":\"password\",\"email\":\"archivable@example.mx\","
             "\"password\":\"una contraseña larga\"}",
             NULL);
  cr_assert_eq(r.status, 400, "an archived user does not sign in: %s", r.body);
  th_free(&r);
  json_decref(expect(200, "POST", "/v1/users/%s/restore", uid, "admin", NULL));
  json_decref(expect(204, "POST", "/v1/users/%s/erasure", uid, "admin", "{\"reason\":\"prueba\"}"));
  free(uid);

  /* a standard in use (a task names it) is archived: it leaves the catalog, its use stays */
  json_t *s = expect(201, "POST", "%s", "/v1/standards", "admin",
                     "{\"program\":\"communications_center\",\"manual_version\":\"1.0\","
                     "\"number\":\"1.1.1\",\"chapter\":{\"number\":1,\"title\":{\"es\":\"Uno\"}},"
                     "\"title\":{\"es\":\"Estándar archivable (demo)\"}}");
  char *sid = strdup(th_str(s, "id"));
  json_decref(s);
  char *cc = new_agency("Centro con Tarea (prueba)", "communications_center", "2024-01-08");
  char body[512];
  snprintf(body, sizeof body,
           "{\"agency_id\":\"%s\",\"standard_id\":\"%s\",\"kind\":\"written_directive\","
           "\"title\":\"Directiva\"}",
           cc, sid);
  json_decref(expect(201, "POST", "%s", "/v1/tasks", "admin", body));
  json_decref(expect(204, "DELETE", "/v1/standards/%s", sid, "admin", NULL));
  json_decref(expect(404, "GET", "/v1/standards/%s", sid, "advisor", NULL));
  json_decref(expect(200, "GET", "/v1/standards/%s?archived=true", sid, "admin", NULL));
  json_t *list =
      expect(200, "GET", "/v1/standards?manual_version=%s&count=exact", "1.0", "admin", NULL);
  cr_assert_eq(json_integer_value(json_object_get(list, "total")), 0);
  json_decref(list);
  r = reqf("POST", "/v1/standards/%s/erasure", sid, "admin", "{\"reason\":\"x\"}");
  th_assert_problem(&r, 409, "conflict");
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "dependents"), "tasks")),
               1);
  th_free(&r);
  json_decref(expect(200, "POST", "/v1/standards/%s/restore", sid, "admin", NULL));
  json_decref(expect(200, "GET", "/v1/standards/%s", sid, "advisor", NULL));
  json_decref(audit_entry("standard", sid, "archived"));
  free(cc);
  free(sid);

  /* a workshop without registrations: archived, restored, erased */
  json_t *w = expect(201, "POST", "%s", "/v1/workshops", "admin",
                     "{\"title\":{\"es\":\"Taller archivable\"},\"mode\":\"virtual\","
                     "\"starts_on\":\"2030-01-10\",\"ends_on\":\"2030-01-11\","
                     "\"organizer\":\"caispmex\",\"status\":\"open\"}");
  char *wid = strdup(th_str(w, "id"));
  json_decref(w);
  json_decref(expect(204, "DELETE", "/v1/workshops/%s", wid, "admin", NULL));
  json_decref(expect(404, "GET", "/v1/workshops/%s", wid, NULL, NULL));
  json_decref(expect(200, "POST", "/v1/workshops/%s/restore", wid, "admin", NULL));
  json_decref(expect(200, "GET", "/v1/workshops/%s", wid, NULL, NULL));
  json_decref(
      expect(204, "POST", "/v1/workshops/%s/erasure", wid, "admin", "{\"reason\":\"prueba\"}"));
  json_decref(expect(404, "GET", "/v1/workshops/%s?archived=true", wid, "admin", NULL));
  free(wid);
}

/* ------------------------------------------------ demo history is history */

/* Reads the whole change feed as who, counting the demo agencies' creations and moves, and
 * agency 1's moves. */
static void scan_demo_feed(const char *who, long *created, long *moved, long *a1_moves) {
  *created = *moved = *a1_moves = 0;
  char path[512] = "/v1/changes?limit=1000";
  for (int pages = 0; pages < 50; pages++) {
    json_t *page = expect(200, "GET", "%s", path, who, NULL);
    size_t i, n = json_array_size(json_object_get(page, "data"));
    const json_t *e;
    json_array_foreach(json_object_get(page, "data"), i, e) {
      const char *id = th_str(e, "id");
      if (strncmp(id, "a0000000-0000-4000-8000-", 24) != 0)
        continue;
      if (strcmp(th_str(e, "action"), "created") == 0)
        (*created)++;
      if (strcmp(th_str(e, "action"), "transitioned") == 0) {
        (*moved)++;
        *a1_moves += strcmp(id, A1) == 0;
      }
    }
    snprintf(path, sizeof path, "/v1/changes?limit=1000&after=%s", th_str(page, "next_cursor"));
    json_decref(page);
    if (n == 0)
      return;
  }
  cr_assert_fail("the feed did not end");
}

Test(records, the_demo_history_is_in_the_feed_and_the_audit) {
  long created, moved, a1_moves, all_moves;
  long want_a1 = th_sql_long("SELECT count(*) FROM agency_transitions WHERE agency_id = '" A1
                             "' AND from_status IS NOT NULL");
  /* the feed from its start holds every demo agency created and moved through its states */
  scan_demo_feed("admin", &created, &all_moves, &a1_moves);
  cr_assert_eq(created, 83, "every demo agency's creation");
  cr_assert_eq(all_moves,
               th_sql_long("SELECT count(*) FROM agency_transitions t JOIN agencies a"
                           " ON a.id = t.agency_id WHERE a.demo AND t.from_status IS NOT NULL"),
               "every demo move");
  cr_assert_eq(a1_moves, want_a1);
  /* a partner sees them too (the moves that change a public field: nearly all) */
  scan_demo_feed("partner", &created, &moved, &a1_moves);
  cr_assert_eq(created, 83);
  cr_assert_eq(a1_moves, want_a1);
  cr_assert_geq(moved, all_moves - 2);

  /* an auditor sees who did each step: the seed */
  json_t *page = expect(200, "GET", "/v1/audit?resource=agency&id=%s&limit=200", A1, "inl", NULL);
  const json_t *data = json_object_get(page, "data");
  cr_assert_geq(json_array_size(data), 2);
  const json_t *first = json_array_get(data, 0);
  cr_assert_str_eq(th_str(first, "action"), "created");
  size_t i;
  const json_t *e;
  long transitions = 0;
  json_array_foreach(data, i, e) {
    cr_assert_str_eq(th_str(e, "actor"), "seed");
    cr_assert_str_eq(th_str(e, "role"), "system");
    cr_assert_str_eq(th_str(e, "request_id"), "demo-seed");
    if (strcmp(th_str(e, "action"), "transitioned") == 0) {
      transitions++;
      cr_assert_not_null(json_object_get(json_object_get(e, "changes"), "status"));
    }
  }
  cr_assert_eq(transitions, want_a1);
  json_decref(page);
}

/* ----------------------------------------------- the program's own rules */

Test(records, an_agency_keeps_the_manual_version_it_adopted) {
  char *id = new_agency("Policía del Manual (prueba)", "law_enforcement", "2024-01-08");
  json_t *a = expect(200, "GET", "/v1/agencies/%s", id, "admin", NULL);
  cr_assert(json_is_null(json_object_get(a, "manual_version")), "none before enrolling");
  json_decref(a);
  walk(id, TO_ENROLLED);
  a = expect(200, "GET", "/v1/agencies/%s", id, "admin", NULL);
  cr_assert_str_eq(th_str(a, "manual_version"), "6.15", "adopted when it enrolled");
  json_decref(a);

  /* a newer manual is published: nothing changes for agencies until they move */
  json_decref(expect(201, "POST", "%s", "/v1/standards", "admin",
                     "{\"program\":\"law_enforcement\",\"manual_version\":\"7.0\","
                     "\"number\":\"1.1.1\",\"chapter\":{\"number\":1,\"title\":{\"es\":\"Uno\"}},"
                     "\"title\":{\"es\":\"Estándar nuevo (demo)\"},\"tiers\":[\"tier1\"],"
                     "\"bullets\":[{\"key\":\"a\",\"summary\":{\"es\":\"a\"}}]}"));
  json_t *list = expect(200, "GET", "/v1/agencies/%s/compliance?limit=200", id, "admin", NULL);
  size_t i;
  const json_t *it;
  size_t old_items = json_array_size(json_object_get(list, "data"));
  cr_assert_gt(old_items, 1);
  json_array_foreach(json_object_get(list, "data"), i, it) {
    cr_assert_str_eq(th_str(json_object_get(it, "standard"), "manual_version"), "6.15");
  }
  json_decref(list);
  json_t *sum = expect(200, "GET", "/v1/agencies/%s/compliance/summary", id, "advisor", NULL);
  cr_assert_str_eq(th_str(sum, "manual_version"), "6.15", "the summary says what it counts");
  json_decref(sum);

  /* moving is explicit: admin or the agency's advisors, to a newer version of its program */
  const char *to_7 = "{\"manual_version\":\"7.0\",\"note\":\"Reacreditación con el manual 7.0\"}";
  json_decref(expect(403, "PUT", "/v1/agencies/%s/manual-version", id, "agency", to_7));
  json_decref(expect(403, "PUT", "/v1/agencies/%s/manual-version", id, "advisor2", to_7));
  struct th_resp r =
      reqf("PUT", "/v1/agencies/%s/manual-version", id, "advisor", "{\"manual_version\":\"9.9\"}");
  th_assert_problem(&r, 422, "validation");
  cr_assert(th_has_error(&r, "/manual_version", "not_found"), "%s", r.body);
  th_free(&r);
  a = expect(200, "PUT", "/v1/agencies/%s/manual-version", id, "advisor", to_7);
  cr_assert_str_eq(th_str(a, "manual_version"), "7.0");
  json_decref(a);
  json_decref(expect(409, "PUT", "/v1/agencies/%s/manual-version", id, "advisor",
                     "{\"manual_version\":\"6.15\"}"));
  json_t *e = audit_entry("agency", id, "updated");
  cr_assert_str_eq(th_str(e, "note"), "Reacreditación con el manual 7.0");
  cr_assert_str_eq(json_string_value(json_array_get(
                       json_object_get(json_object_get(e, "changes"), "manual_version"), 1)),
                   "7.0");
  json_decref(e);
  list = expect(200, "GET", "/v1/agencies/%s/compliance", id, "admin", NULL);
  cr_assert_eq(json_array_size(json_object_get(list, "data")), 1);
  json_decref(list);
  /* the old version's records stay readable */
  list = expect(200, "GET", "/v1/agencies/%s/compliance?manual_version=6.15&limit=200", id, "admin",
                NULL);
  cr_assert_eq(json_array_size(json_object_get(list, "data")), old_items);
  json_decref(list);
  /* the demo's law-enforcement agencies still work against 6.15 */
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agencies WHERE demo AND type = 'law_enforcement'"
                           " AND manual_version <> '6.15'"),
               0);
  free(id);
}

/* The id of a demo training-academy standard with bullets a and b. */
static char *academy_standard(void) {
  return th_sql("SELECT id::text FROM standards WHERE program = 'training_academy'"
                " AND manual_version = '2.4' AND bullets @> '[{\"key\":\"b\"}]'"
                " ORDER BY sort_key LIMIT 1");
}

Test(records, proofs_belong_to_an_accreditation_cycle) {
  char *id = new_agency("Academia de los Ciclos (prueba)", "training_academy", "2024-01-08");
  walk(id, TO_ENROLLED);
  walk(id, TO_SELF_ASSESSMENT);
  char *std = academy_standard();
  char path[256];
  snprintf(path, sizeof path, "/v1/agencies/%s/compliance/%s", id, std);
  const char *proof = "{\"proofs\":[{\"cycle_year\":1,\"bullets\":[\"a\"],\"title\":\"Directiva\","
                      "\"url\":\"https://docs.example.mx/1\"}]}";
  json_t *item = expect(201, "PUT", "%s", path, "advisor", proof);
  cr_assert_eq(json_integer_value(json_object_get(item, "cycle")), 0);
  cr_assert_eq(json_integer_value(
                   json_object_get(json_array_get(json_object_get(item, "proofs"), 0), "cycle")),
               0);
  json_decref(item);

  /* the award starts the next cycle: its proofs start afresh, the earlier ones are kept */
  walk(id, TO_ACCREDITED);
  json_t *a = expect(200, "GET", "/v1/agencies/%s", id, "admin", NULL);
  cr_assert_eq(json_integer_value(json_object_get(a, "cycle")), 1);
  json_decref(a);
  item = expect(200, "GET", "%s", path, "advisor", NULL);
  cr_assert_eq(json_integer_value(json_object_get(item, "cycle")), 1);
  cr_assert_eq(json_array_size(json_object_get(item, "proofs")), 0);
  cr_assert_eq(json_array_size(json_object_get(item, "earlier_proofs")), 1);
  json_decref(item);
  item = expect(200, "PUT", "%s", path, "advisor",
                "{\"proofs\":[{\"cycle_year\":1,\"bullets\":[\"b\"],\"title\":\"Registro\","
                "\"url\":\"https://docs.example.mx/2\"}]}");
  cr_assert_str_eq(th_str(json_array_get(json_object_get(item, "proofs"), 0), "title"), "Registro");
  const json_t *earlier = json_array_get(json_object_get(item, "earlier_proofs"), 0);
  cr_assert_str_eq(th_str(earlier, "title"), "Directiva", "not overwritten");
  cr_assert_eq(json_integer_value(json_object_get(earlier, "cycle")), 0);
  json_decref(item);
  /* a proof is filed in the current cycle only */
  struct th_resp r = th_req("PUT", path, tok("advisor"),
                            "{\"proofs\":[{\"cycle\":0,\"cycle_year\":2,\"title\":\"Tarde\","
                            "\"url\":\"https://docs.example.mx/3\"}]}",
                            NULL);
  th_assert_problem(&r, 422, "validation");
  cr_assert(th_has_error(&r, "/proofs/0/cycle", "invalid"), "%s", r.body);
  th_free(&r);
  free(std);
  free(id);
}

/* Polls the dashboard (its cache follows writes within milliseconds) until the attention list
 * named counts id (present) or not: among its first 20 entries, or else in the filtered list
 * its link names; fails after about two seconds. */
static void assert_attention(const char *list, const char *id, bool present) {
  bool found = false;
  for (int tries = 0; tries < 40; tries++) {
    json_t *doc = expect(200, "GET", "%s", "/v1/stats/overview", "inl", NULL);
    const json_t *bounded = json_object_get(json_object_get(doc, "attention"), list);
    found = false;
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(bounded, "data"), i, it) {
      found |= strcmp(th_str(it, "id"), id) == 0;
    }
    if (!found && json_integer_value(json_object_get(bounded, "count")) > 20) {
      json_t *all = expect(200, "GET", "%s&limit=200", th_str(bounded, "link"), "inl", NULL);
      json_array_foreach(json_object_get(all, "data"), i, it) {
        found |= strcmp(th_str(it, "id"), id) == 0;
      }
      json_decref(all);
    }
    json_decref(doc);
    if (found == present)
      return;
    usleep(50 * 1000);
  }
  cr_assert_fail("attention.%s %s %s", list, present ? "lacks" : "still holds", id);
}

static const char *reporting_of(const json_t *agency, const char *member) {
  return th_str(json_object_get(agency, "reporting"), member);
}

Test(records, reporting_follows_the_protocol) {
  char *id = new_agency("Academia que Reporta (prueba)", "training_academy", "2024-01-08");
  walk(id, TO_ENROLLED);
  json_t *a = expect(200, "GET", "/v1/agencies/%s", id, "admin", NULL);
  cr_assert_str_eq(reporting_of(a, "frequency"), "monthly");
  cr_assert_str_eq(reporting_of(a, "since"), "2024-03-01");
  cr_assert_str_eq(reporting_of(a, "next_report_due"), "2024-04-01");
  json_decref(a);
  /* filing a report moves the due date; the protocol is not a body's */
  a = expect(200, "PATCH", "/v1/agencies/%s", id, "advisor",
             "{\"reporting\":{\"last_report_on\":\"2024-05-10\"}}");
  cr_assert_str_eq(reporting_of(a, "next_report_due"), "2024-06-10");
  json_decref(a);
  struct th_resp r = reqf("PATCH", "/v1/agencies/%s", id, "advisor",
                          "{\"reporting\":{\"frequency\":\"quarterly\","
                          "\"next_report_due\":\"2030-01-01\",\"last_report_on\":\"2999-01-01\"}}");
  th_assert_problem(&r, 422, "validation");
  cr_assert(th_has_error(&r, "/reporting/frequency", "read_only"), "%s", r.body);
  cr_assert(th_has_error(&r, "/reporting/next_report_due", "read_only"), "%s", r.body);
  th_free(&r);
  r = reqf("PATCH", "/v1/agencies/%s", id, "advisor",
           "{\"reporting\":{\"last_report_on\":\"2999-01-01\"}}");
  th_assert_problem(&r, 422, "validation");
  cr_assert(th_has_error(&r, "/reporting/last_report_on", "out_of_range"), "%s", r.body);
  th_free(&r);
  /* monthly until the first award; the request for monthly reports is for accredited ones */
  char *later = today(60), body[512];
  snprintf(body, sizeof body,
           "{\"rationale\":\"Cambio de titular; necesita acompañamiento cercano.\","
           "\"expected_return_on\":\"%s\"}",
           later);
  json_decref(expect(409, "POST", "/v1/agencies/%s/reporting-requests", id, "advisor", body));

  /* quarterly after the first award, from the award */
  walk(id, TO_SELF_ASSESSMENT);
  walk(id, TO_ACCREDITED);
  a = expect(200, "GET", "/v1/agencies/%s", id, "admin", NULL);
  cr_assert_str_eq(reporting_of(a, "frequency"), "quarterly");
  cr_assert_str_eq(reporting_of(a, "since"), "2025-05-05");
  cr_assert_str_eq(reporting_of(a, "next_report_due"), "2025-08-05");
  json_decref(a);
  assert_attention("overdue_reports", id, true);
  char *now = today(0), patch[256];
  snprintf(patch, sizeof patch, "{\"reporting\":{\"last_report_on\":\"%s\"}}", now);
  json_decref(expect(200, "PATCH", "/v1/agencies/%s", id, "advisor", patch));
  assert_attention("overdue_reports", id, false);

  /* the regional manager asks for monthly reports, INL approves, and it ends */
  json_decref(expect(403, "POST", "/v1/agencies/%s/reporting-requests", id, "advisor2", body));
  json_decref(expect(403, "POST", "/v1/agencies/%s/reporting-requests", id, "agency", body));
  r = reqf("POST", "/v1/agencies/%s/reporting-requests", id, "advisor", "{\"rationale\":\"\"}");
  th_assert_problem(&r, 422, "validation");
  cr_assert(th_has_error(&r, "/expected_return_on", "required"), "%s", r.body);
  th_free(&r);
  json_t *q = expect(201, "POST", "/v1/agencies/%s/reporting-requests", id, "advisor", body);
  cr_assert_str_eq(th_str(q, "status"), "requested");
  char rpath[256];
  snprintf(rpath, sizeof rpath, "/v1/agencies/%s/reporting-requests/%s", id, th_str(q, "id"));
  json_decref(q);
  json_decref(expect(409, "POST", "/v1/agencies/%s/reporting-requests", id, "advisor", body));
  json_decref(expect(200, "GET", "%s", rpath, "inl", NULL));
  json_decref(expect(404, "GET", "%s", rpath, "agency", NULL));
  json_decref(expect(403, "PATCH", "%s", rpath, "advisor", "{\"status\":\"approved\"}"));
  r = th_req("PATCH", rpath, tok("inl"), "{\"status\":\"rejected\"}", NULL);
  th_assert_problem(&r, 422, "validation");
  cr_assert(th_has_error(&r, "/note", "required"), "%s", r.body);
  th_free(&r);
  q = expect(200, "PATCH", "%s", rpath, "inl", "{\"status\":\"approved\",\"note\":\"Aprobado\"}");
  cr_assert_str_eq(th_str(q, "status"), "approved");
  cr_assert_str_eq(th_str(q, "decided_by"), "00000000-0000-4000-8000-000000000002");
  json_decref(q);
  a = expect(200, "GET", "/v1/agencies/%s", id, "admin", NULL);
  cr_assert_str_eq(reporting_of(a, "frequency"), "monthly");
  cr_assert_str_eq(reporting_of(a, "monthly_until"), later);
  cr_assert_str_eq(reporting_of(a, "since"), now);
  json_decref(a);
  json_t *e = audit_entry("agency", id, "updated");
  cr_assert_str_eq(th_str(e, "note"), "Aprobado");
  cr_assert_not_null(json_object_get(json_object_get(e, "changes"), "reporting"));
  json_decref(e);
  json_decref(expect(409, "PATCH", "%s", rpath, "inl", "{\"status\":\"approved\"}"));
  q = expect(200, "PATCH", "%s", rpath, "advisor", "{\"status\":\"ended\"}");
  cr_assert_str_eq(th_str(q, "ended_on"), now);
  json_decref(q);
  a = expect(200, "GET", "/v1/agencies/%s", id, "admin", NULL);
  cr_assert_str_eq(reporting_of(a, "frequency"), "quarterly");
  cr_assert(json_is_null(json_object_get(json_object_get(a, "reporting"), "monthly_until")));
  json_decref(a);
  json_t *list = expect(200, "GET", "/v1/agencies/%s/reporting-requests", id, "advisor", NULL);
  cr_assert_eq(json_array_size(json_object_get(list, "data")), 1);
  json_decref(list);
  free(now);
  free(later);
  free(id);
}

/* The due items of kind for the agency in the next days (count). */
static long due_of_kind(const char *id, const char *kind) {
  json_t *due = expect(200, "GET", "/v1/agencies/%s/due?days=30", id, "advisor", NULL);
  long n = 0;
  size_t i;
  const json_t *it;
  json_array_foreach(json_object_get(due, "data"), i, it) {
    n += strcmp(th_str(it, "kind"), kind) == 0;
  }
  json_decref(due);
  return n;
}

Test(records, the_implementation_plan_submission_is_recorded) {
  char *id = new_agency("Academia del Plan (prueba)", "training_academy", "2024-01-08");
  json_t *a = expect(200, "GET", "/v1/agencies/%s", id, "admin", NULL);
  cr_assert_str_eq(th_str(a, "implementation_plan_due"), "2024-04-08");
  cr_assert(json_is_null(json_object_get(a, "implementation_plan_submitted_on")));
  json_decref(a);
  walk(id, TO_ENROLLED);
  walk(id, TO_SELF_ASSESSMENT);
  cr_assert_eq(due_of_kind(id, "implementation_plan"), 1, "due and not submitted");
  assert_attention("overdue_implementation_plans", id, true);
  struct th_resp r = reqf("PATCH", "/v1/agencies/%s", id, "advisor",
                          "{\"implementation_plan_submitted_on\":\"2023-12-01\"}");
  th_assert_problem(&r, 422, "validation");
  cr_assert(th_has_error(&r, "/implementation_plan_submitted_on", "out_of_range"), "%s", r.body);
  th_free(&r);
  a = expect(200, "PATCH", "/v1/agencies/%s", id, "advisor",
             "{\"implementation_plan_submitted_on\":\"2024-03-20\"}");
  cr_assert_str_eq(th_str(a, "implementation_plan_submitted_on"), "2024-03-20");
  json_decref(a);
  cr_assert_eq(due_of_kind(id, "implementation_plan"), 0, "a submitted plan is not due");
  assert_attention("overdue_implementation_plans", id, false);
  free(id);
}

/* ------------------------------------------------------------------ defects */

static bool is_public_view(const json_t *agency) {
  return json_object_size(agency) == 8 && json_object_get(agency, "ceo") == NULL;
}

Test(records, agency_users_see_at_least_what_anonymous_callers_see) {
  /* another agency: its public view, as anonymous callers get it */
  json_t *mine = expect(200, "GET", "/v1/agencies/%s", A1, "agency", NULL);
  cr_assert_not_null(json_object_get(mine, "ceo"), "its own agency in full");
  json_decref(mine);
  json_t *other = expect(200, "GET", "/v1/agencies/%s", A3, "agency", NULL);
  json_t *anon = expect(200, "GET", "/v1/agencies/%s", A3, NULL, NULL);
  cr_assert(is_public_view(other));
  cr_assert(json_equal(other, anon));
  json_decref(other);
  json_decref(anon);
  /* one outside the public directory too, which anonymous callers do not see */
  char *id = new_agency("Academia Solicitante (prueba)", "training_academy", "2024-01-08");
  json_decref(expect(404, "GET", "/v1/agencies/%s", id, NULL, NULL));
  other = expect(200, "GET", "/v1/agencies/%s", id, "agency", NULL);
  cr_assert(is_public_view(other));
  json_decref(other);
  /* but not its history */
  json_decref(expect(404, "GET", "/v1/agencies/%s/transitions", id, "agency", NULL));
  json_decref(expect(200, "GET", "/v1/agencies/%s/transitions", A1, "agency", NULL));

  /* lists: at least the anonymous caller's, others public, its own in full */
  json_t *list = expect(200, "GET", "/v1/agencies?q=%s&limit=200", "queretaro", "agency", NULL);
  json_t *anon_list = expect(200, "GET", "/v1/agencies?q=%s&limit=200", "queretaro", NULL, NULL);
  size_t n = json_array_size(json_object_get(list, "data"));
  cr_assert_gt(json_array_size(json_object_get(anon_list, "data")), 0);
  cr_assert_geq(n, json_array_size(json_object_get(anon_list, "data")));
  size_t i;
  const json_t *it;
  json_array_foreach(json_object_get(list, "data"), i, it) {
    cr_assert(is_public_view(it), "%s", th_str(it, "id"));
  }
  json_decref(list);
  json_decref(anon_list);
  list = expect(200, "GET", "/v1/agencies?q=%s", "guanajuato", "agency", NULL);
  bool own_in_full = false;
  json_array_foreach(json_object_get(list, "data"), i, it) {
    if (strcmp(th_str(it, "id"), A1) == 0)
      own_in_full = json_object_get(it, "ceo") != NULL;
    else
      cr_assert(is_public_view(it), "%s", th_str(it, "id"));
  }
  cr_assert(own_in_full);
  json_decref(list);
  /* CSV: the full columns, other agencies' private cells empty */
  struct th_resp r =
      th_req("GET", "/v1/agencies?q=queretaro&format=csv", tok("agency"), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert(strstr(r.body, "ceo_name") != NULL);
  cr_assert(strstr(r.body, "Instituto de Formación Policial de Querétaro (demo)") != NULL);
  cr_assert(strstr(r.body, "IFP QRO") == NULL, "no other agency's acronym");
  th_free(&r);
  free(id);
}

Test(records, enum_filters_answer_400) {
  const char *const bad[] = {"/v1/agencies?state=MX-ZZZ",
                             "/v1/agencies?state=mx-que",
                             "/v1/agencies?type=Law_enforcement",
                             "/v1/agencies?status=ACCREDITED",
                             "/v1/tasks?status=Open",
                             NULL};
  const char *const field[] = {"/query/state", "/query/state", "/query/type", "/query/status",
                               "/query/status"};
  for (int i = 0; bad[i] != NULL; i++) {
    struct th_resp r = th_req("GET", bad[i], th_admin(), NULL, NULL);
    th_assert_problem(&r, 400, "invalid-query");
    cr_assert(th_has_error(&r, field[i], "invalid_enum"), "%s: %s", bad[i], r.body);
    th_free(&r);
  }
  struct th_resp r = th_req("GET", "/v1/agencies?state=MX-ZZZ", NULL, NULL, NULL);
  th_assert_problem(&r, 400, "invalid-query");
  cr_assert(strstr(r.body, "MX-QUE") != NULL, "the error names the allowed codes: %s", r.body);
  th_free(&r);
  json_t *list = expect(200, "GET", "/v1/agencies?state=%s&count=exact", "MX-QUE", NULL, NULL);
  cr_assert_gt(json_integer_value(json_object_get(list, "total")), 0);
  json_decref(list);
}

Test(records, every_field_error_at_once) {
  char *std = academy_standard();
  char path[256];
  snprintf(path, sizeof path, "/v1/agencies/%s/compliance/%s", A1, std);
  struct th_resp r = th_req("PUT", path, th_admin(),
                            "{\"result\":\"maybe\",\"proofs\":[{\"cycle_year\":7,"
                            "\"bullets\":[\"zz\"],\"title\":\"\",\"url\":\"ftp://x\","
                            "\"kind\":\"scroll\"}]}",
                            NULL);
  th_assert_problem(&r, 422, "validation");
  cr_assert(th_has_error(&r, "/result", "invalid_enum"), "%s", r.body);
  cr_assert(th_has_error(&r, "/proofs/0/cycle_year", "out_of_range"), "%s", r.body);
  cr_assert(th_has_error(&r, "/proofs/0/title", "too_short"), "%s", r.body);
  cr_assert(th_has_error(&r, "/proofs/0/url", "invalid_format"), "%s", r.body);
  cr_assert(th_has_error(&r, "/proofs/0/kind", "invalid_enum"), "%s", r.body);
  cr_assert(th_has_error(&r, "/proofs/0/bullets/0", "invalid_enum"),
            "the unknown bullet in the same pass: %s", r.body);
  cr_assert_eq(json_array_size(json_object_get(r.json, "errors")), 6, "%s", r.body);
  th_free(&r);
  free(std);
}
