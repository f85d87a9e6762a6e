/*
 * test_webhooks.c — webhook subscriptions and deliveries against a real receiver on loopback
 * (tests/interop/receiver.mjs), which verifies every delivery with the `standardwebhooks`
 * package as a partner would. The server runs with WEBHOOK_ALLOW_LOOPBACK, a 1 s time limit
 * per attempt and retries from 200 ms, so that outages and retries take seconds.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define COALITION "00000000-0000-4000-8000-000000000005"
#define PARTNER "00000000-0000-4000-8000-000000000006"
#define AGENCY(n) "a0000000-0000-4000-8000-00000000000" #n

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  setenv("WEBHOOK_ALLOW_LOOPBACK", "true", 1);
  setenv("WEBHOOK_TIMEOUT_MS", "1000", 1);
  setenv("WEBHOOK_RETRY_BASE_MS", "200", 1);
  th_boot("webhooks", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

/* ------------------------------------------------------------ the receiver */

struct receiver {
  pid_t pid;
  int port;
  char dir[64], state[96], log[96], url[64];
};

static void receiver_run(struct receiver *rx) {
  rx->pid = fork();
  if (rx->pid == 0) {
    char port[16], script[512];
    snprintf(port, sizeof port, "%d", rx->port);
    snprintf(script, sizeof script, "%s/tests/interop/receiver.mjs", getenv("ACREDITA_SOURCE_DIR"));
    if (freopen("/dev/null", "w", stdout) == NULL)
      _exit(126);
    execlp("node", "node", script, port, rx->state, rx->log, (char *)NULL);
    _exit(127);
  }
  /* Probed with a bare connection: the receiver's answers are not the API's (the contract
   * log records every th_req). */
  for (int i = 0; i < 500; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)rx->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool up = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    if (up)
      return;
    usleep(20000);
  }
  cr_assert_fail("the receiver did not start");
}

/* A receiver on a free port, its state and log in a fresh directory. */
static void receiver_start(struct receiver *rx) {
  snprintf(rx->dir, sizeof rx->dir, "/tmp/acredita-rx.XXXXXX");
  cr_assert_not_null(mkdtemp(rx->dir));
  snprintf(rx->state, sizeof rx->state, "%s/state.json", rx->dir);
  snprintf(rx->log, sizeof rx->log, "%s/log.jsonl", rx->dir);
  /* A port from the kernel: bind, read it, close; the receiver binds it right after. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  rx->port = ntohs(a.sin_port);
  snprintf(rx->url, sizeof rx->url, "http://127.0.0.1:%d", rx->port);
  receiver_run(rx);
}

static void receiver_stop(struct receiver *rx) {
  if (rx->pid > 0) {
    kill(rx->pid, SIGKILL);
    waitpid(rx->pid, NULL, 0);
  }
  rx->pid = 0;
}

/* Sets what the receiver knows (a JSON object {"secrets": …, "modes": …}). */
static void receiver_state(struct receiver *rx, json_t *state) {
  char tmp[128];
  snprintf(tmp, sizeof tmp, "%s.new", rx->state);
  cr_assert_eq(json_dump_file(state, tmp, JSON_COMPACT), 0);
  cr_assert_eq(rename(tmp, rx->state), 0);
  json_decref(state);
}

/* Every request the receiver logged, as a JSON array. */
static json_t *receiver_log(const struct receiver *rx) {
  json_t *all = json_array();
  FILE *f = fopen(rx->log, "r");
  char line[65536];
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    json_t *e = json_loads(line, 0, NULL);
    if (e != NULL)
      json_array_append_new(all, e);
  }
  if (f != NULL)
    fclose(f);
  return all;
}

/* The distinct verified message ids of hook name, in the order first received. */
static json_t *received_ids(const struct receiver *rx, const char *name) {
  json_t *log = receiver_log(rx), *ids = json_array();
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(json_string_value(json_object_get(e, "name")), name) != 0 ||
        !json_is_true(json_object_get(e, "verified")))
      continue;
    const char *id = json_string_value(json_object_get(e, "id"));
    bool seen = false;
    size_t k;
    json_t *x;
    json_array_foreach(ids, k, x) seen = seen || strcmp(json_string_value(x), id) == 0;
    if (!seen)
      json_array_append_new(ids, json_string(id));
  }
  json_decref(log);
  return ids;
}

/* ------------------------------------------------------------- the service */

static char *token_of(const char *role, const char *sub) {
  return th_token(role, sub, NULL);
}

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

/* Subscribes hook name of rx to events (a JSON array text) as token; registers the secret
 * with the receiver (mode ok). Returns the subscription (caller decrefs). */
static json_t *subscribe(struct receiver *rx, const char *token, const char *name,
                         const char *events) {
  char body[512];
  snprintf(body, sizeof body, "{\"url\":\"%s/hook/%s\",\"events\":%s}", rx->url, name, events);
  struct th_resp r = th_req("POST", "/v1/webhooks", token, body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  json_t *sub = json_incref(r.json);
  th_free(&r);
  json_t *state = json_load_file(rx->state, 0, NULL);
  if (state == NULL)
    state = json_pack("{s:{},s:{}}", "secrets", "modes");
  json_object_set(json_object_get(state, "secrets"), name, json_object_get(sub, "secret"));
  receiver_state(rx, state);
  return sub;
}

static void set_mode(struct receiver *rx, const char *name, const char *mode) {
  json_t *state = json_load_file(rx->state, 0, NULL);
  json_object_set_new(json_object_get(state, "modes"), name, json_string(mode));
  receiver_state(rx, state);
}

/* One committed change of an agency's website (not a public field). */
static void touch_agency(const char *agency, int n) {
  char path[96], body[128];
  snprintf(path, sizeof path, "/v1/agencies/%s", agency);
  snprintf(body, sizeof body, "{\"website\":\"https://example.mx/%d\"}", n);
  struct th_resp r = th_req("PATCH", path, th_admin(), body, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The subscription's deliveries, oldest first (one page of up to 200). */
static json_t *deliveries(const char *token, const json_t *sub) {
  char path[160];
  snprintf(path, sizeof path, "/v1/webhooks/%s/deliveries?limit=200", jstr(sub, "id"));
  struct th_resp r = th_req("GET", path, token, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *data = json_incref(json_object_get(r.json, "data"));
  th_free(&r);
  return data;
}

static size_t count_status(const json_t *list, const char *status) {
  size_t n = 0, i;
  json_t *d;
  json_array_foreach(list, i, d) n += strcmp(jstr(d, "status"), status) == 0;
  return n;
}

/* Waits up to seconds (generous: valgrind runs the server too) until want deliveries of sub
 * have status. */
static json_t *wait_deliveries(const char *token, const json_t *sub, size_t want,
                               const char *status, double seconds) {
  double until = now_s() + seconds;
  for (;;) {
    json_t *list = deliveries(token, sub);
    if (count_status(list, status) >= want || now_s() > until)
      return list;
    json_decref(list);
    usleep(100000);
  }
}

/* Waits up to a minute until the subscription at path reads disabled; returns its GET. */
static struct th_resp wait_disabled(const char *token, const char *path) {
  struct th_resp r = {0};
  for (double until = now_s() + 60; now_s() < until; usleep(100000)) {
    th_free(&r);
    r = th_req("GET", path, token, NULL, NULL);
    if (json_is_false(json_object_get(r.json, "enabled")))
      break;
  }
  return r;
}

/* A resource's deliveries must reach the receiver in the order they were queued (the
 * feed's commit order): checks it for every resource of list. */
static void assert_in_order_per_resource(const json_t *list, const json_t *received) {
  size_t i, k;
  json_t *d, *x;
  json_array_foreach(list, i, d) {
    /* The position of d's message at the receiver must follow that of every earlier
     * delivery of the same resource. */
    long pos = -1;
    json_array_foreach(received, k, x) if (strcmp(json_string_value(x), jstr(d, "message_id")) == 0)
        pos = (long)k;
    cr_assert_geq(pos, 0, "message %s never arrived", jstr(d, "message_id"));
    for (size_t j = 0; j < i; j++) {
      json_t *e = json_array_get(list, j);
      if (strcmp(jstr(e, "resource_id"), jstr(d, "resource_id")) != 0)
        continue;
      long before = -1;
      json_array_foreach(received, k, x) if (strcmp(json_string_value(x), jstr(e, "message_id")) ==
                                             0) before = (long)k;
      cr_assert_lt(before, pos, "%s overtook %s", jstr(d, "message_id"), jstr(e, "message_id"));
    }
  }
}

/* ------------------------------------------------------------------- tests */

Test(webhooks, subscriptions_secrets_and_owners) {
  char *coalition = token_of("coalition", COALITION), *partner = token_of("partner", PARTNER);
  /* http to a public host, a fragment, a bad secret, an unknown event: every error at once. */
  struct th_resp r = th_req("POST", "/v1/webhooks", coalition,
                            "{\"url\":\"http://example.com/hook\",\"events\":[\"agency.eaten\"],"
                            "\"secret\":\"whsec_short\"}",
                            NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert_eq(json_array_size(json_object_get(r.json, "errors")), 3, "%s", r.body);
  th_free(&r);
  /* A partner hears agency events only. */
  r = th_req("POST", "/v1/webhooks", partner,
             "{\"url\":\"https://partner.example/hook\",\"events\":[\"task.*\"]}", NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "errors"), 0), "field"), "/events");
  th_free(&r);

  r = th_req("POST", "/v1/webhooks", coalition,
             "{\"url\":\"https://coalicion.example/hook\",\"events\":[\"agency.updated\","
             "\"webinar.*\"],\"description\":\"sitio\"}",
             NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_eq(strncmp(jstr(r.json, "secret"), "whsec_", 6), 0);
  char *id = strdup(jstr(r.json, "id")), *secret = strdup(jstr(r.json, "secret"));
  char *no_store = th_header(&r, "Cache-Control");
  cr_assert_str_eq(no_store, "no-store");
  free(no_store);
  th_free(&r);

  char path[160];
  snprintf(path, sizeof path, "/v1/webhooks/%s", id);
  r = th_req("GET", path, coalition, NULL, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_null(json_object_get(r.json, "secret"), "the secret is shown once");
  th_free(&r);
  /* Someone else's subscription does not exist for the partner; the admin sees it. */
  r = th_req("GET", path, partner, NULL, NULL);
  cr_assert_eq(r.status, 404);
  th_free(&r);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200);
  th_free(&r);

  /* Rotation: a new secret, shown once; the secret cannot be patched. */
  snprintf(path, sizeof path, "/v1/webhooks/%s/rotate-secret", id);
  r = th_req("POST", path, coalition, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_neq(jstr(r.json, "secret"), secret);
  cr_assert_not_null(jstr(r.json, "secret_rotated_at"));
  th_free(&r);
  snprintf(path, sizeof path, "/v1/webhooks/%s", id);
  r = th_req("PATCH", path, coalition, "{\"secret\":\"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
             NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  th_free(&r);

  /* Disabled by its owner, it says so; the list filters on it. */
  r = th_req("PATCH", path, coalition, "{\"enabled\":false}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(json_object_get(r.json, "disabled"), "reason"), "by_owner");
  th_free(&r);
  r = th_req("GET", "/v1/webhooks?enabled=false", coalition, NULL, NULL);
  cr_assert_eq(r.status, 200);
  bool listed = false;
  size_t i;
  json_t *w;
  json_array_foreach(json_object_get(r.json, "data"), i, w) {
    cr_assert(json_is_false(json_object_get(w, "enabled")));
    listed = listed || strcmp(jstr(w, "id"), id) == 0;
  }
  cr_assert(listed);
  th_free(&r);
  r = th_req("DELETE", path, coalition, NULL, NULL);
  cr_assert_eq(r.status, 204);
  th_free(&r);

  /* Subscriptions stay out of the change feed. */
  cr_assert_eq(th_sql_long("SELECT count(*) FROM changes WHERE resource = 'webhook'"), 0);
  free(id);
  free(secret);
  free(coalition);
  free(partner);
}

Test(webhooks, signed_complete_and_in_order_across_an_outage, .timeout = 300) {
  struct receiver rx = {0};
  receiver_start(&rx);
  char *coalition = token_of("coalition", COALITION);
  json_t *sub = subscribe(&rx, coalition, "outage", "[\"agency.*\"]");

  for (int i = 0; i < 3; i++)
    touch_agency(AGENCY(1), i);
  json_t *list = wait_deliveries(coalition, sub, 3, "succeeded", 60);
  cr_assert_eq(count_status(list, "succeeded"), 3);
  json_decref(list);

  /* The receiver goes away; changes go on committing to two agencies. */
  receiver_stop(&rx);
  for (int i = 0; i < 8; i++)
    touch_agency(i % 2 ? AGENCY(2) : AGENCY(1), 10 + i);
  /* Until the first waiting delivery has been retried at least once. */
  list = NULL;
  for (double until = now_s() + 60; now_s() < until; usleep(100000)) {
    json_decref(list);
    list = deliveries(coalition, sub);
    if (json_array_size(list) == 11 &&
        json_array_size(json_object_get(json_array_get(list, 3), "attempts")) >= 2)
      break;
  }
  cr_assert_eq(json_array_size(list), 11, "every change was queued");
  cr_assert_eq(count_status(list, "succeeded"), 3, "nothing succeeds while the receiver is down");
  const json_t *attempts = json_object_get(json_array_get(list, 3), "attempts");
  cr_assert_geq(json_array_size(attempts), 2, "retried with backoff");
  cr_assert_str_eq(jstr(json_array_get(attempts, 0), "outcome"), "connection_error");
  json_decref(list);

  /* Back: everything arrives, each resource's changes in commit order. */
  receiver_run(&rx);
  list = wait_deliveries(coalition, sub, 11, "succeeded", 60);
  cr_assert_eq(count_status(list, "succeeded"), 11);
  json_t *received = received_ids(&rx, "outage");
  cr_assert_eq(json_array_size(received), 11, "nothing lost, nothing extra");
  assert_in_order_per_resource(list, received);
  /* The payload is the feed's entry. */
  json_t *payload = json_object_get(json_array_get(list, 0), "payload");
  cr_assert_str_eq(jstr(payload, "type"), "agency.updated");
  cr_assert_str_eq(jstr(json_object_get(payload, "data"), "id"), AGENCY(1));
  json_decref(received);
  json_decref(list);
  json_decref(sub);
  free(coalition);
  receiver_stop(&rx);
}

Test(webhooks, slow_receiver_times_out_and_is_retried, .timeout = 300) {
  struct receiver rx = {0};
  receiver_start(&rx);
  char *coalition = token_of("coalition", COALITION);
  json_t *sub = subscribe(&rx, coalition, "slow", "[\"agency.updated\"]");
  set_mode(&rx, "slow", "slow_once:2500");
  touch_agency(AGENCY(3), 1);
  json_t *list = wait_deliveries(coalition, sub, 1, "succeeded", 60);
  cr_assert_eq(count_status(list, "succeeded"), 1);
  const json_t *attempts = json_object_get(json_array_get(list, 0), "attempts");
  cr_assert_geq(json_array_size(attempts), 2);
  cr_assert_str_eq(jstr(json_array_get(attempts, 0), "outcome"), "timeout");
  cr_assert(json_is_null(json_object_get(json_array_get(attempts, 0), "status_code")));
  cr_assert_str_eq(jstr(json_array_get(attempts, json_array_size(attempts) - 1), "outcome"),
                   "succeeded");
  json_decref(list);
  json_decref(sub);
  free(coalition);
  receiver_stop(&rx);
}

Test(webhooks, gone_disables_until_enabled_again, .timeout = 300) {
  struct receiver rx = {0};
  receiver_start(&rx);
  char *coalition = token_of("coalition", COALITION);
  json_t *sub = subscribe(&rx, coalition, "gone", "[\"agency.updated\"]");
  set_mode(&rx, "gone", "gone");
  touch_agency(AGENCY(4), 1);
  char path[160];
  snprintf(path, sizeof path, "/v1/webhooks/%s", jstr(sub, "id"));
  struct th_resp r = wait_disabled(coalition, path);
  cr_assert(json_is_false(json_object_get(r.json, "enabled")), "%s", r.body);
  json_t *disabled = json_object_get(r.json, "disabled");
  cr_assert_str_eq(jstr(disabled, "reason"), "endpoint_gone");
  cr_assert_not_null(strstr(jstr(json_object_get(disabled, "message"), "en"), "410"));
  th_free(&r);
  json_t *list = deliveries(coalition, sub);
  const json_t *first = json_array_get(json_object_get(json_array_get(list, 0), "attempts"), 0);
  cr_assert_eq(json_integer_value(json_object_get(first, "status_code")), 410);
  cr_assert_str_eq(jstr(json_array_get(list, 0), "status"), "pending", "kept for later");
  json_decref(list);

  /* The endpoint is back: enabling sends what waited. */
  set_mode(&rx, "gone", "ok");
  r = th_req("PATCH", path, coalition, "{\"enabled\":true}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert(json_is_null(json_object_get(r.json, "disabled")));
  th_free(&r);
  list = wait_deliveries(coalition, sub, 1, "succeeded", 60);
  cr_assert_eq(count_status(list, "succeeded"), 1);
  json_decref(list);
  json_decref(sub);
  free(coalition);
  receiver_stop(&rx);
}

Test(webhooks, failing_for_three_days_disables, .timeout = 300) {
  struct receiver rx = {0};
  receiver_start(&rx);
  char *coalition = token_of("coalition", COALITION);
  json_t *sub = subscribe(&rx, coalition, "failing", "[\"agency.updated\"]");
  set_mode(&rx, "failing", "error");
  touch_agency(AGENCY(5), 1);
  json_t *list = NULL;
  for (double until = now_s() + 60; now_s() < until; usleep(100000)) {
    json_decref(list);
    list = deliveries(coalition, sub);
    if (json_array_size(json_object_get(json_array_get(list, 0), "attempts")) > 0)
      break;
  }
  const json_t *first = json_array_get(json_object_get(json_array_get(list, 0), "attempts"), 0);
  cr_assert_eq(json_integer_value(json_object_get(first, "status_code")), 500);
  json_decref(list);
  /* Three days of failures, compressed: the streak started four days ago. */
  char sql[256];
  snprintf(sql, sizeof sql,
           "UPDATE webhook_subscriptions SET failing_since = now() - interval '4 days'"
           " WHERE id = '%s'",
           jstr(sub, "id"));
  free(th_sql(sql));
  char path[160];
  snprintf(path, sizeof path, "/v1/webhooks/%s", jstr(sub, "id"));
  struct th_resp r = wait_disabled(coalition, path);
  json_t *disabled = json_object_get(r.json, "disabled");
  cr_assert_str_eq(jstr(disabled, "reason"), "failing", "%s", r.body);
  cr_assert_not_null(strstr(jstr(json_object_get(disabled, "message"), "es"), "HTTP 500"));
  th_free(&r);
  json_decref(sub);
  free(coalition);
  receiver_stop(&rx);
}

Test(webhooks, redeliver_sends_the_same_message_again, .timeout = 300) {
  struct receiver rx = {0};
  receiver_start(&rx);
  char *coalition = token_of("coalition", COALITION);
  json_t *sub = subscribe(&rx, coalition, "again", "[\"agency.updated\"]");
  touch_agency(AGENCY(6), 1);
  json_t *list = wait_deliveries(coalition, sub, 1, "succeeded", 60);
  const char *did = jstr(json_array_get(list, 0), "id");
  char path[200];
  snprintf(path, sizeof path, "/v1/webhooks/%s/deliveries/%s", jstr(sub, "id"), did);
  struct th_resp r = th_req("GET", path, coalition, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  snprintf(path, sizeof path, "/v1/webhooks/%s/deliveries/%s/redeliver", jstr(sub, "id"), did);
  r = th_req("POST", path, coalition, NULL, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "redelivery_of"), did);
  cr_assert_str_eq(jstr(r.json, "message_id"), jstr(json_array_get(list, 0), "message_id"));
  th_free(&r);
  json_decref(list);
  list = wait_deliveries(coalition, sub, 2, "succeeded", 60);
  cr_assert_eq(count_status(list, "succeeded"), 2);
  json_t *log = receiver_log(&rx);
  cr_assert_eq(json_array_size(log), 2);
  cr_assert_str_eq(jstr(json_array_get(log, 0), "id"), jstr(json_array_get(log, 1), "id"));
  json_decref(log);
  json_decref(list);
  json_decref(sub);
  free(coalition);
  receiver_stop(&rx);
}

Test(webhooks, partners_hear_public_fields_only, .timeout = 300) {
  struct receiver rx = {0};
  receiver_start(&rx);
  char *partner = token_of("partner", PARTNER);
  json_t *sub = subscribe(&rx, partner, "partner", "[\"agency.*\"]");
  touch_agency(AGENCY(7), 1); /* website: not public */
  struct th_resp r =
      th_req("PATCH", "/v1/agencies/" AGENCY(7), th_admin(),
             "{\"name\":\"Agencia renombrada (demo)\",\"website\":\"https://x.mx\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  json_t *list = wait_deliveries(partner, sub, 1, "succeeded", 60);
  cr_assert_eq(json_array_size(list), 1, "the website change is not the partner's");
  json_t *changed = json_object_get(
      json_object_get(json_object_get(json_array_get(list, 0), "payload"), "data"), "changed");
  cr_assert_eq(json_array_size(changed), 1);
  cr_assert_str_eq(json_string_value(json_array_get(changed, 0)), "name");
  json_decref(list);
  json_decref(sub);
  free(partner);
  receiver_stop(&rx);
}

Test(webhooks, two_instances_never_send_one_delivery_twice, .timeout = 300) {
  struct receiver rx = {0};
  receiver_start(&rx);
  int port;
  pid_t second = th_server_spawn(th_db_url(), NULL, &port);
  char *coalition = token_of("coalition", COALITION);
  json_t *sub = subscribe(&rx, coalition, "pair", "[\"agency.updated\"]");
  for (int i = 0; i < 30; i++)
    touch_agency(i % 3 == 0 ? AGENCY(1) : i % 3 == 1 ? AGENCY(2) : AGENCY(3), 100 + i);
  json_t *list = wait_deliveries(coalition, sub, 30, "succeeded", 120);
  cr_assert_eq(count_status(list, "succeeded"), 30);
  size_t i;
  json_t *d;
  json_array_foreach(list, i, d)
      cr_assert_eq(json_integer_value(json_object_get(d, "attempt_count")), 1);
  json_t *log = receiver_log(&rx), *received = received_ids(&rx, "pair");
  cr_assert_eq(json_array_size(log), 30, "each delivery sent once");
  cr_assert_eq(json_array_size(received), 30);
  assert_in_order_per_resource(list, received);
  json_decref(log);
  json_decref(received);
  json_decref(list);
  json_decref(sub);
  free(coalition);
  th_server_kill(second, SIGTERM);
  receiver_stop(&rx);
}
