/*
 * test_stats.c — GET /v1/stats/overview on the demo data: the numbers of the final report as
 * DOMAIN.md reads them, checked one by one, and the demo histories checked for consistency.
 *
 * The reading (see stats_overview() in migration 0003): the 82 "enrolled" agencies are the
 * agencies INL accepted, the one removed before it signed the CALEA agreement included; 81
 * signed; 70 were ever accredited and hold 71 awards. This file reads the demo database only
 * and never writes to it, so the numbers are exact.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("stats", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

static const char *inl(void) {
  static char *t;
  if (t == NULL)
    t = th_token("inl", "00000000-0000-4000-8000-000000000002", NULL);
  return t;
}

static json_t *overview(void) {
  struct th_resp r = th_req("GET", "/v1/stats/overview", inl(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *doc = json_incref(r.json);
  th_free(&r);
  return doc;
}

static long num(const json_t *o, const char *k) {
  const json_t *v = json_object_get(o, k);
  cr_assert(json_is_integer(v), "%s is not an integer", k);
  return (long)json_integer_value(v);
}

static const json_t *find(const json_t *array, const char *key, const char *value) {
  size_t i;
  const json_t *it;
  json_array_foreach(array, i, it) {
    if (strcmp(json_string_value(json_object_get(it, key)), value) == 0)
      return it;
  }
  cr_assert_fail("no %s = %s", key, value);
  return NULL;
}

Test(stats, the_final_report_numbers) {
  json_t *doc = overview();
  const json_t *totals = json_object_get(doc, "totals");
  cr_assert_eq(num(totals, "enrolled"), 82);
  cr_assert_eq(num(totals, "calea_agreements"), 81);
  cr_assert_eq(num(totals, "accredited_agencies"), 70);
  cr_assert_eq(num(totals, "awards"), 71);
  cr_assert_eq(num(totals, "removed"), 2);
  /* "10 withdrew or were still in process" */
  cr_assert_eq(num(totals, "withdrawn") + num(totals, "in_process"), 10);
  cr_assert_eq(num(totals, "withdrawn"), 5);
  cr_assert_eq(num(totals, "states"), 27);
  cr_assert_eq(num(json_object_get(totals, "by_level"), "municipal"), 6);
  cr_assert_eq(num(totals, "enrolled") - num(totals, "accredited_agencies"), 12);

  const struct {
    const char *type;
    long enrolled, agencies, awards;
  } table[] = {{"communications_center", 24, 19, 19},
               {"law_enforcement", 27, 22, 23},
               {"training_academy", 31, 29, 29}};
  const json_t *by_type = json_object_get(doc, "by_type");
  cr_assert_eq(json_array_size(by_type), 3);
  for (size_t i = 0; i < 3; i++) {
    const json_t *t = find(by_type, "type", table[i].type);
    cr_assert_eq(num(t, "enrolled"), table[i].enrolled, "%s", table[i].type);
    cr_assert_eq(num(t, "accredited_agencies"), table[i].agencies, "%s", table[i].type);
    cr_assert_eq(num(t, "awards"), table[i].awards, "%s", table[i].type);
    /* current status by type covers every agency once, expired included */
    const json_t *by_status = json_object_get(t, "by_status");
    cr_assert_eq(json_object_size(by_status), 16);
    cr_assert_not_null(json_object_get(by_status, "expired"));
    long sum = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)by_status, k, v) {
      sum += (long)json_integer_value(v);
    }
    cr_assert_eq(sum, table[i].enrolled, "%s: statuses sum to %ld", table[i].type, sum);
  }
  json_decref(doc);
}

Test(stats, every_entity_is_present) {
  json_t *doc = overview();
  const json_t *states = json_object_get(doc, "by_state");
  cr_assert_eq(json_array_size(states), 32);
  size_t i, with = 0;
  long sum = 0;
  const json_t *s;
  json_array_foreach(states, i, s) {
    with += num(s, "agencies") > 0;
    sum += num(s, "agencies");
  }
  cr_assert_eq(with, 27);
  cr_assert_eq(sum, 82);
  cr_assert_eq(num(find(states, "state", "MX-ZAC"), "agencies"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(find(states, "state", "MX-QUE"), "name")),
                   "Querétaro");
  cr_assert_eq(num(find(states, "state", "MX-GUA"), "agencies"), 3);
  json_decref(doc);
}

Test(stats, the_program_timeline) {
  json_t *doc = overview();
  /* first awards in November 2017, Guanajuato's academy and communications center */
  const json_t *years = json_object_get(doc, "awards_by_year");
  const json_t *first = json_array_get(years, 0);
  cr_assert_eq(num(first, "year"), 2017);
  cr_assert_eq(num(first, "awards"), 2);
  cr_assert_eq(num(first, "training_academy"), 1);
  cr_assert_eq(num(first, "communications_center"), 1);
  size_t i;
  long sum = 0;
  const json_t *y;
  json_array_foreach(years, i, y) {
    sum += num(y, "awards");
  }
  cr_assert_eq(sum, 71);
  cr_assert_eq(num(json_array_get(years, json_array_size(years) - 1), "year"), 2023);
  char *first_award = th_sql("SELECT min(awarded_on) FROM awards w JOIN agencies a"
                             " ON a.id = w.agency_id WHERE a.in_program");
  cr_assert_str_eq(first_award, "2017-11-18");
  free(first_award);
  /* first agency accepted in August 2016; the last enrolled in December 2021 */
  char *first_accepted = th_sql("SELECT to_char(min(approved_on), 'YYYY-MM') FROM agencies");
  cr_assert_str_eq(first_accepted, "2016-08");
  free(first_accepted);
  char *last_enrolled = th_sql("SELECT to_char(max(enrolled_on), 'YYYY-MM') FROM agencies");
  cr_assert_str_eq(last_enrolled, "2021-12");
  free(last_enrolled);

  /* Tri-Arc: Guanajuato in November 2017 (its state police was accredited before the
   * program), then Querétaro, Sonora and Baja California by May 2019, and no other by then */
  const json_t *tri = json_object_get(doc, "tri_arc");
  const json_t *gto = find(tri, "state", "MX-GUA");
  cr_assert_str_eq(json_string_value(json_object_get(gto, "since")), "2017-11-18");
  cr_assert_str_eq(json_string_value(json_object_get(gto, "level")), "state");
  int early = 0;
  const json_t *t;
  json_array_foreach(tri, i, t) {
    const char *state = json_string_value(json_object_get(t, "state"));
    if (strcmp(json_string_value(json_object_get(t, "since")), "2019-05-31") <= 0) {
      early++;
      cr_assert(strcmp(state, "MX-GUA") == 0 || strcmp(state, "MX-QUE") == 0 ||
                    strcmp(state, "MX-SON") == 0 || strcmp(state, "MX-BCN") == 0,
                "%s", state);
    }
  }
  cr_assert_eq(early, 4);
  long before = th_sql_long("SELECT count(*) FROM awards w JOIN agencies a ON a.id = w.agency_id"
                            " WHERE NOT a.in_program AND a.state = 'MX-GUA'"
                            " AND a.type = 'law_enforcement' AND w.awarded_on < '2016-08-01'");
  cr_assert_eq(before, 1);

  /* medians are months with one decimal, per type */
  const json_t *medians = json_object_get(doc, "median_months_enrolled_to_accredited");
  cr_assert_eq(json_array_size(medians), 3);
  const json_t *le = find(medians, "type", "law_enforcement");
  cr_assert_eq(num(le, "agencies"), 22);
  cr_assert(json_real_value(json_object_get(le, "median_months")) > 12.0);
  cr_assert_not_null(json_object_get(doc, "attention"));
  cr_assert_not_null(json_object_get(json_object_get(doc, "attendance"), "webinars"));
  json_decref(doc);
}

/* Each attention list is bounded (a count, at most 20 entries) and links to the agencies list
 * that holds every one of them: following the link gives `count` agencies, among them each
 * entry shown, in the same order where the list sorts by name. */
static void attention_list_links(const json_t *attention, const char *name) {
  const json_t *list = json_object_get(attention, name);
  cr_assert(json_is_object(list), "attention.%s is not an object", name);
  long count = num(list, "count");
  const json_t *data = json_object_get(list, "data");
  const char *link = json_string_value(json_object_get(list, "link"));
  cr_assert(json_is_array(data) && link != NULL && strncmp(link, "/v1/agencies?", 13) == 0,
            "attention.%s", name);
  cr_assert_leq(json_array_size(data), 20);
  cr_assert_eq((long)json_array_size(data), count < 20 ? count : 20, "attention.%s", name);
  char path[512];
  snprintf(path, sizeof path, "%s&count=exact&limit=200", link);
  struct th_resp r = th_req("GET", path, inl(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
  cr_assert_eq(num(r.json, "total"), count, "%s", path);
  const json_t *all = json_object_get(r.json, "data");
  size_t i;
  const json_t *it;
  json_array_foreach(data, i, it) find(all, "id", json_string_value(json_object_get(it, "id")));
  th_free(&r);
}

Test(stats, attention_lists_are_bounded_and_linked) {
  json_t *doc = overview();
  const json_t *attention = json_object_get(doc, "attention");
  attention_list_links(attention, "overdue_reports");
  attention_list_links(attention, "overdue_tasks");
  attention_list_links(attention, "expiring_within_180_days");
  /* test_agencies shows the bound with more than 20 overdue reports; the demo has fewer. */
  json_decref(doc);
}

Test(stats, etag_and_roles) {
  struct th_resp r = th_req("GET", "/v1/stats/overview", th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200);
  char *etag = th_header(&r, "ETag");
  cr_assert_not_null(etag);
  th_free(&r);
  char inm[128];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *const h[] = {inm, NULL};
  r = th_req("GET", "/v1/stats/overview", inl(), NULL, h);
  cr_assert_eq(r.status, 304, "the same data gives the same tag, whoever asks");
  th_free(&r);
  free(etag);
  char *partner = th_token("partner", "00000000-0000-4000-8000-000000000006", NULL);
  r = th_req("GET", "/v1/stats/overview", partner, NULL, NULL);
  cr_assert_eq(r.status, 403);
  th_free(&r);
  free(partner);
}

/* The demo histories are what the state machine would have written. */
Test(stats, demo_histories_are_consistent) {
  /* each agency's last move ends in its status */
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agencies a WHERE a.status <> (SELECT t.to_status"
                           " FROM agency_transitions t WHERE t.agency_id = a.id"
                           " ORDER BY t.seq DESC LIMIT 1)"),
               0);
  /* each award comes from a move into an accreditation, on its date */
  cr_assert_eq(th_sql_long("SELECT count(*) FROM awards w LEFT JOIN agency_transitions t"
                           " ON t.id = w.transition_id WHERE t.id IS NULL"
                           " OR t.to_status NOT IN ('accredited', 'conditionally_accredited')"
                           " OR t.occurred_on <> w.awarded_on"),
               0);
  /* the accreditation dates are those of the latest award */
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agencies a WHERE a.accredited_on IS DISTINCT"
                           " FROM (SELECT max(awarded_on) FROM awards w WHERE w.agency_id = a.id)"),
               0);
  /* dates never go back */
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agency_transitions t JOIN agency_transitions u"
                           " ON u.agency_id = t.agency_id AND u.seq > t.seq"
                           " AND u.occurred_on < t.occurred_on"),
               0);
  /* Tier 1, then Advanced, for one law-enforcement agency */
  cr_assert_eq(th_sql_long("SELECT count(*) FROM (SELECT agency_id FROM awards GROUP BY agency_id"
                           " HAVING count(*) = 2 AND min(tier) = 'advanced'"
                           " AND max(tier) = 'tier1') x"),
               1);
  /* the demo advisor works with a few agencies, and every name says demo */
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agencies WHERE '00000000-0000-4000-8000-"
                           "000000000003' = ANY (advisor_ids)"),
               5);
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agencies WHERE name NOT LIKE '%(demo)'"
                           " OR NOT demo"),
               0);
  /* the removals carry their reasons */
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agencies WHERE status = 'removed'"
                           " AND status_reason IS NOT NULL AND removed_on IS NOT NULL"),
               2);
  cr_assert_eq(th_sql_long("SELECT count(*) FROM agencies WHERE status = 'removed'"
                           " AND enrolled_on IS NULL"),
               1);
}

Test(stats, seeding_twice_changes_nothing) {
  char *before = th_sql("SELECT md5(string_agg(agency_json(a), '' ORDER BY id)) ||"
                        " (SELECT count(*) FROM agency_transitions) ||"
                        " (SELECT count(*) FROM awards) FROM agencies a");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "DATABASE_URL='%s' '%s' seed-demo >/dev/null", th_db_url(),
           getenv("ACREDITA_BIN"));
  cr_assert_eq(system(cmd), 0);
  char *after = th_sql("SELECT md5(string_agg(agency_json(a), '' ORDER BY id)) ||"
                       " (SELECT count(*) FROM agency_transitions) ||"
                       " (SELECT count(*) FROM awards) FROM agencies a");
  cr_assert_str_eq(before, after);
  free(before);
  free(after);
}
