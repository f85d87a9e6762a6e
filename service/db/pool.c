/*
 * pool.c — a bounded pool of PostgreSQL connections.
 *
 * A PGconn may not be used by two threads at once, so a request holds one connection for its
 * whole life and gives it back at the end. Waiting for a connection is bounded: a caller that
 * waits too long gets NULL and answers 503 rather than queueing forever. Connections are
 * opened lazily and reset when found broken, so the service survives a database restart
 * without being restarted itself.
 */
#include "db/db.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yder.h>

static struct {
  pthread_mutex_t lock;
  pthread_cond_t freed;
  struct db_conn *conns;
  bool *busy;
  int size;
  int in_use;
  int waiting;
  char *url;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER, .freed = PTHREAD_COND_INITIALIZER};

static atomic_int next_stmt_id = 1;

PGconn *db_connect(const char *url) {
  /* Later keywords override what the URL says: these settings are part of the service. */
  const char *const keys[] = {"dbname",     "connect_timeout", "application_name",
                              "keepalives", "options",         NULL};
  const char *const vals[] = {url,
                              "3",
                              "acredita",
                              "1",
                              "-c statement_timeout=5000 -c timezone=UTC "
                              "-c lock_timeout=3000 -c client_encoding=UTF8",
                              NULL};
  PGconn *pg = PQconnectdbParams(keys, vals, 1);
  if (pg == NULL)
    return NULL;
  if (PQstatus(pg) != CONNECTION_OK) {
    log_msg(Y_LOG_LEVEL_WARNING, NULL, "database connection failed: %s", PQerrorMessage(pg));
    PQfinish(pg);
    return NULL;
  }
  return pg;
}

int db_pool_init(const char *url, int size) {
  pool.conns = calloc((size_t)size, sizeof *pool.conns);
  pool.busy = calloc((size_t)size, sizeof *pool.busy);
  pool.url = strdup(url);
  if (pool.conns == NULL || pool.busy == NULL || pool.url == NULL)
    return A_ERR;
  pool.size = size;
  return A_OK;
}

void db_pool_close(void) {
  pthread_mutex_lock(&pool.lock);
  for (int i = 0; i < pool.size; i++)
    if (pool.conns[i].pg != NULL)
      PQfinish(pool.conns[i].pg);
  free(pool.conns);
  free(pool.busy);
  free(pool.url);
  pool.conns = NULL;
  pool.busy = NULL;
  pool.url = NULL;
  pool.size = 0;
  pthread_mutex_unlock(&pool.lock);
}

void db_pool_stats(int *size, int *in_use, int *waiting) {
  pthread_mutex_lock(&pool.lock);
  *size = pool.size;
  *in_use = pool.in_use;
  *waiting = pool.waiting;
  pthread_mutex_unlock(&pool.lock);
}

/* (Re)opens c's connection when it has none or it is broken. Prepared statements belong to
 * the old session, so they are forgotten. */
static bool conn_ensure(struct db_conn *c) {
  if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
    return true;
  memset(c->prepared, 0, sizeof c->prepared);
  c->tx_depth = 0;
  if (c->pg != NULL) {
    PQreset(c->pg);
    if (PQstatus(c->pg) == CONNECTION_OK)
      return true;
    PQfinish(c->pg);
    c->pg = NULL;
  }
  c->pg = db_connect(pool.url);
  return c->pg != NULL;
}

struct db_conn *db_acquire(int wait_ms) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += wait_ms / 1000;
  deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }

  pthread_mutex_lock(&pool.lock);
  int slot = -1;
  while (slot < 0) {
    for (int i = 0; i < pool.size; i++)
      if (!pool.busy[i]) {
        slot = i;
        break;
      }
    if (slot >= 0)
      break;
    pool.waiting++;
    int rc = pthread_cond_timedwait(&pool.freed, &pool.lock, &deadline);
    pool.waiting--;
    if (rc == ETIMEDOUT) {
      pthread_mutex_unlock(&pool.lock);
      return NULL;
    }
  }
  pool.busy[slot] = true;
  pool.in_use++;
  pthread_mutex_unlock(&pool.lock);

  struct db_conn *c = &pool.conns[slot];
  c->status = DB_OK;
  if (!conn_ensure(c)) {
    c->status = DB_UNAVAILABLE;
    db_release(c);
    return NULL;
  }
  return c;
}

bool db_own_ensure(struct db_conn *c) {
  c->status = DB_OK;
  if (conn_ensure(c))
    return true;
  c->status = DB_UNAVAILABLE;
  return false;
}

void db_own_close(struct db_conn *c) {
  if (c->pg != NULL)
    PQfinish(c->pg);
  c->pg = NULL;
}

void db_release(struct db_conn *c) {
  if (c == NULL)
    return;
  if (c->tx_depth > 0 && c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
    db_rollback(c);
  c->tx_depth = 0;
  pthread_mutex_lock(&pool.lock);
  int slot = (int)(c - pool.conns);
  pool.busy[slot] = false;
  pool.in_use--;
  pthread_cond_signal(&pool.freed);
  pthread_mutex_unlock(&pool.lock);
}

static enum db_status status_of(const char *state) {
  if (state == NULL)
    return DB_UNAVAILABLE;
  if (strcmp(state, "23505") == 0)
    return DB_UNIQUE;
  if (strcmp(state, "23503") == 0)
    return DB_FOREIGN_KEY;
  if (strcmp(state, "23514") == 0 || strcmp(state, "23502") == 0 || strcmp(state, "23P01") == 0)
    return DB_CHECK;
  if (strncmp(state, "22", 2) == 0)
    return DB_INVALID_INPUT;
  if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
    return DB_SERIALIZATION;
  if (strcmp(state, "55P03") == 0)
    return DB_LOCK_NOT_AVAILABLE;
  if (strcmp(state, "P0001") == 0)
    return DB_RAISED;
  /* Class 08 (connection), 57 (operator intervention: shutdown, statement timeout) and 53
   * (insufficient resources) are the database being unavailable, not a bug. */
  if (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 || strncmp(state, "53", 2) == 0)
    return DB_UNAVAILABLE;
  return DB_ERROR;
}

static void copy_field(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src != NULL ? src : "");
}

/* Records why res failed (res may be NULL) and frees it. */
static void record_failure(struct db_conn *c, PGresult *res) {
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (PQstatus(c->pg) != CONNECTION_OK)
    state = NULL;
  c->status = status_of(state);
  copy_field(c->sqlstate, sizeof c->sqlstate, state);
  copy_field(c->constraint, sizeof c->constraint,
             res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL);
  copy_field(c->message, sizeof c->message,
             res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(c->pg));
  copy_field(c->hint, sizeof c->hint, res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL);
  if (c->status == DB_ERROR || c->status == DB_UNAVAILABLE)
    log_msg(Y_LOG_LEVEL_WARNING, NULL, "database: %s %s", c->sqlstate, c->message);
  PQclear(res);
}

static bool result_ok(PGresult *res) {
  ExecStatusType st = PQresultStatus(res);
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* A failed call on a connection that is now broken may be retried once after a reset, but
 * only outside a transaction: inside one, the work before it is already lost. */
static bool should_retry(struct db_conn *c, bool retried) {
  if (retried || PQstatus(c->pg) == CONNECTION_OK || c->tx_depth > 0)
    return false;
  return conn_ensure(c);
}

static int stmt_id(struct db_stmt *s) {
  int id = atomic_load(&s->id);
  if (id == 0) {
    int fresh = atomic_fetch_add(&next_stmt_id, 1);
    int expected = 0;
    if (atomic_compare_exchange_strong(&s->id, &expected, fresh))
      id = fresh;
    else
      id = expected;
  }
  return id;
}

PGresult *db_exec(struct db_conn *c, struct db_stmt *s, int nparams, const char *const *params) {
  int id = stmt_id(s);
  if (id >= DB_MAX_STMTS) {
    c->status = DB_ERROR;
    log_msg(Y_LOG_LEVEL_ERROR, NULL, "too many statements: raise DB_MAX_STMTS");
    return NULL;
  }
  for (bool retried = false;; retried = true) {
    if (!c->prepared[id]) {
      /* Every parameter is declared text: SQL casts each one where it is used, and a
       * parameter a statement does not use (a list's scoping, say) is still accepted. */
      Oid types[64];
      for (int i = 0; i < nparams && i < 64; i++)
        types[i] = 25; /* TEXTOID */
      PGresult *prep = PQprepare(c->pg, s->name, s->sql, nparams < 64 ? nparams : 64, types);
      if (!result_ok(prep)) {
        if (should_retry(c, retried))
          continue;
        record_failure(c, prep);
        return NULL;
      }
      PQclear(prep);
      c->prepared[id] = true;
    }
    PGresult *res = PQexecPrepared(c->pg, s->name, nparams, params, NULL, NULL, 0);
    if (result_ok(res)) {
      c->status = DB_OK;
      return res;
    }
    if (should_retry(c, retried)) {
      PQclear(res);
      continue;
    }
    record_failure(c, res);
    return NULL;
  }
}

int db_command(struct db_conn *c, const char *sql) {
  for (bool retried = false;; retried = true) {
    PGresult *res = PQexec(c->pg, sql);
    if (result_ok(res)) {
      PQclear(res);
      c->status = DB_OK;
      return A_OK;
    }
    if (should_retry(c, retried)) {
      PQclear(res);
      continue;
    }
    record_failure(c, res);
    return A_ERR;
  }
}

int db_begin(struct db_conn *c) {
  if (db_command(c, "BEGIN") != A_OK)
    return A_ERR;
  c->tx_depth = 1;
  return A_OK;
}

int db_begin_snapshot(struct db_conn *c) {
  if (db_command(c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY") != A_OK)
    return A_ERR;
  c->tx_depth = 1;
  /* A generic plan of a keyset page cannot seek to the cursor (its parameters may be NULL):
   * it scans and sorts the whole table for every batch. Plan each batch for its values. */
  return db_command(c, "SET LOCAL plan_cache_mode = force_custom_plan");
}

/* COMMIT of a transaction in which a statement failed answers "ROLLBACK", not an error:
 * that is a failure too. */
int db_commit(struct db_conn *c) {
  PGresult *res = PQexec(c->pg, "COMMIT");
  c->tx_depth = 0;
  if (result_ok(res) && strcmp(PQcmdStatus(res), "COMMIT") == 0) {
    PQclear(res);
    c->status = DB_OK;
    return A_OK;
  }
  if (result_ok(res)) {
    PQclear(res);
    c->status = DB_ERROR;
    snprintf(c->message, sizeof c->message, "transaction was rolled back");
    return A_ERR;
  }
  record_failure(c, res);
  return A_ERR;
}

int db_rollback(struct db_conn *c) {
  c->tx_depth = 0;
  if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK)
    return A_ERR;
  PGresult *res = PQexec(c->pg, "ROLLBACK");
  int rc = result_ok(res) ? A_OK : A_ERR;
  PQclear(res);
  return rc;
}
