/*
 * stats.c — GET /v1/stats/overview, INL's dashboard (API.md §3). PostgreSQL renders the whole
 * document in one query (stats_overview() in migration 0003, which also explains how the
 * counts reconcile with the final report); the ETag and 304 come from dispatch.
 */
#include "resources/resources.h"

static struct db_stmt STATS_OVERVIEW = {"stats_overview", "SELECT stats_overview(mx_today())", 0};

static enum problem stats_overview(struct req *r) {
  PGresult *res = req_exec(r, &STATS_OVERVIEW, 0, NULL);
  if (res == NULL)
    return r->problem;
  reply_json(r, 200, PQgetvalue(res, 0, 0));
  PQclear(res);
  return P_NONE;
}

static const struct route ROUTES[] = {
    {"GET", "/v1/stats/overview", ROLE_ADMIN | ROLE_INL, stats_overview, 0, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, NULL, NULL}};

const struct route_table STATS_ROUTES = {"stats", ROUTES};
