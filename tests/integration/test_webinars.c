/*
 * test_webinars.c — /v1/webinars against the real server and PostgreSQL: time zones (Mexico
 * dropped daylight saving time in October 2022), visibility and the members' recordings,
 * filters, roles, validation, If-Match, audit, and the program's webinars in the demo data.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("webinars", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

#define PAID_AGENCY "b5000000-0000-4000-8000-000000000001"
#define LAPSED_AGENCY "b5000000-0000-4000-8000-000000000002"

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static void assert_problem(const struct th_resp *r, long status, const char *slug) {
  cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body);
  char *ct = th_header(r, "Content-Type");
  cr_assert(ct && strstr(ct, "application/problem+json"), "content type %s", ct);
  free(ct);
  char want[128];
  snprintf(want, sizeof want, "https://acredita.dev/problems/%s", slug);
  cr_assert_str_eq(jstr(r->json, "type"), want);
}

/* True when the problem's errors[] names field with code. */
static bool has_error(const struct th_resp *r, const char *field, const char *code) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(r->json, "errors"), i, e) {
    if (strcmp(jstr(e, "field"), field) == 0 && strcmp(jstr(e, "code"), code) == 0)
      return true;
  }
  return false;
}

static char *token_of(const char *role, const char *agency) {
  return th_token(role, "5e000000-0000-4000-8000-00000000000a", agency);
}

/* Creates a webinar as admin from body; returns its id (malloc'd). */
static char *create_webinar(const char *body) {
  struct th_resp r = th_req("POST", "/v1/webinars", th_admin(), body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  char *loc = th_header(&r, "Location");
  char want[96];
  snprintf(want, sizeof want, "/v1/webinars/%s", id);
  cr_assert_str_eq(loc, want);
  free(loc);
  th_free(&r);
  return id;
}

/* The ids in a list answer, as one comma-joined string (for compact assertions). */
static size_t list_len(const struct th_resp *r) {
  return json_array_size(json_object_get(r->json, "data"));
}

/* ------------------------------------------------------------ time zones */

Test(webinars, mexico_city_2021_has_daylight_saving_2023_has_not) {
  char *a = create_webinar("{\"title\":{\"es\":\"Zona horaria 2021\"},"
                           "\"starts_at\":\"2021-06-10T10:00:00\"}");
  char *b = create_webinar("{\"title\":{\"es\":\"Zona horaria 2023\"},"
                           "\"starts_at\":\"2023-06-14T10:00:00\"}");
  char path[80];
  snprintf(path, sizeof path, "/v1/webinars/%s", a);
  struct th_resp r = th_req("GET", path, NULL, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "starts_at"), "2021-06-10T15:00:00Z");
  cr_assert_str_eq(jstr(r.json, "starts_at_local"), "2021-06-10T10:00:00-05:00");
  cr_assert_str_eq(jstr(r.json, "timezone"), "America/Mexico_City");
  th_free(&r);
  snprintf(path, sizeof path, "/v1/webinars/%s", b);
  r = th_req("GET", path, NULL, NULL, NULL);
  cr_assert_str_eq(jstr(r.json, "starts_at"), "2023-06-14T16:00:00Z");
  cr_assert_str_eq(jstr(r.json, "starts_at_local"), "2023-06-14T10:00:00-06:00");
  th_free(&r);
  free(a);
  free(b);
}

Test(webinars, instants_with_offsets_and_other_zones) {
  /* An instant with Z is kept; its local rendering follows the zone's rules of that date. */
  struct th_resp r =
      th_req("POST", "/v1/webinars", th_admin(),
             "{\"title\":{\"es\":\"Con Z\"},\"starts_at\":\"2021-12-14T16:00:00Z\"}", NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "starts_at_local"), "2021-12-14T10:00:00-06:00");
  th_free(&r);
  r = th_req("POST", "/v1/webinars", th_admin(),
             "{\"title\":{\"es\":\"Con desfase\"},\"starts_at\":\"2021-06-10T10:00:00-05:00\","
             "\"timezone\":\"America/Tijuana\"}",
             NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "starts_at"), "2021-06-10T15:00:00Z");
  cr_assert_str_eq(jstr(r.json, "starts_at_local"), "2021-06-10T08:00:00-07:00");
  char *id = strdup(jstr(r.json, "id"));
  th_free(&r);
  /* A local time is read in the zone sent with it (Tijuana still changes its clocks). */
  r = th_req("POST", "/v1/webinars", th_admin(),
             "{\"title\":{\"es\":\"Tijuana local\"},\"starts_at\":\"2023-06-14T10:00:00\","
             "\"timezone\":\"America/Tijuana\"}",
             NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "starts_at"), "2023-06-14T17:00:00Z");
  th_free(&r);
  /* Changing only the zone keeps the instant and moves its local rendering. */
  char path[80];
  snprintf(path, sizeof path, "/v1/webinars/%s", id);
  r = th_req("PATCH", path, th_admin(), "{\"timezone\":\"America/Mexico_City\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "starts_at"), "2021-06-10T15:00:00Z");
  cr_assert_str_eq(jstr(r.json, "starts_at_local"), "2021-06-10T10:00:00-05:00");
  th_free(&r);
  /* A local starts_at in a PATCH is read in the stored zone. */
  r = th_req("PATCH", path, th_admin(), "{\"starts_at\":\"2022-12-13T10:00:00\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "starts_at"), "2022-12-13T16:00:00Z");
  th_free(&r);
  free(id);
}

Test(webinars, bad_zone_and_instant_are_422_with_every_field) {
  struct th_resp r =
      th_req("POST", "/v1/webinars", th_admin(),
             "{\"title\":{\"en\":\"no Spanish\"},\"starts_at\":\"10 June 2021\","
             "\"timezone\":\"Mars/Olympus_Mons\",\"audience\":\"everyone\",\"duration_minutes\":0,"
             "\"recording_url\":\"ftp://x\",\"presenters\":[{\"organization\":\"NPI\"}],\"x\":1}",
             NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/title/es", "required"), "%s", r.body);
  cr_assert(has_error(&r, "/starts_at", "invalid_format"), "%s", r.body);
  cr_assert(has_error(&r, "/timezone", "invalid"), "%s", r.body);
  cr_assert(has_error(&r, "/audience", "invalid_enum"), "%s", r.body);
  cr_assert(has_error(&r, "/duration_minutes", "out_of_range"), "%s", r.body);
  cr_assert(has_error(&r, "/recording_url", "invalid_format"), "%s", r.body);
  cr_assert(has_error(&r, "/presenters/0/name", "required"), "%s", r.body);
  cr_assert(has_error(&r, "/x", "unknown_field"), "%s", r.body);
  th_free(&r);
  /* An abbreviation is not an IANA zone. */
  r = th_req(
      "POST", "/v1/webinars", th_admin(),
      "{\"title\":{\"es\":\"x\"},\"starts_at\":\"2021-06-10T10:00:00\",\"timezone\":\"CDT\"}",
      NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/timezone", "invalid"), "%s", r.body);
  th_free(&r);
  r = th_req("POST", "/v1/webinars", th_admin(), "{\"starts_at\":\"2021-06-10T25:00:00\"}", NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/starts_at", "invalid_format"), "%s", r.body);
  cr_assert(has_error(&r, "/title", "required"), "%s", r.body);
  th_free(&r);
}

/* ------------------------------------------------------------ visibility */

static void make_agencies(void) {
  free(th_sql("INSERT INTO agencies (id, name, type, level, state, member, dues_paid_through)"
              " VALUES ('" PAID_AGENCY "', 'Agencia al corriente (prueba)', 'law_enforcement',"
              " 'state', 'MX-QUE', true, mx_today()),"
              " ('" LAPSED_AGENCY "', 'Agencia con adeudo (prueba)', 'law_enforcement',"
              " 'state', 'MX-SON', true, mx_today() - 1)"
              " ON CONFLICT (id) DO NOTHING"));
}

/* The recording_url a caller sees of webinar id: "-" when it cannot see the webinar at all,
 * "null" when hidden, else the URL (malloc'd). */
static char *recording_seen(const char *id, const char *token) {
  char path[80];
  snprintf(path, sizeof path, "/v1/webinars/%s", id);
  struct th_resp r = th_req("GET", path, token, NULL, NULL);
  char *out;
  if (r.status == 404) {
    out = strdup("-");
  } else {
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(json_is_true(json_object_get(r.json, "has_recording")));
    const char *u = jstr(r.json, "recording_url");
    out = strdup(u ? u : "null");
  }
  th_free(&r);
  return out;
}

Test(webinars, members_recording_only_for_paying_agencies_admin_coalition) {
  make_agencies();
  char *pub = create_webinar("{\"title\":{\"es\":\"Visibilidad pública kiwi\"},"
                             "\"starts_at\":\"2024-02-01T10:00:00\",\"audience\":\"public\","
                             "\"recording_url\":\"https://example.org/pub\"}");
  char *mem = create_webinar("{\"title\":{\"es\":\"Visibilidad socios kiwi\"},"
                             "\"starts_at\":\"2024-02-02T10:00:00\",\"audience\":\"members\","
                             "\"recording_url\":\"https://example.org/mem\"}");
  char *prog = create_webinar("{\"title\":{\"es\":\"Visibilidad programa kiwi\"},"
                              "\"starts_at\":\"2024-02-03T10:00:00\",\"audience\":\"program\","
                              "\"recording_url\":\"https://example.org/prog\"}");
  char *paid = token_of("agency", PAID_AGENCY), *lapsed = token_of("agency", LAPSED_AGENCY);
  char *coalition = token_of("coalition", NULL), *inl = token_of("inl", NULL);
  char *partner = token_of("partner", NULL);
  struct {
    const char *who, *token, *pub, *mem, *prog;
  } cases[] = {
      {"anonymous", NULL, "https://example.org/pub", "-", "-"},
      {"partner", partner, "https://example.org/pub", "-", "-"},
      {"inl", inl, "https://example.org/pub", "null", "https://example.org/prog"},
      {"lapsed agency", lapsed, "https://example.org/pub", "null", "https://example.org/prog"},
      {"paid agency", paid, "https://example.org/pub", "https://example.org/mem",
       "https://example.org/prog"},
      {"coalition", coalition, "https://example.org/pub", "https://example.org/mem",
       "https://example.org/prog"},
      {"admin", th_admin(), "https://example.org/pub", "https://example.org/mem",
       "https://example.org/prog"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *a = recording_seen(pub, cases[i].token), *b = recording_seen(mem, cases[i].token),
         *c = recording_seen(prog, cases[i].token);
    cr_expect_str_eq(a, cases[i].pub, "%s public", cases[i].who);
    cr_expect_str_eq(b, cases[i].mem, "%s members", cases[i].who);
    cr_expect_str_eq(c, cases[i].prog, "%s program", cases[i].who);
    free(a);
    free(b);
    free(c);
  }
  /* Lists apply the same rules. */
  struct th_resp r = th_req("GET", "/v1/webinars?q=kiwi", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(list_len(&r), 1, "%s", r.body);
  th_free(&r);
  r = th_req("GET", "/v1/webinars?q=kiwi&audience=members", lapsed, NULL, NULL);
  cr_assert_eq(list_len(&r), 1, "%s", r.body);
  cr_assert(json_is_null(
      json_object_get(json_array_get(json_object_get(r.json, "data"), 0), "recording_url")));
  th_free(&r);
  r = th_req("GET", "/v1/webinars?q=kiwi&audience=members", paid, NULL, NULL);
  cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "data"), 0), "recording_url"),
                   "https://example.org/mem");
  th_free(&r);
  /* Dues that lapse today hide it at once: the rule is evaluated on every request. */
  free(th_sql("UPDATE agencies SET dues_paid_through = mx_today() - 1 WHERE id = '" PAID_AGENCY
              "'"));
  char *b = recording_seen(mem, paid);
  cr_assert_str_eq(b, "null");
  free(b);
  free(th_sql("UPDATE agencies SET dues_paid_through = mx_today() WHERE id = '" PAID_AGENCY "'"));
  free(pub);
  free(mem);
  free(prog);
  free(paid);
  free(lapsed);
  free(coalition);
  free(inl);
  free(partner);
}

/* --------------------------------------------------------------- filters */

Test(webinars, filters_from_to_topic_audience_status_q) {
  char *a = create_webinar("{\"title\":{\"es\":\"Integridad Policíaca mango\","
                           "\"en\":\"Police Integrity mango\"},"
                           "\"description\":{\"es\":\"Ética y corrupción\",\"en\":\"Ethics\"},"
                           "\"starts_at\":\"2020-04-24T10:00:00\",\"topics\":[\"integrity\"],"
                           "\"status\":\"held\",\"audience\":\"public\"}");
  char *b = create_webinar("{\"title\":{\"es\":\"Estándares Difíciles mango\"},"
                           "\"starts_at\":\"2020-10-30T10:00:00\","
                           "\"topics\":[\"standards\",\"law_enforcement\"],"
                           "\"status\":\"scheduled\",\"audience\":\"program\"}");
  struct {
    const char *query;
    size_t want;
  } cases[] = {
      {"q=mango", 2},
      {"q=policiaca%20MANGO", 1},          /* accent- and case-insensitive, Spanish */
      {"q=police%20integrity%20mango", 1}, /* English */
      {"q=etica", 1},                      /* description */
      {"q=mango&from=2020-10-30", 1},
      {"q=mango&to=2020-10-29", 1},
      {"q=mango&from=2020-04-24&to=2020-04-24", 1},
      {"q=mango&topic=STANDARDS", 1},
      {"q=mango&topic=integrity&topic=standards", 2},
      {"q=mango&audience=program", 1},
      {"q=mango&status=held", 1},
      {"q=mango&status=held&status=scheduled", 2},
      {"q=mango&status=cancelled", 0},
  };
  char path[256];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    snprintf(path, sizeof path, "/v1/webinars?%s", cases[i].query);
    struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
    cr_expect_eq(list_len(&r), cases[i].want, "%s: %s", path, r.body);
    th_free(&r);
  }
  /* Sort by starts_at, descending; paging follows the cursor. */
  struct th_resp r =
      th_req("GET", "/v1/webinars?q=mango&sort=-starts_at&limit=1", th_admin(), NULL, NULL);
  cr_assert_eq(list_len(&r), 1);
  cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), b);
  const char *next = jstr(r.json, "next_cursor");
  cr_assert_not_null(next);
  snprintf(path, sizeof path, "/v1/webinars?q=mango&sort=-starts_at&limit=1&cursor=%s", next);
  th_free(&r);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), a);
  cr_assert(json_is_null(json_object_get(r.json, "next_cursor")));
  th_free(&r);
  /* Bad filter values are 400s. */
  r = th_req("GET", "/v1/webinars?audience=all&from=June&sort=title", NULL, NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  cr_assert(has_error(&r, "/query/audience", "invalid_enum"), "%s", r.body);
  cr_assert(has_error(&r, "/query/from", "invalid_format"), "%s", r.body);
  th_free(&r);
  r = th_req("GET", "/v1/webinars?sort=title", NULL, NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
  free(a);
  free(b);
}

/* ----------------------------------------------------------------- roles */

Test(webinars, only_admin_and_coalition_write) {
  const char *body = "{\"title\":{\"es\":\"Roles\"},\"starts_at\":\"2024-03-01T10:00:00\"}";
  struct th_resp r = th_req("POST", "/v1/webinars", NULL, body, NULL);
  assert_problem(&r, 401, "unauthorized");
  th_free(&r);
  const char *denied[] = {"agency", "inl", "advisor", "partner"};
  for (size_t i = 0; i < 4; i++) {
    char *t = token_of(denied[i], strcmp(denied[i], "agency") == 0 ? PAID_AGENCY : NULL);
    r = th_req("POST", "/v1/webinars", t, body, NULL);
    assert_problem(&r, 403, "forbidden");
    th_free(&r);
    free(t);
  }
  char *coalition = token_of("coalition", NULL);
  r = th_req("POST", "/v1/webinars", coalition, body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "audience"), "public");
  cr_assert_str_eq(jstr(r.json, "status"), "scheduled");
  cr_assert_eq(json_integer_value(json_object_get(r.json, "duration_minutes")), 60);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 1);
  char path[80];
  snprintf(path, sizeof path, "/v1/webinars/%s", jstr(r.json, "id"));
  th_free(&r);
  char *agency = token_of("agency", PAID_AGENCY);
  r = th_req("PATCH", path, agency, "{\"status\":\"held\"}", NULL);
  assert_problem(&r, 403, "forbidden");
  th_free(&r);
  r = th_req("DELETE", path, NULL, NULL, NULL);
  assert_problem(&r, 401, "unauthorized");
  th_free(&r);
  free(agency);

  /* If-Match: a stale tag is 412 and changes nothing; the current one works. */
  r = th_req("GET", path, coalition, NULL, NULL);
  char *etag = th_header(&r, "ETag");
  th_free(&r);
  char if_match[96];
  snprintf(if_match, sizeof if_match, "If-Match: %s", etag);
  const char *const h[] = {if_match, NULL};
  r = th_req("PATCH", path, coalition, "{\"status\":\"held\",\"attendance\":95}", h);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 2);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "attendance")), 95);
  th_free(&r);
  r = th_req("PATCH", path, coalition, "{\"status\":\"cancelled\"}", h);
  assert_problem(&r, 412, "precondition-failed");
  th_free(&r);
  r = th_req("DELETE", path, coalition, NULL, h);
  assert_problem(&r, 412, "precondition-failed");
  th_free(&r);
  r = th_req("PATCH", path, coalition, "{}", NULL);
  assert_problem(&r, 422, "validation");
  th_free(&r);
  r = th_req("PATCH", path, coalition, "{\"title\":null}", NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/title", "not_null"), "%s", r.body);
  th_free(&r);
  r = th_req("DELETE", path, coalition, NULL, NULL);
  cr_assert_eq(r.status, 204, "%s", r.body);
  th_free(&r);
  r = th_req("GET", path, coalition, NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  r = th_req("GET", "/v1/webinars/not-a-uuid", NULL, NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  /* Every write is audited under the resource name "webinar". */
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT string_agg(action, ',' ORDER BY seq) FROM audit WHERE resource = 'webinar'"
           " AND resource_id = '%s'",
           path + strlen("/v1/webinars/"));
  char *actions = th_sql(sql);
  cr_assert_str_eq(actions, "created,updated,deleted");
  free(actions);
  free(etag);
  free(coalition);
}

Test(webinars, idempotent_create) {
  const char *const h[] = {"Idempotency-Key: webinar-create-1", NULL};
  const char *body = "{\"title\":{\"es\":\"Idempotente\"},\"starts_at\":\"2024-03-02T10:00:00Z\"}";
  struct th_resp a = th_req("POST", "/v1/webinars", th_admin(), body, h);
  struct th_resp b = th_req("POST", "/v1/webinars", th_admin(), body, h);
  cr_assert_eq(a.status, 201, "%s", a.body);
  cr_assert_eq(b.status, 201, "%s", b.body);
  cr_assert_str_eq(jstr(a.json, "id"), jstr(b.json, "id"));
  char *replayed = th_header(&b, "Idempotent-Replayed");
  cr_assert_str_eq(replayed, "true");
  free(replayed);
  th_free(&a);
  th_free(&b);
}

/* ------------------------------------------------------------- demo data */

Test(webinars, demo_has_the_program_series) {
  cr_assert_eq(th_sql_long("SELECT count(*) FROM webinars WHERE demo"), 21);
  /* Anonymous callers list the public ones, with their Spanish titles. */
  const char *const es[] = {"Accept-Language: es", NULL};
  struct th_resp r =
      th_req("GET", "/v1/webinars?q=integridad%20policial&status=held", NULL, NULL, es);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(list_len(&r), 1, "%s", r.body);
  const json_t *w = json_array_get(json_object_get(r.json, "data"), 0);
  cr_assert_str_eq(jstr(json_object_get(w, "title"), "es"), "Integridad Policial");
  cr_assert_str_eq(jstr(json_object_get(w, "title"), "en"), "Police Integrity");
  cr_assert_str_eq(jstr(w, "audience"), "public");
  th_free(&r);
  /* Proofs of Compliance, 10 June 2021 at 10:00 in Mexico City: daylight saving time. */
  r = th_req("GET", "/v1/webinars?q=pruebas%20de%20cumplimiento", th_admin(), NULL, NULL);
  w = json_array_get(json_object_get(r.json, "data"), 0);
  cr_assert_str_eq(jstr(w, "starts_at"), "2021-06-10T15:00:00Z", "%s", r.body);
  cr_assert_str_eq(jstr(w, "starts_at_local"), "2021-06-10T10:00:00-05:00");
  th_free(&r);
  /* The CALEA Evaluations Model, 22 February 2023: no daylight saving any more. */
  r = th_req("GET", "/v1/webinars?q=modelo%20de%20evaluacion%20calea", th_admin(), NULL, NULL);
  w = json_array_get(json_object_get(r.json, "data"), 0);
  cr_assert_str_eq(jstr(w, "starts_at"), "2023-02-22T16:00:00Z", "%s", r.body);
  th_free(&r);
  /* Every audience is represented, and the anonymous view holds only public ones. */
  cr_assert_eq(th_sql_long("SELECT count(DISTINCT audience) FROM webinars WHERE demo"), 3);
  r = th_req("GET", "/v1/webinars?status=held&count=exact&limit=200", NULL, NULL, NULL);
  long anon_total = (long)json_integer_value(json_object_get(r.json, "total"));
  cr_assert_eq(anon_total,
               th_sql_long("SELECT count(*) FROM webinars WHERE audience = 'public' AND status = "
                           "'held'"),
               "%s", r.body);
  th_free(&r);
}
