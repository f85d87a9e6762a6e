/*
 * servers.h — inside db/ only: the database servers the service knows (the primary and its
 * hot standbys), each with its own pool of connections. pool.c owns the table and the pools;
 * replicas.c decides which server answers a read and watches the standbys' lag.
 */
#ifndef ACREDITA_DB_SERVERS_H
#define ACREDITA_DB_SERVERS_H

#include "db/db.h"

#include <pthread.h>

/* The primary and up to eight standbys. */
#define DB_MAX_SERVERS 9

struct db_server {
  int index;       /* 0: the primary (DATABASE_URL); 1…: DATABASE_REPLICA_URLS in order */
  char name[16];   /* "primary", "standby1", …: the metrics label */
  char where[160]; /* host:port, for logs and metrics */
  char *url;
  /* Its pool: guarded by the pool's one lock. Two lanes: slots [0, size) for ordinary
   * work, [size, size + exports) for CSV exports (DB_LANE_EXPORT), so that an export never
   * takes an ordinary connection and nobody waits behind one. */
  struct db_conn *conns;
  bool *busy;
  int in_use[2];
  int waiting[2];
  pthread_cond_t freed[2];
  /* Health, written by the monitor thread (replicas.c) and by requests that find the server
   * gone; read without locks. A standby is usable for a read when it is up and its lag is
   * within REPLICA_MAX_LAG. */
  atomic_bool up;
  atomic_llong lag_ms;           /* standbys: estimated replay lag; -1 unknown */
  atomic_uint_fast64_t replayed; /* standbys: highest replay position seen */
  atomic_ulong reads;            /* reads this server answered */
};

/* The servers (index 0 is the primary) and how many there are. Fixed once threads start. */
struct db_server *db_server_at(int index);
int db_server_count(void);

/* Takes a connection of lane (DB_LANE_ORDINARY or DB_LANE_EXPORT) to s, waiting up to wait_ms
 * for a free one, and opens it when needed. NULL when none came free in time or s cannot be
 * reached (then s is marked down). */
struct db_conn *db_server_take(struct db_server *s, int wait_ms, int lane);
/* Marks s up or down, logging the change. */
void db_server_set_up(struct db_server *s, bool up);

/*
 * Opens a session with the service's settings: statement and lock timeouts, UTC, UTF-8,
 * application_name. PgBouncer 1.18 refuses the `options` startup parameter that carries the
 * timeouts; then the session is opened without it and *bare is set (db_begin sets them per
 * transaction instead). NULL when the server cannot be reached (with a warning logged unless
 * quiet: the monitor reports a server's state changes, not every failed attempt).
 */
PGconn *db_open_session(const char *url, const char *application_name, int connect_timeout_s,
                        bool quiet, bool *bare);

#endif
