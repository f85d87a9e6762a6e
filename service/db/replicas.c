/*
 * replicas.c — which server answers a read, and how far behind each hot standby is.
 *
 * Writes, and the reads inside them, go to the primary (db_acquire). A read outside any
 * transaction may go to a standby: PostgreSQL's streaming replication keeps it a copy of the
 * primary a little behind, and it answers read-only queries. "A little" is measured here:
 * a thread asks every server twice a second where it stands, and a standby further behind
 * than REPLICA_MAX_LAG is skipped until it catches up. A client that must see its own write
 * sends back the position the write answered (the commit's WAL position): only a standby
 * that has replayed that far may answer it, else the primary.
 *
 * When the primary cannot be reached, reads still go to a standby, whatever its lag (no
 * commit can be newer than what it has, short of WAL the primary never sent), and writes
 * fail with 503: the service is degraded, not down. A server that fails is marked down at
 * once by the request that found out, so the next ones do not wait on it; the thread marks
 * it up again when it answers, and the service uses it again without a restart.
 *
 * Lag is judged two ways and the smaller wins: by position (a standby that has replayed what
 * the primary had flushed at a sample is at most as old as that sample; samples are kept for
 * a minute) and by time (now minus the commit time of the last transaction replayed, which
 * overstates the lag of a standby that is behind an idle primary only by some WAL that is not
 * a commit). A standby that is promoted (no longer in recovery) is not read from: it has left
 * the primary's timeline.
 */
#include "db/servers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yder.h>

#define MONITOR_EVERY_MS 500
/* How long a read waits, with the primary down, for a standby to replay its position. */
#define DEGRADED_CATCH_UP_MS 1000
#define SAMPLES 128 /* a minute of the primary's positions */

/* Why a read did not go to a standby, for the metrics. */
enum fallback { FALLBACK_POSITION, FALLBACK_LAG, FALLBACK_DOWN, FALLBACK__COUNT };
static const char *const FALLBACK_NAMES[] = {"position", "lag", "standby_down"};

static struct {
  atomic_int max_lag_ms;
  atomic_uint next; /* round robin over the standbys */
  atomic_ulong fallbacks[FALLBACK__COUNT];
  atomic_ulong degraded_reads; /* reads answered by a standby while the primary was down */
  /* The monitor thread. */
  pthread_t thread;
  bool started;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool stopping;
} rep = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ choosing */

static bool lag_ok(struct db_server *s) {
  long long lag = atomic_load(&s->lag_ms);
  return lag >= 0 && lag <= atomic_load(&rep.max_lag_ms);
}

/* Asks c's standby how far it has replayed, and remembers it. 0 when it cannot tell. */
static db_lsn replayed_now(struct db_conn *c) {
  PGresult *res = PQexec(c->pg, "SELECT pg_last_wal_replay_lsn()::text");
  db_lsn lsn = 0;
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
      db_lsn_parse(PQgetvalue(res, 0, 0), &lsn) == A_OK) {
    db_lsn seen = atomic_load(&c->server->replayed);
    while (lsn > seen && !atomic_compare_exchange_weak(&c->server->replayed, &seen, lsn))
      ;
  }
  PQclear(res);
  return lsn;
}

/*
 * A connection to a standby that is up, within the lag limit unless any_lag, and has replayed
 * at_least; NULL when none. Standbys known to be far enough are tried first, in turn; then
 * those that might have caught up since the monitor last looked are asked.
 */
static struct db_conn *take_standby(int wait_ms, db_lsn at_least, bool any_lag, int lane,
                                    enum fallback *why) {
  int n = db_server_count() - 1;
  if (n <= 0)
    return NULL;
  unsigned start = atomic_fetch_add(&rep.next, 1);
  struct db_server *maybe[DB_MAX_SERVERS];
  int nmaybe = 0;
  *why = FALLBACK_DOWN;
  for (int k = 0; k < n; k++) {
    struct db_server *s = db_server_at(1 + (int)((start + (unsigned)k) % (unsigned)n));
    if (!atomic_load(&s->up))
      continue;
    if (!any_lag && !lag_ok(s)) {
      if (*why == FALLBACK_DOWN)
        *why = FALLBACK_LAG;
      continue;
    }
    if (at_least != 0 && atomic_load(&s->replayed) < at_least) {
      maybe[nmaybe++] = s;
      continue;
    }
    struct db_conn *c = db_server_take(s, wait_ms, lane);
    if (c != NULL)
      return c;
  }
  for (int k = 0; k < nmaybe; k++) {
    *why = FALLBACK_POSITION;
    struct db_conn *c = db_server_take(maybe[k], wait_ms, lane);
    if (c == NULL)
      continue;
    /* Degraded, nobody else can answer: give the standby a moment to replay what it has
     * received (a primary shut down cleanly sends it everything first). */
    for (int waited = 0;; waited += 10) {
      if (replayed_now(c) >= at_least)
        return c;
      if (!any_lag || waited >= DEGRADED_CATCH_UP_MS)
        break;
      usleep(10000);
    }
    db_release(c);
  }
  return NULL;
}

static struct db_conn *counted(struct db_conn *c) {
  if (c != NULL)
    atomic_fetch_add(&c->server->reads, 1);
  return c;
}

struct db_conn *db_acquire_read(int wait_ms, db_lsn at_least, unsigned flags) {
  struct db_server *primary = db_server_at(0);
  int lane = (flags & DB_READ_EXPORT) ? DB_LANE_EXPORT : DB_LANE_ORDINARY;
  if (db_server_count() == 1) {
    if (lane == DB_LANE_ORDINARY)
      return counted(db_acquire(wait_ms));
    struct db_conn *c = db_server_take(primary, wait_ms, lane);
    if (c != NULL)
      db_server_set_up(primary, true); /* without standbys nobody else watches it */
    return counted(c);
  }
  enum fallback why = FALLBACK_DOWN;
  struct db_conn *c;
  if (!(flags & DB_READ_PRIMARY_FIRST)) {
    c = take_standby(wait_ms, at_least, false, lane, &why);
    if (c != NULL)
      return counted(c);
    atomic_fetch_add(&rep.fallbacks[why], 1);
  }
  bool tried_primary = atomic_load(&primary->up);
  if (tried_primary && (c = db_server_take(primary, wait_ms, lane)) != NULL)
    return counted(c);
  /* Degraded: the primary cannot be reached. The standbys have every commit it sent. */
  c = take_standby(wait_ms, at_least, true, lane, &why);
  if (c != NULL) {
    atomic_fetch_add(&rep.degraded_reads, 1);
    return counted(c);
  }
  /* Marked down, but it may be back before the monitor noticed. */
  if (!tried_primary && (c = db_server_take(primary, wait_ms, lane)) != NULL)
    return counted(c);
  return NULL;
}

bool db_conn_is_primary(const struct db_conn *c) {
  return c != NULL && c->server->index == 0;
}

bool db_read_retryable(const struct db_conn *c) {
  if (c == NULL || c->tx_depth > 0 || db_server_count() < 2 || c->status == DB_OK)
    return false;
  if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)
    return true;
  const char *st = c->sqlstate;
  /* 08: connection exceptions; 57P01–57P03: shut down, crashed, starting up. A standby
   * cancels a query that conflicts with the WAL it replays (40001) or whose database is
   * dropped (57P04); the primary will answer it. */
  if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
      strcmp(st, "57P03") == 0)
    return true;
  return !db_conn_is_primary(c) && (strcmp(st, "40001") == 0 || strcmp(st, "57P04") == 0);
}

struct db_conn *db_reacquire_read(struct db_conn *c, int wait_ms, db_lsn at_least) {
  bool was_primary = db_conn_is_primary(c);
  unsigned export = c->lane == DB_LANE_EXPORT ? DB_READ_EXPORT : 0;
  if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK || c->status == DB_UNAVAILABLE)
    db_server_set_up(c->server, false);
  db_release(c);
  /* From a standby, the primary is the next best; from the primary, a standby. */
  return db_acquire_read(wait_ms, at_least, export | (was_primary ? 0 : DB_READ_PRIMARY_FIRST));
}

int db_primary_ping(int wait_ms) {
  /* With standbys the monitor knows: no need to wait on a server that does not answer. */
  if (rep.started && !atomic_load(&db_server_at(0)->up))
    return A_ERR;
  struct db_conn *c = db_acquire(wait_ms);
  if (c == NULL)
    return A_ERR;
  PGresult *res = PQexec(c->pg, "SELECT pg_is_in_recovery()");
  int rc = PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "f") == 0
               ? A_OK
               : A_ERR;
  PQclear(res);
  db_release(c);
  return rc;
}

/* ------------------------------------------------------------- watching */

/* The monitor's own sessions, one per server, reopened when they break. */
static PGconn *probes[DB_MAX_SERVERS];

static PGresult *probe(struct db_server *s, const char *sql) {
  PGconn **pg = &probes[s->index];
  if (*pg != NULL && PQstatus(*pg) != CONNECTION_OK) {
    PQfinish(*pg);
    *pg = NULL;
  }
  if (*pg == NULL) {
    bool bare;
    *pg = db_open_session(s->url, "acredita-monitor", 2, true, &bare);
    if (*pg == NULL)
      return NULL;
  }
  PGresult *res = PQexec(*pg, sql);
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
    PQclear(res);
    PQfinish(*pg);
    *pg = NULL;
    return NULL;
  }
  return res;
}

/* The primary's flushed positions over the last minute. */
static struct {
  long long at[SAMPLES];
  db_lsn lsn[SAMPLES];
  int next, count;
} samples;

/* How long ago the primary had flushed no more than lsn (the newest such sample); -1 when no
 * sample is that old. */
static long long behind_by_position(db_lsn lsn, long long now) {
  for (int k = 1; k <= samples.count; k++) {
    int i = (samples.next - k + SAMPLES) % SAMPLES;
    if (samples.lsn[i] <= lsn)
      return k == 1 ? 0 : now - samples.at[i];
  }
  return -1;
}

static void watch_primary(long long now) {
  struct db_server *s = db_server_at(0);
  PGresult *res = probe(s, "SELECT pg_is_in_recovery(), CASE WHEN NOT pg_is_in_recovery()"
                           " THEN pg_current_wal_flush_lsn()::text END");
  db_lsn lsn = 0;
  bool ok = res != NULL && strcmp(PQgetvalue(res, 0, 0), "f") == 0 &&
            db_lsn_parse(PQgetvalue(res, 0, 1), &lsn) == A_OK;
  PQclear(res);
  db_server_set_up(s, ok);
  if (!ok)
    return;
  samples.at[samples.next] = now;
  samples.lsn[samples.next] = lsn;
  samples.next = (samples.next + 1) % SAMPLES;
  if (samples.count < SAMPLES)
    samples.count++;
}

static void watch_standby(struct db_server *s, bool primary_up, long long now) {
  PGresult *res = probe(s, "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
                           " (extract(epoch FROM now() - pg_last_xact_replay_timestamp())"
                           " * 1000)::bigint");
  db_lsn lsn = 0;
  bool ok = res != NULL && strcmp(PQgetvalue(res, 0, 0), "t") == 0 &&
            db_lsn_parse(PQgetvalue(res, 0, 1), &lsn) == A_OK;
  long long by_time = -1; /* unknown: nothing replayed since the standby started */
  if (ok && !PQgetisnull(res, 0, 2))
    by_time = atoll(PQgetvalue(res, 0, 2));
  if (ok && !PQgetisnull(res, 0, 2) && by_time < 0)
    by_time = 0; /* the two clocks disagree */
  if (res != NULL && !ok && strcmp(PQgetvalue(res, 0, 0), "f") == 0 && atomic_load(&s->up))
    log_msg(Y_LOG_LEVEL_WARNING, NULL, "database %s (%s) is not in recovery: not read from",
            s->name, s->where);
  PQclear(res);
  if (!ok) {
    db_server_set_up(s, false);
    atomic_store(&s->lag_ms, -1);
    return;
  }
  atomic_store(&s->replayed, lsn);
  long long lag = by_time;
  if (primary_up) {
    long long by_position = behind_by_position(lsn, now);
    if (by_position >= 0 && (lag < 0 || by_position < lag))
      lag = by_position;
  }
  long long before = atomic_exchange(&s->lag_ms, lag);
  int max = atomic_load(&rep.max_lag_ms);
  if (primary_up && (before >= 0 && before <= max) != (lag >= 0 && lag <= max))
    log_msg(Y_LOG_LEVEL_INFO, NULL, "database %s (%s): lag %lld ms, %s", s->name, s->where, lag,
            lag >= 0 && lag <= max ? "read from again" : "beyond REPLICA_MAX_LAG: skipped");
  db_server_set_up(s, true);
}

static void *monitor_loop(void *unused) {
  (void)unused;
  pthread_mutex_lock(&rep.lock);
  while (!rep.stopping) {
    pthread_mutex_unlock(&rep.lock);
    long long now = now_ms();
    watch_primary(now);
    bool primary_up = atomic_load(&db_server_at(0)->up);
    for (int i = 1; i < db_server_count(); i++)
      watch_standby(db_server_at(i), primary_up, now);
    pthread_mutex_lock(&rep.lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += MONITOR_EVERY_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    while (!rep.stopping && pthread_cond_timedwait(&rep.wake, &rep.lock, &until) == 0)
      ;
  }
  pthread_mutex_unlock(&rep.lock);
  for (int i = 0; i < DB_MAX_SERVERS; i++)
    if (probes[i] != NULL) {
      PQfinish(probes[i]);
      probes[i] = NULL;
    }
  return NULL;
}

int db_replicas_start(int max_lag_ms) {
  atomic_store(&rep.max_lag_ms, max_lag_ms);
  if (db_server_count() < 2)
    return A_OK;
  /* Standbys are not read from before the first measurement. */
  rep.stopping = false;
  rep.started = pthread_create(&rep.thread, NULL, monitor_loop, NULL) == 0;
  return rep.started ? A_OK : A_ERR;
}

void db_replicas_stop(void) {
  if (!rep.started)
    return;
  pthread_mutex_lock(&rep.lock);
  rep.stopping = true;
  pthread_cond_signal(&rep.wake);
  pthread_mutex_unlock(&rep.lock);
  pthread_join(rep.thread, NULL);
  rep.started = false;
}

/* ------------------------------------------------------------- metrics */

char *db_metrics_render(void) {
  size_t cap = 8192;
  char *out = malloc(cap);
  if (out == NULL)
    return NULL;
  size_t n = 0;
#define EMIT(...)                                                                                  \
  do {                                                                                             \
    int k = snprintf(out + n, cap - n, __VA_ARGS__);                                               \
    if (k > 0)                                                                                     \
      n += (size_t)k < cap - n ? (size_t)k : cap - n - 1;                                          \
  } while (0)
  EMIT("# HELP acredita_db_reads_total Reads (GET requests) answered, by database server.\n"
       "# TYPE acredita_db_reads_total counter\n");
  for (int i = 0; i < db_server_count(); i++) {
    struct db_server *s = db_server_at(i);
    EMIT("acredita_db_reads_total{server=\"%s\",host=\"%s\"} %lu\n", s->name, s->where,
         atomic_load(&s->reads));
  }
  EMIT("# HELP acredita_db_server_up Whether the database server answers (1) or not (0).\n"
       "# TYPE acredita_db_server_up gauge\n");
  for (int i = 0; i < db_server_count(); i++) {
    struct db_server *s = db_server_at(i);
    EMIT("acredita_db_server_up{server=\"%s\",host=\"%s\"} %d\n", s->name, s->where,
         atomic_load(&s->up) ? 1 : 0);
  }
  if (db_server_count() > 1) {
    EMIT("# HELP acredita_db_standby_lag_seconds How far each standby's replay is behind the "
         "primary (-1: unknown).\n"
         "# TYPE acredita_db_standby_lag_seconds gauge\n");
    for (int i = 1; i < db_server_count(); i++) {
      struct db_server *s = db_server_at(i);
      long long lag = atomic_load(&s->lag_ms);
      EMIT("acredita_db_standby_lag_seconds{server=\"%s\",host=\"%s\"} %.3f\n", s->name, s->where,
           lag < 0 ? -1.0 : (double)lag / 1000.0);
    }
    EMIT("# HELP acredita_db_read_fallbacks_total Reads that went to the primary instead of a "
         "standby, by reason.\n"
         "# TYPE acredita_db_read_fallbacks_total counter\n");
    for (int f = 0; f < FALLBACK__COUNT; f++)
      EMIT("acredita_db_read_fallbacks_total{reason=\"%s\"} %lu\n", FALLBACK_NAMES[f],
           atomic_load(&rep.fallbacks[f]));
    EMIT("# HELP acredita_db_degraded_reads_total Reads a standby answered while the primary "
         "was unreachable.\n"
         "# TYPE acredita_db_degraded_reads_total counter\n"
         "acredita_db_degraded_reads_total %lu\n",
         atomic_load(&rep.degraded_reads));
  }
#undef EMIT
  return out;
}
