/*
 * test_calendars.c — the iCalendar feeds, read the way a calendar app reads them: each is
 * parsed by ical.js (tests/interop/ical.mjs, with the feed's own VTIMEZONE) and every event's
 * times are compared with what the JSON API says about the same records. Also the calendar
 * tokens: made, listed and revoked under /v1/me, 404 when wrong, never in the access log.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define AGENCY_USER "00000000-0000-4000-8000-000000000004"
#define AGENCY_ID "a0000000-0000-4000-8000-000000000001"
#define OTHER_AGENCY "a0000000-0000-4000-8000-000000000002"

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("calendars", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

/* What ical.js makes of an iCalendar body (see tests/interop/ical.mjs). */
static json_t *parse_ics(const struct th_resp *r) {
  char path[] = "/tmp/acredita-ics.XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, r->body, r->len), (ssize_t)r->len);
  close(fd);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "node '%s/tests/interop/ical.mjs' '%s'", getenv("ACREDITA_SOURCE_DIR"),
           path);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  json_error_t err;
  json_t *parsed = json_loadf(p, 0, &err);
  int rc = pclose(p);
  unlink(path);
  cr_assert_eq(rc, 0, "ical.js refused the feed");
  cr_assert_not_null(parsed, "%s", err.text);
  return parsed;
}

static struct th_resp get_feed(const char *path, const char *const *headers) {
  struct th_resp r = th_req("GET", path, NULL, NULL, headers);
  cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
  char *ct = th_header(&r, "Content-Type");
  cr_assert_str_eq(ct, "text/calendar; charset=utf-8");
  free(ct);
  return r;
}

/* The event of parsed whose UID contains id, or NULL. */
static json_t *event_of(const json_t *parsed, const char *id) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(parsed, "events"), i,
                     e) if (strstr(jstr(e, "uid"), id)) return e;
  return NULL;
}

/* The records of a list answer, checked to be as many as the calendar's events. */
static json_t *one_event_each(const struct th_resp *list, const json_t *parsed) {
  json_t *data = json_object_get(list->json, "data");
  cr_assert_gt(json_array_size(data), 0);
  cr_assert_eq(json_array_size(json_object_get(parsed, "events")), json_array_size(data));
  return data;
}

/* RFC 3339 UTC text plus minutes, in the same form. */
static void plus_minutes(const char *at, long minutes, char out[32]) {
  struct tm tm = {0};
  cr_assert_not_null(strptime(at, "%Y-%m-%dT%H:%M:%SZ", &tm));
  time_t t = timegm(&tm) + minutes * 60;
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

static void plus_days(const char *date, int days, char out[16]) {
  struct tm tm = {0};
  cr_assert_not_null(strptime(date, "%Y-%m-%d", &tm));
  time_t t = timegm(&tm) + (time_t)days * 86400;
  strftime(out, 16, "%Y-%m-%d", gmtime_r(&t, &tm));
}

Test(calendars, webinars_at_the_times_the_api_gives) {
  struct th_resp list = th_req("GET", "/v1/webinars?limit=200", NULL, NULL, NULL);
  cr_assert_eq(list.status, 200);
  const char *const es[] = {"Accept-Language: es", NULL};
  struct th_resp feed = get_feed("/v1/webinars.ics", es);
  json_t *parsed = parse_ics(&feed);
  cr_assert_str_eq(json_string_value(json_array_get(json_object_get(parsed, "timezones"), 0)),
                   "America/Mexico_City");
  json_t *data = one_event_each(&list, parsed);
  size_t i;
  json_t *w;
  json_array_foreach(data, i, w) {
    json_t *e = event_of(parsed, jstr(w, "id"));
    cr_assert_not_null(e, "webinar %s is not in the calendar", jstr(w, "id"));
    cr_assert_str_eq(jstr(e, "start"), jstr(w, "starts_at"), "%s", jstr(w, "id"));
    char end[32];
    plus_minutes(jstr(w, "starts_at"),
                 (long)json_integer_value(json_object_get(w, "duration_minutes")), end);
    cr_assert_str_eq(jstr(e, "end"), end);
    cr_assert_str_eq(jstr(e, "tzid"), jstr(w, "timezone"));
    cr_assert_str_eq(jstr(e, "summary"), jstr(json_object_get(w, "title"), "es"));
    cr_assert_str_eq(jstr(e, "language"), "es");
  }
  /* ?lang= wins over Accept-Language (calendar apps send none). */
  th_free(&feed);
  json_decref(parsed);
  feed = get_feed("/v1/webinars.ics?lang=en", es);
  parsed = parse_ics(&feed);
  w = json_array_get(data, 0);
  const char *en = jstr(json_object_get(w, "title"), "en");
  cr_assert_str_eq(jstr(event_of(parsed, jstr(w, "id")), "summary"),
                   en != NULL ? en : jstr(json_object_get(w, "title"), "es"));
  /* Conditional: the same feed answers 304 to its ETag. */
  char *etag = th_header(&feed, "ETag"), inm[128];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *const h[] = {inm, NULL};
  struct th_resp again = th_req("GET", "/v1/webinars.ics?lang=en", NULL, NULL, h);
  cr_assert_eq(again.status, 304);
  th_free(&again);
  free(etag);
  json_decref(parsed);
  th_free(&feed);
  th_free(&list);
}

Test(calendars, workshops_on_the_days_the_api_gives) {
  struct th_resp list = th_req("GET", "/v1/workshops?limit=200", NULL, NULL, NULL);
  cr_assert_eq(list.status, 200);
  struct th_resp feed = get_feed("/v1/workshops.ics?lang=es", NULL);
  json_t *parsed = parse_ics(&feed);
  json_t *data = one_event_each(&list, parsed);
  size_t i;
  json_t *w;
  json_array_foreach(data, i, w) {
    json_t *e = event_of(parsed, jstr(w, "id"));
    cr_assert_not_null(e);
    cr_assert(json_is_true(json_object_get(e, "all_day")));
    cr_assert_str_eq(jstr(e, "start"), jstr(w, "starts_on"));
    char end[16];
    plus_days(jstr(w, "ends_on"), 1, end);
    cr_assert_str_eq(jstr(e, "end"), end, "DTEND of a date is exclusive");
    cr_assert_str_eq(jstr(e, "status"),
                     strcmp(jstr(w, "status"), "cancelled") == 0 ? "CANCELLED" : "CONFIRMED");
  }
  json_decref(parsed);
  th_free(&feed);
  th_free(&list);
}

/* Makes a calendar token for AGENCY_ID as the demo agency user; returns the 201's body. */
static json_t *make_token(const char *token) {
  struct th_resp r = th_req("POST", "/v1/me/calendar-tokens", token,
                            "{\"agency_id\":\"" AGENCY_ID "\",\"name\":\"Oficina\"}", NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  json_t *made = json_incref(r.json);
  th_free(&r);
  return made;
}

Test(calendars, deadlines_with_a_calendar_token) {
  char *agency = th_token("agency", AGENCY_USER, AGENCY_ID);
  json_t *made = make_token(agency);
  const char *feed_url = jstr(made, "feed_url");
  cr_assert_eq(strncmp(jstr(made, "token"), "cal_", 4), 0);

  struct th_resp due = th_req("GET", "/v1/agencies/" AGENCY_ID "/due?days=366", agency, NULL, NULL);
  cr_assert_eq(due.status, 200, "%s", due.body);
  struct th_resp feed = get_feed(feed_url, NULL);
  json_t *parsed = parse_ics(&feed);
  json_t *items = json_object_get(due.json, "data"), *events = json_object_get(parsed, "events");
  cr_assert_gt(json_array_size(items), 0);
  cr_assert_eq(json_array_size(events), json_array_size(items));
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    json_t *e = json_array_get(events, i);
    cr_assert_str_eq(jstr(e, "start"), jstr(item, "date"), "item %zu", i);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(e, "categories"), 0)),
                     jstr(item, "kind"));
    cr_assert(json_is_true(json_object_get(e, "all_day")));
    /* The summary is the item's reason in the language asked for (English by default). */
    cr_assert_not_null(strstr(jstr(e, "summary"), jstr(json_object_get(item, "reason"), "en")));
  }
  th_free(&feed);
  json_decref(parsed);
  th_free(&due);

  /* Listed without the token; last use noted. */
  struct th_resp r = th_req("GET", "/v1/me/calendar-tokens", agency, NULL, NULL);
  cr_assert_eq(r.status, 200);
  json_t *listed = json_array_get(json_object_get(r.json, "data"), 0);
  cr_assert_str_eq(jstr(listed, "id"), jstr(made, "id"));
  cr_assert_null(json_object_get(listed, "token"));
  cr_assert_not_null(jstr(listed, "last_used_at"));
  th_free(&r);

  /* A wrong token, or this token on another agency's feed: 404, like no agency at all. */
  r = th_req("GET", "/v1/agencies/" AGENCY_ID "/due.ics?token=cal_wrong", NULL, NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  char other[256];
  snprintf(other, sizeof other, "/v1/agencies/" OTHER_AGENCY "/due.ics?token=%s",
           jstr(made, "token"));
  r = th_req("GET", other, NULL, NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  r = th_req("GET", "/v1/agencies/" AGENCY_ID "/due.ics", NULL, NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);

  /* Revoked: the feed answers 404 at once. */
  char path[128];
  snprintf(path, sizeof path, "/v1/me/calendar-tokens/%s", jstr(made, "id"));
  r = th_req("DELETE", path, agency, NULL, NULL);
  cr_assert_eq(r.status, 204);
  th_free(&r);
  r = th_req("GET", feed_url, NULL, NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  json_decref(made);
  free(agency);
}

Test(calendars, tokens_only_for_ones_own_agencies_and_people) {
  char *agency = th_token("agency", AGENCY_USER, AGENCY_ID);
  /* Another agency's deadlines are not the agency user's to read: refused like an agency that
   * does not exist (issue 17.7: "not yours" and "not there" answer alike). */
  struct th_resp r = th_req("POST", "/v1/me/calendar-tokens", agency,
                            "{\"agency_id\":\"" OTHER_AGENCY "\"}", NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(th_has_error(&r, "/agency_id", "not_found"), "%s", r.body);
  th_free(&r);
  /* A token whose sub names no user (acredita token): tokens are for people. */
  char *nobody = th_token("admin", "00000000-0000-4000-8000-0000000000ff", NULL);
  r = th_req("POST", "/v1/me/calendar-tokens", nobody, "{\"agency_id\":\"" AGENCY_ID "\"}", NULL);
  cr_assert_eq(r.status, 403, "%s", r.body);
  th_free(&r);
  /* An agency that does not exist is a field error. */
  r = th_req("POST", "/v1/me/calendar-tokens", th_admin(),
             "{\"agency_id\":\"a0000000-0000-4000-8000-0000000fffff\"}", NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  th_free(&r);
  /* Someone else's token cannot be revoked by another user. */
  json_t *made = make_token(agency);
  char path[128];
  snprintf(path, sizeof path, "/v1/me/calendar-tokens/%s", jstr(made, "id"));
  r = th_req("DELETE", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  /* A user deactivated: the token stops opening the feed. */
  free(th_sql("UPDATE users SET active = false WHERE id = '" AGENCY_USER "'"));
  r = th_req("GET", jstr(made, "feed_url"), NULL, NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  free(th_sql("UPDATE users SET active = true WHERE id = '" AGENCY_USER "'"));
  json_decref(made);
  free(nobody);
  free(agency);
}

Test(calendars, the_token_never_reaches_the_log) {
  char log[] = "/tmp/acredita-callog.XXXXXX";
  int fd = mkstemp(log);
  cr_assert_geq(fd, 0);
  close(fd);
  char stderr_env[96];
  snprintf(stderr_env, sizeof stderr_env, "TH_STDERR=%s", log);
  const char *const env[] = {"LOG_LEVEL=info", stderr_env, NULL};
  int port;
  pid_t pid = th_server_spawn(th_db_url(), env, &port);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  char *agency = th_token("agency", AGENCY_USER, AGENCY_ID);
  json_t *made = make_token(agency);
  struct th_resp r = th_req_to(base, "GET", jstr(made, "feed_url"), NULL, NULL, NULL, 0, NULL);
  cr_assert_eq(r.status, 200);
  th_free(&r);
  r = th_req_to(base, "GET", "/v1/agencies/" AGENCY_ID "/due.ics?token=cal_guess", NULL, NULL, NULL,
                0, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  th_server_kill(pid, SIGTERM);
  FILE *f = fopen(log, "r");
  cr_assert_not_null(f);
  char line[4096];
  int lines = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    cr_assert_null(strstr(line, jstr(made, "token")), "logged: %s", line);
    cr_assert_null(strstr(line, "cal_guess"), "logged: %s", line);
    lines += strstr(line, "/due.ics") != NULL;
  }
  fclose(f);
  unlink(log);
  cr_assert_eq(lines, 2, "both requests are in the access log, without their query");
  json_decref(made);
  free(agency);
}
