/*
 * revocation.c — whether a verified token still stands: a signature says who the token was
 * issued to, not whether that account still exists, is active, or still has the role and
 * password it had. Each request therefore compares the token with its subject's standing in
 * PostgreSQL (token_subject(): the account's token version and whether it is active, and the
 * token ids revoked one by one), which db/functions/02_people.sql moves and announces on the
 * channel acredita_tokens whenever it changes.
 *
 * Asking PostgreSQL on every request would cost a round trip each, so the standings checked
 * are kept here, per subject, while the listener (db/listen.c) is connected: a notification
 * drops the subject it names, a lost or new connection drops them all, and an entry is at
 * most SUBJECT_MAX_AGE_S old in any case. A standing read while a notification arrived is
 * used once and not kept (it may predate the change). Without the listener every request
 * asks.
 */
#include "auth/auth.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SUBJECT_SLOTS 1024
#define SUBJECT_MAX_AGE_S 60
/* Revoked token ids kept per subject; a subject with more is asked about every time. */
#define SUBJECT_MAX_REVOKED 8
#define TOKENS_CHANNEL "acredita_tokens"

struct standing {
  bool account;  /* the subject names a user or a client */
  long version;  /* its token version */
  bool active;   /* it may sign in */
  int nrevoked;  /* ids of its tokens revoked before they expire */
  bool overflow; /* more than SUBJECT_MAX_REVOKED: not kept */
  char revoked[SUBJECT_MAX_REVOKED][65];
};

struct slot {
  bool used;
  char sub[64];
  time_t loaded; /* CLOCK_MONOTONIC seconds */
  struct standing standing;
};

static struct {
  pthread_mutex_t lock;
  struct slot slots[SUBJECT_SLOTS];
  /* Moves at every notification: a standing read across a move is not kept. */
  atomic_uint_fast64_t generation;
  /* What the checks cost (auth_standing_stats): answered from memory, by PostgreSQL, and
   * the time spent in both, in nanoseconds. */
  atomic_ulong from_memory, from_database, nanoseconds;
} kept = {.lock = PTHREAD_MUTEX_INITIALIZER};

static struct db_stmt TOKEN_SUBJECT = {"token_subject",
                                       "SELECT version, active, revoked FROM token_subject($1)", 0};
static struct db_stmt JTI_REVOKED = {
    "token_jti_revoked",
    "SELECT 1 FROM revoked_tokens WHERE jti = $1 AND sub = $2 AND expires_at > now()", 0};

static time_t monotonic_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

static unsigned long monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long)ts.tv_sec * 1000000000UL + (unsigned long)ts.tv_nsec;
}

void auth_standing_stats(unsigned long *from_memory, unsigned long *from_database,
                         double *seconds) {
  *from_memory = atomic_load(&kept.from_memory);
  *from_database = atomic_load(&kept.from_database);
  *seconds = (double)atomic_load(&kept.nanoseconds) / 1e9;
}

static struct slot *slot_of(const char *sub) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)sub; *p; p++)
    h = (h ^ *p) * 1099511628211ULL;
  return &kept.slots[h % SUBJECT_SLOTS];
}

/* The listener's news: payload names a subject whose standing changed; NULL, all of them. */
static void standing_notified(const char *payload) {
  atomic_fetch_add(&kept.generation, 1);
  pthread_mutex_lock(&kept.lock);
  if (payload == NULL) {
    for (size_t i = 0; i < SUBJECT_SLOTS; i++)
      kept.slots[i].used = false;
  } else {
    struct slot *s = slot_of(payload);
    if (s->used && strcmp(s->sub, payload) == 0)
      s->used = false;
  }
  pthread_mutex_unlock(&kept.lock);
}

void auth_standing_init(void) {
  db_listen_register(TOKENS_CHANNEL, standing_notified);
}

static bool kept_find(const char *sub, struct standing *out) {
  bool found = false;
  pthread_mutex_lock(&kept.lock);
  struct slot *s = slot_of(sub);
  if (s->used && strcmp(s->sub, sub) == 0 && monotonic_s() - s->loaded < SUBJECT_MAX_AGE_S) {
    *out = s->standing;
    found = true;
  }
  pthread_mutex_unlock(&kept.lock);
  return found;
}

static void kept_add(const char *sub, const struct standing *st, uint_fast64_t generation) {
  pthread_mutex_lock(&kept.lock);
  /* Under the lock, so that a notification cannot drop the slot between check and write. */
  if (atomic_load(&kept.generation) == generation) {
    struct slot *s = slot_of(sub);
    s->used = true;
    snprintf(s->sub, sizeof s->sub, "%s", sub);
    s->loaded = monotonic_s();
    s->standing = *st;
  }
  pthread_mutex_unlock(&kept.lock);
}

/* Reads the subject's standing; A_ERR with db->status set when the query failed. */
static int standing_load(struct db_conn *db, const char *sub, struct standing *out) {
  const char *p[] = {sub};
  PGresult *res = db_exec(db, &TOKEN_SUBJECT, 1, p);
  if (res == NULL)
    return A_ERR;
  memset(out, 0, sizeof *out);
  out->account = !PQgetisnull(res, 0, 0);
  out->version = out->account ? atol(PQgetvalue(res, 0, 0)) : 0;
  out->active = out->account && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
  /* A text[] of hex ids and UUID-like strings: "{a,b}", no quoting needed for them. */
  char *list = strdup(PQgetvalue(res, 0, 2));
  char *save = NULL;
  for (char *id = strtok_r(list + 1, ",}", &save); id != NULL; id = strtok_r(NULL, ",}", &save)) {
    if (out->nrevoked == SUBJECT_MAX_REVOKED) {
      out->overflow = true;
      break;
    }
    snprintf(out->revoked[out->nrevoked++], sizeof out->revoked[0], "%s", id);
  }
  free(list);
  PQclear(res);
  return A_OK;
}

static enum auth_verdict judge(const struct caller *c, const struct standing *st) {
  if (st->account && !st->active)
    return AUTH_REVOKED;
  /* A token issued to an account carries its version: gone or moved, the token ends. */
  if (c->token_version > 0 && (!st->account || st->version != c->token_version))
    return AUTH_REVOKED;
  for (int i = 0; c->jti[0] != '\0' && i < st->nrevoked; i++)
    if (strcmp(st->revoked[i], c->jti) == 0)
      return AUTH_REVOKED;
  return AUTH_OK;
}

/* For a subject with more revoked tokens than are kept: whether this one is among them. */
static int jti_revoked(struct db_conn *db, const struct caller *c, bool *revoked) {
  const char *p[] = {c->jti, c->sub};
  PGresult *res = db_exec(db, &JTI_REVOKED, 2, p);
  if (res == NULL)
    return A_ERR;
  *revoked = PQntuples(res) > 0;
  PQclear(res);
  return A_OK;
}

/* The check itself; *asked tells whether PostgreSQL was asked. */
static int standing_check(const struct caller *c, struct db_conn *db, enum auth_verdict *v,
                          bool *asked) {
  struct standing st;
  bool listening = db_listening();
  *asked = false;
  if (listening && kept_find(c->sub, &st)) {
    *v = judge(c, &st);
    return A_OK;
  }
  if (db == NULL)
    return A_ERR;
  *asked = true;
  uint_fast64_t generation = atomic_load(&kept.generation);
  if (standing_load(db, c->sub, &st) != A_OK)
    return A_ERR;
  *v = judge(c, &st);
  if (!st.overflow) {
    if (listening)
      kept_add(c->sub, &st, generation);
    return A_OK;
  }
  bool revoked = false;
  if (*v == AUTH_OK && c->jti[0] != '\0' && jti_revoked(db, c, &revoked) != A_OK)
    return A_ERR;
  if (revoked)
    *v = AUTH_REVOKED;
  return A_OK;
}

int auth_token_standing(const struct caller *c, struct db_conn *db, enum auth_verdict *v) {
  unsigned long started = monotonic_ns();
  bool asked;
  int rc = standing_check(c, db, v, &asked);
  atomic_fetch_add(&kept.nanoseconds, monotonic_ns() - started);
  if (rc == A_OK)
    atomic_fetch_add(asked ? &kept.from_database : &kept.from_memory, 1);
  return rc;
}
