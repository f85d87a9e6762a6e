/*
 * metrics.c — Prometheus counters: requests by route and status, a latency histogram, and
 * the database pool. Counters are atomics in fixed tables: no lock on the request path.
 */
#include "http/http.h"

#include "auth/auth.h"

#include <orcania.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 128
#define MAX_STATUSES 24

static const double BUCKETS_MS[] = {1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};
#define NBUCKETS (sizeof BUCKETS_MS / sizeof *BUCKETS_MS)

static const long STATUSES[MAX_STATUSES] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 406, 409,
                                            410, 412, 413, 415, 422, 429, 431, 500, 503, 0};

static struct {
  _Atomic(const char *) route[MAX_ROUTES];
  atomic_ulong count[MAX_ROUTES][MAX_STATUSES];
  atomic_ulong bucket[NBUCKETS + 1];
  atomic_ulong sum_us;
  atomic_ulong total;
} m;

/* The slot of a route path, claimed on first use; routes are static strings. */
static int route_slot(const char *route) {
  for (int i = 0; i < MAX_ROUTES; i++) {
    const char *cur = atomic_load(&m.route[i]);
    if (cur == NULL) {
      const char *expected = NULL;
      if (atomic_compare_exchange_strong(&m.route[i], &expected, route))
        return i;
      cur = expected;
    }
    if (cur == route || strcmp(cur, route) == 0)
      return i;
  }
  return MAX_ROUTES - 1;
}

static int status_slot(long status) {
  int i = 0;
  while (STATUSES[i] != 0 && STATUSES[i] != status)
    i++;
  return i; /* the last slot (0) collects the rest */
}

void metrics_observe(const char *route, long status, double ms) {
  atomic_fetch_add(&m.count[route_slot(route)][status_slot(status)], 1);
  size_t b = 0;
  while (b < NBUCKETS && ms > BUCKETS_MS[b])
    b++;
  atomic_fetch_add(&m.bucket[b], 1);
  atomic_fetch_add(&m.sum_us, (unsigned long)(ms * 1000.0));
  atomic_fetch_add(&m.total, 1);
}

char *metrics_render(void) {
  char *out = o_strdup("# HELP acredita_http_requests_total Requests by route and status.\n"
                       "# TYPE acredita_http_requests_total counter\n");
  for (int i = 0; i < MAX_ROUTES; i++) {
    const char *route = atomic_load(&m.route[i]);
    if (route == NULL)
      break;
    for (int s = 0; s < MAX_STATUSES; s++) {
      unsigned long n = atomic_load(&m.count[i][s]);
      if (n > 0)
        out = mstrcatf(out, "acredita_http_requests_total{route=\"%s\",status=\"%ld\"} %lu\n",
                       route, STATUSES[s] ? STATUSES[s] : 0L, n);
    }
  }
  out = mstrcatf(out, "# HELP acredita_http_request_duration_seconds Request latency.\n"
                      "# TYPE acredita_http_request_duration_seconds histogram\n");
  unsigned long cumulative = 0;
  for (size_t b = 0; b < NBUCKETS; b++) {
    cumulative += atomic_load(&m.bucket[b]);
    out = mstrcatf(out, "acredita_http_request_duration_seconds_bucket{le=\"%g\"} %lu\n",
                   BUCKETS_MS[b] / 1000.0, cumulative);
  }
  cumulative += atomic_load(&m.bucket[NBUCKETS]);
  out = mstrcatf(out,
                 "acredita_http_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n"
                 "acredita_http_request_duration_seconds_sum %.6f\n"
                 "acredita_http_request_duration_seconds_count %lu\n",
                 cumulative, (double)atomic_load(&m.sum_us) / 1e6, atomic_load(&m.total));
  unsigned long from_memory, from_database;
  double check_seconds;
  auth_standing_stats(&from_memory, &from_database, &check_seconds);
  out = mstrcatf(out,
                 "# HELP acredita_token_checks_total Token standing checks (revocation), by where"
                 " the answer came from.\n"
                 "# TYPE acredita_token_checks_total counter\n"
                 "acredita_token_checks_total{source=\"memory\"} %lu\n"
                 "acredita_token_checks_total{source=\"database\"} %lu\n"
                 "# HELP acredita_token_check_seconds_total Time spent checking token standing.\n"
                 "# TYPE acredita_token_check_seconds_total counter\n"
                 "acredita_token_check_seconds_total %.6f\n",
                 from_memory, from_database, check_seconds);
  int size, in_use, waiting;
  db_pool_stats(&size, &in_use, &waiting);
  out = mstrcatf(out,
                 "# HELP acredita_db_pool_size Database connections in the pool.\n"
                 "# TYPE acredita_db_pool_size gauge\nacredita_db_pool_size %d\n"
                 "# HELP acredita_db_pool_in_use Connections held by requests.\n"
                 "# TYPE acredita_db_pool_in_use gauge\nacredita_db_pool_in_use %d\n"
                 "# HELP acredita_db_pool_waiting Requests waiting for a connection.\n"
                 "# TYPE acredita_db_pool_waiting gauge\nacredita_db_pool_waiting %d\n",
                 size, in_use, waiting);
  int active;
  unsigned long refused;
  csv_export_stats(&active, &refused);
  out = mstrcatf(out,
                 "# HELP acredita_csv_exports_active CSV exports streaming now (at most"
                 " CSV_EXPORTS_MAX).\n"
                 "# TYPE acredita_csv_exports_active gauge\nacredita_csv_exports_active %d\n"
                 "# HELP acredita_csv_exports_refused_total CSV exports answered 503: the cap was"
                 " reached.\n"
                 "# TYPE acredita_csv_exports_refused_total counter\n"
                 "acredita_csv_exports_refused_total %lu\n",
                 active, refused);
  char *servers = db_metrics_render();
  if (servers != NULL)
    out = mstrcatf(out, "%s", servers);
  free(servers);
  return out;
}
