/*
 * pool.c — bounded pools of PostgreSQL connections: one per server (the primary, and each
 * hot standby of DATABASE_REPLICA_URLS).
 *
 * A PGconn may not be used by two threads at once, so a request holds one connection for its
 * whole life and gives it back at the end. Waiting for a connection is bounded: a caller that
 * waits too long gets NULL and answers 503 rather than queueing forever. Connections are
 * opened lazily and reset when found broken, so the service survives a database restart
 * without being restarted itself. Which server answers a read is replicas.c's business.
 */
#include "db/servers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yder.h>

static struct {
  pthread_mutex_t lock; /* guards every server's pool */
  struct db_server servers[DB_MAX_SERVERS];
  int nservers;
  int size;    /* ordinary connections per server */
  int exports; /* and the export lane's, after them */
  enum db_statements statements;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_int next_stmt_id = 1;

/* The settings every session of the service runs with. */
static const char SESSION_OPTIONS[] = "-c statement_timeout=5000 -c timezone=UTC "
                                      "-c lock_timeout=3000";
/* The same for the commands (migrate, seed-demo, user create) but the statement timeout,
 * which is a request's budget: a migration or the demo load may rightly take longer. */
static const char COMMAND_OPTIONS[] = "-c timezone=UTC -c lock_timeout=3000";
/* The same, for a session opened without them (db_begin, behind PgBouncer 1.18). */
static const char BEGIN_BARE[] =
    "BEGIN; SET LOCAL statement_timeout = 5000; SET LOCAL lock_timeout = 3000";

static PGconn *connect_with(const char *url, const char *app, const char *timeout,
                            const char *options) {
  /* Later keywords override what the URL says: these settings are part of the service. */
  const char *const keys[] = {"dbname",     "connect_timeout", "application_name",
                              "keepalives", "client_encoding", "options",
                              NULL};
  const char *const vals[] = {url, timeout, app, "1", "UTF8", options, NULL};
  return PQconnectdbParams(keys, vals, 1);
}

static PGconn *open_with(const char *url, const char *application_name, int connect_timeout_s,
                         const char *options, bool quiet, bool *bare) {
  char timeout[16];
  snprintf(timeout, sizeof timeout, "%d", connect_timeout_s);
  *bare = false;
  PGconn *pg = connect_with(url, application_name, timeout, options);
  if (pg != NULL && PQstatus(pg) != CONNECTION_OK &&
      strstr(PQerrorMessage(pg), "unsupported startup parameter") != NULL) {
    PQfinish(pg);
    pg = connect_with(url, application_name, timeout, NULL);
    *bare = true;
  }
  if (pg == NULL)
    return NULL;
  if (PQstatus(pg) != CONNECTION_OK) {
    if (!quiet)
      log_msg(Y_LOG_LEVEL_WARNING, NULL, "database connection failed: %s", PQerrorMessage(pg));
    PQfinish(pg);
    return NULL;
  }
  return pg;
}

PGconn *db_open_session(const char *url, const char *application_name, int connect_timeout_s,
                        bool quiet, bool *bare) {
  return open_with(url, application_name, connect_timeout_s, SESSION_OPTIONS, quiet, bare);
}

PGconn *db_connect(const char *url) {
  bool bare;
  return open_with(url, "acredita", 3, COMMAND_OPTIONS, false, &bare);
}

bool db_session_pooled(PGconn *pg) {
  PGresult *res = PQexec(pg, "SELECT pg_backend_pid()");
  bool pooled = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                atoi(PQgetvalue(res, 0, 0)) != PQbackendPID(pg);
  PQclear(res);
  return pooled;
}

/* host:port of a connection string, for logs and metrics. */
static void describe_url(const char *url, char *out, size_t cap) {
  PQconninfoOption *opts = PQconninfoParse(url, NULL);
  const char *host = NULL, *port = NULL;
  for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
    if (strcmp(o->keyword, "host") == 0 || (strcmp(o->keyword, "hostaddr") == 0 && !host))
      host = o->val;
    else if (strcmp(o->keyword, "port") == 0)
      port = o->val;
  }
  snprintf(out, cap, "%s:%s", host && *host ? host : "localhost", port && *port ? port : "5432");
  PQconninfoFree(opts);
}

static int server_add(const char *url) {
  if (pool.nservers >= DB_MAX_SERVERS)
    return A_ERR;
  struct db_server *s = &pool.servers[pool.nservers];
  memset(s, 0, sizeof *s);
  s->index = pool.nservers;
  if (s->index == 0)
    snprintf(s->name, sizeof s->name, "primary");
  else
    snprintf(s->name, sizeof s->name, "standby%d", s->index);
  describe_url(url, s->where, sizeof s->where);
  int total = pool.size + pool.exports;
  s->conns = calloc((size_t)total, sizeof *s->conns);
  s->busy = calloc((size_t)total, sizeof *s->busy);
  s->url = strdup(url);
  if (s->conns == NULL || s->busy == NULL || s->url == NULL)
    return A_ERR;
  for (int i = 0; i < total; i++) {
    s->conns[i].server = s;
    s->conns[i].lane = i < pool.size ? DB_LANE_ORDINARY : DB_LANE_EXPORT;
  }
  pthread_cond_init(&s->freed[DB_LANE_ORDINARY], NULL);
  pthread_cond_init(&s->freed[DB_LANE_EXPORT], NULL);
  atomic_init(&s->up, true); /* until it fails, or the monitor says otherwise */
  atomic_init(&s->lag_ms, s->index == 0 ? 0 : -1);
  pool.nservers++;
  return A_OK;
}

int db_pool_init(const char *url, int size, int exports, enum db_statements statements) {
  pool.size = size;
  pool.exports = exports;
  pool.statements = statements;
  pool.nservers = 0;
  return server_add(url);
}

int db_pool_add_standby(const char *url) {
  return server_add(url);
}

void db_pool_close(void) {
  pthread_mutex_lock(&pool.lock);
  for (int k = 0; k < pool.nservers; k++) {
    struct db_server *s = &pool.servers[k];
    for (int i = 0; i < pool.size + pool.exports; i++)
      if (s->conns[i].pg != NULL)
        PQfinish(s->conns[i].pg);
    free(s->conns);
    free(s->busy);
    free(s->url);
    pthread_cond_destroy(&s->freed[DB_LANE_ORDINARY]);
    pthread_cond_destroy(&s->freed[DB_LANE_EXPORT]);
    memset(s, 0, sizeof *s);
  }
  pool.nservers = 0;
  pool.size = 0;
  pool.exports = 0;
  pthread_mutex_unlock(&pool.lock);
}

struct db_server *db_server_at(int index) {
  return index >= 0 && index < pool.nservers ? &pool.servers[index] : NULL;
}

int db_server_count(void) {
  return pool.nservers;
}

void db_server_set_up(struct db_server *s, bool up) {
  if (atomic_exchange(&s->up, up) != up)
    log_msg(up ? Y_LOG_LEVEL_INFO : Y_LOG_LEVEL_WARNING, NULL, "database %s (%s) is %s", s->name,
            s->where, up ? "back" : "unreachable");
}

void db_pool_stats(int *size, int *in_use, int *waiting) {
  pthread_mutex_lock(&pool.lock);
  *size = pool.size;
  *in_use = pool.nservers > 0 ? pool.servers[0].in_use[DB_LANE_ORDINARY] : 0;
  *waiting = pool.nservers > 0 ? pool.servers[0].waiting[DB_LANE_ORDINARY] : 0;
  pthread_mutex_unlock(&pool.lock);
}

/* (Re)opens c's connection when it has none or it is broken. Prepared statements belong to
 * the old session, so they are forgotten. Whether statements go unnamed is decided per
 * session: a pooler may sit in front of one server and not another. */
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
  c->pg = db_open_session(c->server->url, "acredita", 3, false, &c->bare);
  if (c->pg == NULL) {
    db_server_set_up(c->server, false);
    return false;
  }
  c->unnamed = pool.statements == DB_STATEMENTS_UNNAMED;
  c->pooled = pool.statements == DB_STATEMENTS_POOLED ||
              (pool.statements == DB_STATEMENTS_AUTO && db_session_pooled(c->pg));
  if (c->pooled && pool.statements == DB_STATEMENTS_AUTO)
    log_msg(Y_LOG_LEVEL_DEBUG, NULL, "database %s: a pooler is in between; pooled statements",
            c->server->name);
  return true;
}

static void deadline_after(int wait_ms, struct timespec *deadline) {
  clock_gettime(CLOCK_REALTIME, deadline);
  deadline->tv_sec += wait_ms / 1000;
  deadline->tv_nsec += (long)(wait_ms % 1000) * 1000000L;
  if (deadline->tv_nsec >= 1000000000L) {
    deadline->tv_sec++;
    deadline->tv_nsec -= 1000000000L;
  }
}

struct db_conn *db_server_take(struct db_server *s, int wait_ms, int lane) {
  struct timespec deadline;
  deadline_after(wait_ms, &deadline);
  int first = lane == DB_LANE_EXPORT ? pool.size : 0;
  int end = lane == DB_LANE_EXPORT ? pool.size + pool.exports : pool.size;
  pthread_mutex_lock(&pool.lock);
  int slot = -1;
  while (slot < 0) {
    for (int i = first; i < end; i++)
      if (!s->busy[i]) {
        slot = i;
        break;
      }
    if (slot >= 0)
      break;
    s->waiting[lane]++;
    int rc = pthread_cond_timedwait(&s->freed[lane], &pool.lock, &deadline);
    s->waiting[lane]--;
    if (rc == ETIMEDOUT) {
      pthread_mutex_unlock(&pool.lock);
      return NULL;
    }
  }
  s->busy[slot] = true;
  s->in_use[lane]++;
  pthread_mutex_unlock(&pool.lock);

  struct db_conn *c = &s->conns[slot];
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
  c->server = &pool.servers[0]; /* a background thread's own connection: the primary's */
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

struct db_conn *db_acquire(int wait_ms) {
  struct db_conn *c = db_server_take(&pool.servers[0], wait_ms, DB_LANE_ORDINARY);
  if (c != NULL && pool.nservers == 1)
    db_server_set_up(c->server, true); /* without standbys nobody else watches it */
  return c;
}

void db_release(struct db_conn *c) {
  if (c == NULL)
    return;
  if (c->tx_depth > 0 && c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
    db_rollback(c);
  c->tx_depth = 0;
  struct db_server *s = c->server;
  pthread_mutex_lock(&pool.lock);
  int slot = (int)(c - s->conns);
  s->busy[slot] = false;
  s->in_use[c->lane]--;
  pthread_cond_signal(&s->freed[c->lane]);
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
  /* A write that reached a server in recovery (DATABASE_URL naming a standby, or a primary
   * demoted under us): the primary is not available. */
  if (strcmp(state, "25006") == 0)
    return DB_UNAVAILABLE;
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

/*
 * Behind a pooler in transaction mode, a connection's statements may each run on another
 * server connection, and a statement prepared on one is unknown to the next. Planning every
 * call instead (unnamed) is safe but costs what a prepared statement saves: 4 ms for an
 * agency, whose representation is built by SQL functions inlined at plan time. So outside a
 * transaction a statement is sent by a name made from its text (the same text, from any
 * instance of any version, has the same name; a different text, another name), and where a
 * server connection answers that it does not know it (26000), it is prepared there (or is
 * found prepared meanwhile: 42P05) and sent again. Server connections thus learn each
 * statement once. Inside a transaction one server connection is held, but an unknown name
 * would abort the transaction: statements go unnamed there.
 */
static PGresult *exec_pooled(struct db_conn *c, const struct db_stmt *s, int n, const Oid *types,
                             const char *const *params) {
  unsigned long long h = 1469598103934665603ULL; /* FNV-1a */
  for (const char *p = s->sql; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  h = (h ^ (unsigned long long)n) * 1099511628211ULL;
  char name[32];
  snprintf(name, sizeof name, "acredita_%016llx", h);
  for (int attempt = 0; attempt < 3; attempt++) {
    PGresult *res = PQexecPrepared(c->pg, name, n, params, NULL, NULL, 0);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (result_ok(res) || state == NULL || strcmp(state, "26000") != 0)
      return res;
    PQclear(res);
    PGresult *prep = PQprepare(c->pg, name, s->sql, n, types);
    state = PQresultErrorField(prep, PG_DIAG_SQLSTATE);
    if (!result_ok(prep) && (state == NULL || strcmp(state, "42P05") != 0))
      return prep; /* the statement itself fails, or the connection did */
    PQclear(prep);
  }
  /* Three server connections in a row did not have it: plan this call on its own. */
  return PQexecParams(c->pg, s->sql, n, types, params, NULL, NULL, 0);
}

PGresult *db_exec(struct db_conn *c, struct db_stmt *s, int nparams, const char *const *params) {
  int id = stmt_id(s);
  if (id >= DB_MAX_STMTS) {
    c->status = DB_ERROR;
    log_msg(Y_LOG_LEVEL_ERROR, NULL, "too many statements: raise DB_MAX_STMTS");
    return NULL;
  }
  /* Every parameter is declared text: SQL casts each one where it is used, and a parameter a
   * statement does not use (a list's scoping, say) is still accepted. */
  Oid types[64];
  int ntypes = nparams < 64 ? nparams : 64;
  for (int i = 0; i < ntypes; i++)
    types[i] = 25; /* TEXTOID */
  for (bool retried = false;; retried = true) {
    PGresult *res;
    if (c->unnamed || (c->pooled && c->tx_depth > 0)) {
      /* Parse, bind and execute in one message sequence, so a pooler in transaction mode
       * cannot split them across server connections. */
      res = PQexecParams(c->pg, s->sql, ntypes, types, params, NULL, NULL, 0);
    } else if (c->pooled) {
      res = exec_pooled(c, s, ntypes, types, params);
    } else {
      if (!c->prepared[id]) {
        PGresult *prep = PQprepare(c->pg, s->name, s->sql, ntypes, types);
        if (!result_ok(prep)) {
          if (should_retry(c, retried)) {
            PQclear(prep);
            continue;
          }
          record_failure(c, prep);
          return NULL;
        }
        PQclear(prep);
        c->prepared[id] = true;
      }
      res = PQexecPrepared(c->pg, s->name, nparams, params, NULL, NULL, 0);
    }
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
  if (db_command(c, c->bare ? BEGIN_BARE : "BEGIN") != A_OK)
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

/* The position is asked for in the same message as COMMIT: no second round trip. Should
 * COMMIT fail, PostgreSQL skips the rest of the message. */
int db_commit_at(struct db_conn *c, char *position, size_t cap) {
  position[0] = '\0';
  c->tx_depth = 0;
  if (!PQsendQuery(c->pg, "COMMIT; SELECT pg_current_wal_insert_lsn()::text")) {
    record_failure(c, NULL);
    return A_ERR;
  }
  bool answered = false, committed = false;
  PGresult *res;
  while ((res = PQgetResult(c->pg)) != NULL) {
    if (!answered) {
      answered = true;
      if (!result_ok(res)) {
        record_failure(c, res);
        continue;
      }
      committed = strcmp(PQcmdStatus(res), "COMMIT") == 0;
    } else if (committed && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
      snprintf(position, cap, "%s", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
  }
  if (committed) {
    c->status = DB_OK; /* with or without the position: the write stands */
    return A_OK;
  }
  if (!answered) {
    record_failure(c, NULL);
  } else if (c->status == DB_OK) {
    c->status = DB_ERROR;
    snprintf(c->message, sizeof c->message, "transaction was rolled back");
  }
  return A_ERR;
}

int db_wal_position(struct db_conn *c, char *position, size_t cap) {
  position[0] = '\0';
  PGresult *res = PQexec(c->pg, "SELECT pg_current_wal_insert_lsn()::text");
  int rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? A_OK : A_ERR;
  if (rc == A_OK)
    snprintf(position, cap, "%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  return rc;
}

int db_lsn_parse(const char *text, db_lsn *out) {
  unsigned long hi, lo;
  int used = 0;
  size_t n = text ? strlen(text) : 0;
  if (n < 3 || n > 17 || strspn(text, "0123456789abcdefABCDEF/") != n)
    return A_ERR;
  if (sscanf(text, "%8lx/%8lx%n", &hi, &lo, &used) != 2 || (size_t)used != n)
    return A_ERR;
  *out = ((db_lsn)hi << 32) | (db_lsn)lo;
  return A_OK;
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
