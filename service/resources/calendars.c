/*
 * calendars.c — iCalendar feeds (RFC 5545) and the calendar tokens that open an agency's
 * (issue 16; API.md §11).
 *
 * GET /v1/webinars.ics and /v1/workshops.ics are public: what an anonymous caller sees of
 * each list. GET /v1/agencies/{id}/due.ics is one agency's deadlines (agency_due_json(), the
 * same items as GET /v1/agencies/{id}/due). Calendar apps send no bearer token, so that feed
 * is read with ?token=, a calendar token its owner made under /v1/me/calendar-tokens: one
 * user's, for that one agency, shown once, stored as a SHA-256, revoked by deleting it. A
 * wrong token answers 404, like an agency that does not exist. The access log prints the path
 * without the query string, so the token is never logged.
 *
 * Texts follow ?lang= (es, en: calendar apps send no Accept-Language), else Accept-Language.
 * PostgreSQL gathers each feed's events (db/functions/13_calendars.sql); calendar/ renders them.
 */
#include "resources/resources.h"
#include "resources/sql.h"

#include "calendar/calendar.h"
#include "resources/agencies.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const LANG_VALUES[] = {"es", "en", NULL};

static enum problem webinars_ics(struct req *r);
static enum problem workshops_ics(struct req *r);
static enum problem agency_due_ics(struct req *r);
static struct resource CALENDAR_TOKEN;
static struct list_spec CALENDAR_TOKEN_LIST;

static const struct qparam FEED_QUERY[] = {{"lang", Q_ENUM, false, LANG_VALUES}, {NULL}};
static const struct qparam DUE_FEED_QUERY[] = {
    {"token", Q_STRING}, {"lang", Q_ENUM, false, LANG_VALUES}, {NULL}};
static const struct qparam TOKEN_QUERY[] = {{"agency_id", Q_UUID}, {NULL}};

/* Who may read an agency's deadlines (GET /v1/agencies/{id}/due), and so make a token. */
#define TOKEN_OWNERS (ROLE_ADMIN | ROLE_INL | ROLE_ADVISOR | ROLE_AGENCY)

static const struct route ROUTES[] = {
    {"GET", "/v1/webinars.ics", ROLES_ALL, webinars_ics, 0, FEED_QUERY, "webinars:read"},
    {"GET", "/v1/workshops.ics", ROLES_ALL, workshops_ics, 0, FEED_QUERY, "workshops:read"},
    /* The calendar token is the credential: no bearer token, no scope. */
    {"GET", "/v1/agencies/:id/due.ics", ROLES_ALL, agency_due_ics, R_NO_STORE, DUE_FEED_QUERY, ""},
    {"GET", "/v1/me/calendar-tokens", TOKEN_OWNERS, list_respond, R_LIST, TOKEN_QUERY,
     .list = &CALENDAR_TOKEN_LIST},
    {"POST", "/v1/me/calendar-tokens", TOKEN_OWNERS, resource_create, R_BODY_JSON | R_IDEMPOTENT,
     .resource = &CALENDAR_TOKEN},
    {"DELETE", "/v1/me/calendar-tokens/:id", TOKEN_OWNERS, resource_delete, R_TX,
     .resource = &CALENDAR_TOKEN},
    {NULL}};

const struct route_table CALENDAR_ROUTES = {"calendars", ROUTES};

/* ------------------------------------------------------------- validation */

static const struct field TOKEN_FIELDS[] = {{"agency_id", F_UUID, F_REQUIRED},
                                            {"name", F_STRING, F_NULLABLE, 1, 200},
                                            {"feed_path", F_STRING, F_READ_ONLY},
                                            {"last_used_at", F_DATETIME, F_READ_ONLY},
                                            RECORD_FIELDS,
                                            {NULL}};

/* The agency must be one the caller may read the deadlines of (an advisor's other agency:
 * 403); one that does not exist, or that an agency user may not see the records of, is the
 * same field error. The token is made here. */
static int token_check(struct req *r, json_t *doc, const char *id) {
  (void)id;
  const char *agency = json_string_value(json_object_get(doc, "agency_id"));
  if (agency != NULL && agency_access(r, agency) != P_NONE) {
    if (r->problem != P_NOT_FOUND)
      return A_ERR;
    r->problem = P_NONE;
    r->detail[0] = '\0';
    req_field_error(r, "/agency_id", "not_found", NULL);
  }
  char token[64];
  if (random_text(token, sizeof token, "cal_", 32, true) != A_OK) {
    req_fail(r, P_INTERNAL, NULL, NULL);
    return A_ERR;
  }
  json_object_set_new(r->body, "token", json_string(token));
  return A_OK;
}

/* ------------------------------------------------------------------- SQL */

/* $1 role, $2 sub, $3 agency, $4 updated_since, $5 agency_id; pages add $6 key, $7 id, $8 limit. */
#define TOKEN_WHERE                                                                                \
  "t.owner_sub = $2::text AND ($4::timestamptz IS NULL OR t.updated_at >= $4::timestamptz)"        \
  " AND ($5::uuid IS NULL OR t.agency_id = $5::uuid)"

static struct list_sort TOKEN_SORTS[] = {
    LIST_SORTS_BY_TIME("calendar_tokens", "calendar_token_json(t)", "calendar_tokens t",
                       TOKEN_WHERE, "t", "6", "7", "8"),
    {NULL}};
static struct list_spec CALENDAR_TOKEN_LIST = {
    TOKEN_SORTS, LIST_COUNT("calendar_tokens_count", "calendar_tokens t", TOKEN_WHERE)};

/* $1 id, $2 body, $4 sub (see struct resource). */
static struct resource CALENDAR_TOKEN = {
    "calendar_token",
    "/v1/me/calendar-tokens",
    "No calendar token of yours has this id.",
    "Ningún token de calendario suyo tiene este id.",
    .fields = TOKEN_FIELDS,
    .lock = {"calendar_token_lock", "SELECT calendar_token_json(t) FROM calendar_tokens t"
                                    " WHERE t.id = $1::uuid AND t.owner_sub = $4 FOR UPDATE"},
    /* The token itself is shown in this answer only; the database keeps its hash. */
    .create =
        {"calendar_token_create",
         "SELECT calendar_token_json(t), t.id, json_build_object('token', $2::jsonb ->> 'token',"
         " 'feed_url', '/v1/agencies/' || t.agency_id || '/due.ics?token='"
         " || ($2::jsonb ->> 'token'))"
         " FROM calendar_token_create($2::jsonb, $4) t"},
    .remove = {"calendar_token_delete", "DELETE FROM calendar_tokens WHERE id = $1::uuid"},
    .check = token_check,
    .forbidden_en = "Calendar tokens are for people who sign in with an account.",
    .forbidden_es = "Los tokens de calendario son para personas que inician sesión con una cuenta.",
};

/* $1 role (the feed's reader), $2 language. */
static struct db_stmt WEBINARS_FEED = {"webinars_calendar", "SELECT webinars_calendar($1, $2)"};
static struct db_stmt WORKSHOPS_FEED = {"workshops_calendar", "SELECT workshops_calendar($1, $2)"};
/* $1 token, $2 agency, $3 language: no row unless the token opens that agency's feed. */
static struct db_stmt DUE_FEED = {
    "agency_due_calendar",
    "SELECT agency_due_calendar($2::uuid, $3) WHERE calendar_token_opens($1, $2::uuid)"};

/* -------------------------------------------------------------- handlers */

static const char *feed_lang(const struct req *r) {
  const char *lang = req_query_value(r, "lang");
  return lang != NULL ? lang : r->lang == LANG_ES ? "es" : "en";
}

static enum problem no_calendar(struct req *r) {
  return req_fail(r, P_NOT_FOUND, "There is no calendar here, or the token does not open it.",
                  "No hay calendario aquí, o el token no lo abre.");
}

/* Answers the feed document of res (first row, first column) as text/calendar. */
static enum problem reply_calendar(struct req *r, PGresult *res) {
  if (res == NULL)
    return r->problem;
  if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
    PQclear(res);
    return no_calendar(r);
  }
  char *ics = calendar_render(PQgetvalue(res, 0, 0), feed_lang(r));
  PQclear(res);
  if (ics == NULL)
    return req_fail(r, P_INTERNAL, NULL, NULL);
  enum problem rc = reply_text(r, 200, "text/calendar; charset=utf-8", ics, strlen(ics));
  free(ics);
  return rc;
}

static enum problem public_feed(struct req *r, struct db_stmt *feed) {
  const char *p[] = {role_name(r->caller.role), feed_lang(r)};
  return reply_calendar(r, req_exec(r, feed, 2, p));
}

static enum problem webinars_ics(struct req *r) {
  return public_feed(r, &WEBINARS_FEED);
}

static enum problem workshops_ics(struct req *r) {
  return public_feed(r, &WORKSHOPS_FEED);
}

static enum problem agency_due_ics(struct req *r) {
  const char *agency = req_path_param(r, "id"), *token = req_query_value(r, "token");
  if (!uuid_valid(agency) || token == NULL || token[0] == '\0')
    return no_calendar(r);
  const char *p[] = {token, agency, feed_lang(r)};
  return reply_calendar(r, req_exec(r, &DUE_FEED, 3, p));
}
