/*
 * test_replicas.c — the service over a real primary and a real hot standby (script/test
 * makes it with pg_basebackup -R): reads go to the standby, a write's Acredita-Position makes
 * a later read see it, a lagging standby is skipped, and stopping the primary or the standby
 * under load fails no read and half-writes nothing.
 *
 * The server under test reads from the standby with REPLICA_MAX_LAG=4; the one th_boot
 * starts (primary only) is idle. Replay is paused on the standby (pg_wal_replay_pause()) to
 * make it lag on purpose. Each test starts with both servers running and caught up.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pid_t replica_pid;

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("replicas", true);
  /* The standby must have the new database before a server reads from it. */
  if (!th_standby_caught_up(NULL, 30000)) {
    fprintf(stderr, "test_replicas: the standby did not catch up\n");
    exit(1);
  }
  char standby[600], pid[32];
  snprintf(standby, sizeof standby, "DATABASE_REPLICA_URLS=%s", th_standby_db_url());
  /* Every reader of the load may be exporting CSV at once: this test is about outages, not
   * the export cap (test_import's), which would refuse the third. */
  const char *const env[] = {standby, "REPLICA_MAX_LAG=4", "CSV_EXPORTS_MAX=8", NULL};
  int port;
  replica_pid = th_server_spawn(th_db_url(), env, &port);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  setenv("TH_REPLICA_URL", base, 1);
  snprintf(pid, sizeof pid, "%d", (int)replica_pid);
  setenv("TH_REPLICA_PID", pid, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  if (replica_pid > 0)
    th_server_kill(replica_pid, SIGTERM);
  th_shutdown();
}

static const char *server(void) {
  return getenv("TH_REPLICA_URL");
}

static double reads(const char *name) {
  char prefix[96];
  snprintf(prefix, sizeof prefix, "acredita_db_reads_total{server=\"%s\"", name);
  return th_metric(server(), prefix);
}

static double lag(void) {
  return th_metric(server(), "acredita_db_standby_lag_seconds{server=\"standby1\"");
}

static struct th_resp get_as(const char *path, const char *position, const char *accept) {
  char h[128], a[64];
  snprintf(h, sizeof h, "Acredita-Position: %s", position ? position : "");
  snprintf(a, sizeof a, "Accept: %s", accept ? accept : "application/json");
  const char *const headers[] = {a, position ? h : NULL, NULL};
  return th_req_to(server(), "GET", path, th_admin(), NULL, NULL, 0, headers);
}

static struct th_resp get(const char *path, const char *position) {
  return get_as(path, position, NULL);
}

static struct th_resp create_webinar(const char *title, const char *key) {
  char body[256], h[160];
  snprintf(body, sizeof body,
           "{\"title\":{\"es\":\"%s\"},\"starts_at\":\"2031-03-01T16:00:00Z\","
           "\"duration_minutes\":45,\"audience\":\"public\"}",
           title);
  snprintf(h, sizeof h, "Idempotency-Key: %s", key);
  const char *const headers[] = {h, NULL};
  return th_req_to(server(), "POST", "/v1/webinars", th_admin(), "application/json", body,
                   strlen(body), headers);
}

static void sleep_ms(int ms) {
  usleep((useconds_t)ms * 1000);
}

/* Both servers running, replay going, the standby caught up and judged within the limit. */
static void both_up(void) {
  th_pgctl("start");
  th_standby_ctl("start");
  free(th_standby_sql("SELECT pg_wal_replay_resume()"));
  cr_assert(th_standby_caught_up(NULL, 20000), "the standby catches up");
  for (int i = 0; i < 100; i++) {
    double l = lag();
    if (l >= 0 && l <= 1.0)
      return;
    sleep_ms(100);
  }
  double last = lag();
  cr_assert(false, "the server never judged the standby caught up (lag %.3f)", last);
}

Test(replicas, reads_go_to_a_caught_up_standby) {
  both_up();
  double standby = reads("standby1"), primary = reads("primary");
  for (int i = 0; i < 20; i++) {
    struct th_resp r = get("/v1/agencies?limit=5", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_free(&r);
  }
  cr_assert_eq(reads("standby1") - standby, 20, "every read went to the standby");
  cr_assert_eq(reads("primary") - primary, 0, "none to the primary");
  struct th_resp r = th_req_to(server(), "GET", "/readyz", NULL, NULL, NULL, 0, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ready");
  th_free(&r);
  cr_assert(th_metric(server(), "acredita_db_server_up{server=\"standby1\"") == 1);
}

Test(replicas, a_write_answers_its_position_and_a_read_with_it_sees_the_write) {
  both_up();
  free(th_standby_sql("SELECT pg_wal_replay_pause()"));
  struct th_resp w = create_webinar("Lectura de lo escrito", "ryw-1");
  cr_assert_eq(w.status, 201, "%s", w.body);
  char *position = th_header(&w, "Acredita-Position");
  cr_assert_not_null(position, "a write answers its commit position");
  char path[96];
  snprintf(path, sizeof path, "/v1/webinars/%s", json_string_value(json_object_get(w.json, "id")));
  th_free(&w);

  /* Without the position, the (paused) standby answers: the write is not there yet. */
  double standby = reads("standby1"), primary = reads("primary");
  struct th_resp r = get(path, NULL);
  cr_assert_eq(reads("standby1") - standby, 1, "the standby answered (lag %.3f)", lag());
  cr_assert_eq(r.status, 404, "the standby has not replayed the write: %ld", r.status);
  th_free(&r);

  /* With it, the primary answers (the standby is behind it), and the write is there. */
  double fallbacks = th_metric(server(), "acredita_db_read_fallbacks_total{reason=\"position\"");
  r = get(path, position);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(reads("primary") - primary, 1);
  cr_assert_eq(
      th_metric(server(), "acredita_db_read_fallbacks_total{reason=\"position\"") - fallbacks, 1);
  th_free(&r);

  r = get(path, "not-a-position");
  cr_assert_eq(r.status, 400, "a malformed position is refused: %s", r.body);
  th_free(&r);

  /* Once the standby has replayed it, the standby answers the same read. */
  free(th_standby_sql("SELECT pg_wal_replay_resume()"));
  cr_assert(th_standby_caught_up(position, 10000));
  standby = reads("standby1");
  primary = reads("primary");
  r = get(path, position);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_eq(reads("standby1") - standby, 1, "a standby that has replayed it answers");
  cr_assert_eq(reads("primary") - primary, 0);
  th_free(&r);
  free(position);
}

Test(replicas, a_lagging_standby_is_skipped_until_it_catches_up) {
  both_up();
  free(th_standby_sql("SELECT pg_wal_replay_pause()"));
  struct th_resp w = create_webinar("Réplica rezagada", "lag-1");
  cr_assert_eq(w.status, 201, "%s", w.body);
  char path[96];
  snprintf(path, sizeof path, "/v1/webinars/%s", json_string_value(json_object_get(w.json, "id")));
  th_free(&w);
  for (int i = 0; i < 150 && lag() <= 4.0; i++)
    sleep_ms(100);
  cr_assert_gt(lag(), 4.0, "the paused standby is judged behind REPLICA_MAX_LAG");

  double standby = reads("standby1"), primary = reads("primary");
  struct th_resp r = get(path, NULL);
  cr_assert_eq(r.status, 200, "the primary answers, with the fresh write: %s", r.body);
  cr_assert_eq(reads("primary") - primary, 1);
  cr_assert_eq(reads("standby1") - standby, 0);
  th_free(&r);

  free(th_standby_sql("SELECT pg_wal_replay_resume()"));
  both_up();
  standby = reads("standby1");
  r = get(path, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(reads("standby1") - standby, 1, "the standby is read from again, no restart");
  th_free(&r);
}

/* ------------------------------------------------------------------ load */

enum phase { BEFORE, DURING, AFTER, PHASES };
static const char *const PHASE_NAMES[] = {"before", "during the outage", "after"};

struct load {
  atomic_int phase;
  atomic_bool stop;
  atomic_long gets[PHASES], get_failures[PHASES];
  atomic_long writes, write_refusals;
  char failure[256]; /* the first failed read, for the message */
  atomic_bool failed_once;
};

static const struct {
  const char *path, *accept;
} READS[] = {
    {"/v1/agencies?limit=10", NULL},
    {"/v1/agencies/a0000000-0000-4000-8000-000000000001", NULL},
    {"/v1/webinars?limit=5", NULL},
    {"/v1/changes?limit=5", NULL},
    {"/v1/stats/overview", NULL},
    {"/v1/standards?limit=5", NULL},
    {"/v1/workshops", NULL},
    {"/v1/agencies?state=MX-QUE", "text/csv"}, /* streamed from one snapshot */
};

static void *read_loop(void *arg) {
  struct load *l = arg;
  for (unsigned i = 0; !atomic_load(&l->stop); i++) {
    int phase = atomic_load(&l->phase);
    unsigned k = i % (sizeof READS / sizeof *READS);
    const char *path = READS[k].path;
    struct th_resp r = get_as(path, NULL, READS[k].accept);
    atomic_fetch_add(&l->gets[phase], 1);
    if (r.status != 200) {
      atomic_fetch_add(&l->get_failures[phase], 1);
      if (!atomic_exchange(&l->failed_once, true))
        snprintf(l->failure, sizeof l->failure, "%s %s: %ld %.150s", PHASE_NAMES[phase], path,
                 r.status, r.body);
    }
    th_free(&r);
  }
  return NULL;
}

struct writer {
  struct load *load;
  int n;
  int done; /* webinars created (each confirmed 201 or replayed) */
};

/* Creates webinars one after another; a refused one (503 while the primary is down) is sent
 * again with the same Idempotency-Key until it succeeds. */
static void *write_loop(void *arg) {
  struct writer *w = arg;
  struct load *l = w->load;
  for (int i = 0; !atomic_load(&l->stop); i++) {
    char title[64], key[64];
    snprintf(title, sizeof title, "outage-%d-%d", w->n, i);
    snprintf(key, sizeof key, "outage-%d-%d-%ld", w->n, i, (long)time(NULL));
    for (int attempt = 0; attempt < 600; attempt++) {
      struct th_resp r = create_webinar(title, key);
      long status = r.status;
      if (status == 503) {
        char *after = th_header(&r, "Retry-After");
        cr_assert_not_null(after, "a refused write says when to retry");
        free(after);
      }
      th_free(&r);
      atomic_fetch_add(&l->writes, 1);
      if (status == 201 || status == 200)
        break;
      cr_assert_eq(status, 503, "a write answers 201 or 503, not %ld", status);
      atomic_fetch_add(&l->write_refusals, 1);
      sleep_ms(100);
    }
    w->done++;
  }
  return NULL;
}

#define READERS 3
#define WRITERS 2

struct running {
  struct load load;
  pthread_t readers[READERS], writers[WRITERS];
  struct writer w[WRITERS];
  int nwriters;
};

static void load_start(struct running *run, int nwriters) {
  memset(run, 0, sizeof *run);
  run->nwriters = nwriters;
  for (int i = 0; i < READERS; i++)
    pthread_create(&run->readers[i], NULL, read_loop, &run->load);
  for (int i = 0; i < nwriters; i++) {
    run->w[i].load = &run->load;
    run->w[i].n = i;
    pthread_create(&run->writers[i], NULL, write_loop, &run->w[i]);
  }
}

static void load_stop(struct running *run) {
  atomic_store(&run->load.stop, true);
  for (int i = 0; i < READERS; i++)
    pthread_join(run->readers[i], NULL);
  for (int i = 0; i < run->nwriters; i++)
    pthread_join(run->writers[i], NULL);
}

static long total(atomic_long *v) {
  long n = 0;
  for (int p = 0; p < PHASES; p++)
    n += atomic_load(&v[p]);
  return n;
}

static const char *readiness(void) {
  static char status[32];
  struct th_resp r = th_req_to(server(), "GET", "/readyz", NULL, NULL, NULL, 0, NULL);
  const char *s = r.status == 200 ? json_string_value(json_object_get(r.json, "status")) : NULL;
  snprintf(status, sizeof status, "%s", s ? s : "unavailable");
  th_free(&r);
  return status;
}

Test(replicas, primary_stopped_under_load_reads_go_on_writes_wait, .timeout = 120) {
  both_up();
  struct running *run = calloc(1, sizeof *run);
  load_start(run, WRITERS);
  sleep_ms(1000);

  atomic_store(&run->load.phase, DURING);
  th_pgctl("stop");
  cr_assert_str_eq(readiness(), "degraded", "/readyz says degraded with the primary down");
  /* A write now is refused as a problem with Retry-After, and leaves nothing. */
  struct th_resp w = create_webinar("outage-refused", "outage-refused");
  cr_assert_eq(w.status, 503, "%s", w.body);
  char *ct = th_header(&w, "Content-Type"), *after = th_header(&w, "Retry-After");
  cr_assert(ct != NULL && strstr(ct, "application/problem+json") != NULL);
  cr_assert_not_null(after);
  free(ct);
  free(after);
  th_free(&w);
  sleep_ms(2500);
  cr_assert_str_eq(readiness(), "degraded");

  atomic_store(&run->load.phase, AFTER);
  th_pgctl("start");
  int waited = 0;
  while (strcmp(readiness(), "ready") != 0 && waited < 15000) {
    sleep_ms(100);
    waited += 100;
  }
  cr_assert_str_eq(readiness(), "ready", "the service uses the primary again, no restart");
  sleep_ms(1500);
  load_stop(run);

  struct load *l = &run->load;
  long created = 0;
  for (int i = 0; i < WRITERS; i++)
    created += run->w[i].done;
  long rows = th_sql_long("SELECT count(*) FROM webinars WHERE title->>'es' LIKE 'outage-%'");
  long doubled = th_sql_long("SELECT count(*) FROM (SELECT title FROM webinars"
                             " WHERE title->>'es' LIKE 'outage-%' GROUP BY title"
                             " HAVING count(*) > 1) d");
  /* Half-written: a webinar without its audit entry or its change-feed row, or either without
   * its webinar, or a feed row never stamped. */
  long half = th_sql_long(
      "SELECT (SELECT count(*) FROM webinars w WHERE w.title->>'es' LIKE 'outage-%' AND"
      "  (NOT EXISTS (SELECT 1 FROM audit a WHERE a.resource = 'webinar'"
      "               AND a.resource_id = w.id::text AND a.action = 'created')"
      "   OR NOT EXISTS (SELECT 1 FROM changes c WHERE c.resource = 'webinar'"
      "               AND c.resource_id = w.id::text AND c.commit_no IS NOT NULL)))"
      " + (SELECT count(*) FROM audit a WHERE a.resource = 'webinar' AND NOT EXISTS"
      "    (SELECT 1 FROM webinars w WHERE w.id::text = a.resource_id))"
      " + (SELECT count(*) FROM changes c WHERE c.resource = 'webinar' AND c.commit_no IS NULL)");
  fprintf(stderr,
          "replicas: primary stopped for 2.5 s under load: GETs %ld before, %ld during the "
          "outage, %ld after; failed %ld (%ld during the outage). Writes: %ld sent, %ld "
          "answered 503 and retried with their key, %ld webinars created, %ld rows, "
          "%ld duplicated, %ld half-written\n",
          atomic_load(&l->gets[BEFORE]), atomic_load(&l->gets[DURING]),
          atomic_load(&l->gets[AFTER]), total(l->get_failures),
          atomic_load(&l->get_failures[DURING]), atomic_load(&l->writes),
          atomic_load(&l->write_refusals), created, rows, doubled, half);
  cr_assert_eq(total(l->get_failures), 0, "no read failed; the first: %s", l->failure);
  cr_assert_gt(atomic_load(&l->gets[DURING]), 10, "reads went on during the outage");
  cr_assert_gt(atomic_load(&l->write_refusals), 0, "writes were refused during the outage");
  cr_assert_eq(rows, created, "every write the clients saw succeed, once");
  cr_assert_eq(doubled, 0);
  cr_assert_eq(half, 0, "nothing half-written");
  cr_assert_eq(th_sql_long("SELECT count(*) FROM webinars WHERE title->>'es' = 'outage-refused'"),
               0, "the refused write left nothing");
  cr_assert_eq(kill((pid_t)atol(getenv("TH_REPLICA_PID")), 0), 0, "the server was not restarted");
  free(run);
}

Test(replicas, standby_stopped_under_load_everything_goes_to_the_primary, .timeout = 120) {
  both_up();
  struct running *run = calloc(1, sizeof *run);
  load_start(run, 1);
  sleep_ms(1000);

  atomic_store(&run->load.phase, DURING);
  double primary = reads("primary");
  th_standby_ctl("stop");
  sleep_ms(2500);
  cr_assert_str_eq(readiness(), "ready", "a standby down is no reason to stop serving");
  cr_assert_gt(reads("primary") - primary, 10, "the primary answered the reads");
  cr_assert(th_metric(server(), "acredita_db_server_up{server=\"standby1\"") == 0);

  atomic_store(&run->load.phase, AFTER);
  th_standby_ctl("start");
  cr_assert(th_standby_caught_up(NULL, 20000));
  double standby = reads("standby1");
  int waited = 0;
  while (reads("standby1") - standby < 10 && waited < 15000) {
    sleep_ms(100);
    waited += 100;
  }
  load_stop(run);
  struct load *l = &run->load;
  fprintf(stderr,
          "replicas: standby stopped for 2.5 s under load: GETs %ld before, %ld while it was "
          "down, %ld after; failed %ld. Writes: %ld sent, %ld refused\n",
          atomic_load(&l->gets[BEFORE]), atomic_load(&l->gets[DURING]),
          atomic_load(&l->gets[AFTER]), total(l->get_failures), atomic_load(&l->writes),
          atomic_load(&l->write_refusals));
  cr_assert_gt(reads("standby1") - standby, 10, "the standby is read from again, no restart");
  cr_assert_eq(total(l->get_failures), 0, "no read failed; the first: %s", l->failure);
  cr_assert_eq(atomic_load(&l->write_refusals), 0, "no write failed");
  free(run);
}
