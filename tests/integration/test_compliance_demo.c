/*
 * test_compliance_demo.c — the demo dataset's standards, compliance and tasks: with it, the
 * demo agency account sees its own compliance summary, overdue tasks and due list, and none of
 * another agency's; the catalog is marked invented; loading twice changes nothing.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("compliance_demo", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

#define DEMO_AGENCY_USER "00000000-0000-4000-8000-000000000004"
#define DEMO_AGENCY "a0000000-0000-4000-8000-000000000001"

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static char *demo_agency_token(void) {
  return th_token("agency", DEMO_AGENCY_USER, DEMO_AGENCY);
}

Test(demo, agency_account_sees_its_own_work_only) {
  char *t = demo_agency_token();
  struct th_resp r =
      th_req("GET", "/v1/agencies/" DEMO_AGENCY "/compliance/summary", t, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  const json_t *overall = json_object_get(r.json, "overall");
  cr_assert_gt(json_integer_value(json_object_get(overall, "standards")), 50);
  /* The demo agency is accredited: mostly compliant. */
  cr_assert_gt(json_number_value(json_object_get(overall, "percent_compliant")), 80.0, "%s",
               r.body);
  cr_assert_gt(json_array_size(json_object_get(r.json, "chapters")), 3);
  th_free(&r);

  r = th_req("GET", "/v1/agencies/" DEMO_AGENCY "/tasks?overdue=true", t, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  size_t i;
  const json_t *task;
  cr_assert_gt(json_array_size(json_object_get(r.json, "data")), 0, "%s", r.body);
  json_array_foreach(json_object_get(r.json, "data"), i, task) {
    cr_assert(json_is_true(json_object_get(task, "overdue")));
    cr_assert_str_eq(jstr(task, "agency_id"), DEMO_AGENCY);
  }
  th_free(&r);
  r = th_req("GET", "/v1/tasks?limit=200", t, NULL, NULL);
  cr_assert_gt(json_array_size(json_object_get(r.json, "data")), 0);
  json_array_foreach(json_object_get(r.json, "data"), i, task) {
    cr_assert_str_eq(jstr(task, "agency_id"), DEMO_AGENCY);
  }
  th_free(&r);

  r = th_req("GET", "/v1/agencies/" DEMO_AGENCY "/due", t, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_gt(json_array_size(json_object_get(r.json, "data")), 0, "%s", r.body);
  th_free(&r);

  /* Another demo agency: nothing of it. */
  char *other = th_sql("SELECT id FROM agencies WHERE demo AND id <> '" DEMO_AGENCY
                       "' AND EXISTS (SELECT 1 FROM tasks t WHERE t.agency_id = agencies.id)"
                       " ORDER BY id LIMIT 1");
  cr_assert_not_null(other);
  const char *suffixes[] = {"compliance", "compliance/summary", "tasks", "due"};
  char path[160];
  for (size_t p = 0; p < 4; p++) {
    snprintf(path, sizeof path, "/v1/agencies/%s/%s", other, suffixes[p]);
    r = th_req("GET", path, t, NULL, NULL);
    cr_assert_eq(r.status, 404, "%s: %ld", path, r.status); /* "not yours" reads as absent */
    th_free(&r);
  }
  snprintf(path, sizeof path, "/v1/tasks?agency_id=%s", other);
  r = th_req("GET", path, t, NULL, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 0);
  th_free(&r);
  free(other);
  free(t);
}

Test(demo, compliance_follows_the_stage) {
  /* Accredited agencies are nearly all done; agencies still in process are partway. */
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agencies a WHERE demo AND status = 'accredited'"
                           " AND (SELECT count(*) FILTER (WHERE progress = 'done')::float"
                           "      / nullif(count(*), 0) FROM compliance c"
                           "      WHERE c.agency_id = a.id) < 0.95"),
               0);
  long in_process = th_sql_long(
      "SELECT count(*) FROM agencies WHERE demo AND status IN ('enrolled', 'self_assessment',"
      " 'pre_assessment', 'site_assessment', 'awaiting_hearing')");
  if (in_process > 0) {
    cr_assert_eq(
        th_sql_long("SELECT count(*) FROM agencies a WHERE demo AND status IN ('enrolled',"
                    " 'self_assessment', 'pre_assessment', 'site_assessment', 'awaiting_hearing')"
                    " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.agency_id = a.id)"),
        0, "every agency in process has tasks");
    cr_assert_gt(th_sql_long("SELECT count(*) FROM tasks t JOIN agencies a ON a.id = t.agency_id"
                             " WHERE a.status IN ('enrolled', 'self_assessment',"
                             " 'pre_assessment', 'site_assessment', 'awaiting_hearing')"
                             " AND task_is_overdue(t.due_on, t.status, mx_today())"),
                 0, "some in-process tasks are overdue");
  }
}

Test(demo, catalog_is_invented_and_marked) {
  static const char *const PROGRAMS[] = {"law_enforcement", "training_academy",
                                         "communications_center"};
  for (size_t p = 0; p < 3; p++) {
    char path[128];
    snprintf(path, sizeof path, "/v1/standards?program=%s&limit=200&count=exact", PROGRAMS[p]);
    struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_gt(json_integer_value(json_object_get(r.json, "total")), 60);
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(r.json, "data"), i, s) {
      const json_t *title = json_object_get(s, "title");
      cr_assert(strstr(jstr(title, "es"), "(demo)") && strstr(jstr(title, "en"), "(demo)"));
      cr_assert(strstr(jstr(json_object_get(s, "summary"), "en"), "not CALEA text") != NULL);
    }
    th_free(&r);
  }
  cr_assert_eq(th_sql_long("SELECT count(DISTINCT (program, manual_version)) FROM standards"), 3);
  cr_assert_gt(th_sql_long("SELECT count(*) FROM standards WHERE tiers = '{advanced}'"), 0);
  cr_assert_gt(th_sql_long("SELECT count(*) FROM standards WHERE 'tier1' = ANY (tiers)"), 0);
  cr_assert_gt(th_sql_long("SELECT count(*) FROM standards WHERE time_sensitive IS NOT NULL"), 0);
}

Test(demo, loading_twice_changes_nothing) {
  const char *counts = "SELECT (SELECT count(*) FROM standards) || '/' ||"
                       " (SELECT count(*) FROM compliance) || '/' || (SELECT count(*) FROM tasks)";
  char *before = th_sql(counts);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "DATABASE_URL='%s' '%s' seed-demo >/dev/null", th_db_url(),
           getenv("ACREDITA_BIN"));
  cr_assert_eq(system(cmd), 0);
  char *after = th_sql(counts);
  cr_assert_str_eq(before, after);
  free(before);
  free(after);
}
