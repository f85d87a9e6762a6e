/*
 * test_feed_concurrency.c — the change feed's promise under load: while 10 writer threads
 * make 500 changes over HTTP (creates and updates of webinars), a poller follows the feed
 * from a cursor taken before they start. After a final drain, the changes it saw are exactly
 * the successful writes: none missing, none twice, and each webinar's create before its
 * updates. Run three times.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  json_t *done; /* array of "id/action" strings, one per successful write */
};

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
      snprintf(key, sizeof key, "Idempotency-Key: feed-%d-%d-%d", w->n, i, rand());
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

/* Polls from *cursor until the feed is drained once; appends "id/action" of webinar
 * changes to seen. Returns false on an unexpected answer. */
static bool poll_all(char **cursor, const char *token, json_t *seen) {
  for (;;) {
    char path[1024];
    snprintf(path, sizeof path, "/v1/changes?resource=webinar&limit=37&after=%s", *cursor);
    struct th_resp r = th_req("GET", path, token, NULL, NULL);
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

static void one_run(void) {
  char *token = th_token("inl", "00000000-0000-4000-8000-000000000002", NULL);
  struct th_resp r = th_req("GET", "/v1/changes?resource=webinar&after=now", token, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char *cursor = strdup(jstr(r.json, "next_cursor"));
  th_free(&r);

  struct writer w[WRITERS];
  pthread_t t[WRITERS];
  atomic_store(&writers_finished, 0);
  for (int i = 0; i < WRITERS; i++) {
    w[i].n = i;
    w[i].done = json_array();
    pthread_create(&t[i], NULL, write_loop, &w[i]);
  }
  json_t *seen = json_array();
  /* Poll while the writers run (bounded: 100,000 polls), then drain once more after. */
  for (int polls = 0; polls < 100000 && atomic_load(&writers_finished) < WRITERS; polls++)
    cr_assert(poll_all(&cursor, token, seen));
  for (int i = 0; i < WRITERS; i++)
    pthread_join(t[i], NULL);
  cr_assert(poll_all(&cursor, token, seen));

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
  json_array_foreach(seen, k, e) {
    const char *entry = json_string_value(e);
    json_t *count = json_object_get(got, entry);
    json_object_set_new(got, entry, json_integer(count ? json_integer_value(count) + 1 : 1));
    /* Commit order: a webinar's create comes before any of its updates. */
    char id[64];
    snprintf(id, sizeof id, "%.36s", entry);
    if (strstr(entry, "/created"))
      json_object_set_new(created_at, id, json_integer((json_int_t)k));
    else
      cr_assert_not_null(json_object_get(created_at, id), "update of %s before its create", id);
  }
  cr_assert_eq(json_array_size(seen), total, "feed entries %zu, successful writes %zu",
               json_array_size(seen), total);
  const char *name;
  json_t *v;
  json_object_foreach(expected, name, v) {
    json_t *g = json_object_get(got, name);
    cr_assert_not_null(g, "missing from the feed: %s", name);
    cr_assert_eq(json_integer_value(g), json_integer_value(v), "count of %s", name);
  }
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
  for (int run = 0; run < 3; run++)
    one_run();
}
