/*
 * db.h — PostgreSQL: bounded pools of connections to the primary and its hot standbys,
 * prepared statements, transactions, migrations and the demo data. Nothing here knows about
 * HTTP.
 */
#ifndef ACREDITA_DB_H
#define ACREDITA_DB_H

#include "acredita.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

#define DB_MAX_STMTS 512

/*
 * A named SQL statement. It is prepared on a connection the first time that connection runs
 * it, and again after the connection is reset, so modules only declare them:
 *   static struct db_stmt USER_BY_ID = {"user_by_id", "SELECT …"};
 * The id is assigned on first use; statements must therefore be static, not const.
 */
struct db_stmt {
  const char *name;
  const char *sql;
  atomic_int id; /* 0 until first use */
};

/* What went wrong with the last statement, in terms the callers act on. */
enum db_status {
  DB_OK = 0,
  DB_UNAVAILABLE,        /* no connection, lost connection, pool exhausted, statement timeout */
  DB_UNIQUE,             /* 23505 */
  DB_FOREIGN_KEY,        /* 23503 */
  DB_CHECK,              /* 23514, 23502, 23P01 */
  DB_INVALID_INPUT,      /* class 22: a value PostgreSQL cannot take */
  DB_SERIALIZATION,      /* 40001, 40P01 */
  DB_LOCK_NOT_AVAILABLE, /* 55P03 */
  DB_RAISED,             /* P0001: a rule raised by our own SQL (RAISE EXCEPTION) */
  DB_ERROR,              /* anything else: a bug */
};

struct db_server;

struct db_conn {
  PGconn *pg;
  struct db_server *server; /* the server this connection belongs to */
  bool unnamed;             /* send every statement unnamed (PQexecParams) */
  bool pooled;  /* a pooler is in between: statements named by their text (see pool.c) */
  bool bare;    /* the session lacks the startup options: timeouts are set per transaction */
  int lane;     /* DB_LANE_ORDINARY or DB_LANE_EXPORT: the slots of its pool it belongs to */
  int tx_depth; /* 1 inside BEGIN … COMMIT */
  enum db_status status;
  char sqlstate[6];
  char constraint[64];
  char message[512]; /* PostgreSQL's primary message: for logs and P0001 rules only */
  char hint[256];
  bool prepared[DB_MAX_STMTS];
};

/* How statements are sent (DB_STATEMENTS). Named prepared statements are planned once per
 * session; a pooler in transaction mode (PgBouncer before 1.21) may run one on another server
 * connection than the one that prepared it. pooled: statements named by their text, prepared
 * again wherever a server connection lacks one, and unnamed inside transactions (pool.c).
 * unnamed: PQexecParams for everything, planned at every call. auto: named, or pooled when
 * the connection turns out to reach PostgreSQL through a pooler. */
enum db_statements {
  DB_STATEMENTS_AUTO,
  DB_STATEMENTS_NAMED,
  DB_STATEMENTS_POOLED,
  DB_STATEMENTS_UNNAMED
};

/* A pool's two lanes: size connections for ordinary work and exports more for CSV exports
 * only, per server, so that a long export never holds a connection an ordinary request
 * could wait for (the export cap itself is counted per instance, in http/stream.c). */
enum { DB_LANE_ORDINARY = 0, DB_LANE_EXPORT = 1 };

/* Sizes the pool of the primary (url): size ordinary connections and exports for CSV
 * exports; connections are opened on first use, so the service starts (and answers /healthz)
 * while the database is down. */
int db_pool_init(const char *url, int size, int exports, enum db_statements statements);
/* Adds a hot standby, with a pool of the same size, before threads start. A_ERR past eight. */
int db_pool_add_standby(const char *url);
void db_pool_close(void);

/* Takes a connection to the primary, waiting up to wait_ms for one to be free. Returns NULL
 * when none came free in time or the database cannot be reached. The connection is the
 * caller's until db_release(). For writes, and for anything that must see the primary. */
struct db_conn *db_acquire(int wait_ms);
/* A connection of a background thread's own, outside the pool, so that its work never takes
 * a request's connection: c starts zeroed; each call (re)opens it, with the pool's settings,
 * when it has none or a broken one. false when the database cannot be reached. Close it
 * with db_own_close(); never db_release() it. */
bool db_own_ensure(struct db_conn *c);
void db_own_close(struct db_conn *c);
/* Gives a connection back; one left inside a transaction is rolled back first. */
void db_release(struct db_conn *c);
/* Connections in the primary's pool, in use, and callers waiting for one. */
void db_pool_stats(int *size, int *in_use, int *waiting);

/* ------------------------------------------------------------- standbys */

/* A WAL position (LSN) as a number: PostgreSQL's "16/B374D848" is 0x16B374D848; 0 is none. */
typedef uint64_t db_lsn;
#define DB_LSN_TEXT 24
/* Reads PostgreSQL's text form ("16/B374D848"). A_OK, or A_ERR when text is not one. */
int db_lsn_parse(const char *text, db_lsn *out);

/* db_acquire_read() flags. */
enum {
  DB_READ_PRIMARY_FIRST = 1u << 0, /* the primary unless it is down (then a standby) */
  DB_READ_EXPORT = 1u << 1,        /* a CSV export: from the export lane of each pool */
};

/*
 * Takes a connection for a read outside any transaction (replicas.c): a standby that is up,
 * within REPLICA_MAX_LAG and has replayed at least at_least (0: any); otherwise the primary;
 * with the primary down, a standby that is up whatever its lag, if it has replayed at_least.
 * NULL when no server can answer. Without standbys this is db_acquire().
 */
struct db_conn *db_acquire_read(int wait_ms, db_lsn at_least, unsigned flags);
/* True when c's last statement, a read outside a transaction, failed because its server went
 * away or (a standby) cancelled it, and another server might answer it. */
bool db_read_retryable(const struct db_conn *c);
/* Releases c, whose read failed (db_read_retryable), and takes a connection to another
 * server for the same read. NULL when none can answer. */
struct db_conn *db_reacquire_read(struct db_conn *c, int wait_ms, db_lsn at_least);
/* True when c is a connection to the primary. */
bool db_conn_is_primary(const struct db_conn *c);
/* A_OK when the primary answers as a primary (not in recovery), within wait_ms. */
int db_primary_ping(int wait_ms);
/* Starts the thread that measures each standby's lag every half second (when there are
 * standbys); max_lag_ms is REPLICA_MAX_LAG. */
int db_replicas_start(int max_lag_ms);
void db_replicas_stop(void);
/* The servers' metrics in Prometheus text (reads by server, up, lag); malloc'd, free() it. */
char *db_metrics_render(void);
/* True when pg reaches PostgreSQL through a pooler rather than talking to one backend: the
 * backend's process id differs from the one the connection was told at start-up. */
bool db_session_pooled(PGconn *pg);

/*
 * Runs a statement with text parameters (NULL entries are SQL NULLs). Returns the result,
 * which the caller frees with PQclear(), or NULL with c->status set. A connection found
 * broken is reset and, when no transaction is open, the statement is retried once.
 */
PGresult *db_exec(struct db_conn *c, struct db_stmt *s, int nparams, const char *const *params);
/* Runs one command without parameters (BEGIN, COMMIT, …). A_OK or A_ERR with c->status. */
int db_command(struct db_conn *c, const char *sql);
int db_begin(struct db_conn *c);
/* Begins a read-only transaction on one snapshot (REPEATABLE READ) for reading a long list in
 * batches, each planned for its own values. */
int db_begin_snapshot(struct db_conn *c);
int db_commit(struct db_conn *c);
/* COMMIT, and the position of the WAL just after it (pg_current_wal_insert_lsn(), text) into
 * position, in one round trip: a standby that has replayed that far has the commit. */
int db_commit_at(struct db_conn *c, char *position, size_t cap);
/* The primary's current WAL position (text) on c, a connection to it. */
int db_wal_position(struct db_conn *c, char *position, size_t cap);
int db_rollback(struct db_conn *c);

/* A standalone connection with the service's session settings but the statement timeout
 * (for migrate, seed-demo, user create, tests). NULL with a message on stderr when it cannot
 * connect. Close with PQfinish(). */
PGconn *db_connect(const char *url);

/* Migrations embedded in the binary at build time (db/migrations/NNNN_name.sql), then the
 * functions (db/functions/NN_area.sql) when their checksum changed. A_OK or A_ERR. */
int db_migrate(PGconn *pg);
int db_known_schema_version(void); /* the highest version this binary carries */
/* The version recorded in the database: 0 when none, -1 when it cannot be read. */
int db_schema_version(PGconn *pg);
/* The same, over a pool connection (for /readyz); *functions_current tells whether the
 * database holds this binary's db/functions/. */
int db_conn_schema_version(struct db_conn *c, bool *functions_current);
/* The hex SHA-256 of this binary's db/functions/ (names and contents, in order). */
void db_functions_checksum(char out[65]);
/* Loads the demo dataset (the files under db/demo) in one transaction; safe to run twice. */
int db_seed_demo(PGconn *pg, const char *password_hash, const char *secret_hash);

/* Notifications (listen.c): one thread LISTENs on its own connection to the channels
 * registered before db_listen_start() and calls each channel's fn with the notification's
 * payload, or with NULL when the connection is made or lost (notifications may have been
 * missed: whatever a cache holds may be stale). fn runs on the listener's thread. */
typedef void (*db_notify_fn)(const char *payload);
/* Registers fn for channel (a static string); before db_listen_start(). A_OK or A_ERR. */
int db_listen_register(const char *channel, db_notify_fn fn);
/* Starts the listener thread, once (g_config.database_url). */
void db_listen_start(void);
/* True while the listener is connected: caches kept by notifications are current. */
bool db_listening(void);

/* A background thread: round() runs again at once while it returns more than 0 (it found
 * work), after idle_ms otherwise, until background_stop(). Declare one statically with
 * round and idle_ms set. */
struct background {
  int (*round)(void);
  int idle_ms;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool stopping, started;
};
int background_start(struct background *b);
/* True once background_stop() was called: a long round checks it to end early. */
bool background_stopping(struct background *b);
/* Wakes the thread and waits for its round to end. Harmless when it never started. */
void background_stop(struct background *b);

/* Starts and stops the housekeeping thread: the midnight sweep of stored documents every
 * minute, and hourly retention (feed, expired keys). */
int db_housekeeping_start(void);
void db_housekeeping_stop(void);

/* Files embedded at build time: migrations, demo data, the OpenAPI document. */
struct embedded_file {
  const char *name; /* path relative to the repository, e.g. "db/migrations/0001_core.sql" */
  const unsigned char *data;
  size_t len;
};
extern const struct embedded_file EMBEDDED_FILES[];
extern const size_t EMBEDDED_FILES_COUNT;
/* The embedded file named name, or NULL. */
const struct embedded_file *embedded_file(const char *name);

#endif
