/*
 * migrate.c — schema migrations and the demo data, both embedded in the binary.
 *
 * Each db/migrations/NNNN_name.sql runs once, in its own transaction, and is recorded in
 * schema_migrations. An advisory lock serialises concurrent migrators (two instances
 * starting at once). A database whose schema is newer than this binary knows is refused:
 * an old binary must not write into a schema it does not understand.
 *
 * Migrations hold the schema only: tables, constraints, indexes, and the few functions a
 * constraint needs. Functions, triggers and views are code: each is written once, in
 * db/functions/NN_area.sql (CREATE OR REPLACE, files in dependency order), and the whole set
 * is applied after the migrations whenever its checksum differs from the one recorded in
 * schema_functions. A function whose signature changes, or that is removed, is dropped by a
 * migration first.
 */
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yder.h>

#define MIGRATION_PREFIX "db/migrations/"
#define DEMO_PREFIX "db/demo/"
#define FUNCTIONS_PREFIX "db/functions/"
/* An arbitrary constant shared by every migrator: pg_advisory_xact_lock's key. */
#define MIGRATION_LOCK_KEY "7264503"

const struct embedded_file *embedded_file(const char *name) {
  for (size_t i = 0; i < EMBEDDED_FILES_COUNT; i++)
    if (strcmp(EMBEDDED_FILES[i].name, name) == 0)
      return &EMBEDDED_FILES[i];
  return NULL;
}

/* The version number of a migration file name ("db/migrations/0003_x.sql" → 3), or -1. */
static int migration_version(const char *name) {
  if (strncmp(name, MIGRATION_PREFIX, strlen(MIGRATION_PREFIX)) != 0)
    return -1;
  const char *base = name + strlen(MIGRATION_PREFIX);
  char *end;
  long v = strtol(base, &end, 10);
  if (end == base || *end != '_' || v <= 0)
    return -1;
  return (int)v;
}

int db_known_schema_version(void) {
  int max = 0;
  for (size_t i = 0; i < EMBEDDED_FILES_COUNT; i++) {
    int v = migration_version(EMBEDDED_FILES[i].name);
    if (v > max)
      max = v;
  }
  return max;
}

static bool exec_ok(PGconn *pg, const char *sql, const char *what) {
  PGresult *res = PQexec(pg, sql);
  ExecStatusType st = PQresultStatus(res);
  /* A migration whose functions moved to db/functions/ may hold only comments now. */
  bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
  if (!ok)
    fprintf(stderr, "acredita: %s: %s", what, PQresultErrorMessage(res));
  PQclear(res);
  return ok;
}

int db_schema_version(PGconn *pg) {
  PGresult *res = PQexec(pg, "SELECT coalesce(max(version), 0) FROM schema_migrations");
  int v = -1;
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
    v = atoi(PQgetvalue(res, 0, 0));
  else if (PQresultStatus(res) == PGRES_FATAL_ERROR &&
           strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42P01") == 0)
    v = 0; /* no table yet: nothing applied */
  PQclear(res);
  return v;
}

int db_conn_schema_version(struct db_conn *c, bool *functions_current) {
  static struct db_stmt SCHEMA_STATE = {
      "schema_state",
      "SELECT coalesce(max(version), 0), coalesce((SELECT checksum = $1 FROM schema_functions),"
      " false) FROM schema_migrations",
      0};
  char sum[65];
  db_functions_checksum(sum);
  const char *p[] = {sum};
  PGresult *res = db_exec(c, &SCHEMA_STATE, 1, p);
  if (res == NULL)
    return -1;
  int v = atoi(PQgetvalue(res, 0, 0));
  *functions_current = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
  PQclear(res);
  return v;
}

/* BEGIN for an operator's command (a migration, the functions, the demo data). It may take
 * longer than a request's statement timeout allows: the session it runs on (db_connect()) has
 * none, which is the one place that decides it. */
static bool begin_long(PGconn *pg, const char *what) {
  return exec_ok(pg, "BEGIN", what);
}

/* Runs an embedded SQL file; false (with a message on stderr) when it fails. */
static bool exec_file(PGconn *pg, const struct embedded_file *f) {
  char *sql = malloc(f->len + 1);
  if (sql == NULL)
    return false;
  memcpy(sql, f->data, f->len);
  sql[f->len] = '\0';
  bool ok = exec_ok(pg, sql, f->name);
  free(sql);
  return ok;
}

/* Applies one migration in its own transaction unless it is recorded already. */
static int apply_one(PGconn *pg, const struct embedded_file *f, int version) {
  if (!begin_long(pg, f->name) ||
      !exec_ok(pg, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK_KEY ")", f->name))
    goto fail;

  char vbuf[16];
  snprintf(vbuf, sizeof vbuf, "%d", version);
  const char *params[] = {vbuf, f->name};
  PGresult *res = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE version = $1::int", 1,
                               NULL, params, NULL, NULL, 0);
  bool applied = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
  PQclear(res);
  if (applied)
    return exec_ok(pg, "COMMIT", f->name) ? A_OK : A_ERR;

  if (!exec_file(pg, f))
    goto fail;
  res = PQexecParams(pg, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)", 2,
                     NULL, params, NULL, NULL, 0);
  bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  if (!ok)
    fprintf(stderr, "acredita: %s: %s", f->name, PQresultErrorMessage(res));
  PQclear(res);
  if (!ok || !exec_ok(pg, "COMMIT", f->name))
    goto fail;
  printf("applied %s\n", f->name);
  return A_OK;
fail:
  PQclear(PQexec(pg, "ROLLBACK"));
  return A_ERR;
}

static int by_name(const void *a, const void *b) {
  const struct embedded_file *const *x = a, *const *y = b;
  return strcmp((*x)->name, (*y)->name);
}

/* The embedded files whose names start with prefix, sorted by name; *n of them. The caller
 * frees the array. */
static const struct embedded_file **files_under(const char *prefix, size_t *n) {
  const struct embedded_file **files = calloc(EMBEDDED_FILES_COUNT + 1, sizeof *files);
  *n = 0;
  for (size_t i = 0; files != NULL && i < EMBEDDED_FILES_COUNT; i++)
    if (strncmp(EMBEDDED_FILES[i].name, prefix, strlen(prefix)) == 0)
      files[(*n)++] = &EMBEDDED_FILES[i];
  if (files != NULL)
    qsort(files, *n, sizeof *files, by_name);
  return files;
}

void db_functions_checksum(char out[65]) {
  size_t n = 0, total = 0;
  const struct embedded_file **files = files_under(FUNCTIONS_PREFIX, &n);
  for (size_t i = 0; i < n; i++)
    total += strlen(files[i]->name) + 1 + files[i]->len;
  char *all = malloc(total + 1);
  size_t at = 0;
  for (size_t i = 0; all != NULL && i < n; i++) {
    size_t k = strlen(files[i]->name) + 1;
    memcpy(all + at, files[i]->name, k);
    memcpy(all + at + k, files[i]->data, files[i]->len);
    at += k + files[i]->len;
  }
  sha256_hex(all != NULL ? all : "", at, out);
  free(all);
  free(files);
}

/* Applies db/functions/ in one transaction unless the database has this set already. */
static int apply_functions(PGconn *pg) {
  char sum[65];
  db_functions_checksum(sum);
  if (!begin_long(pg, FUNCTIONS_PREFIX) ||
      !exec_ok(pg, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK_KEY ")", FUNCTIONS_PREFIX))
    goto fail;
  const char *params[] = {sum};
  PGresult *res = PQexecParams(pg, "SELECT 1 FROM schema_functions WHERE checksum = $1", 1, NULL,
                               params, NULL, NULL, 0);
  bool current = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0;
  PQclear(res);
  if (current)
    return exec_ok(pg, "COMMIT", FUNCTIONS_PREFIX) ? A_OK : A_ERR;
  size_t n = 0;
  const struct embedded_file **files = files_under(FUNCTIONS_PREFIX, &n);
  bool ok = files != NULL;
  for (size_t i = 0; ok && i < n; i++)
    ok = exec_file(pg, files[i]);
  free(files);
  /* The stored documents were rendered by the functions just replaced: render them again in
   * the same transaction, so that no answer mixes the old rendering with the new. */
  if (!ok || !exec_ok(pg, "SELECT documents_render_all()", "stored documents"))
    goto fail;
  res = PQexecParams(pg,
                     "INSERT INTO schema_functions (only_row, checksum) VALUES (true, $1)"
                     " ON CONFLICT (only_row) DO UPDATE SET checksum = EXCLUDED.checksum,"
                     " applied_at = now()",
                     1, NULL, params, NULL, NULL, 0);
  ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  if (!ok)
    fprintf(stderr, "acredita: schema_functions: %s", PQresultErrorMessage(res));
  PQclear(res);
  if (!ok || !exec_ok(pg, "COMMIT", FUNCTIONS_PREFIX))
    goto fail;
  printf("applied %s (%zu files)\n", FUNCTIONS_PREFIX, n);
  return A_OK;
fail:
  PQclear(PQexec(pg, "ROLLBACK"));
  return A_ERR;
}

int db_migrate(PGconn *pg) {
  if (!exec_ok(pg,
               "CREATE TABLE IF NOT EXISTS schema_migrations ("
               " version integer PRIMARY KEY, name text NOT NULL,"
               " applied_at timestamptz NOT NULL DEFAULT now())",
               "schema_migrations") ||
      !exec_ok(pg,
               "CREATE TABLE IF NOT EXISTS schema_functions ("
               " only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),"
               " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
               "schema_functions"))
    return A_ERR;
  int current = db_schema_version(pg);
  if (current > db_known_schema_version()) {
    fprintf(stderr, "acredita: database schema version %d is newer than this binary knows (%d)\n",
            current, db_known_schema_version());
    return A_ERR;
  }

  size_t n = 0;
  const struct embedded_file **files = files_under(MIGRATION_PREFIX, &n);
  int rc = files != NULL ? A_OK : A_ERR;
  for (size_t i = 0; i < n && rc == A_OK; i++)
    if (migration_version(files[i]->name) > 0)
      rc = apply_one(pg, files[i], migration_version(files[i]->name));
  free(files);
  return rc == A_OK ? apply_functions(pg) : rc;
}

int db_seed_demo(PGconn *pg, const char *password_hash, const char *secret_hash) {
  size_t n = 0;
  const struct embedded_file **files = files_under(DEMO_PREFIX, &n);
  int rc = A_ERR;
  /* One transaction, and no request's statement timeout: the demo's history goes through the
   * state machine and the journal step by step, which takes seconds on a busy machine. */
  if (!begin_long(pg, "seed-demo"))
    goto out;
  /* The demo SQL reads the hashes from these settings: yescrypt is computed here, in C. */
  const char *params[] = {password_hash, secret_hash};
  PGresult *res = PQexecParams(pg,
                               "SELECT set_config('acredita.demo_password_hash', $1, true),"
                               " set_config('acredita.demo_secret_hash', $2, true)",
                               2, NULL, params, NULL, NULL, 0);
  bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
  PQclear(res);
  if (!ok)
    goto rollback;
  for (size_t i = 0; i < n; i++)
    if (!exec_file(pg, files[i]))
      goto rollback;
  if (exec_ok(pg, "COMMIT", "seed-demo"))
    rc = A_OK;
  goto out;
rollback:
  PQclear(PQexec(pg, "ROLLBACK"));
out:
  free(files);
  return rc;
}
