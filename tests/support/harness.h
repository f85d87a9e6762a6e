/*
 * harness.h — what integration tests need: a database of their own (created from
 * TEST_DATABASE_URL, migrated by the real binary), the real acredita server on a free port,
 * an HTTP client over a real socket (libcurl), tokens signed with the server's key, and a
 * log of every response for the contract check (CONTRACT_LOG).
 *
 * Typical use, once per test binary (runs in criterion's runner process, so the forked
 * tests inherit the server):
 *   ReportHook(PRE_ALL)(struct criterion_test_set *set) { th_boot("users", true); }
 *   ReportHook(POST_ALL)(struct criterion_global_stats *s) { th_shutdown(); }
 */
#ifndef ACREDITA_TEST_HARNESS_H
#define ACREDITA_TEST_HARNESS_H

#include "acredita.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TH_JWT_SECRET "integration-test-secret-0123456789abcdef"

struct th_resp {
  long status;
  char *body; /* NUL-terminated */
  size_t len;
  json_t *json;  /* parsed body when it is JSON, else NULL */
  char *headers; /* raw header block */
};

/* Creates (drops first) database acredita_test_<name>, migrates it and, with demo, loads
 * the demo data; starts the server on it; exports TH_URL, TH_DB_URL for the tests. With
 * TH_DATABASE_VIA=pgbouncer (ctest's *_pgbouncer variants) the server reaches that database
 * through PgBouncer in transaction mode (TEST_PGBOUNCER_URL); migrations and th_sql do not. */
void th_boot(const char *name, bool demo);
/* Stops the server started by th_boot. */
void th_shutdown(void);

/* The server's base URL ("http://127.0.0.1:PORT") and the test database's URL. */
const char *th_url(void);
const char *th_db_url(void);

/* Starts another server process on db_url with extra "NAME=value" env entries
 * (NULL-terminated, may be NULL; TH_STDERR=path sends its stderr to a file); returns its pid and
 * writes its port. Waits until /healthz answers. */
pid_t th_server_spawn(const char *db_url, const char *const *env, int *port);
/* The same on the test database, writing the server's base URL ("http://127.0.0.1:PORT",
 * cap >= 32) into base. */
pid_t th_server_spawn_base(const char *const *env, char *base, size_t cap);
/* Sends sig to pid and waits; returns the exit status (or 128+signal). */
int th_server_kill(pid_t pid, int sig);

/* Signs a token like the server's (TH_JWT_SECRET). role is a role name; agency may be NULL.
 * Returns a malloc'd string. */
char *th_token(const char *role, const char *sub, const char *agency_id);
/* A machine client's token: limited to scope (space-separated, may be ""). */
char *th_client_token(const char *role, const char *sub, const char *scope);
/* Tokens of the demo accounts (seeded with fixed ids). Static strings, made once. */
const char *th_admin(void);

/* One HTTP request to base (NULL: th_url()). headers: NULL-terminated "Name: value" lines.
 * body may be NULL. Never fails the test by itself: status 0 means no answer. */
struct th_resp th_req_to(const char *base, const char *method, const char *path, const char *token,
                         const char *content_type, const char *body, size_t body_len,
                         const char *const *headers);
/* The time limit of each th_req/th_req_to from now on in this test process, in seconds
 * (0: the default, 30 s, or 120 s with the server under ACREDITA_WRAPPER). For tests that move
 * megabytes, which valgrind or the sanitizers slow down many times over. */
void th_set_timeout(long seconds);
struct th_resp th_req(const char *method, const char *path, const char *token, const char *body,
                      const char *const *headers);
/* A response header's value (case-insensitive name), malloc'd, or NULL. */
char *th_header(const struct th_resp *r, const char *name);
void th_free(struct th_resp *r);

/* Runs SQL on the test database and returns the first column of the first row (malloc'd),
 * or NULL when there is none. Fails the test on an SQL error. */
char *th_sql(const char *sql);
/* The same, as a number. */
long th_sql_long(const char *sql);

/* A string member of a JSON object, or NULL. */
const char *th_str(const json_t *o, const char *key);
/* Fails the test unless r is a problem with this status and type (its slug: "not-found"). */
void th_assert_problem(const struct th_resp *r, long status, const char *slug);
/* True when the problem r lists a field error for field (a JSON Pointer) with code. */
bool th_has_error(const struct th_resp *r, const char *field, const char *code);

/* Stops or starts the throwaway PostgreSQL cluster ($TEST_PGCTL stop|start). */
void th_pgctl(const char *action);

/* ------------------------------------------------------------- standby */

/* The test database on the hot standby that streams from that cluster (TEST_STANDBY_URL),
 * as a URL; static storage. */
const char *th_standby_db_url(void);
/* Stops or starts the standby ($TEST_STANDBY_CTL stop|start). */
void th_standby_ctl(const char *action);
/* Runs SQL on the standby's test database: the first column of the first row (malloc'd) or
 * NULL. Fails the test on an SQL error. */
char *th_standby_sql(const char *sql);
/* Waits until the standby has replayed position (PostgreSQL's text form; NULL: wherever the
 * primary is now), at most timeout_ms. True when it has. */
bool th_standby_caught_up(const char *position, int timeout_ms);
/* The value of one line of base's /metrics (the sample whose name and labels start with
 * prefix, e.g. "acredita_db_reads_total{server=\"standby1\""), or -1 when absent. */
double th_metric(const char *base, const char *prefix);

#endif
