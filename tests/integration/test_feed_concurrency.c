/*
 * test_feed_concurrency.c — the change feed's promise under load: while 10 writer threads
 * make 500 changes over HTTP (creates and updates of webinars), a poller follows the feed
 * from a cursor taken before they start. After a final drain, the changes it saw are exactly
 * the successful writes: none missing, none twice, and each webinar's create before its
 * updates. Run three times against the primary, and three times with the poller reading
 * from the hot standby (TEST_STANDBY_URL) while the writers write to the primary.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRITERS 10
#define WRITES_PER_WRITER 50 /* 10 × 50 = 500 changes per run */

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("feed_concurrency", false);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

struct writer {
  int n;
  json_t *done;           /* array of "id/action" strings, one per successful write */
  unsigned long long lsn; /* the highest Acredita-Position its writes answered */
};

/* PostgreSQL's "16/B374D848" as a number; 0 when the text is not one. */
static unsigned long long lsn_of(const char *text) {
  unsigned hi, lo;
  return text != NULL && sscanf(text, "%X/%X", &hi, &lo) == 2 ? ((unsigned long long)hi << 32) | lo
                                                              : 0;
}

static atomic_int writers_finished;

/* Creates a webinar, then alternates: update one of its own webinars, create another. */
static void *write_loop(void *arg) {
  struct writer *w = arg;
  char ids[WRITES_PER_WRITER][40];
  int created = 0;
  for (int i = 0; i < WRITES_PER_WRITER; i++) {
    char body[512], key[64];
    struct th_resp r;
    const char *action;
    if (created == 0 || i % 2 == 0) {
      snprintf(body, sizeof body,
               "{\"title\":{\"es\":\"Seminario %d-%d\"},\"starts_at\":\"2030-01-0%dT10:00:00Z\","
               "\"duration_minutes\":60,\"audience\":\"public\"}",
               w->n, i, 1 + i % 9);
      snprintf(key, sizeof key, "Idempotency-Key: feed-%d-%d-%d-%d", (int)getpid(), w->n, i,
               rand());
      const char *const h[] = {key, NULL};
      r = th_req("POST", "/v1/webinars", th_admin(), body, h);
      action = "created";
      if (r.status == 201)
        snprintf(ids[created++], sizeof ids[0], "%s", jstr(r.json, "id"));
    } else {
      char path[96];
      snprintf(path, sizeof path, "/v1/webinars/%s", ids[i % created]);
      snprintf(body, sizeof body, "{\"duration_minutes\":%d}", 30 + i);
      r = th_req("PATCH", path, th_admin(), body, NULL);
      action = "updated";
    }
    char *position = th_header(&r, "Acredita-Position");
    if (lsn_of(position) > w->lsn)
      w->lsn = lsn_of(position);
    free(position);
    if (r.status == 200 || r.status == 201) {
      char entry[96];
      snprintf(entry, sizeof entry, "%s/%s", jstr(r.json, "id"), action);
      json_array_append_new(w->done, json_string(entry));
    }
    th_free(&r);
  }
  atomic_fetch_add(&writers_finished, 1);
  return NULL;
}

/* Where the poller reads: a server (NULL: th_url()) and, when it reads from a standby, the
 * position its next poll must see (read-your-writes; "" for none). */
struct poller {
  const char *base;
  char position[32];
  int polls;
};

/* Polls from *cursor until the feed is drained once; appends "id/action" of webinar
 * changes to seen. Returns false on an unexpected answer. */
static bool poll_all(struct poller *p, char **cursor, const char *token, json_t *seen) {
  for (;;) {
    char path[1024], h[64];
    snprintf(path, sizeof path, "/v1/changes?resource=webinar&limit=37&after=%s", *cursor);
    snprintf(h, sizeof h, "Acredita-Position: %s", p->position);
    const char *const headers[] = {p->position[0] ? h : NULL, NULL};
    struct th_resp r = th_req_to(p->base, "GET", path, token, NULL, NULL, 0, headers);
    p->polls++;
    if (r.status != 200) {
      th_free(&r);
      return false;
    }
    json_t *data = json_object_get(r.json, "data");
    size_t i;
    json_t *c;
    json_array_foreach(data, i, c) {
      char entry[96];
      snprintf(entry, sizeof entry, "%s/%s", jstr(c, "id"), jstr(c, "action"));
      json_array_append_new(seen, json_string(entry));
    }
    free(*cursor);
    *cursor = strdup(jstr(r.json, "next_cursor"));
    size_t n = json_array_size(data);
    th_free(&r);
    if (n == 0)
      return true;
  }
}

/* One run: the writers write through th_url(); the poller reads through p. With a standby,
 * the poller's first and last reads carry the primary's position, so that they see all that
 * came before (the standby has replayed it, or the primary answers). */
static void one_run(struct poller *p, int run) {
  char *token = th_token("inl", "00000000-0000-4000-8000-000000000002", NULL);
  if (p->base != NULL) {
    char *now = th_sql("SELECT pg_current_wal_insert_lsn()");
    snprintf(p->position, sizeof p->position, "%s", now);
    free(now);
    cr_assert(th_standby_caught_up(p->position, 20000));
  }
  char h[64];
  snprintf(h, sizeof h, "Acredita-Position: %s", p->position);
  const char *const headers[] = {p->position[0] ? h : NULL, NULL};
  struct th_resp r = th_req_to(p->base, "GET", "/v1/changes?resource=webinar&after=now", token,
                               NULL, NULL, 0, headers);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char *cursor = strdup(jstr(r.json, "next_cursor"));
  th_free(&r);
  p->position[0] = '\0';

  struct writer w[WRITERS];
  pthread_t t[WRITERS];
  atomic_store(&writers_finished, 0);
  for (int i = 0; i < WRITERS; i++) {
    w[i].n = i;
    w[i].done = json_array();
    w[i].lsn = 0;
    pthread_create(&t[i], NULL, write_loop, &w[i]);
  }
  json_t *seen = json_array();
  /* Poll while the writers run (bounded: 100,000 polls), then drain once more after. */
  for (int polls = 0; polls < 100000 && atomic_load(&writers_finished) < WRITERS; polls++)
    cr_assert(poll_all(p, &cursor, token, seen));
  unsigned long long last = 0;
  for (int i = 0; i < WRITERS; i++) {
    pthread_join(t[i], NULL);
    if (w[i].lsn > last)
      last = w[i].lsn;
  }
  if (p->base != NULL) {
    /* The drain must see every write: it sends the last write's position. */
    snprintf(p->position, sizeof p->position, "%X/%X", (unsigned)(last >> 32), (unsigned)last);
    cr_assert(th_standby_caught_up(p->position, 20000));
  }
  cr_assert(poll_all(p, &cursor, token, seen));
  p->position[0] = '\0';

  /* The set of successful writes equals the set of feed entries; no duplicates. */
  json_t *expected = json_object(), *got = json_object();
  size_t total = 0;
  for (int i = 0; i < WRITERS; i++) {
    size_t k;
    json_t *e;
    json_array_foreach(w[i].done, k, e) {
      json_t *count = json_object_get(expected, json_string_value(e));
      json_object_set_new(expected, json_string_value(e),
                          json_integer(count ? json_integer_value(count) + 1 : 1));
      total++;
    }
  }
  cr_assert_gt(total, WRITERS * WRITES_PER_WRITER * 9 / 10, "most writes succeed: %zu", total);
  size_t k;
  json_t *e;
  json_t *created_at = json_object();
  long out_of_order = 0, duplicates = 0, gaps = 0;
  json_array_foreach(seen, k, e) {
    const char *entry = json_string_value(e);
    json_t *count = json_object_get(got, entry);
    json_object_set_new(got, entry, json_integer(count ? json_integer_value(count) + 1 : 1));
    /* Commit order: a webinar's create comes before any of its updates. */
    char id[64];
    snprintf(id, sizeof id, "%.36s", entry);
    if (strstr(entry, "/created"))
      json_object_set_new(created_at, id, json_integer((json_int_t)k));
    else if (json_object_get(created_at, id) == NULL)
      out_of_order++;
  }
  const char *name;
  json_t *v;
  json_object_foreach(got, name, v) {
    json_t *want = json_object_get(expected, name);
    long more = (long)json_integer_value(v) - (want ? (long)json_integer_value(want) : 0);
    duplicates += more > 0 ? more : 0;
  }
  json_object_foreach(expected, name, v) {
    json_t *g = json_object_get(got, name);
    long fewer = (long)json_integer_value(v) - (g ? (long)json_integer_value(g) : 0);
    gaps += fewer > 0 ? fewer : 0;
  }
  fprintf(stderr,
          "feed: run %d%s: %zu successful writes, %zu feed entries, %ld duplicates, %ld gaps, "
          "%ld out of order, %d polls\n",
          run, p->base ? " (poller on the standby)" : "", total, json_array_size(seen), duplicates,
          gaps, out_of_order, p->polls);
  cr_assert_eq(out_of_order, 0, "an update came before its create");
  cr_assert_eq(duplicates, 0, "changes seen twice");
  cr_assert_eq(gaps, 0, "changes missing from the feed");
  cr_assert_eq(json_array_size(seen), total, "feed entries %zu, successful writes %zu",
               json_array_size(seen), total);
  for (int i = 0; i < WRITERS; i++)
    json_decref(w[i].done);
  json_decref(expected);
  json_decref(got);
  json_decref(seen);
  json_decref(created_at);
  free(cursor);
  free(token);
}

Test(feed, exactly_once_in_commit_order_under_concurrent_writers, .timeout = 240) {
  for (int run = 1; run <= 3; run++) {
    struct poller p = {NULL, "", 0};
    one_run(&p, run);
  }
}

/* A standby shows commits as it replays them, in the order of their commit records, which is
 * the order of the commit numbers (the feed clock's row lock is held until each commit). So
 * the same guarantee holds for a poller that a standby answers. */
Test(feed, exactly_once_in_commit_order_read_from_a_standby, .timeout = 240) {
  if (getenv("TH_DATABASE_VIA") != NULL)
    cr_skip_test("the standby variant runs once, without PgBouncer");
  char standby[600];
  snprintf(standby, sizeof standby, "DATABASE_REPLICA_URLS=%s", th_standby_db_url());
  const char *const env[] = {standby, NULL};
  int port;
  pid_t pid = th_server_spawn(th_db_url(), env, &port);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  /* Reads go to the standby once the server has measured it. */
  for (int i = 0; i < 100; i++) {
    double lag = th_metric(base, "acredita_db_standby_lag_seconds{server=\"standby1\"");
    if (lag >= 0 && lag <= 1)
      break;
    usleep(50000);
  }
  double standby0 = th_metric(base, "acredita_db_reads_total{server=\"standby1\"");
  double primary0 = th_metric(base, "acredita_db_reads_total{server=\"primary\"");
  int polls = 0;
  for (int run = 1; run <= 3; run++) {
    struct poller p = {base, "", 0};
    one_run(&p, run);
    polls += p.polls + 1;
  }
  double from_standby = th_metric(base, "acredita_db_reads_total{server=\"standby1\"") - standby0;
  double from_primary = th_metric(base, "acredita_db_reads_total{server=\"primary\"") - primary0;
  fprintf(stderr,
          "feed: %d polls from the standby's server: %.0f answered by the standby, %.0f "
          "by the primary\n",
          polls, from_standby, from_primary);
  th_server_kill(pid, SIGTERM);
  cr_assert_geq(from_standby, polls * 0.9, "the standby answered the poller");
}
