/*
 * webinars.c — /v1/webinars: the program's webinar library (API.md §6).
 *
 * Everyone may read; anonymous callers and partner systems see only public webinars, and a
 * members webinar's recording is shown only to admin, coalition, or an agency user whose
 * agency's dues are paid through today. Both rules are SQL functions of the caller
 * (webinar_visible, webinar_recording_visible in db/functions/07_learning.sql), so every
 * statement applies them the same way. starts_at is stored in UTC with an IANA zone; input
 * may be an RFC 3339 instant or a local date-time that PostgreSQL reads in that zone, which
 * must be one PostgreSQL knows (a trigger checks it).
 */
#include "resources/resources.h"
#include "resources/sql.h"

#include <stdio.h>
#include <string.h>

static const char *const AUDIENCE_VALUES[] = {"public", "members", "program", NULL};
static const char *const STATUS_VALUES[] = {"scheduled", "held", "cancelled", NULL};

static struct resource WEBINAR;
static struct list_spec WEBINAR_LIST;

/* In the order of the list statements' parameters $5 … $10. */
static const struct qparam WEBINAR_QUERY[] = {{"from", Q_DATE},
                                              {"to", Q_DATE},
                                              {"topic", Q_STRING, true},
                                              {"audience", Q_ENUM, true, AUDIENCE_VALUES},
                                              {"status", Q_ENUM, true, STATUS_VALUES},
                                              {"q", Q_STRING},
                                              {NULL}};

#define WRITERS (ROLE_ADMIN | ROLE_COALITION)

static const struct route ROUTES[] = {
    {"GET", "/v1/webinars", ROLES_ALL, list_respond, R_LIST, WEBINAR_QUERY, .list = &WEBINAR_LIST},
    {"POST", "/v1/webinars", WRITERS, resource_create, R_BODY_JSON | R_IDEMPOTENT,
     .resource = &WEBINAR},
    {"GET", "/v1/webinars/:id", ROLES_ALL, resource_get, .resource = &WEBINAR},
    {"PATCH", "/v1/webinars/:id", WRITERS, resource_patch, R_BODY_JSON | R_TX,
     .resource = &WEBINAR},
    {"DELETE", "/v1/webinars/:id", WRITERS, resource_delete, R_TX, .resource = &WEBINAR},
    {NULL}};

const struct route_table WEBINAR_ROUTES = {"webinars", ROUTES};

/* ------------------------------------------------------------- validation */

static const struct field PRESENTER_FIELDS[] = {
    {"name", F_STRING, F_REQUIRED, 1, 200}, {"organization", F_STRING, F_NULLABLE, 1, 200}, {NULL}};

static const struct field WEBINAR_FIELDS[] = {

    {"title", F_BILINGUAL, F_REQUIRED},
    {"description", F_BILINGUAL, F_NULLABLE},
    {"starts_at", F_STRING, F_REQUIRED, 1, 40},
    {"starts_at_local", F_STRING, F_READ_ONLY},
    {"duration_minutes", F_INT, 0, 1, 1440},
    {"timezone", F_STRING, 0, 1, 64},
    {"presenters", F_ARRAY_OF, 0, 0, 50, NULL, PRESENTER_FIELDS},
    {"topics", F_STRING_ARRAY, 0, 0, 20},
    {"audience", F_ENUM, 0, 0, 0, AUDIENCE_VALUES},
    {"status", F_ENUM, 0, 0, 0, STATUS_VALUES},
    {"recording_url", F_URL, F_NULLABLE, 1, 1000},
    {"has_recording", F_BOOL, F_READ_ONLY},
    {"attendance", F_INT, F_NULLABLE, 0, 1000000},
    RECORD_FIELDS,
    {NULL}};

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

static int webinar_check(struct req *r, json_t *doc, const char *id) {
  (void)id;
  const char *starts = json_string_value(json_object_get(doc, "starts_at"));
  if (starts != NULL && !instant_text_valid(starts))
    req_field_error_text(r, "/starts_at", "invalid_format",
                         "an RFC 3339 date-time, or a local date-time YYYY-MM-DDTHH:MM:SS",
                         "una fecha y hora RFC 3339, o una fecha y hora local AAAA-MM-DDTHH:MM:SS");
  return check_timezone(r, r->body);
}

static const struct refusal WEBINAR_REFUSALS[] = {
    {"webinars_timezone", P_VALIDATION, "/timezone", "invalid",
     "not an IANA time zone (America/Mexico_City)",
     "no es una zona horaria IANA (America/Mexico_City)"},
    {"webinars_description_check", P_VALIDATION, "/description/es", "required"},
    {NULL}};

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

LIST_SPEC(WEBINAR_LIST, "webinars", "starts_at", WEBINAR_JSON, "webinars w", WEBINAR_WHERE,
          "w.starts_at", "timestamptz", "w", "11", "12", "13");

/* $1 id, $2 body, $3 role, $5 agency (see struct resource). */

static struct resource WEBINAR = {
    "webinar",
    "/v1/webinars",
    "No webinar has this id.",
    "Ningún webinar tiene este id.",
    .fields = WEBINAR_FIELDS,
    .get = {"webinar_get", "SELECT webinar_json(w, $3, $5::uuid) FROM webinars w"
                           " WHERE w.id = $1::uuid AND webinar_visible(w, $3)"},
    .lock = {"webinar_lock",
             "SELECT webinar_json(w, $3, $5::uuid),"
             " jsonb_merge_patch(webinar_json(w, 'admin', NULL)::jsonb, $2::jsonb)::text"
             " FROM webinars w WHERE w.id = $1::uuid FOR UPDATE"},
    .create = {"webinar_create",
               "SELECT webinar_json(w, $3, $5::uuid), w.id FROM webinar_create($2::jsonb) w"},
    .update = {"webinar_update",
               "SELECT webinar_json(w, $3, $5::uuid) FROM webinar_update($1::uuid, $2::jsonb) w"},
    .remove = {"webinar_delete", "DELETE FROM webinars WHERE id = $1::uuid"},
    .check = webinar_check,
    .refusals = WEBINAR_REFUSALS,
};
