/*
 * housekeeping.c — once an hour, each instance runs housekeeping() in the database: purging
 * change-feed rows past retention, expired idempotency keys and stale login failures. The
 * work is idempotent, so several instances doing it is harmless.
 */
#include "db/db.h"

#include <yder.h>

#define HOUSEKEEPING_EVERY_MS (3600 * 1000)

static struct db_stmt HOUSEKEEPING = {"housekeeping", "SELECT housekeeping()", 0};

static int run_once(void) {
  struct db_conn *c = db_acquire(1000);
  if (c == NULL)
    return 0;
  PGresult *res = db_exec(c, &HOUSEKEEPING, 0, NULL);
  if (res == NULL)
    log_msg(Y_LOG_LEVEL_WARNING, NULL, "housekeeping failed: %s", c->message);
  PQclear(res);
  db_release(c);
  return 0;
}

static struct background housekeeping = {.round = run_once, .idle_ms = HOUSEKEEPING_EVERY_MS};

int db_housekeeping_start(void) {
  return background_start(&housekeeping);
}

void db_housekeeping_stop(void) {
  background_stop(&housekeeping);
}
