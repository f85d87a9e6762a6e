/*
 * background.c — the service's background threads (housekeeping, webhook deliveries): each
 * runs rounds until it is stopped, straight on while a round finds work and after a pause
 * otherwise. Stopping wakes a pausing thread at once and waits for its round to end.
 */
#include "db/db.h"

#include <time.h>

/* Waits up to ms, or until the thread is told to stop. */
static void pause_for(struct background *b, int ms) {
  pthread_mutex_lock(&b->lock);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  until.tv_sec += until.tv_nsec / 1000000000L;
  until.tv_nsec %= 1000000000L;
  while (!b->stopping && pthread_cond_timedwait(&b->wake, &b->lock, &until) == 0)
    ;
  pthread_mutex_unlock(&b->lock);
}

static void *run(void *arg) {
  struct background *b = arg;
  while (!background_stopping(b))
    if (b->round() == 0)
      pause_for(b, b->idle_ms);
  return NULL;
}

int background_start(struct background *b) {
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->wake, NULL);
  b->stopping = false;
  b->started = pthread_create(&b->thread, NULL, run, b) == 0;
  return b->started ? A_OK : A_ERR;
}

bool background_stopping(struct background *b) {
  pthread_mutex_lock(&b->lock);
  bool s = b->stopping;
  pthread_mutex_unlock(&b->lock);
  return s;
}

void background_stop(struct background *b) {
  if (!b->started)
    return;
  pthread_mutex_lock(&b->lock);
  b->stopping = true;
  pthread_cond_signal(&b->wake);
  pthread_mutex_unlock(&b->lock);
  pthread_join(b->thread, NULL);
  b->started = false;
  pthread_cond_destroy(&b->wake);
  pthread_mutex_destroy(&b->lock);
}
