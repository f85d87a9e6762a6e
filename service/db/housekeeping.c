/*
 * housekeeping.c — once an hour, each instance runs housekeeping() in the database: purging
 * change-feed rows past retention, expired idempotency keys and stale login failures. The
 * work is idempotent, so several instances doing it is harmless.
 */
#include "db/db.h"

#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <yder.h>

#define HOUSEKEEPING_EVERY_SECONDS 3600

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static bool stopping, started;

static struct db_stmt HOUSEKEEPING = {"housekeeping", "SELECT housekeeping()", 0};

static void run_once(void) {
  struct db_conn *c = db_acquire(1000);
  if (c == NULL)
    return;
  PGresult *res = db_exec(c, &HOUSEKEEPING, 0, NULL);
  if (res == NULL)
    log_msg(Y_LOG_LEVEL_WARNING, NULL, "housekeeping failed: %s", c->message);
  PQclear(res);
  db_release(c);
}

static void *loop(void *unused) {
  (void)unused;
  pthread_mutex_lock(&lock);
  while (!stopping) {
    pthread_mutex_unlock(&lock);
    run_once();
    pthread_mutex_lock(&lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += HOUSEKEEPING_EVERY_SECONDS;
    while (!stopping && pthread_cond_timedwait(&wake, &lock, &until) == 0)
      ;
  }
  pthread_mutex_unlock(&lock);
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
