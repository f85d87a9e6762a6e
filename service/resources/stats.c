/*
 * stats.c — GET /v1/stats/overview, INL's dashboard (API.md §3: "cached per ETag").
 *
 * PostgreSQL renders the whole document in one query (stats_overview(), migrations 0003 and
 * 0008), but that query reads every agency, award and open task: far too much for each poll
 * of a dashboard. So the rendered document and its ETag are kept in the process, and a
 * request is answered from them, a 304 included, without asking PostgreSQL anything while
 * they are current. They stop being current when
 *   - a table the overview reads changes: migration 0008's triggers notify the channel
 *     acredita_stats at every such commit, whatever wrote it (the API, seed-demo, SQL by
 *     hand), and the service's listener (db/listen.c) counts the notifications here;
 *   - Mexico City's date changes (overdue and expiring depend on it);
 *   - they are STATS_MAX_AGE_S old (a safety net: a connection lost without a word).
 * A write is therefore seen by the requests that start after its notification arrives,
 * normally well under a millisecond after the commit.
 *
 * When the listener has no connection (database down, or a pooler that does not carry
 * LISTEN), a request asks for the change feed's position instead (feed_clock.last, moved by
 * every audited write) and the document is kept per position: one tiny query per request.
 * One request recomputes at a time; requests arriving meanwhile wait for its result.
 *
 * Notifications are not replicated, and a standby replays a commit a little after the
 * primary notified it: a document computed on a standby could miss the change whose
 * notification made it current. So the overview is read from the primary (R_PRIMARY),
 * and from a standby only while the primary is down, when the listener has lost its
 * connection and the key is the standby's own feed position.
 */
#include "resources/resources.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yder.h>

static enum problem stats_overview(struct req *r);

static const struct route ROUTES[] = {
    {"GET", "/v1/stats/overview", ROLE_ADMIN | ROLE_INL, stats_overview, R_PRIMARY}, {NULL}};

const struct route_table STATS_ROUTES = {"stats", ROUTES};

#define STATS_MAX_AGE_S 300
#define STATS_CHANNEL "acredita_stats"

static struct db_stmt FEED_POSITION = {"stats_feed_position", "SELECT last::text FROM feed_clock",
                                       0};
/* The document, and when Mexico City's day ends (epoch seconds): it is stale from then. */
static struct db_stmt STATS_OVERVIEW = {
    "stats_overview",
    "SELECT stats_overview(d), extract(epoch FROM (d + 1)::timestamp"
    " AT TIME ZONE 'America/Mexico_City')::bigint FROM (SELECT mx_today() AS d) x",
    0};

/* ---------------------------------------------------------------- listener */

/* Moves at every notification and every (re)connection of the listener (db/listen.c): a
 * document computed at one value is current while the value stays. */
static atomic_uint_fast64_t generation;

static void stats_notified(const char *payload) {
  (void)payload;
  atomic_fetch_add(&generation, 1);
}

void stats_cache_init(void) {
  db_listen_register(STATS_CHANNEL, stats_notified);
}

/* ------------------------------------------------------------------- cache */

/* One rendered document, shared by the requests answering with it. */
struct snapshot {
  atomic_int refs;
  char key[32]; /* what it is current for: "n<generation>" or "f<feed position>" */
  char etag[40];
  time_t made;        /* CLOCK_MONOTONIC seconds */
  time_t valid_until; /* epoch seconds: the end of its day in Mexico City */
  size_t len;
  char body[]; /* NUL-terminated */
};

static struct {
  pthread_mutex_t lock;
  struct snapshot *current; /* holds one reference */
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER, .current = NULL};

static time_t monotonic_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

static void snapshot_release(struct snapshot *s) {
  if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
    free(s);
}

static bool current_for(const struct snapshot *s, const char *key) {
  return s != NULL && strcmp(s->key, key) == 0 && time(NULL) < s->valid_until &&
         monotonic_s() - s->made < STATS_MAX_AGE_S;
}

/* Renders the document on r's connection; NULL on failure (the problem is set). */
static struct snapshot *snapshot_compute(struct req *r, const char *key) {
  PGresult *res = req_exec(r, &STATS_OVERVIEW, 0, NULL);
  if (res == NULL)
    return NULL;
  size_t len = (size_t)PQgetlength(res, 0, 0);
  struct snapshot *s = malloc(sizeof *s + len + 1);
  if (s == NULL) {
    PQclear(res);
    req_fail(r, P_INTERNAL, NULL, NULL);
    return NULL;
  }
  atomic_init(&s->refs, 1);
  snprintf(s->key, sizeof s->key, "%s", key);
  s->made = monotonic_s();
  s->valid_until = (time_t)strtoll(PQgetvalue(res, 0, 1), NULL, 10);
  s->len = len;
  memcpy(s->body, PQgetvalue(res, 0, 0), len + 1);
  PQclear(res);
  etag_of(s->body, len, s->etag);
  return s;
}

/* The document current for key, with a reference for the caller; computed on r's
 * connection when the cache holds no such document. NULL on failure (the problem is set). */
static struct snapshot *snapshot_for(struct req *r, const char *key) {
  pthread_mutex_lock(&cache.lock);
  if (!current_for(cache.current, key)) {
    struct snapshot *fresh = snapshot_compute(r, key);
    if (fresh == NULL) {
      pthread_mutex_unlock(&cache.lock);
      return NULL;
    }
    snapshot_release(cache.current);
    cache.current = fresh;
  }
  struct snapshot *s = cache.current;
  atomic_fetch_add(&s->refs, 1);
  pthread_mutex_unlock(&cache.lock);
  return s;
}

static enum problem stats_overview(struct req *r) {
  /* The key is taken before any computing: a document computed after it is at least as new
   * as the key says. */
  char key[32];
  if (db_listening()) {
    snprintf(key, sizeof key, "n%llu", (unsigned long long)atomic_load(&generation));
  } else {
    PGresult *res = req_exec(r, &FEED_POSITION, 0, NULL);
    if (res == NULL)
      return r->problem;
    snprintf(key, sizeof key, "f%s", PQgetvalue(res, 0, 0));
    PQclear(res);
  }
  struct snapshot *s = snapshot_for(r, key);
  if (s == NULL)
    return r->problem;
  /* The tag is known: finish() needs no hash of the body to answer If-None-Match. */
  memcpy(r->etag, s->etag, sizeof r->etag);
  reply_text(r, 200, "application/json", s->body, s->len);
  snapshot_release(s);
  return P_NONE;
}
