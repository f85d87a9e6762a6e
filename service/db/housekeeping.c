/*
 * housekeeping.c — each instance's background chores in the database (a struct background):
 *   - every minute, the stored documents that went stale with the date (an expiry or a due
 *     date passed at midnight in Mexico City) are rendered again, a batch per transaction,
 *     round after round until none is left (documents_refresh());
 *   - once an hour, housekeeping(): purging change-feed rows past retention, expired
 *     idempotency keys and stale login failures.
 * The work is idempotent and takes rows with SKIP LOCKED, so several instances doing it is
 * harmless.
 */
#include "db/db.h"

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <yder.h>

#define DOCUMENTS_EVERY_MS (60 * 1000)
#define HOUSEKEEPING_EVERY_SECONDS 3600
/* Rows of each table per transaction: short enough that no lock is held for long. */
#define DOCUMENTS_BATCH "1000"

static struct db_stmt HOUSEKEEPING = {"housekeeping", "SELECT housekeeping()", 0};
static struct db_stmt DOCUMENTS = {"documents_refresh", "SELECT documents_refresh($1::int)", 0};

static bool swept;      /* housekeeping() ran once */
static time_t swept_at; /* when, on the monotonic clock */

static long exec_count(struct db_conn *c, struct db_stmt *s, int n, const char *const *p) {
  PGresult *res = db_exec(c, s, n, p);
  if (res == NULL) {
    log_msg(Y_LOG_LEVEL_WARNING, NULL, "%s failed: %s", s->name, c->message);
    return 0;
  }
  long done = n > 0 ? atol(PQgetvalue(res, 0, 0)) : 0;
  PQclear(res);
  return done;
}

/* One round: the hourly chores when they are due, then one batch of stale documents. Returns
 * how many documents it stored: while there were some the next round follows at once, and
 * after a round with none the thread waits a minute. */
static int round_once(void) {
  struct db_conn *c = db_acquire(1000);
  if (c == NULL)
    return 0;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (!swept || now.tv_sec - swept_at >= HOUSEKEEPING_EVERY_SECONDS) {
    exec_count(c, &HOUSEKEEPING, 0, NULL);
    swept = true;
    swept_at = now.tv_sec;
  }
  const char *p[] = {DOCUMENTS_BATCH};
  long done = exec_count(c, &DOCUMENTS, 1, p);
  db_release(c);
  if (done > 0)
    log_msg(Y_LOG_LEVEL_INFO, NULL, "documents_refresh: %ld documents rendered again", done);
  return done > 0;
}

static struct background housekeeping = {.round = round_once, .idle_ms = DOCUMENTS_EVERY_MS};

int db_housekeeping_start(void) {
  swept = false;
  return background_start(&housekeeping);
}

void db_housekeeping_stop(void) {
  background_stop(&housekeeping);
}
