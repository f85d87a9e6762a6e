/*
 * test_transitions.c — the accreditation lifecycle: every edge of the graph accepted, moves
 * outside it refused with the allowed ones named, probation's memory, the dates each move
 * sets, awards (conditional, Tier 1 then Advanced, reaccreditation), who may move what, and
 * the audit of each move.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("transitions", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

#define ADVISOR_ID "00000000-0000-4000-8000-000000000003"

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static void assert_problem(const struct th_resp *r, long status, const char *slug) {
  cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body);
  char want[128];
  snprintf(want, sizeof want, "https://acredita.dev/problems/%s", slug);
  cr_assert_str_eq(jstr(r->json, "type"), want, "%s", r->body);
}

static const char *inl(void) {
  static char *t;
  if (t == NULL)
    t = th_token("inl", "00000000-0000-4000-8000-000000000002", NULL);
  return t;
}

static const char *advisor(void) {
  static char *t;
  if (t == NULL)
    t = th_token("advisor", ADVISOR_ID, NULL);
  return t;
}

/* A new agency (admin) assigned to the demo advisor; returns its id (malloc'd). */
static char *new_agency(const char *type, const char *tier, const char *applied_on) {
  char body[512];
  snprintf(body, sizeof body,
           "{\"name\":\"Agencia del Ciclo de Vida (prueba)\",\"type\":\"%s\",\"level\":\"state\","
           "\"state\":\"MX-PUE\",\"applied_on\":\"%s\",\"advisor_ids\":[\"" ADVISOR_ID "\"]%s%s%s}",
           type, applied_on, tier ? ",\"tier\":\"" : "", tier ? tier : "", tier ? "\"" : "");
  struct th_resp r = th_req("POST", "/v1/agencies", th_admin(), body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  th_free(&r);
  return id;
}

/* POSTs a move; on may be NULL (today). Returns the answer (th_free it). */
static struct th_resp move(const char *id, const char *token, const char *to, const char *on,
                           const char *note) {
  char path[128], body[512];
  snprintf(path, sizeof path, "/v1/agencies/%s/transitions", id);
  snprintf(body, sizeof body, "{\"to\":\"%s\"%s%s%s%s%s%s}", to, on ? ",\"on\":\"" : "",
           on ? on : "", on ? "\"" : "", note ? ",\"note\":\"" : "", note ? note : "",
           note ? "\"" : "");
  return th_req("POST", path, token, body, NULL);
}

/* A move that must succeed (as admin, with a note). */
static void ok_move(const char *id, const char *to, const char *on) {
  struct th_resp r = move(id, th_admin(), to, on, "motivo de prueba");
  cr_assert_eq(r.status, 201, "-> %s: %s", to, r.body);
  th_free(&r);
}

static json_t *get_agency(const char *id) {
  char path[128];
  snprintf(path, sizeof path, "/v1/agencies/%s", id);
  struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *a = json_incref(r.json);
  th_free(&r);
  return a;
}

static json_t *get_list(const char *id, const char *what) {
  char path[160];
  snprintf(path, sizeof path, "/v1/agencies/%s/%s", id, what);
  struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert(json_is_null(json_object_get(r.json, "next_cursor")));
  json_t *data = json_incref(json_object_get(r.json, "data"));
  th_free(&r);
  return data;
}

static void assert_status(const char *id, const char *want) {
  json_t *a = get_agency(id);
  cr_assert_str_eq(jstr(a, "status"), want);
  json_decref(a);
}

/* The moves that bring a new agency to each state the graph leaves from. */
struct path {
  const char *state;
  const char *const moves[12];
};
static const struct path PATHS[] = {
    {"applied", {NULL}},
    {"approved", {"approved", NULL}},
    {"enrolled", {"approved", "enrolled", NULL}},
    {"self_assessment", {"approved", "enrolled", "self_assessment", NULL}},
    {"pre_assessment", {"approved", "enrolled", "self_assessment", "pre_assessment", NULL}},
    {"site_assessment",
     {"approved", "enrolled", "self_assessment", "pre_assessment", "site_assessment", NULL}},
    {"awaiting_hearing",
     {"approved", "enrolled", "self_assessment", "pre_assessment", "site_assessment",
      "awaiting_hearing", NULL}},
    {"accredited",
     {"approved", "enrolled", "self_assessment", "pre_assessment", "site_assessment",
      "awaiting_hearing", "accredited", NULL}},
    {"conditionally_accredited",
     {"approved", "enrolled", "self_assessment", "pre_assessment", "site_assessment",
      "awaiting_hearing", "conditionally_accredited", NULL}},
    {"reaccreditation",
     {"approved", "enrolled", "self_assessment", "pre_assessment", "site_assessment",
      "awaiting_hearing", "accredited", "reaccreditation", NULL}},
    {"suspended",
     {"approved", "enrolled", "self_assessment", "pre_assessment", "site_assessment",
      "awaiting_hearing", "accredited", "suspended", NULL}},
    {"probation", {"approved", "enrolled", "probation", NULL}},
    {NULL, {NULL}}};

static char *agency_in(const char *state) {
  char *id = new_agency("training_academy", NULL, "2023-01-10");
  for (const struct path *p = PATHS; p->state != NULL; p++) {
    if (strcmp(p->state, state) != 0)
      continue;
    for (int i = 0; p->moves[i] != NULL; i++)
      ok_move(id, p->moves[i], NULL);
    return id;
  }
  cr_assert_fail("no path to %s", state);
  return id;
}

/* ------------------------------------------------------------------ graph */

Test(transitions, every_edge_of_the_graph_is_accepted) {
  /* The graph as the database holds it: each edge is tried from a fresh agency. */
  char *rules = th_sql("SELECT json_agg(json_build_array(from_status, to_status) ORDER BY "
                       "from_status, position) FROM agency_transition_rules");
  json_t *edges = json_loads(rules, 0, NULL);
  free(rules);
  cr_assert_eq(json_array_size(edges), 50); /* 17 edges, 9 into probation, 24 endings */
  size_t i;
  const json_t *e;
  json_array_foreach(edges, i, e) {
    const char *from = json_string_value(json_array_get(e, 0));
    const char *to = json_string_value(json_array_get(e, 1));
    char *id = agency_in(from);
    assert_status(id, from);
    struct th_resp r = move(id, th_admin(), to, NULL, "motivo de prueba");
    cr_assert_eq(r.status, 201, "%s -> %s: %s", from, to, r.body);
    cr_assert_str_eq(jstr(r.json, "from"), from);
    cr_assert_str_eq(jstr(r.json, "to"), to);
    th_free(&r);
    assert_status(id, to);
    free(id);
  }
  json_decref(edges);
  /* and leaving probation returns where it came from */
  char *id = agency_in("probation");
  ok_move(id, "enrolled", NULL);
  assert_status(id, "enrolled");
  free(id);
}

Test(transitions, moves_outside_the_graph_name_the_allowed_ones) {
  struct {
    const char *from, *to, *detail;
  } cases[] = {
      {"applied", "enrolled", "allowed: approved, withdrawn, removed."},
      {"approved", "self_assessment", "allowed: enrolled, probation, withdrawn, removed."},
      {"self_assessment", "site_assessment",
       "allowed: pre_assessment, probation, withdrawn, removed."},
      {"awaiting_hearing", "applied",
       "allowed: accredited, conditionally_accredited, self_assessment, site_assessment, "
       "probation, withdrawn, removed."},
      {"accredited", "enrolled",
       "allowed: reaccreditation, suspended, probation, withdrawn, removed."},
      {"conditionally_accredited", "reaccreditation",
       "allowed: accredited, probation, withdrawn, removed."},
      {"suspended", "probation", "allowed: accredited, revoked, withdrawn, removed."},
      {"probation", "pre_assessment", "allowed: enrolled, withdrawn, removed."},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *id = agency_in(cases[i].from);
    struct th_resp r = move(id, th_admin(), cases[i].to, NULL, "motivo");
    assert_problem(&r, 409, "conflict");
    cr_assert(strstr(jstr(r.json, "detail"), cases[i].detail) != NULL, "%s -> %s: %s",
              cases[i].from, cases[i].to, jstr(r.json, "detail"));
    th_free(&r);
    /* nothing moved */
    assert_status(id, cases[i].from);
    free(id);
  }
  /* final states allow nothing */
  char *id = agency_in("applied");
  ok_move(id, "withdrawn", NULL);
  struct th_resp r = move(id, th_admin(), "approved", NULL, NULL);
  assert_problem(&r, 409, "conflict");
  cr_assert(strstr(jstr(r.json, "detail"), "withdrawn is final") != NULL, "%s", r.body);
  th_free(&r);
  /* in Spanish too */
  char path[128];
  snprintf(path, sizeof path, "/v1/agencies/%s/transitions", id);
  const char *const es[] = {"Accept-Language: es", NULL};
  r = th_req("POST", path, th_admin(), "{\"to\":\"approved\"}", es);
  assert_problem(&r, 409, "conflict");
  cr_assert(strstr(jstr(r.json, "detail"), "definitivo") != NULL, "%s", r.body);
  th_free(&r);
  free(id);
  /* expired is derived, never a target; unknown states are 422 */
  id = agency_in("approved");
  r = move(id, th_admin(), "expired", NULL, NULL);
  assert_problem(&r, 422, "validation");
  th_free(&r);
  free(id);
}

Test(transitions, reasons_are_required_where_the_graph_says) {
  const char *const needs_note[][2] = {{"approved", "withdrawn"},
                                       {"enrolled", "removed"},
                                       {"self_assessment", "probation"},
                                       {"accredited", "suspended"},
                                       {"suspended", "revoked"},
                                       {"awaiting_hearing", "site_assessment"},
                                       {"awaiting_hearing", "self_assessment"}};
  for (size_t i = 0; i < sizeof needs_note / sizeof *needs_note; i++) {
    char *id = agency_in(needs_note[i][0]);
    struct th_resp r = move(id, th_admin(), needs_note[i][1], NULL, NULL);
    assert_problem(&r, 422, "validation");
    cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "errors"), 0), "field"), "/note");
    th_free(&r);
    r = move(id, th_admin(), needs_note[i][1], NULL, "Motivo: audiencia diferida por la Comisión");
    cr_assert_eq(r.status, 201, "%s", r.body);
    th_free(&r);
    json_t *a = get_agency(id);
    cr_assert_str_eq(jstr(a, "status_reason"), "Motivo: audiencia diferida por la Comisión");
    json_decref(a);
    free(id);
  }
}

Test(transitions, probation_remembers_and_returns) {
  char *id = agency_in("self_assessment");
  ok_move(id, "probation", NULL);
  json_t *a = get_agency(id);
  cr_assert_str_eq(jstr(a, "status"), "probation");
  cr_assert_str_eq(jstr(a, "status_before_probation"), "self_assessment");
  cr_assert_str_eq(jstr(a, "status_reason"), "motivo de prueba");
  json_decref(a);
  struct th_resp r = move(id, th_admin(), "pre_assessment", NULL, NULL);
  assert_problem(&r, 409, "conflict");
  cr_assert(strstr(jstr(r.json, "detail"), "allowed: self_assessment, withdrawn, removed.") != NULL,
            "%s", r.body);
  th_free(&r);
  ok_move(id, "self_assessment", NULL);
  a = get_agency(id);
  cr_assert_str_eq(jstr(a, "status"), "self_assessment");
  cr_assert(json_is_null(json_object_get(a, "status_before_probation")));
  cr_assert(json_is_null(json_object_get(a, "status_reason")));
  json_decref(a);
  /* and carries on from there */
  ok_move(id, "pre_assessment", NULL);
  /* probation over an accreditation returns to it */
  free(id);
  id = agency_in("accredited");
  ok_move(id, "probation", NULL);
  ok_move(id, "accredited", NULL);
  assert_status(id, "accredited");
  json_t *awards = get_list(id, "awards");
  cr_assert_eq(json_array_size(awards), 1, "leaving probation is not a new award");
  json_decref(awards);
  free(id);
}

/* ------------------------------------------------------ dates and awards */

Test(transitions, dates_history_and_award) {
  char *id = new_agency("training_academy", NULL, "2020-01-31");
  const char *const steps[][2] = {
      {"approved", "2020-02-29"},        {"enrolled", "2020-03-31"},
      {"self_assessment", "2020-04-30"}, {"pre_assessment", "2021-01-31"},
      {"site_assessment", "2021-02-28"}, {"awaiting_hearing", "2021-03-01"},
      {"accredited", "2021-03-27"}};
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
    ok_move(id, steps[i][0], steps[i][1]);
  json_t *a = get_agency(id);
  cr_assert_str_eq(jstr(a, "applied_on"), "2020-01-31");
  cr_assert_str_eq(jstr(a, "approved_on"), "2020-02-29");
  cr_assert_str_eq(jstr(a, "enrolled_on"), "2020-03-31");
  cr_assert_str_eq(jstr(a, "accredited_on"), "2021-03-27");
  cr_assert_str_eq(jstr(a, "accreditation_expires_on"), "2025-03-27");
  cr_assert_str_eq(jstr(a, "implementation_plan_due"), "2020-04-30");
  cr_assert_str_eq(jstr(a, "self_assessment_due"), "2022-03-31");
  const json_t *fees = json_object_get(a, "continuation_fees_due");
  cr_assert_eq(json_array_size(fees), 4);
  cr_assert_str_eq(json_string_value(json_array_get(fees, 0)), "2021-04-26");
  cr_assert_str_eq(json_string_value(json_array_get(fees, 3)), "2024-03-27");
  /* past its expiry without a new award, an accreditation reads as expired */
  cr_assert_str_eq(jstr(a, "status"), "expired");
  cr_assert(json_is_null(json_object_get(a, "next_annual_review_due")));
  json_decref(a);

  json_t *history = get_list(id, "transitions");
  cr_assert_eq(json_array_size(history), 8);
  cr_assert_str_eq(jstr(json_array_get(history, 0), "to"), "applied");
  for (size_t i = 0; i < 7; i++) {
    const json_t *t = json_array_get(history, i + 1);
    cr_assert_str_eq(jstr(t, "to"), steps[i][0]);
    cr_assert_str_eq(jstr(t, "on"), steps[i][1]);
    cr_assert_str_eq(jstr(t, "role"), "admin");
  }
  const char *award_id = jstr(json_array_get(history, 7), "award_id");
  cr_assert_not_null(award_id);
  /* one transition by its own URL */
  char path[200];
  snprintf(path, sizeof path, "/v1/agencies/%s/transitions/%s", id,
           jstr(json_array_get(history, 3), "id"));
  struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "to"), "self_assessment");
  th_free(&r);

  json_t *awards = get_list(id, "awards");
  cr_assert_eq(json_array_size(awards), 1);
  const json_t *w = json_array_get(awards, 0);
  cr_assert_str_eq(jstr(w, "id"), award_id);
  cr_assert_str_eq(jstr(w, "program"), "training_academy");
  cr_assert(json_is_null(json_object_get(w, "tier")));
  cr_assert_str_eq(jstr(w, "awarded_on"), "2021-03-27");
  cr_assert_str_eq(jstr(w, "expires_on"), "2025-03-27");
  cr_assert(json_is_false(json_object_get(w, "conditional")));
  json_decref(awards);
  json_decref(history);

  /* a date before the last move, or after today, is refused on /on */
  r = move(id, th_admin(), "reaccreditation", "2021-03-01", NULL);
  assert_problem(&r, 422, "validation");
  cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "errors"), 0), "field"), "/on");
  th_free(&r);
  r = move(id, th_admin(), "reaccreditation", "2999-01-01", NULL);
  assert_problem(&r, 422, "validation");
  th_free(&r);
  /* reaccreditation brings a new award, and the status reads accredited again */
  ok_move(id, "reaccreditation", "2025-01-15");
  ok_move(id, "accredited", NULL);
  a = get_agency(id);
  cr_assert_str_eq(jstr(a, "status"), "accredited");
  cr_assert_not_null(jstr(a, "next_annual_review_due"));
  json_decref(a);
  awards = get_list(id, "awards");
  cr_assert_eq(json_array_size(awards), 2);
  json_decref(awards);
  free(id);
}

Test(transitions, tier1_then_advanced) {
  char *id = new_agency("law_enforcement", NULL, "2021-01-04");
  for (const char *const *m = PATHS[6].moves; *m != NULL; m++)
    ok_move(id, *m, NULL);
  /* a law-enforcement award needs the tier */
  struct th_resp r = move(id, th_admin(), "accredited", NULL, NULL);
  assert_problem(&r, 422, "rule-violation");
  th_free(&r);
  char path[128];
  snprintf(path, sizeof path, "/v1/agencies/%s", id);
  r = th_req("PATCH", path, th_admin(), "{\"tier\":\"tier1\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  ok_move(id, "accredited", NULL);
  r = th_req("PATCH", path, advisor(), "{\"tier\":\"advanced\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  ok_move(id, "reaccreditation", NULL);
  ok_move(id, "accredited", NULL);
  json_t *awards = get_list(id, "awards");
  cr_assert_eq(json_array_size(awards), 2);
  cr_assert_str_eq(jstr(json_array_get(awards, 0), "tier"), "tier1");
  cr_assert_str_eq(jstr(json_array_get(awards, 1), "tier"), "advanced");
  cr_assert_str_eq(jstr(json_array_get(awards, 1), "program"), "law_enforcement");
  json_decref(awards);
  free(id);
}

Test(transitions, conditional_accreditation) {
  char *id = agency_in("awaiting_hearing");
  ok_move(id, "conditionally_accredited", NULL);
  json_t *awards = get_list(id, "awards");
  cr_assert(json_is_true(json_object_get(json_array_get(awards, 0), "conditional")));
  cr_assert(json_is_null(json_object_get(json_array_get(awards, 0), "conditions_met_on")));
  json_decref(awards);
  ok_move(id, "accredited", NULL);
  awards = get_list(id, "awards");
  cr_assert_eq(json_array_size(awards), 1, "meeting the conditions is not a new award");
  cr_assert_not_null(jstr(json_array_get(awards, 0), "conditions_met_on"));
  json_decref(awards);
  free(id);
  /* conditions not met: removed */
  id = agency_in("conditionally_accredited");
  ok_move(id, "removed", NULL);
  json_t *a = get_agency(id);
  cr_assert_str_eq(jstr(a, "status"), "removed");
  cr_assert_not_null(jstr(a, "removed_on"));
  json_decref(a);
  free(id);
}

/* ------------------------------------------------------------------ roles */

Test(transitions, who_may_move) {
  char *id = agency_in("applied");
  /* the assigned advisor may not approve; INL may, and only that */
  struct th_resp r = move(id, advisor(), "approved", NULL, NULL);
  assert_problem(&r, 403, "forbidden");
  th_free(&r);
  r = move(id, inl(), "approved", NULL, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "role"), "inl");
  th_free(&r);
  r = move(id, inl(), "enrolled", NULL, NULL);
  assert_problem(&r, 403, "forbidden");
  th_free(&r);
  r = move(id, advisor(), "enrolled", NULL, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "actor"), ADVISOR_ID);
  th_free(&r);
  /* an advisor of other agencies may not */
  char *other = th_token("advisor", "00000000-0000-4000-8000-000000000118", NULL);
  r = move(id, other, "self_assessment", NULL, NULL);
  assert_problem(&r, 403, "forbidden");
  th_free(&r);
  free(other);
  /* an agency that does not exist */
  r = move("a0000000-0000-4000-8000-0000000009ff", th_admin(), "approved", NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  r = move("nope", th_admin(), "approved", NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  free(id);
}

Test(transitions, moves_are_audited_and_idempotent) {
  char *id = agency_in("applied");
  char path[128];
  snprintf(path, sizeof path, "/v1/agencies/%s/transitions", id);
  const char *const key[] = {"Idempotency-Key: aprobacion-unica-1", NULL};
  struct th_resp a =
      th_req("POST", path, inl(), "{\"to\":\"approved\",\"on\":\"2023-02-01\"}", key);
  cr_assert_eq(a.status, 201, "%s", a.body);
  struct th_resp b =
      th_req("POST", path, inl(), "{\"to\":\"approved\",\"on\":\"2023-02-01\"}", key);
  cr_assert_eq(b.status, 201, "%s", b.body);
  cr_assert_str_eq(a.body, b.body);
  char *replayed = th_header(&b, "Idempotent-Replayed");
  cr_assert_str_eq(replayed, "true");
  free(replayed);
  char *loc = th_header(&a, "Location");
  cr_assert(loc && strstr(loc, jstr(a.json, "id")) != NULL);
  free(loc);
  th_free(&a);
  th_free(&b);
  json_t *history = get_list(id, "transitions");
  cr_assert_eq(json_array_size(history), 2, "the replay moved nothing");
  json_decref(history);

  snprintf(path, sizeof path, "/v1/audit?resource=agency&id=%s", id);
  struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200);
  const json_t *last = json_array_get(json_object_get(r.json, "data"), 1);
  cr_assert_str_eq(jstr(last, "action"), "transitioned");
  cr_assert_str_eq(jstr(last, "role"), "inl");
  const json_t *changes = json_object_get(last, "changes");
  const json_t *status = json_object_get(changes, "status");
  cr_assert_str_eq(json_string_value(json_array_get(status, 0)), "applied");
  cr_assert_str_eq(json_string_value(json_array_get(status, 1)), "approved");
  cr_assert_str_eq(json_string_value(json_array_get(json_object_get(changes, "approved_on"), 1)),
                   "2023-02-01");
  th_free(&r);
  free(id);
}

struct racer {
  const char *id;
  long status;
};

static void *race(void *arg) {
  struct racer *x = arg;
  struct th_resp r = move(x->id, inl(), "approved", NULL, NULL);
  x->status = r.status;
  th_free(&r);
  return NULL;
}

Test(transitions, concurrent_moves_apply_once) {
  char *id = agency_in("applied");
  (void)inl(); /* made once, before the threads share it */
  enum { N = 6 };
  struct racer racers[N];
  pthread_t threads[N];
  for (int i = 0; i < N; i++) {
    racers[i] = (struct racer){id, 0};
    pthread_create(&threads[i], NULL, race, &racers[i]);
  }
  int created = 0;
  for (int i = 0; i < N; i++) {
    pthread_join(threads[i], NULL);
    if (racers[i].status == 201)
      created++;
    else
      cr_assert_eq(racers[i].status, 409, "status %ld", racers[i].status);
  }
  cr_assert_eq(created, 1);
  json_t *history = get_list(id, "transitions");
  cr_assert_eq(json_array_size(history), 2);
  json_decref(history);
  free(id);
}

/* The history is a keyset-paged list: walking it two by two gives the whole of it, in order. */
Test(transitions, history_pages_with_cursors) {
  char *id = new_agency("communications_center", NULL, "2023-01-10");
  ok_move(id, "approved", "2023-02-01");
  ok_move(id, "enrolled", "2023-03-01");
  ok_move(id, "self_assessment", "2023-03-02");
  ok_move(id, "pre_assessment", "2024-01-15");
  json_t *all = get_list(id, "transitions");
  cr_assert_eq(json_array_size(all), 5, "application plus four moves");
  char path[1024];
  snprintf(path, sizeof path, "/v1/agencies/%s/transitions?limit=2&count=exact", id);
  size_t seen = 0;
  for (int page = 0; page < 10; page++) {
    struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 5);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r.json, "data"), i, t) {
      cr_assert_str_eq(jstr(t, "id"), jstr(json_array_get(all, seen), "id"));
      seen++;
    }
    const char *next = jstr(r.json, "next_cursor");
    if (next == NULL) {
      th_free(&r);
      break;
    }
    snprintf(path, sizeof path, "/v1/agencies/%s/transitions?limit=2&count=exact&cursor=%s", id,
             next);
    th_free(&r);
  }
  cr_assert_eq(seen, 5);
  json_decref(all);
  free(id);
}
