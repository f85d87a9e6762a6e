/*
 * listen.c — one thread, on a connection of its own, that LISTENs to the service's
 * notification channels and hands each notification to the module that registered the
 * channel. Caches built from the database (the stats overview, the token subjects) drop what
 * a notification names instead of asking PostgreSQL on every request.
 *
 * A cache may trust itself only while the listener is connected (db_listening()): across a
 * lost connection notifications are lost, so every registered callback is told "anything may
 * have changed" (a NULL payload) when the connection is made and when it is lost. The thread
 * reconnects with a growing pause (1 s to 16 s) and runs as long as the process.
 */
#include "db/db.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yder.h>

#define LISTEN_MAX_CHANNELS 8

static struct {
  struct {
    const char *channel;
    db_notify_fn fn;
  } channels[LISTEN_MAX_CHANNELS];
  int nchannels;
  pthread_once_t once;
  atomic_bool listening;
} listener = {.once = PTHREAD_ONCE_INIT};

int db_listen_register(const char *channel, db_notify_fn fn) {
  if (listener.nchannels == LISTEN_MAX_CHANNELS)
    return A_ERR;
  listener.channels[listener.nchannels].channel = channel;
  listener.channels[listener.nchannels].fn = fn;
  listener.nchannels++;
  return A_OK;
}

bool db_listening(void) {
  return atomic_load(&listener.listening);
}

/* Tells every channel's module that notifications may have been missed. */
static void notify_all_unknown(void) {
  for (int i = 0; i < listener.nchannels; i++)
    listener.channels[i].fn(NULL);
}

static void deliver(const PGnotify *n) {
  for (int i = 0; i < listener.nchannels; i++)
    if (strcmp(listener.channels[i].channel, n->relname) == 0)
      listener.channels[i].fn(n->extra != NULL ? n->extra : "");
}

/* Delivers notifications until the connection fails. */
static void watch(PGconn *pg) {
  struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};
  for (;;) {
    if (poll(&p, 1, -1) < 0 && errno != EINTR)
      return;
    if (!PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK)
      return;
    PGnotify *n;
    while ((n = PQnotifies(pg)) != NULL) {
      deliver(n);
      PQfreemem(n);
    }
  }
}

static bool listen_all(PGconn *pg) {
  for (int i = 0; i < listener.nchannels; i++) {
    char *ident =
        PQescapeIdentifier(pg, listener.channels[i].channel, strlen(listener.channels[i].channel));
    char sql[160];
    snprintf(sql, sizeof sql, "LISTEN %s", ident ? ident : "");
    PQfreemem(ident);
    PGresult *res = PQexec(pg, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok)
      return false;
  }
  return true;
}

static void *listen_loop(void *arg) {
  const char *url = arg; /* owned by this thread, which runs as long as the process */
  const char *const keys[] = {"dbname",
                              "application_name",
                              "keepalives",
                              "keepalives_idle",
                              "keepalives_interval",
                              "keepalives_count",
                              "connect_timeout",
                              NULL};
  const char *const vals[] = {url, "acredita-listen", "1", "20", "10", "3", "3", NULL};
  unsigned backoff = 1;
  for (;;) {
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(pg) == CONNECTION_OK && db_session_pooled(pg)) {
      /* A pooler in transaction mode hands the LISTEN's backend to other clients: the
       * notifications would never arrive. The caches ask the database instead. */
      log_msg(Y_LOG_LEVEL_INFO, NULL, "listener: a pooler is in between; caches ask the database");
      PQfinish(pg);
      free(arg);
      return NULL;
    }
    if (PQstatus(pg) == CONNECTION_OK && listen_all(pg)) {
      backoff = 1;
      /* Listening from here on: what changed before is unknown to the caches. */
      notify_all_unknown();
      atomic_store(&listener.listening, true);
      watch(pg);
      atomic_store(&listener.listening, false);
      notify_all_unknown();
      log_msg(Y_LOG_LEVEL_WARNING, NULL, "listener: connection lost; caches ask the database");
    }
    PQfinish(pg);
    sleep(backoff);
    backoff = backoff < 16 ? backoff * 2 : backoff;
  }
  return NULL;
}

static void listen_start_once(void) {
  char *url = g_config.database_url ? strdup(g_config.database_url) : NULL;
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (url == NULL || pthread_create(&t, &attr, listen_loop, url) != 0) {
    free(url);
    log_msg(Y_LOG_LEVEL_WARNING, NULL, "listener: no thread; caches ask the database");
  }
  pthread_attr_destroy(&attr);
}

void db_listen_start(void) {
  pthread_once(&listener.once, listen_start_once);
}
