/* test_changes.c — the change feed: order, cursors, end of feed, partners, retention. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("changes", false);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

/* Commits one journaled change the way the server does: row, then the clock's stamp. */
static void journal(const char *resource, const char *id, const char *action, const char *changed) {
  char sql[1024];
  snprintf(sql, sizeof sql,
           "BEGIN;"
           "INSERT INTO changes (resource, resource_id, action, changed)"
           " VALUES ('%s', '%s', '%s', '%s');"
           "WITH tick AS (UPDATE feed_clock SET last = last + 1 RETURNING last)"
           " UPDATE changes SET commit_no = tick.last FROM tick"
           " WHERE commit_no IS NULL AND txid = pg_current_xact_id();"
           "COMMIT",
           resource, id, action, changed);
  free(th_sql(sql));
}

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

/* Polls from cursor (NULL: the start) with token; returns the response. */
static struct th_resp poll(const char *token, const char *query) {
  char path[2048];
  snprintf(path, sizeof path, "/v1/changes%s%s", query ? "?" : "", query ? query : "");
  return th_req("GET", path, token, NULL, NULL);
}

Test(changes, order_cursor_and_end_of_feed) {
  char *token = th_token("inl", "00000000-0000-4000-8000-000000000002", NULL);
  struct th_resp r = poll(token, "after=now");
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 0);
  char *start = strdup(jstr(r.json, "next_cursor"));
  th_free(&r);

  journal("agency", "a1", "updated", "{name}");
  journal("task", "t1", "created", "{title,status}");
  journal("agency", "a2", "transitioned", "{status}");

  char q[1024];
  snprintf(q, sizeof q, "after=%s&limit=2", start);
  r = poll(token, q);
  cr_assert_eq(r.status, 200);
  json_t *data = json_object_get(r.json, "data");
  cr_assert_eq(json_array_size(data), 2);
  cr_assert_str_eq(jstr(json_array_get(data, 0), "id"), "a1");
  cr_assert_str_eq(jstr(json_array_get(data, 1), "id"), "t1");
  cr_assert_str_eq(jstr(json_array_get(data, 1), "action"), "created");
  snprintf(q, sizeof q, "after=%s&limit=2", jstr(r.json, "next_cursor"));
  th_free(&r);
  r = poll(token, q);
  data = json_object_get(r.json, "data");
  cr_assert_eq(json_array_size(data), 1);
  cr_assert_str_eq(jstr(json_array_get(data, 0), "id"), "a2");
  char *end = strdup(jstr(r.json, "next_cursor"));
  th_free(&r);

  /* At the end the cursor repeats, and an unchanged poll is a 304. */
  snprintf(q, sizeof q, "after=%s", end);
  r = poll(token, q);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 0);
  cr_assert_str_eq(jstr(r.json, "next_cursor"), end);
  char *etag = th_header(&r, "ETag");
  th_free(&r);
  char inm[128], path[2048];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *const h[] = {inm, NULL};
  snprintf(path, sizeof path, "/v1/changes?after=%s", end);
  r = th_req("GET", path, token, NULL, h);
  cr_assert_eq(r.status, 304);
  th_free(&r);

  /* The resource filter, and a cursor reused with another filter. */
  snprintf(q, sizeof q, "after=%s&resource=agency", start);
  r = poll(token, q);
  cr_assert_eq(r.status, 400, "the start cursor was made without a filter");
  th_free(&r);
  r = poll(token, "resource=task");
  cr_assert_eq(r.status, 200);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 1);
  th_free(&r);
  free(etag);
  free(start);
  free(end);
  free(token);
}

Test(changes, partners_see_public_agency_fields_only) {
  journal("agency", "p1", "updated", "{accreditation_manager,status}");
  journal("agency", "p2", "updated", "{membership}");
  journal("task", "p3", "created", "{title}");
  char *token = th_token("partner", "00000000-0000-4000-8000-0000000000c1", NULL);
  struct th_resp r = poll(token, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  size_t i;
  json_t *e;
  bool saw_p1 = false;
  json_array_foreach(json_object_get(r.json, "data"), i, e) {
    cr_assert_str_eq(jstr(e, "resource"), "agency");
    cr_assert_str_neq(jstr(e, "id"), "p2");
    if (strcmp(jstr(e, "id"), "p1") == 0) {
      saw_p1 = true;
      json_t *changed = json_object_get(e, "changed");
      cr_assert_eq(json_array_size(changed), 1);
      cr_assert_str_eq(json_string_value(json_array_get(changed, 0)), "status");
    }
  }
  cr_assert(saw_p1);
  th_free(&r);
  char *agency = th_token("agency", "00000000-0000-4000-8000-000000000004",
                          "a0000000-0000-4000-8000-000000000001");
  r = poll(agency, NULL);
  cr_assert_eq(r.status, 403);
  th_free(&r);
  free(agency);
  free(token);
}

Test(changes, retention_answers_410) {
  char *token = th_token("admin", "00000000-0000-4000-8000-000000000001", NULL);
  struct th_resp r = poll(token, "after=now");
  char *old = strdup(jstr(r.json, "next_cursor"));
  th_free(&r);
  journal("webinar", "w1", "created", "{title}");
  free(th_sql("UPDATE changes SET at = now() - interval '200 days'"));
  free(th_sql("SELECT housekeeping()"));
  char q[1024];
  snprintf(q, sizeof q, "after=%s", old);
  r = poll(token, q);
  cr_assert_eq(r.status, 410, "%s", r.body);
  cr_assert(strstr(jstr(r.json, "detail"), "after=now"));
  th_free(&r);
  r = poll(token, NULL);
  cr_assert_eq(r.status, 200, "without a cursor the feed starts at the oldest retained change");
  th_free(&r);
  r = poll(token, "after=garbage");
  cr_assert_eq(r.status, 400);
  th_free(&r);
  free(old);
  free(token);
}

Test(changes, machine_clients_need_the_scope) {
  char *none = th_client_token("partner", "00000000-0000-4000-8000-0000000000c1", "");
  char *other = th_client_token("partner", "00000000-0000-4000-8000-0000000000c1", "agencies:read");
  char *right = th_client_token("partner", "00000000-0000-4000-8000-0000000000c1",
                                "agencies:read changes:read");
  struct th_resp r = poll(none, "after=now");
  cr_assert_eq(r.status, 403);
  char *www = th_header(&r, "WWW-Authenticate");
  cr_assert(www && strstr(www, "insufficient_scope"));
  free(www);
  th_free(&r);
  r = poll(other, "after=now");
  cr_assert_eq(r.status, 403);
  th_free(&r);
  r = poll(right, "after=now");
  cr_assert_eq(r.status, 200);
  th_free(&r);
  free(none);
  free(other);
  free(right);
}
