/*
 * test_workshops.c — /v1/workshops, registrations, check-ins and attendance against the real
 * server and PostgreSQL. The seat rules are tested the way they fail in production: many
 * clients at the same moment over real HTTP (pthreads released together by a barrier).
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("workshops", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

#define AGENCY_A "b6000000-0000-4000-8000-00000000000a"
#define AGENCY_B "b6000000-0000-4000-8000-00000000000b"
#define DEMO_AGENCY "a0000000-0000-4000-8000-000000000001"
#define UPCOMING "e5c00000-0000-4000-8000-000000000006"

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static long jint(const json_t *o, const char *k) {
  return (long)json_integer_value(json_object_get(o, k));
}

static void assert_problem(const struct th_resp *r, long status, const char *slug) {
  cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body);
  char *ct = th_header(r, "Content-Type");
  cr_assert(ct && strstr(ct, "application/problem+json"), "content type %s", ct);
  free(ct);
  char want[128];
  snprintf(want, sizeof want, "https://acredita.dev/problems/%s", slug);
  cr_assert_str_eq(jstr(r->json, "type"), want, "%s", r->body);
}

static bool has_error(const struct th_resp *r, const char *field, const char *code) {
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(r->json, "errors"), i, e) {
    if (strcmp(jstr(e, "field"), field) == 0 && strcmp(jstr(e, "code"), code) == 0)
      return true;
  }
  return false;
}

static void make_agencies(void) {
  free(th_sql("INSERT INTO agencies (id, name, type, level, state) VALUES"
              " ('" AGENCY_A "', 'Agencia A (prueba)', 'training_academy', 'state', 'MX-QUE'),"
              " ('" AGENCY_B "', 'Agencia B (prueba)', 'communications_center', 'state', 'MX-SON')"
              " ON CONFLICT (id) DO NOTHING"));
}

static char *token_of(const char *role, const char *agency) {
  return th_token(role, "5e000000-0000-4000-8000-00000000000b", agency);
}

/* Creates a workshop as admin; extra is spliced into the JSON body (",\"k\":v…" or "").
 * Returns its id (malloc'd). */
static char *create_workshop(const char *mode, const char *status, const char *extra) {
  char body[1024];
  snprintf(body, sizeof body,
           "{\"title\":{\"es\":\"Taller de prueba\",\"en\":\"Test workshop\"},\"mode\":\"%s\","
           "\"starts_on\":\"2099-06-01\",\"ends_on\":\"2099-06-03\",\"status\":\"%s\","
           "\"organizer\":\"caispmex\"%s}",
           mode, status, extra);
  struct th_resp r = th_req("POST", "/v1/workshops", th_admin(), body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  th_free(&r);
  return id;
}

static struct th_resp register_person(const char *workshop, const char *token, const char *email,
                                      const char *extra) {
  char path[96], body[512];
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations", workshop);
  snprintf(body, sizeof body, "{\"person\":{\"name\":\"Persona de prueba\",\"email\":\"%s\"}%s}",
           email, extra);
  return th_req("POST", path, token, body, NULL);
}

/* Registers and returns the new registration's id (malloc'd); asserts 201. */
static char *register_ok(const char *workshop, const char *email, const char *extra) {
  struct th_resp r = register_person(workshop, th_admin(), email, extra);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  th_free(&r);
  return id;
}

static struct th_resp get_registration(const char *workshop, const char *id) {
  char path[160];
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s", workshop, id);
  return th_req("GET", path, th_admin(), NULL, NULL);
}

/* -------------------------------------------------------- concurrency */

struct racer {
  pthread_barrier_t *start;
  const char *workshop;
  const char *token;
  char email[96];
  long status;
  char reg_status[16];
  long position;
  char id[40];
  char detail[512];
};

static void *race(void *arg) {
  struct racer *x = arg;
  pthread_barrier_wait(x->start);
  struct th_resp r = register_person(x->workshop, x->token, x->email, "");
  x->status = r.status;
  if (r.status == 201) {
    snprintf(x->reg_status, sizeof x->reg_status, "%s", jstr(r.json, "status"));
    x->position = jint(r.json, "waitlist_position");
    snprintf(x->id, sizeof x->id, "%s", jstr(r.json, "id"));
  } else if (r.json != NULL && jstr(r.json, "detail") != NULL) {
    snprintf(x->detail, sizeof x->detail, "%s|%s", jstr(r.json, "type"), jstr(r.json, "detail"));
  }
  th_free(&r);
  return NULL;
}

/* Runs n registrations at once. email NULL gives each racer its own address; otherwise they
 * all use email, every other one in capitals (emails compare case-insensitively). */
static struct racer *run_race(const char *workshop, const char *token, int n, const char *email) {
  struct racer *xs = calloc((size_t)n, sizeof *xs);
  pthread_t *ts = calloc((size_t)n, sizeof *ts);
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)n);
  for (int i = 0; i < n; i++) {
    xs[i].start = &start;
    xs[i].workshop = workshop;
    xs[i].token = token;
    if (email == NULL)
      snprintf(xs[i].email, sizeof xs[i].email, "racer%02d@example.org", i);
    else
      snprintf(xs[i].email, sizeof xs[i].email, "%s", email);
    for (char *c = xs[i].email; email != NULL && i % 2 == 1 && *c; c++)
      *c = (char)toupper((unsigned char)*c);
    pthread_create(&ts[i], NULL, race, &xs[i]);
  }
  for (int i = 0; i < n; i++)
    pthread_join(ts[i], NULL);
  pthread_barrier_destroy(&start);
  free(ts);
  return xs;
}

Test(concurrency, forty_clients_five_seats_then_cancel_promotes) {
  make_agencies();
  char *w = create_workshop("in_person", "open", ",\"capacity\":{\"in_person\":5}");
  char *agency = token_of("agency", AGENCY_A);
  struct th_resp warm = th_req("GET", "/healthz", NULL, NULL, NULL); /* libcurl set up once */
  th_free(&warm);

  struct racer *xs = run_race(w, agency, 40, NULL);
  int confirmed = 0;
  bool seen[36] = {false};
  for (int i = 0; i < 40; i++) {
    cr_assert_eq(xs[i].status, 201, "racer %d: %ld %s", i, xs[i].status, xs[i].detail);
    if (strcmp(xs[i].reg_status, "confirmed") == 0) {
      confirmed++;
      cr_assert_eq(xs[i].position, 0);
    } else {
      cr_assert_str_eq(xs[i].reg_status, "waitlisted");
      cr_assert(xs[i].position >= 1 && xs[i].position <= 35, "position %ld", xs[i].position);
      cr_assert(!seen[xs[i].position], "position %ld given twice", xs[i].position);
      seen[xs[i].position] = true;
    }
  }
  cr_assert_eq(confirmed, 5);
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM workshop_registrations WHERE workshop_id = '%s'"
           " AND status = 'confirmed'",
           w);
  cr_assert_eq(th_sql_long(sql), 5);

  /* The workshop shows the seats. */
  char path[160];
  snprintf(path, sizeof path, "/v1/workshops/%s", w);
  struct th_resp r = th_req("GET", path, NULL, NULL, NULL);
  json_t *in_person = json_object_get(json_object_get(r.json, "registrations"), "in_person");
  cr_assert_eq(jint(in_person, "confirmed"), 5, "%s", r.body);
  cr_assert_eq(jint(in_person, "waitlisted"), 35);
  th_free(&r);

  /* Cancel one confirmed (DELETE): the first waitlisted is confirmed, the others move up. */
  const char *first = NULL, *second = NULL, *cancel = NULL;
  for (int i = 0; i < 40; i++) {
    if (xs[i].position == 1)
      first = xs[i].id;
    if (xs[i].position == 2)
      second = xs[i].id;
    if (xs[i].position == 0 && cancel == NULL)
      cancel = xs[i].id;
  }
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s", w, cancel);
  r = th_req("DELETE", path, agency, NULL, NULL);
  cr_assert_eq(r.status, 204, "%s", r.body);
  th_free(&r);
  r = get_registration(w, cancel);
  cr_assert_str_eq(jstr(r.json, "status"), "cancelled");
  cr_assert_not_null(jstr(r.json, "cancelled_at"));
  th_free(&r);
  r = get_registration(w, first);
  cr_assert_str_eq(jstr(r.json, "status"), "confirmed", "%s", r.body);
  cr_assert(json_is_null(json_object_get(r.json, "waitlist_position")));
  th_free(&r);
  r = get_registration(w, second);
  cr_assert_str_eq(jstr(r.json, "status"), "waitlisted");
  cr_assert_eq(jint(r.json, "waitlist_position"), 1);
  th_free(&r);
  for (int i = 0; i < 40; i++) {
    if (xs[i].position < 2)
      continue;
    r = get_registration(w, xs[i].id);
    cr_assert_eq(jint(r.json, "waitlist_position"), xs[i].position - 1, "%s", r.body);
    th_free(&r);
  }
  cr_assert_eq(th_sql_long(sql), 5);
  /* The promotion is audited as a change of the promoted registration. */
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM audit WHERE resource = 'registration' AND resource_id = '%s'"
           " AND action = 'updated' AND changes ? 'status'",
           first);
  cr_assert_eq(th_sql_long(sql), 1);

  /* Cancel a waitlisted one with PATCH: the places behind it close the gap. */
  const char *tenth = NULL;
  for (int i = 0; i < 40; i++)
    if (xs[i].position == 11) /* now 10th */
      tenth = xs[i].id;
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s", w, tenth);
  r = th_req("PATCH", path, th_admin(), "{\"status\":\"cancelled\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "status"), "cancelled");
  cr_assert(json_is_null(json_object_get(r.json, "waitlist_position")));
  th_free(&r);
  snprintf(sql, sizeof sql,
           "SELECT string_agg(waitlist_position::text, ',' ORDER BY waitlist_position)"
           " = (SELECT string_agg(n::text, ',' ORDER BY n) FROM generate_series(1, 33) n)"
           " FROM workshop_registrations WHERE workshop_id = '%s' AND status = 'waitlisted'",
           w);
  char *contiguous = th_sql(sql);
  cr_assert_str_eq(contiguous, "t");
  free(contiguous);

  /* Cancelling a confirmed one with PATCH promotes too. */
  const char *other = NULL;
  for (int i = 0; i < 40; i++)
    if (xs[i].position == 0 && xs[i].id != cancel)
      other = xs[i].id;
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s", w, other);
  r = th_req("PATCH", path, th_admin(), "{\"status\":\"cancelled\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  r = get_registration(w, second);
  cr_assert_str_eq(jstr(r.json, "status"), "confirmed", "%s", r.body);
  th_free(&r);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM workshop_registrations WHERE workshop_id = '%s'"
           " AND status = 'confirmed'",
           w);
  cr_assert_eq(th_sql_long(sql), 5);
  free(xs);
  free(agency);
  free(w);
}

Test(concurrency, twenty_same_email_exactly_one) {
  char *w = create_workshop("virtual", "open", "");
  struct th_resp warm = th_req("GET", "/healthz", NULL, NULL, NULL);
  th_free(&warm);
  struct racer *xs = run_race(w, th_admin(), 20, "same.person@example.org");
  int created = 0;
  const char *winner = NULL;
  for (int i = 0; i < 20; i++)
    if (xs[i].status == 201) {
      created++;
      winner = xs[i].id;
    }
  cr_assert_eq(created, 1);
  for (int i = 0; i < 20; i++) {
    if (xs[i].status == 201)
      continue;
    cr_assert_eq(xs[i].status, 409, "%ld %s", xs[i].status, xs[i].detail);
    cr_assert(strstr(xs[i].detail, "https://acredita.dev/problems/conflict|") == xs[i].detail, "%s",
              xs[i].detail);
    cr_assert(strstr(xs[i].detail, winner) != NULL, "the 409 names the existing one: %s",
              xs[i].detail);
  }
  free(xs);
  free(w);
}

/* ------------------------------------------------------------ seat rules */

Test(registrations, duplicate_names_existing_and_cancelled_frees_email) {
  char *w = create_workshop("virtual", "open", "");
  char *a = register_ok(w, "dup@example.org", "");
  struct th_resp r = register_person(w, th_admin(), "DUP@example.ORG", "");
  assert_problem(&r, 409, "conflict");
  cr_assert(strstr(jstr(r.json, "detail"), a) != NULL, "%s", r.body);
  th_free(&r);
  char path[160];
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s", w, a);
  r = th_req("DELETE", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 204);
  th_free(&r);
  /* Deleting again is harmless. */
  r = th_req("DELETE", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 204);
  th_free(&r);
  char *b = register_ok(w, "dup@example.org", "");
  cr_assert_str_neq(a, b);
  /* A PATCH to an email that has a live registration is refused too. */
  free(register_ok(w, "dup2@example.org", ""));
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s", w, b);
  r = th_req("PATCH", path, th_admin(), "{\"person\":{\"email\":\"Dup2@example.org\"}}", NULL);
  assert_problem(&r, 409, "conflict");
  th_free(&r);
  free(a);
  free(b);
  free(w);
}

Test(registrations, window_and_status_rules_are_409) {
  struct {
    const char *status, *extra;
  } closed[] = {
      {"closed", ""},
      {"held", ""},
      {"cancelled", ""},
      {"open", ",\"registration_opens_at\":\"2098-01-01T00:00:00Z\""},
      {"open", ",\"registration_opens_at\":\"2020-01-01T00:00:00Z\","
               "\"registration_closes_at\":\"2021-01-01T00:00:00-06:00\""},
  };
  for (size_t i = 0; i < sizeof closed / sizeof *closed; i++) {
    char *w = create_workshop("virtual", closed[i].status, closed[i].extra);
    struct th_resp r = register_person(w, th_admin(), "window@example.org", "");
    assert_problem(&r, 409, "conflict");
    th_free(&r);
    free(w);
  }
  /* Inside an explicit window: fine. */
  char *w = create_workshop("virtual", "open",
                            ",\"registration_opens_at\":\"2020-01-01T00:00:00Z\","
                            "\"registration_closes_at\":\"2098-01-01T00:00:00Z\"");
  free(register_ok(w, "window@example.org", ""));
  free(w);
  /* A draft is invisible to an agency user (404), and not open to the admin (409). */
  make_agencies();
  char *agency = token_of("agency", AGENCY_A);
  w = create_workshop("virtual", "draft", "");
  struct th_resp r = register_person(w, agency, "draft@example.org", "");
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  r = register_person(w, th_admin(), "draft@example.org", "");
  assert_problem(&r, 409, "conflict");
  th_free(&r);
  free(agency);
  free(w);
  r = register_person("4d1e0f00-0000-4000-8000-000000000000", th_admin(), "x@example.org", "");
  assert_problem(&r, 404, "not-found");
  th_free(&r);
}

Test(registrations, capacity_and_waitlist_per_mode) {
  char *w = create_workshop("hybrid", "open", ",\"capacity\":{\"in_person\":1,\"virtual\":1}");
  const char *in = ",\"attendance_mode\":\"in_person\"", *on = ",\"attendance_mode\":\"virtual\"";
  struct th_resp r = register_person(w, th_admin(), "m1@example.org", in);
  cr_assert_str_eq(jstr(r.json, "status"), "confirmed", "%s", r.body);
  th_free(&r);
  r = register_person(w, th_admin(), "m2@example.org", in);
  cr_assert_str_eq(jstr(r.json, "status"), "waitlisted");
  cr_assert_eq(jint(r.json, "waitlist_position"), 1);
  char *m2 = strdup(jstr(r.json, "id"));
  th_free(&r);
  r = register_person(w, th_admin(), "m3@example.org", on);
  cr_assert_str_eq(jstr(r.json, "status"), "confirmed", "%s", r.body);
  th_free(&r);
  r = register_person(w, th_admin(), "m4@example.org", on);
  cr_assert_str_eq(jstr(r.json, "status"), "waitlisted");
  cr_assert_eq(jint(r.json, "waitlist_position"), 1);
  th_free(&r);
  r = register_person(w, th_admin(), "m5@example.org", in);
  cr_assert_eq(jint(r.json, "waitlist_position"), 2);
  th_free(&r);
  /* A hybrid workshop needs the mode. */
  r = register_person(w, th_admin(), "m6@example.org", "");
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/attendance_mode", "required"), "%s", r.body);
  th_free(&r);
  /* More seats take people off the waitlist at once. */
  char path[160];
  snprintf(path, sizeof path, "/v1/workshops/%s", w);
  r = th_req("PATCH", path, th_admin(), "{\"capacity\":{\"in_person\":2}}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *cap = json_object_get(r.json, "capacity");
  cr_assert_eq(jint(cap, "in_person"), 2);
  cr_assert_eq(jint(cap, "virtual"), 1, "capacity merges: %s", r.body);
  json_t *seats = json_object_get(json_object_get(r.json, "registrations"), "in_person");
  cr_assert_eq(jint(seats, "confirmed"), 2, "%s", r.body);
  cr_assert_eq(jint(seats, "waitlisted"), 1);
  th_free(&r);
  r = get_registration(w, m2);
  cr_assert_str_eq(jstr(r.json, "status"), "confirmed", "%s", r.body);
  th_free(&r);
  free(m2);
  free(w);
  /* In-person-only workshops refuse virtual registrations, and default the mode. */
  w = create_workshop("in_person", "open", "");
  r = register_person(w, th_admin(), "v@example.org", on);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/attendance_mode", "invalid"), "%s", r.body);
  th_free(&r);
  r = register_person(w, th_admin(), "v@example.org", "");
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "attendance_mode"), "in_person");
  cr_assert_str_eq(jstr(r.json, "status"), "confirmed", "unlimited capacity");
  th_free(&r);
  free(w);
}

/* ------------------------------------------------------------------ roles */

Test(registrations, roles_and_agency_scoping) {
  make_agencies();
  char *w = create_workshop("virtual", "open", "");
  char *a = token_of("agency", AGENCY_A), *b = token_of("agency", AGENCY_B);
  struct th_resp r = register_person(w, NULL, "anon@example.org", "");
  assert_problem(&r, 401, "unauthorized");
  th_free(&r);
  const char *denied[] = {"partner", "inl", "advisor"};
  for (size_t i = 0; i < 3; i++) {
    char *t = token_of(denied[i], NULL);
    r = register_person(w, t, "denied@example.org", "");
    assert_problem(&r, 403, "forbidden");
    th_free(&r);
    free(t);
  }
  /* An agency user registers its own people: the agency defaults to its own … */
  r = register_person(w, a, "own@example.org", "");
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "agency_id"), AGENCY_A);
  char *mine = strdup(jstr(r.json, "id"));
  char *loc = th_header(&r, "Location");
  char want[160];
  snprintf(want, sizeof want, "/v1/workshops/%s/registrations/%s", w, mine);
  cr_assert_str_eq(loc, want);
  free(loc);
  th_free(&r);
  /* … and may not be another's, nor none. */
  r = register_person(w, a, "other@example.org", ",\"agency_id\":\"" AGENCY_B "\"");
  assert_problem(&r, 403, "forbidden");
  th_free(&r);
  r = register_person(w, a, "other@example.org", ",\"agency_id\":null");
  assert_problem(&r, 403, "forbidden");
  th_free(&r);
  r = register_person(w, b, "theirs@example.org", ",\"agency_id\":\"" AGENCY_B "\"");
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *theirs = strdup(jstr(r.json, "id"));
  th_free(&r);
  /* Admin and coalition register anybody; an unknown agency is a field error. */
  char *coalition = token_of("coalition", NULL);
  r = register_person(w, coalition, "free@example.org", ",\"agency_id\":null");
  cr_assert_eq(r.status, 201, "%s", r.body);
  th_free(&r);
  r = register_person(w, coalition, "ghost@example.org",
                      ",\"agency_id\":\"0a000000-0000-4000-8000-0000000000ff\"");
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/agency_id", "not_found"), "%s", r.body);
  th_free(&r);

  /* Agency users see only their own agency's registrations. */
  char path[200];
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations?count=exact", w);
  r = th_req("GET", path, a, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(jint(r.json, "total"), 1, "%s", r.body);
  th_free(&r);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(jint(r.json, "total"), 3, "%s", r.body);
  th_free(&r);
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s", w, theirs);
  r = th_req("GET", path, a, NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  r = th_req("DELETE", path, a, NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  r = th_req("GET", path, NULL, NULL, NULL);
  assert_problem(&r, 401, "unauthorized");
  th_free(&r);
  char *partner = token_of("partner", NULL);
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations", w);
  r = th_req("GET", path, partner, NULL, NULL);
  assert_problem(&r, 403, "forbidden");
  th_free(&r);
  /* An agency user cancels its own (If-Match honoured). */
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s", w, mine);
  const char *const stale[] = {"If-Match: \"0000\"", NULL};
  r = th_req("DELETE", path, a, NULL, stale);
  assert_problem(&r, 412, "precondition-failed");
  th_free(&r);
  r = th_req("DELETE", path, a, NULL, NULL);
  cr_assert_eq(r.status, 204, "%s", r.body);
  th_free(&r);
  /* Filters. */
  snprintf(path, sizeof path,
           "/v1/workshops/%s/registrations?status=cancelled&agency_id=" AGENCY_A "&q=OWN", w);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 1, "%s", r.body);
  th_free(&r);
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations?workshop=x", w);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations?id=%s", w, w);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
  free(mine);
  free(theirs);
  free(a);
  free(b);
  free(coalition);
  free(partner);
  free(w);
}

Test(registrations, validation_reports_every_field) {
  char *w = create_workshop("virtual", "open", "");
  char path[160];
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations", w);
  struct th_resp r = th_req("POST", path, th_admin(),
                            "{\"person\":{\"email\":\"not-an-email\"},\"attendance_mode\":\"sofa\","
                            "\"agency_id\":\"nope\",\"seat\":3}",
                            NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/person/name", "required"), "%s", r.body);
  cr_assert(has_error(&r, "/person/email", "invalid_format"), "%s", r.body);
  cr_assert(has_error(&r, "/attendance_mode", "invalid_enum"), "%s", r.body);
  cr_assert(has_error(&r, "/agency_id", "invalid_format"), "%s", r.body);
  cr_assert(has_error(&r, "/seat", "unknown_field"), "%s", r.body);
  th_free(&r);
  char *id = register_ok(w, "patch@example.org", "");
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s", w, id);
  r = th_req("PATCH", path, th_admin(), "{\"status\":\"confirmed\"}", NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/status", "invalid_enum"), "%s", r.body);
  th_free(&r);
  r = th_req("PATCH", path, th_admin(), "{\"person\":{\"position\":\"Directora\"}}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(json_object_get(r.json, "person"), "position"), "Directora");
  cr_assert_str_eq(jstr(json_object_get(r.json, "person"), "email"), "patch@example.org");
  cr_assert_eq(jint(r.json, "version"), 2);
  th_free(&r);
  free(id);
  free(w);
}

/* ---------------------------------------------------- check-ins, attendance */

Test(attendance, check_ins_per_day_idempotent) {
  char *w = create_workshop("hybrid", "open", ",\"capacity\":{\"in_person\":1}");
  char *a = register_ok(w, "a@example.org", ",\"attendance_mode\":\"in_person\"");
  char *b = register_ok(w, "b@example.org", ",\"attendance_mode\":\"in_person\"");
  char *c = register_ok(w, "c@example.org", ",\"attendance_mode\":\"virtual\"");
  char path[200];
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s/check-ins", w, a);
  struct th_resp r = th_req("POST", path, th_admin(), "{\"day\":\"2099-06-01\"}", NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_eq(json_array_size(json_object_get(r.json, "checked_in_on")), 1);
  cr_assert_eq(jint(r.json, "version"), 2);
  th_free(&r);
  r = th_req("POST", path, th_admin(), "{\"day\":\"2099-06-01\"}", NULL);
  cr_assert_eq(r.status, 200, "the same day again changes nothing: %s", r.body);
  cr_assert_eq(jint(r.json, "version"), 2);
  th_free(&r);
  char *coalition = token_of("coalition", NULL);
  r = th_req("POST", path, coalition, "{\"day\":\"2099-06-03\"}", NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(json_string_value(json_array_get(json_object_get(r.json, "checked_in_on"), 1)),
                   "2099-06-03", "%s", r.body);
  th_free(&r);
  r = th_req("POST", path, th_admin(), "{\"day\":\"2099-06-04\"}", NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/day", "out_of_range"), "%s", r.body);
  th_free(&r);
  r = th_req("POST", path, th_admin(), "{\"day\":\"tomorrow\"}", NULL);
  assert_problem(&r, 422, "validation");
  th_free(&r);
  /* Only confirmed people check in. */
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s/check-ins", w, b);
  r = th_req("POST", path, th_admin(), "{\"day\":\"2099-06-01\"}", NULL);
  assert_problem(&r, 409, "conflict");
  th_free(&r);
  /* Agency users do not check people in. */
  make_agencies();
  char *agency = token_of("agency", AGENCY_A);
  r = th_req("POST", path, agency, "{\"day\":\"2099-06-01\"}", NULL);
  assert_problem(&r, 403, "forbidden");
  th_free(&r);
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations/%s/check-ins", w, c);
  r = th_req("POST", path, th_admin(), "{\"day\":\"2099-06-01\"}", NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  th_free(&r);

  snprintf(path, sizeof path, "/v1/workshops/%s/attendance", w);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *days = json_object_get(r.json, "days");
  cr_assert_eq(json_array_size(days), 3, "every day of the workshop: %s", r.body);
  json_t *d1 = json_array_get(days, 0), *d2 = json_array_get(days, 1),
         *d3 = json_array_get(days, 2);
  cr_assert_str_eq(jstr(d1, "day"), "2099-06-01");
  cr_assert_eq(jint(d1, "in_person"), 1);
  cr_assert_eq(jint(d1, "virtual"), 1);
  cr_assert_eq(jint(d1, "total"), 2);
  cr_assert_eq(jint(d2, "total"), 0);
  cr_assert_eq(jint(d3, "in_person"), 1);
  json_t *regs = json_object_get(json_object_get(r.json, "registrations"), "in_person");
  cr_assert_eq(jint(regs, "confirmed"), 1, "%s", r.body);
  cr_assert_eq(jint(regs, "waitlisted"), 1);
  cr_assert_eq(jint(regs, "attended"), 1);
  th_free(&r);
  r = th_req("GET", path, agency, NULL, NULL);
  assert_problem(&r, 403, "forbidden");
  th_free(&r);
  char *inl = token_of("inl", NULL);
  r = th_req("GET", path, inl, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  snprintf(path, sizeof path, "/v1/workshops/%s/registrations?checked_in_on=2099-06-03", w);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 1, "%s", r.body);
  th_free(&r);
  free(inl);
  free(agency);
  free(coalition);
  free(a);
  free(b);
  free(c);
  free(w);
}

/* ------------------------------------------------------------- workshops */

Test(workshops, visibility_roles_validation_delete) {
  char *draft = create_workshop("in_person", "draft", ",\"city\":\"Zacatecas\"");
  char path[96];
  snprintf(path, sizeof path, "/v1/workshops/%s", draft);
  struct th_resp r = th_req("GET", path, NULL, NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  r = th_req("GET", "/v1/workshops?q=zacatecas", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 0, "%s", r.body);
  th_free(&r);
  char *coalition = token_of("coalition", NULL);
  r = th_req("GET", "/v1/workshops?q=zacatecas", coalition, NULL, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 1, "%s", r.body);
  th_free(&r);
  /* Publishing makes it public. */
  r = th_req("PATCH", path, coalition, "{\"status\":\"open\",\"venue\":\"Teatro Calderón\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert(json_is_true(json_object_get(r.json, "registration_open")));
  th_free(&r);
  r = th_req("GET", "/v1/workshops?q=teatro%20calderon&status=open&mode=in_person", NULL, NULL,
             NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 1, "%s", r.body);
  th_free(&r);
  r = th_req("GET", "/v1/workshops?q=zacatecas&from=2099-06-03&to=2099-12-31", NULL, NULL, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 1, "overlap: %s", r.body);
  th_free(&r);
  r = th_req("GET", "/v1/workshops?q=zacatecas&from=2099-06-04", NULL, NULL, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 0, "%s", r.body);
  th_free(&r);

  /* Roles. */
  const char *body = "{\"title\":{\"es\":\"x\"},\"mode\":\"virtual\",\"starts_on\":\"2099-01-01\","
                     "\"ends_on\":\"2099-01-01\",\"organizer\":\"npi\"}";
  r = th_req("POST", "/v1/workshops", NULL, body, NULL);
  assert_problem(&r, 401, "unauthorized");
  th_free(&r);
  char *agency = token_of("agency", DEMO_AGENCY);
  r = th_req("POST", "/v1/workshops", agency, body, NULL);
  assert_problem(&r, 403, "forbidden");
  th_free(&r);
  r = th_req("PATCH", path, agency, "{\"status\":\"held\"}", NULL);
  assert_problem(&r, 403, "forbidden");
  th_free(&r);

  /* Validation: shapes at once; rules across fields from the table's constraints. */
  r = th_req("POST", "/v1/workshops", coalition,
             "{\"title\":{},\"mode\":\"zoom\",\"starts_on\":\"2099-02-30\",\"status\":\"live\","
             "\"capacity\":{\"in_person\":-1},\"timezone\":\"Mexico City\"}",
             NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/title/es", "required"), "%s", r.body);
  cr_assert(has_error(&r, "/mode", "invalid_enum"), "%s", r.body);
  cr_assert(has_error(&r, "/starts_on", "invalid_format"), "%s", r.body);
  cr_assert(has_error(&r, "/ends_on", "required"), "%s", r.body);
  cr_assert(has_error(&r, "/status", "invalid_enum"), "%s", r.body);
  cr_assert(has_error(&r, "/capacity/in_person", "out_of_range"), "%s", r.body);
  cr_assert(has_error(&r, "/timezone", "invalid"), "%s", r.body);
  cr_assert(has_error(&r, "/organizer", "required"), "%s", r.body);
  th_free(&r);
  r = th_req("PATCH", path, coalition, "{\"ends_on\":\"2099-05-01\"}", NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/ends_on", "invalid"), "%s", r.body);
  th_free(&r);
  r = th_req("PATCH", path, coalition, "{\"state\":\"MX-XXX\"}", NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/state", "not_found"), "%s", r.body);
  th_free(&r);
  r = th_req("PATCH", path, coalition,
             "{\"registration_opens_at\":\"2099-01-02T00:00:00Z\","
             "\"registration_closes_at\":\"2099-01-01T00:00:00Z\"}",
             NULL);
  assert_problem(&r, 422, "validation");
  cr_assert(has_error(&r, "/registration_closes_at", "invalid"), "%s", r.body);
  th_free(&r);
  r = th_req("PATCH", path, coalition, "{\"timezone\":\"America/Merida\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "timezone"), "America/Merida");
  th_free(&r);

  /* A workshop with registrations is archived, not deleted: it can no longer be erased. */
  free(register_ok(draft, "keep@example.org", ""));
  r = th_req("DELETE", path, coalition, NULL, NULL);
  cr_assert_eq(r.status, 204, "%s", r.body);
  th_free(&r);
  char erasure[200];
  snprintf(erasure, sizeof erasure, "%s/erasure", path);
  r = th_req("POST", erasure, th_admin(), "{\"reason\":\"creado por error\"}", NULL);
  assert_problem(&r, 409, "conflict");
  cr_assert_eq(
      json_integer_value(json_object_get(json_object_get(r.json, "dependents"), "registrations")),
      1, "%s", r.body);
  th_free(&r);
  char *empty = create_workshop("virtual", "draft", "");
  snprintf(path, sizeof path, "/v1/workshops/%s", empty);
  r = th_req("DELETE", path, coalition, NULL, NULL);
  cr_assert_eq(r.status, 204, "%s", r.body);
  th_free(&r);
  r = th_req("GET", path, coalition, NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT string_agg(action, ',' ORDER BY seq) FROM audit WHERE resource = 'workshop'"
           " AND resource_id = '%s'",
           empty);
  char *actions = th_sql(sql);
  cr_assert_str_eq(actions, "created,archived");
  free(actions);
  r = th_req("GET", "/v1/workshops/nope", NULL, NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  r = th_req("GET", "/v1/workshops?status=draft&kind=amws&organizer=caispmex&sort=-starts_on",
             coalition, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  r = th_req("GET", "/v1/workshops?organizer=sedena", NULL, NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
  free(agency);
  free(coalition);
  free(draft);
  free(empty);
}

/* ------------------------------------------------------------- demo data */

/* The attendance of demo workshop id on day (index into days[]) for mode. */
static long demo_attendance(const char *id, size_t day, const char *mode) {
  char path[96];
  snprintf(path, sizeof path, "/v1/workshops/%s/attendance", id);
  struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  long n = jint(json_array_get(json_object_get(r.json, "days"), day), mode);
  th_free(&r);
  return n;
}

Test(demo, amws_attendance_matches_the_report) {
  struct th_resp r =
      th_req("GET", "/v1/workshops?kind=amws&status=held&count=exact", NULL, NULL, NULL);
  cr_assert_eq(jint(r.json, "total"), 5, "%s", r.body);
  json_t *first = json_array_get(json_object_get(r.json, "data"), 0);
  cr_assert_str_eq(jstr(first, "city"), "Mérida");
  cr_assert_str_eq(jstr(first, "starts_on"), "2019-03-13");
  th_free(&r);
  /* 2021, online, day 2: 180. */
  cr_assert_eq(demo_attendance("e5c00000-0000-4000-8000-000000000003", 1, "virtual"), 180);
  /* 2022, Monterrey: about 200 in person and 200 online. */
  cr_assert_eq(demo_attendance("e5c00000-0000-4000-8000-000000000004", 0, "in_person"), 200);
  cr_assert_eq(demo_attendance("e5c00000-0000-4000-8000-000000000004", 0, "virtual"), 200);
  /* 2024, Mexico City: about 200 in person. */
  cr_assert_eq(demo_attendance("e5c00000-0000-4000-8000-000000000005", 0, "in_person"), 200);
}

/* The "done": an agency user registers two people for the open workshop; one gets
 * the last seat, the other the waitlist. */
Test(demo, agency_user_registers_two_for_the_open_workshop) {
  struct th_resp r = th_req("GET", "/v1/workshops?status=open", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  bool found = false;
  size_t i;
  json_t *w;
  json_array_foreach(json_object_get(r.json, "data"), i, w) {
    if (strcmp(jstr(w, "id"), UPCOMING) == 0) {
      found = true;
      cr_assert(json_is_true(json_object_get(w, "registration_open")), "%s", r.body);
    }
  }
  cr_assert(found, "%s", r.body);
  th_free(&r);
  char *agency = token_of("agency", DEMO_AGENCY);
  const char *in = ",\"attendance_mode\":\"in_person\"";
  r = register_person(UPCOMING, agency, "gerente.uno@demo-agency.example", in);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "status"), "confirmed");
  th_free(&r);
  r = register_person(UPCOMING, agency, "gerente.dos@demo-agency.example", in);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "status"), "waitlisted");
  cr_assert_eq(jint(r.json, "waitlist_position"), 1);
  th_free(&r);
  free(agency);
}
