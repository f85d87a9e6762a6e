/*
 * worker.c — the delivery thread of each `acredita serve`.
 *
 * A round: (1) fan the change feed out into deliveries (webhook_fanout()); (2) lease the
 * deliveries that are due (webhook_lease(): FOR UPDATE SKIP LOCKED, at most one per resource
 * and subscription at a time); (3) send them all at once with libcurl, each signed per
 * Standard Webhooks, no transaction open meanwhile; (4) record each attempt
 * (webhook_record()), which schedules a retry, gives up, or disables the subscription. Rounds
 * follow each other while there is work and every WORKER_IDLE_MS otherwise. The worker has a
 * database connection of its own, outside the request pool.
 *
 * Several instances run this at once: the database's row locks and leases share the work,
 * so no two send one delivery at the same time. A lease outlives an attempt's time limit; an
 * instance that dies mid-attempt leaves its lease to expire and another sends the delivery
 * (at least once). The queue, its order and every decision live in PostgreSQL; this file
 * only moves bytes.
 */
#include "webhooks/webhooks.h"

#include "db/db.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <yder.h>

#define WORKER_IDLE_MS 500
#define FANOUT_BATCH "500"
#define LEASE_BATCH 32
/* A lease lasts the attempt's time limit and this much more. */
#define LEASE_MARGIN_MS 30000

static struct db_stmt FANOUT = {"webhook_fanout", "SELECT webhook_fanout($1::int)", 0};
static struct db_stmt LEASE = {"webhook_lease",
                               "SELECT delivery_id, lease, url, secrets, message_id, payload"
                               " FROM webhook_lease($1::int, $2::int)",
                               0};
static struct db_stmt RECORD = {"webhook_record",
                                "SELECT webhook_record($1::uuid, $2::uuid, $3, $4::int, $5::int,"
                                " $6, $7::int)",
                                0};

/* One leased delivery and its attempt. */
struct job {
  char *delivery, *lease, *url, *secrets, *message_id, *payload;
  CURL *easy;
  struct curl_slist *headers;
  char error[CURL_ERROR_SIZE];
  CURLcode result;
  long status;
  long latency_ms;
};

static int round_once(void);
static struct background worker = {.round = round_once, .idle_ms = WORKER_IDLE_MS};
/* The worker's own connection: deliveries never wait for, nor hold, a request's. */
static struct db_conn conn;

/* Answers are read and dropped: only the status counts. */
static size_t discard(char *p, size_t size, size_t n, void *unused) {
  (void)p;
  (void)unused;
  return size * n;
}

/* Refuses to connect to a loopback address unless development allows it, whatever the name
 * resolved to (a public name may point at 127.0.0.1). */
static curl_socket_t open_socket(void *unused, curlsocktype purpose, struct curl_sockaddr *a) {
  (void)unused;
  (void)purpose;
  if (!g_config.webhook_allow_loopback && webhook_address_loopback(&a->addr))
    return CURL_SOCKET_BAD;
  return socket(a->family, a->socktype, a->protocol);
}

static void job_free(struct job *j) {
  free(j->delivery);
  free(j->lease);
  free(j->url);
  free(j->secrets);
  free(j->message_id);
  free(j->payload);
  curl_slist_free_all(j->headers);
  if (j->easy != NULL)
    curl_easy_cleanup(j->easy);
}

/* Prepares j's request: POST of the payload with the three Standard Webhooks headers. */
static bool job_prepare(struct job *j) {
  long long ts = (long long)time(NULL);
  char *signature =
      webhook_signature(j->secrets, j->message_id, ts, j->payload, strlen(j->payload));
  j->easy = curl_easy_init();
  if (signature == NULL || j->easy == NULL) {
    free(signature);
    return false;
  }
  char line[1200];
  j->headers = curl_slist_append(j->headers, "Content-Type: application/json");
  j->headers = curl_slist_append(j->headers, "User-Agent: Acredita-Webhooks/" ACREDITA_VERSION);
  j->headers = curl_slist_append(j->headers, "Expect:");
  snprintf(line, sizeof line, "webhook-id: %s", j->message_id);
  j->headers = curl_slist_append(j->headers, line);
  snprintf(line, sizeof line, "webhook-timestamp: %lld", ts);
  j->headers = curl_slist_append(j->headers, line);
  snprintf(line, sizeof line, "webhook-signature: %s", signature);
  j->headers = curl_slist_append(j->headers, line);
  free(signature);

  CURL *e = j->easy;
  curl_easy_setopt(e, CURLOPT_URL, j->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                   g_config.webhook_allow_loopback ? "http,https" : "https");
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->payload);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)g_config.webhook_timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)(g_config.webhook_timeout_ms < 5000 ? g_config.webhook_timeout_ms : 5000));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->error);
  curl_easy_setopt(e, CURLOPT_PRIVATE, j);
  return true;
}

/* Sends every prepared job at once; returns when all are done or the worker is stopping. */
static void send_all(struct job *jobs, int n) {
  CURLM *multi = curl_multi_init();
  for (int i = 0; i < n; i++)
    if (jobs[i].easy != NULL)
      curl_multi_add_handle(multi, jobs[i].easy);
  int running = 1;
  while (running > 0 && !background_stopping(&worker)) {
    if (curl_multi_perform(multi, &running) != CURLM_OK)
      break;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left)) != NULL) {
      if (m->msg != CURLMSG_DONE)
        continue;
      struct job *j = NULL;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
      j->result = m->data.result;
      curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &j->status);
      curl_off_t us = 0;
      curl_easy_getinfo(m->easy_handle, CURLINFO_TOTAL_TIME_T, &us);
      j->latency_ms = (long)(us / 1000);
    }
    if (running > 0)
      curl_multi_poll(multi, NULL, 0, 100, NULL);
  }
  for (int i = 0; i < n; i++)
    if (jobs[i].easy != NULL)
      curl_multi_remove_handle(multi, jobs[i].easy);
  curl_multi_cleanup(multi);
}

static const char *outcome_of(const struct job *j) {
  if (j->result == CURLE_OK)
    return j->status >= 200 && j->status <= 299 ? "succeeded"
           : j->status == 410                   ? "gone"
                                                : "http_error";
  return j->result == CURLE_OPERATION_TIMEDOUT ? "timeout" : "connection_error";
}

/* Records each attempt that ended; one cut short by a stop is left to its lease. */
static void record_all(struct db_conn *c, struct job *jobs, int n) {
  char code[16], latency[24], base[16];
  snprintf(base, sizeof base, "%d", g_config.webhook_retry_base_ms);
  for (int i = 0; i < n; i++) {
    struct job *j = &jobs[i];
    if (j->easy != NULL && j->result == CURLE_AGAIN)
      continue;
    bool answered = j->easy != NULL && j->result == CURLE_OK;
    snprintf(code, sizeof code, "%ld", j->status);
    snprintf(latency, sizeof latency, "%ld", j->latency_ms);
    const char *error = answered          ? NULL
                        : j->easy == NULL ? "the request could not be prepared"
                        : j->error[0]     ? j->error
                                          : curl_easy_strerror(j->result);
    const char *p[] = {j->delivery,
                       j->lease,
                       j->easy == NULL ? "connection_error" : outcome_of(j),
                       answered ? code : NULL,
                       latency,
                       error,
                       base};
    PGresult *res = db_exec(c, &RECORD, 7, p);
    if (res == NULL)
      log_msg(Y_LOG_LEVEL_WARNING, NULL, "webhooks: delivery %s not recorded: %s", j->delivery,
              c->message);
    PQclear(res);
  }
}

/* One round; returns the number of deliveries attempted. */
static int round_once(void) {
  struct db_conn *c = &conn;
  if (!db_own_ensure(c))
    return 0;
  const char *fp[] = {FANOUT_BATCH};
  PGresult *res = db_exec(c, &FANOUT, 1, fp);
  if (res == NULL)
    log_msg(Y_LOG_LEVEL_WARNING, NULL, "webhooks: fan-out failed: %s", c->message);
  PQclear(res);
  char n_text[16], lease_ms[16];
  snprintf(n_text, sizeof n_text, "%d", LEASE_BATCH);
  snprintf(lease_ms, sizeof lease_ms, "%d", g_config.webhook_timeout_ms + LEASE_MARGIN_MS);
  const char *lp[] = {n_text, lease_ms};
  res = db_exec(c, &LEASE, 2, lp);
  int n = res != NULL ? PQntuples(res) : 0;
  if (res == NULL)
    log_msg(Y_LOG_LEVEL_WARNING, NULL, "webhooks: lease failed: %s", c->message);
  struct job *jobs = n > 0 ? calloc((size_t)n, sizeof *jobs) : NULL;
  if (jobs == NULL)
    n = 0;
  for (int i = 0; i < n; i++) {
    struct job *j = &jobs[i];
    j->delivery = strdup(PQgetvalue(res, i, 0));
    j->lease = strdup(PQgetvalue(res, i, 1));
    j->url = strdup(PQgetvalue(res, i, 2));
    j->secrets = strdup(PQgetvalue(res, i, 3));
    j->message_id = strdup(PQgetvalue(res, i, 4));
    j->payload = strdup(PQgetvalue(res, i, 5));
    j->result = CURLE_AGAIN; /* not done until the transfer says so */
    if (!job_prepare(j) && j->easy != NULL) {
      curl_easy_cleanup(j->easy);
      j->easy = NULL;
    }
  }
  PQclear(res);
  if (n == 0)
    return 0;
  /* No transaction is open while the receivers answer: the leases keep the deliveries. */
  send_all(jobs, n);
  if (db_own_ensure(c))
    record_all(c, jobs, n);
  for (int i = 0; i < n; i++)
    job_free(&jobs[i]);
  free(jobs);
  return n;
}

int webhook_worker_start(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return A_ERR;
  return background_start(&worker);
}

void webhook_worker_stop(void) {
  if (!worker.started)
    return;
  background_stop(&worker);
  db_own_close(&conn);
  curl_global_cleanup();
}
