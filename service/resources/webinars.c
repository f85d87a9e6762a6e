/*
 * webinars.c — /v1/webinars: the program's webinar library (API.md §6).
 *
 * Everyone may read; anonymous callers and partner systems see only public webinars, and a
 * members webinar's recording is shown only to admin, coalition, or an agency user whose
 * agency's dues are paid through today. Both rules are SQL functions of the caller
 * (webinar_visible, webinar_recording_visible in 0005_learning.sql), so every statement
 * applies them the same way. starts_at is stored in UTC with an IANA zone; input may be an
 * RFC 3339 instant or a local date-time that PostgreSQL reads in that zone.
 */
#include "resources/resources.h"
#include "resources/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const AUDIENCE_VALUES[] = {"public", "members", "program", NULL};
static const char *const STATUS_VALUES[] = {"scheduled", "held", "cancelled", NULL};

/* ------------------------------------------------------------- validation */

static const struct field PRESENTER_FIELDS[] = {
    {"name", F_STRING, F_REQUIRED, 1, 200, NULL, NULL},
    {"organization", F_STRING, F_NULLABLE, 1, 200, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL}};

/* The same table checks a POST (required fields enforced) and a PATCH (nothing required). */
static const struct field WEBINAR_FIELDS[] = {
    {"title", F_BILINGUAL, F_REQUIRED, 0, 0, NULL, NULL},
    {"description", F_BILINGUAL, F_NULLABLE, 0, 0, NULL, NULL},
    {"starts_at", F_STRING, F_REQUIRED, 1, 40, NULL, NULL},
    {"duration_minutes", F_INT, 0, 1, 1440, NULL, NULL},
    {"timezone", F_STRING, 0, 1, 64, NULL, NULL},
    {"presenters", F_ARRAY_OF, 0, 0, 50, NULL, PRESENTER_FIELDS},
    {"topics", F_STRING_ARRAY, 0, 0, 20, NULL, NULL},
    {"audience", F_ENUM, 0, 0, 0, AUDIENCE_VALUES, NULL},
    {"status", F_ENUM, 0, 0, 0, STATUS_VALUES, NULL},
    {"recording_url", F_URL, F_NULLABLE, 1, 1000, NULL, NULL},
    {"attendance", F_INT, F_NULLABLE, 0, 1000000, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL}};

/* An instant as webinars take it: RFC 3339 with Z or a numeric offset, or a local date-time
 * without one ("2021-06-10T10:00:00"), which PostgreSQL reads in the webinar's zone. */
static bool instant_text_valid(const char *s) {
  size_t n = strlen(s);
  bool offset = (n > 0 && s[n - 1] == 'Z') ||
                (n >= 6 && (s[n - 6] == '+' || s[n - 6] == '-') && s[n - 3] == ':');
  if (offset)
    return qvalue_valid(Q_DATETIME, s);
  char with_z[48];
  if (n + 2 > sizeof with_z)
    return false;
  snprintf(with_z, sizeof with_z, "%sZ", s);
  return qvalue_valid(Q_DATETIME, with_z);
}

/* ------------------------------------------------------------------- SQL */

/* List parameters: $1 role, $2 sub, $3 agency, $4 updated_since, $5 from, $6 to, $7 topic[],
 * $8 audience[], $9 status[], $10 q; pages add $11 key, $12 id, $13 limit. from and to
 * compare the webinar's local date. */
#define WEBINAR_WHERE                                                                              \
  "webinar_visible(w, $1::text)"                                                                   \
  " AND ($4::timestamptz IS NULL OR w.updated_at >= $4::timestamptz)"                              \
  " AND ($5::date IS NULL OR (w.starts_at AT TIME ZONE w.timezone)::date >= $5::date)"             \
  " AND ($6::date IS NULL OR (w.starts_at AT TIME ZONE w.timezone)::date <= $6::date)"             \
  " AND ($7::jsonb IS NULL OR EXISTS (SELECT 1 FROM unnest(w.topics) t,"                           \
  "   jsonb_array_elements_text($7::jsonb) f WHERE fold(t) = fold(f)))"                            \
  " AND ($8::jsonb IS NULL OR w.audience IN (SELECT jsonb_array_elements_text($8::jsonb)))"        \
  " AND ($9::jsonb IS NULL OR w.status IN (SELECT jsonb_array_elements_text($9::jsonb)))"          \
  " AND ($10::text IS NULL OR fold(concat_ws(' ', w.title->>'es', w.title->>'en',"                 \
  "   w.description->>'es', w.description->>'en', array_to_string(w.topics, ' ')))"                \
  "   LIKE contains_pattern($10::text))"
#define WEBINAR_JSON "webinar_json(w, $1::text, $3::uuid)"

static struct db_stmt WEBINAR_PAGES[] = {
    PAGE_PAIR("webinars_by_starts", WEBINAR_JSON, "webinars w", WEBINAR_WHERE, "w.starts_at",
              "timestamptz", "11", "12", "13"),
    PAGE_PAIR("webinars_by_created", WEBINAR_JSON, "webinars w", WEBINAR_WHERE, "w.created_at",
              "timestamptz", "11", "12", "13"),
    PAGE_PAIR("webinars_by_updated", WEBINAR_JSON, "webinars w", WEBINAR_WHERE, "w.updated_at",
              "timestamptz", "11", "12", "13"),
};
static struct db_stmt WEBINAR_COUNT = {"webinars_count",
                                       "SELECT count(*) FROM webinars w WHERE " WEBINAR_WHERE, 0};
static struct db_stmt *const WEBINAR_PAGE_LIST[] = {&WEBINAR_PAGES[0], &WEBINAR_PAGES[1],
                                                    &WEBINAR_PAGES[2], &WEBINAR_PAGES[3],
                                                    &WEBINAR_PAGES[4], &WEBINAR_PAGES[5]};
static const char *const WEBINAR_SORTS[] = {"starts_at", "created_at", "updated_at", NULL};
static const struct list_spec WEBINAR_LIST = {WEBINAR_SORTS, (struct db_stmt **)WEBINAR_PAGE_LIST,
                                              &WEBINAR_COUNT};

/* Single-row statements take $1 id (or body), then the caller's role and agency. */
static struct db_stmt WEBINAR_BY_ID = {"webinar_by_id",
                                       "SELECT webinar_json(w, $2::text, $3::uuid) FROM webinars w"
                                       " WHERE w.id = $1::uuid AND webinar_visible(w, $2::text)",
                                       0};
static struct db_stmt WEBINAR_LOCK = {"webinar_lock",
                                      "SELECT webinar_json(w, $2::text, $3::uuid) FROM webinars w"
                                      " WHERE w.id = $1::uuid FOR UPDATE",
                                      0};
static struct db_stmt WEBINAR_TIMEZONE_KNOWN = {"webinar_timezone_known",
                                                "SELECT timezone_known($1::text)", 0};
static struct db_stmt WEBINAR_INSERT = {
    "webinar_insert",
    "INSERT INTO webinars AS w (title, description, starts_at, duration_minutes, timezone,"
    " presenters, topics, audience, status, recording_url, attendance)"
    " SELECT b->'title', nullif(b->'description', 'null'::jsonb),"
    " instant_in_zone(b->>'starts_at', coalesce(b->>'timezone', 'America/Mexico_City')),"
    " coalesce((b->>'duration_minutes')::int, 60),"
    " coalesce(b->>'timezone', 'America/Mexico_City'), coalesce(b->'presenters', '[]'),"
    " coalesce(ARRAY(SELECT jsonb_array_elements_text(b->'topics')), '{}'),"
    " coalesce(b->>'audience', 'public'), coalesce(b->>'status', 'scheduled'),"
    " b->>'recording_url', (b->>'attendance')::int"
    " FROM (SELECT $1::jsonb AS b) x RETURNING webinar_json(w, $2::text, $3::uuid), id",
    0};
/* A local starts_at is read in the new zone when the body changes it, else the stored one;
 * changing only the zone keeps the instant (its local rendering moves). */
static struct db_stmt WEBINAR_UPDATE = {
    "webinar_update",
    "UPDATE webinars w SET"
    " title = CASE WHEN b ? 'title' THEN b->'title' ELSE title END,"
    " description = CASE WHEN b ? 'description' THEN nullif(b->'description', 'null'::jsonb)"
    "   ELSE description END,"
    " starts_at = CASE WHEN b ? 'starts_at'"
    "   THEN instant_in_zone(b->>'starts_at', coalesce(b->>'timezone', timezone)) ELSE starts_at "
    "END,"
    " duration_minutes = coalesce((b->>'duration_minutes')::int, duration_minutes),"
    " timezone = coalesce(b->>'timezone', timezone),"
    " presenters = coalesce(b->'presenters', presenters),"
    " topics = CASE WHEN b ? 'topics' THEN ARRAY(SELECT jsonb_array_elements_text(b->'topics'))"
    "   ELSE topics END,"
    " audience = coalesce(b->>'audience', audience), status = coalesce(b->>'status', status),"
    " recording_url = CASE WHEN b ? 'recording_url' THEN b->>'recording_url' ELSE recording_url "
    "END,"
    " attendance = CASE WHEN b ? 'attendance' THEN (b->>'attendance')::int ELSE attendance END"
    " FROM (SELECT $2::jsonb AS b) x WHERE w.id = $1::uuid"
    " RETURNING webinar_json(w, $3::text, $4::uuid)",
    0};
static struct db_stmt WEBINAR_DELETE = {"webinar_delete",
                                        "DELETE FROM webinars WHERE id = $1::uuid", 0};

/* -------------------------------------------------------------- handlers */

static enum problem not_found(struct req *r) {
  return req_fail(r, P_NOT_FOUND, "No webinar has this id.", "Ningún webinar tiene este id.");
}

static const char *caller_role(const struct req *r) {
  return role_name(r->caller.role);
}

static const char *caller_agency(const struct req *r) {
  return r->caller.agency_id[0] ? r->caller.agency_id : NULL;
}

/* Checks what the field table cannot: the instant's form and the zone's existence (one
 * query, only when a zone is sent). Adds field errors; returns their number, or -1 when the
 * database failed (the problem is set). */
static int check_webinar_rules(struct req *r) {
  int errs = 0;
  const char *starts = req_body_string(r, "starts_at");
  if (starts != NULL && !instant_text_valid(starts)) {
    req_field_error(r, "/starts_at", "invalid_format",
                    "an RFC 3339 date-time, or a local date-time YYYY-MM-DDTHH:MM:SS");
    errs++;
  }
  const char *tz = req_body_string(r, "timezone");
  if (tz != NULL) {
    const char *p[] = {tz};
    PGresult *res = req_exec(r, &WEBINAR_TIMEZONE_KNOWN, 1, p);
    if (res == NULL)
      return -1;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
      req_field_error(r, "/timezone", "invalid", "not an IANA time zone (America/Mexico_City)");
      errs++;
    }
    PQclear(res);
  }
  return errs;
}

static enum problem webinar_list(struct req *r) {
  return list_respond(r, &WEBINAR_LIST);
}

static enum problem webinar_get(struct req *r) {
  const char *id = req_path_param(r, "id");
  if (!uuid_valid(id))
    return not_found(r);
  const char *p[] = {id, caller_role(r), caller_agency(r)};
  return reply_row(r, req_exec(r, &WEBINAR_BY_ID, 3, p), not_found);
}

static enum problem webinar_create(struct req *r) {
  int errs = validate_body(r, r->body, WEBINAR_FIELDS, false);
  int rule_errs = check_webinar_rules(r);
  if (rule_errs < 0)
    return r->problem;
  if (errs + rule_errs > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  char *text = json_dumps(r->body, JSON_COMPACT);
  const char *p[] = {text, caller_role(r), caller_agency(r)};
  PGresult *res = req_exec(r, &WEBINAR_INSERT, 3, p);
  free(text);
  if (res == NULL)
    return r->problem;
  enum problem rc =
      reply_created(r, "webinar", "/v1/webinars", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
  PQclear(res);
  return rc;
}

/* Locks the webinar's row and checks If-Match; *current is the row's JSON (PQclear it). */
static enum problem lock_current(struct req *r, const char *id, PGresult **current) {
  const char *p[] = {id, caller_role(r), caller_agency(r)};
  return req_lock_row(r, &WEBINAR_LOCK, 3, p, not_found, current);
}

static enum problem webinar_patch(struct req *r) {
  const char *id = req_path_param(r, "id");
  PGresult *current = NULL, *res = NULL;
  char *text = NULL;
  enum problem rc = P_NONE;
  int errs = validate_body(r, r->body, WEBINAR_FIELDS, true);
  int rule_errs = check_webinar_rules(r);
  if (rule_errs < 0) {
    rc = r->problem;
    goto out;
  }
  if (errs + rule_errs > 0) {
    rc = req_fail(r, P_VALIDATION, NULL, NULL);
    goto out;
  }
  rc = lock_current(r, id, &current);
  if (rc != P_NONE)
    goto out;
  text = json_dumps(r->body, JSON_COMPACT);
  const char *p[] = {id, text, caller_role(r), caller_agency(r)};
  res = req_exec(r, &WEBINAR_UPDATE, 4, p);
  if (res == NULL) {
    rc = r->problem;
    goto out;
  }
  rc = reply_updated(r, "webinar", id, PQgetvalue(current, 0, 0), PQgetvalue(res, 0, 0));
out:
  free(text);
  PQclear(current);
  PQclear(res);
  return rc;
}

static enum problem webinar_delete(struct req *r) {
  const char *id = req_path_param(r, "id");
  PGresult *current = NULL, *res = NULL;
  enum problem rc = lock_current(r, id, &current);
  if (rc != P_NONE)
    goto out;
  const char *p[] = {id};
  res = req_exec(r, &WEBINAR_DELETE, 1, p);
  if (res == NULL) {
    rc = r->problem;
    goto out;
  }
  rc = reply_deleted(r, "webinar", id, PQgetvalue(current, 0, 0));
out:
  PQclear(current);
  PQclear(res);
  return rc;
}

/* In the order of the list statements' parameters $5 … $10. */
static const struct qparam WEBINAR_QUERY[] = {{"from", Q_DATE, false, NULL},
                                              {"to", Q_DATE, false, NULL},
                                              {"topic", Q_STRING, true, NULL},
                                              {"audience", Q_ENUM, true, AUDIENCE_VALUES},
                                              {"status", Q_ENUM, true, STATUS_VALUES},
                                              {"q", Q_STRING, false, NULL},
                                              {NULL, 0, false, NULL}};

#define WRITERS (ROLE_ADMIN | ROLE_COALITION)

static const struct route ROUTES[] = {
    {"GET", "/v1/webinars", ROLES_ALL, webinar_list, R_LIST, WEBINAR_QUERY, NULL},
    {"POST", "/v1/webinars", WRITERS, webinar_create, R_BODY_JSON | R_IDEMPOTENT, NULL, NULL},
    {"GET", "/v1/webinars/:id", ROLES_ALL, webinar_get, 0, NULL, NULL},
    {"PATCH", "/v1/webinars/:id", WRITERS, webinar_patch, R_BODY_JSON | R_TX, NULL, NULL},
    {"DELETE", "/v1/webinars/:id", WRITERS, webinar_delete, R_TX, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, NULL, NULL}};

const struct route_table WEBINAR_ROUTES = {"webinars", ROUTES};
