/*
 * housekeeping.c — each instance's background chores in the database:
 *   - every minute, the stored documents that went stale with the date (an expiry or a due
 *     date passed at midnight in Mexico City) are rendered again, a batch per transaction,
 *     until none is left (documents_refresh());
 *   - once an hour, housekeeping(): purging change-feed rows past retention, expired
 *     idempotency keys and stale login failures.
 * The work is idempotent and takes rows with SKIP LOCKED, so several instances doing it is
 * harmless.
 */
#include "db/db.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <yder.h>

#define DOCUMENTS_EVERY_SECONDS 60
#define HOUSEKEEPING_EVERY_MINUTES 60
/* Rows of each table per transaction: short enough that no lock is held for long. */
#define DOCUMENTS_BATCH "1000"

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool stopping, started;

static struct db_stmt HOUSEKEEPING = {"housekeeping", "SELECT housekeeping()"};
static struct db_stmt DOCUMENTS = {"documents_refresh", "SELECT documents_refresh($1::int)"};

static bool stop_requested(void) {
  pthread_mutex_lock(&lock);
  bool s = stopping;
  pthread_mutex_unlock(&lock);
  return s;
}

/* Runs s until it returns 0 rows done (documents) or once (housekeeping). */
static void run(struct db_stmt *s, bool until_done) {
  struct db_conn *c = db_acquire(1000);
  if (c == NULL)
    return;
  const char *p[] = {DOCUMENTS_BATCH};
  for (;;) {
    PGresult *res = db_exec(c, s, s == &DOCUMENTS ? 1 : 0, p);
    if (res == NULL) {
      log_msg(Y_LOG_LEVEL_WARNING, NULL, "%s failed: %s", s->name, c->message);
      break;
    }
    long done = until_done ? atol(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    if (done == 0 || stop_requested())
      break;
    log_msg(Y_LOG_LEVEL_INFO, NULL, "%s: %ld documents rendered again", s->name, done);
  }
  db_release(c);
}

static void *loop(void *unused) {
  (void)unused;
  for (long minute = 0; !stop_requested(); minute++) {
    run(&DOCUMENTS, true);
    if (minute % HOUSEKEEPING_EVERY_MINUTES == 0)
      run(&HOUSEKEEPING, false);
    pthread_mutex_lock(&lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += DOCUMENTS_EVERY_SECONDS;
    while (!stopping && pthread_cond_timedwait(&wake, &lock, &until) == 0)
      ;
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

int db_housekeeping_start(void) {
  stopping = false;
  started = pthread_create(&thread, NULL, loop, NULL) == 0;
  return started ? A_OK : A_ERR;
}

void db_housekeeping_stop(void) {
  if (!started)
    return;
  pthread_mutex_lock(&lock);
  stopping = true;
  pthread_cond_signal(&wake);
  pthread_mutex_unlock(&lock);
  pthread_join(thread, NULL);
  started = false;
}
