/*
 * workshops.c — /v1/workshops, their registrations, check-ins and attendance (API.md §7).
 *
 * Seats are decided by PostgreSQL, one registration at a time per workshop: every
 * transaction that takes or frees a seat first locks the workshop's row (SELECT … FOR
 * UPDATE), then locks the registration if it changes one. That single order of locks rules
 * out deadlocks, and under the lock each statement (READ COMMITTED: a fresh snapshot per
 * statement) sees every seat committed before it. The unique index on a live registration's
 * email and the exclusion constraint on waitlist places hold even if this file is wrong.
 *
 * Visibility: drafts are seen only by admin and coalition; everything else is public. An
 * agency user sees, registers and cancels only registrations of its own agency. A workshop
 * with registrations is archived, not deleted (DELETE): only one without any may be erased.
 */
#include "resources/resources.h"
#include "resources/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const KIND_VALUES[] = {"amws", "other", NULL};
static const char *const MODE_VALUES[] = {"in_person", "virtual", "hybrid", NULL};
static const char *const STATUS_VALUES[] = {"draft", "open", "closed", "held", "cancelled", NULL};
static const char *const ORGANIZER_VALUES[] = {"npi", "inl", "caispmex", NULL};
static const char *const ATTENDANCE_VALUES[] = {"in_person", "virtual", NULL};
static const char *const REGISTRATION_STATUS_VALUES[] = {"confirmed", "waitlisted", "cancelled",
                                                         NULL};
static const char *const CANCELLED_ONLY[] = {"cancelled", NULL};

static enum problem workshop_attendance(struct req *r);
static enum problem registration_list(struct req *r);
static enum problem registration_create(struct req *r);
static enum problem registration_patch(struct req *r);
static enum problem registration_delete(struct req *r);
static enum problem registration_check_in(struct req *r);
static enum problem reseat(struct req *r, const char *workshop_id);
static struct resource WORKSHOP, REGISTRATION;
static struct list_spec WORKSHOP_LIST, REGISTRATION_LIST;

/* In the order of the list statements' parameters $5 … */
static const struct qparam WORKSHOP_QUERY[] = {{"from", Q_DATE},
                                               {"to", Q_DATE},
                                               {"status", Q_ENUM, true, STATUS_VALUES},
                                               {"kind", Q_ENUM, false, KIND_VALUES},
                                               {"mode", Q_ENUM, false, MODE_VALUES},
                                               {"organizer", Q_ENUM, false, ORGANIZER_VALUES},
                                               {"q", Q_STRING},
                                               {"archived", Q_BOOL},
                                               {NULL}};
static const struct qparam REGISTRATION_QUERY[] = {
    {"id", Q_PATH},
    {"status", Q_ENUM, true, REGISTRATION_STATUS_VALUES},
    {"attendance_mode", Q_ENUM, false, ATTENDANCE_VALUES},
    {"agency_id", Q_UUID},
    {"checked_in_on", Q_DATE},
    {"q", Q_STRING},
    {NULL}};

#define WRITERS (ROLE_ADMIN | ROLE_COALITION)
#define REGISTRATION_READERS (ROLE_ADMIN | ROLE_INL | ROLE_COALITION | ROLE_AGENCY)
#define REGISTRANTS (ROLE_ADMIN | ROLE_COALITION | ROLE_AGENCY)

static const struct route ROUTES[] = {
    {"GET", "/v1/workshops", ROLES_ALL, list_respond, R_LIST, WORKSHOP_QUERY,
     .list = &WORKSHOP_LIST},
    {"POST", "/v1/workshops", WRITERS, resource_create, R_BODY_JSON | R_IDEMPOTENT,
     .resource = &WORKSHOP},
    {"GET", "/v1/workshops/:id", ROLES_ALL, resource_get, 0, ARCHIVED_QUERY, .resource = &WORKSHOP},
    {"PATCH", "/v1/workshops/:id", WRITERS, resource_patch, R_BODY_JSON | R_TX,
     .resource = &WORKSHOP},
    {"DELETE", "/v1/workshops/:id", WRITERS, resource_delete, R_TX, .resource = &WORKSHOP},
    KEPT_RECORD_ROUTES("/v1/workshops/:id", &WORKSHOP),
    {"GET", "/v1/workshops/:id/attendance", ROLE_ADMIN | ROLE_INL | ROLE_COALITION,
     workshop_attendance},
    {"GET", "/v1/workshops/:id/registrations", REGISTRATION_READERS, registration_list, R_LIST,
     REGISTRATION_QUERY, .list = &REGISTRATION_LIST},
    {"POST", "/v1/workshops/:id/registrations", REGISTRANTS, registration_create,
     R_BODY_JSON | R_IDEMPOTENT, .resource = &REGISTRATION},
    {"GET", "/v1/workshops/:id/registrations/:rid", REGISTRATION_READERS, resource_get,
     .resource = &REGISTRATION},
    {"PATCH", "/v1/workshops/:id/registrations/:rid", REGISTRANTS, registration_patch,
     R_BODY_JSON | R_TX, .resource = &REGISTRATION},
    {"DELETE", "/v1/workshops/:id/registrations/:rid", REGISTRANTS, registration_delete, R_TX,
     .resource = &REGISTRATION},
    {"POST", "/v1/workshops/:id/registrations/:rid/check-ins", WRITERS, registration_check_in,
     R_BODY_JSON | R_IDEMPOTENT, .resource = &REGISTRATION},
    {NULL}};

const struct route_table WORKSHOP_ROUTES = {"workshops", ROUTES};

/* ------------------------------------------------------------- validation */

static const struct field CAPACITY_FIELDS[] = {
    {"in_person", F_INT, F_NULLABLE, 0, 100000}, {"virtual", F_INT, F_NULLABLE, 0, 100000}, {NULL}};

/* Rules across fields (ends_on after starts_on, the window's order), the state's existence
 * and the zone's are the table's constraints and triggers: WORKSHOP_REFUSALS names them. */
static const struct field WORKSHOP_FIELDS[] = {

    {"title", F_BILINGUAL, F_REQUIRED},
    {"kind", F_ENUM, 0, 0, 0, KIND_VALUES},
    {"mode", F_ENUM, F_REQUIRED, 0, 0, MODE_VALUES},
    {"city", F_STRING, F_NULLABLE, 1, 200},
    {"state", F_STRING, F_NULLABLE, 6, 6},
    {"venue", F_STRING, F_NULLABLE, 1, 300},
    {"starts_on", F_DATE, F_REQUIRED},
    {"ends_on", F_DATE, F_REQUIRED},
    {"timezone", F_STRING, 0, 1, 64},
    {"capacity", F_OBJECT, 0, 0, 0, NULL, CAPACITY_FIELDS},
    {"registration_opens_at", F_DATETIME, F_NULLABLE},
    {"registration_closes_at", F_DATETIME, F_NULLABLE},
    {"registration_open", F_BOOL, F_READ_ONLY},
    {"registrations", F_JSON, F_READ_ONLY},
    {"status", F_ENUM, 0, 0, 0, STATUS_VALUES},
    {"organizer", F_ENUM, F_REQUIRED, 0, 0, ORGANIZER_VALUES},
    {"archived_at", F_DATETIME, F_READ_ONLY},
    RECORD_FIELDS,
    {NULL}};

static const struct field PERSON_FIELDS[] = {{"name", F_STRING, F_REQUIRED, 1, 200},
                                             {"email", F_EMAIL, F_REQUIRED, 3, 254},
                                             {"position", F_STRING, F_NULLABLE, 1, 200},
                                             {NULL}};

/* A registration names its person and its agency once; seats move only by registering and
 * cancelling, so a PATCH changes the person or sets status to cancelled. */
static const struct field REGISTRATION_FIELDS[] = {

    {"workshop_id", F_UUID, F_READ_ONLY},
    {"person", F_OBJECT, F_REQUIRED, 0, 0, NULL, PERSON_FIELDS},
    {"agency_id", F_UUID, F_NULLABLE | F_FIXED},
    {"attendance_mode", F_ENUM, F_FIXED, 0, 0, ATTENDANCE_VALUES},
    {"status", F_ENUM, 0, 0, 0, CANCELLED_ONLY},
    {"waitlist_position", F_INT, F_READ_ONLY},
    {"checked_in_on", F_STRING_ARRAY, F_READ_ONLY},
    {"cancelled_at", F_DATETIME, F_READ_ONLY},
    RECORD_FIELDS,
    {NULL}};

static const struct field CHECK_IN_FIELDS[] = {{"day", F_DATE, F_REQUIRED}, {NULL}};

static const struct refusal WORKSHOP_REFUSALS[] = {
    {"workshops_dates", P_VALIDATION, "/ends_on", "invalid", "must be on or after starts_on",
     "debe ser igual o posterior a starts_on"},
    {"workshops_window", P_VALIDATION, "/registration_closes_at", "invalid",
     "must be after registration_opens_at", "debe ser posterior a registration_opens_at"},
    {"workshops_timezone", P_VALIDATION, "/timezone", "invalid",
     "not an IANA time zone (America/Mexico_City)",
     "no es una zona horaria IANA (America/Mexico_City)"},
    {"workshops_state_fkey", P_VALIDATION, "/state", "not_found"},
    {"workshops_title_check", P_VALIDATION, "/title/es", "required"},
    {NULL}};

static const struct refusal REGISTRATION_REFUSALS[] = {
    {"workshop_registrations_agency_id_fkey", P_VALIDATION, "/agency_id", "not_found"},
    {"*unique", P_CONFLICT, NULL, NULL, "This email is already registered for this workshop.",
     "Este correo ya está registrado en este taller."},
    {NULL}};

/* ------------------------------------------------------------ workshop SQL */

/* List parameters: $1 role, $2 sub, $3 agency, $4 updated_since, $5 from, $6 to,
 * $7 status[], $8 kind, $9 mode, $10 organizer, $11 q, $12 archived; pages add $13 key,
 * $14 id, $15 limit. from/to select workshops that overlap the period. */
#define WORKSHOP_WHERE                                                                             \
  "workshop_visible(w, $1::text)"                                                                  \
  " AND ($4::timestamptz IS NULL OR w.updated_at >= $4::timestamptz)"                              \
  " AND ($5::date IS NULL OR w.ends_on >= $5::date)"                                               \
  " AND ($6::date IS NULL OR w.starts_on <= $6::date)"                                             \
  " AND ($7::jsonb IS NULL OR w.status IN (SELECT jsonb_array_elements_text($7::jsonb)))"          \
  " AND ($8::text IS NULL OR w.kind = $8::text)"                                                   \
  " AND ($9::text IS NULL OR w.mode = $9::text)"                                                   \
  " AND ($10::text IS NULL OR w.organizer = $10::text)"                                            \
  " AND ($11::text IS NULL OR fold(concat_ws(' ', w.title->>'es', w.title->>'en', w.city,"         \
  "   w.venue)) LIKE contains_pattern($11::text))"                                                 \
  " AND (w.archived_at IS NOT NULL) = coalesce($12::boolean, false)"

LIST_SPEC(WORKSHOP_LIST, "workshops", "starts_on", "workshop_json(w)", "workshops w",
          WORKSHOP_WHERE, "w.starts_on", "date", "w", "13", "14", "15");

/* $1 id, $2 body, $3 role (see struct resource). */
static struct db_stmt WORKSHOP_RESEAT = {"workshop_reseat",
                                         "SELECT id, before, after FROM workshop_reseat($1::uuid)"};
static struct db_stmt WORKSHOP_ATTENDANCE = {
    "workshop_attendance", "SELECT workshop_attendance_json(w) FROM workshops w"
                           " WHERE w.id = $1::uuid AND workshop_visible(w, $2::text)"};

/* -------------------------------------------------------- registration SQL */

/* List parameters: $1 role, $2 sub, $3 agency, $4 updated_since, $5 the workshop (path),
 * $6 status[], $7 attendance_mode, $8 agency_id, $9 checked_in_on, $10 q; pages add $11 key,
 * $12 id, $13 limit. */
#define REGISTRATION_WHERE                                                                         \
  "r.workshop_id = $5::uuid AND ($1::text <> 'agency' OR r.agency_id = $3::uuid)"                  \
  " AND ($4::timestamptz IS NULL OR r.updated_at >= $4::timestamptz)"                              \
  " AND ($6::jsonb IS NULL OR r.status IN (SELECT jsonb_array_elements_text($6::jsonb)))"          \
  " AND ($7::text IS NULL OR r.attendance_mode = $7::text)"                                        \
  " AND ($8::uuid IS NULL OR r.agency_id = $8::uuid)"                                              \
  " AND ($9::date IS NULL OR EXISTS (SELECT 1 FROM workshop_check_ins c"                           \
  "   WHERE c.registration_id = r.id AND c.day = $9::date))"                                       \
  " AND ($10::text IS NULL OR fold(r.person_name || ' ' || r.person_email)"                        \
  "   LIKE contains_pattern($10::text))"

static struct list_sort REGISTRATION_SORTS[] = {
    LIST_SORTS_BY_TIME("registrations", "registration_json(r)", "workshop_registrations r",
                       REGISTRATION_WHERE, "r", "11", "12", "13"),
    LIST_SORT("registrations_by_name", "name", "registration_json(r)", "workshop_registrations r",
              REGISTRATION_WHERE, "lower(r.person_name)", "text", "11", "12", "13"),
    {NULL}};
static struct list_spec REGISTRATION_LIST = {
    REGISTRATION_SORTS,
    LIST_COUNT("registrations_count", "workshop_registrations r", REGISTRATION_WHERE)};

/* $1 registration, $3 caller role, $5 caller agency, $6 workshop (see struct resource). */
#define REGISTRATION_SCOPE                                                                         \
  "r.id = $1::uuid AND r.workshop_id = $6::uuid"                                                   \
  " AND ($3::text <> 'agency' OR r.agency_id = $5::uuid)"

static struct db_stmt REGISTRATION_UPDATE = {
    "registration_update",
    "SELECT registration_json(r) FROM registration_update($1::uuid, $2::jsonb) r"};
/* The seat lock: every registering or cancelling transaction takes it first. */
static struct db_stmt SEAT_LOCK = {
    "workshop_seat_lock",
    "SELECT w.status, workshop_registration_open(w), w.mode,"
    " coalesce(rfc3339(w.registration_opens_at), '-'), rfc3339(workshop_registration_closes(w))"
    " FROM workshops w WHERE w.id = $1::uuid FOR UPDATE"};
/* The live registration of an email, when the caller ($3 role, $4 agency) may read it. */
static struct db_stmt REGISTRATION_LIVE_FOR_EMAIL = {
    "registration_live_for_email",
    "SELECT id FROM workshop_registrations WHERE workshop_id = $1::uuid"
    " AND lower(person_email) = lower($2::text) AND status <> 'cancelled'"
    " AND ($3::text <> 'agency' OR agency_id = $4::uuid)"};
/* Confirmed while the mode has a free seat and nobody waits for one; otherwise last on the
 * mode's waitlist. Runs under the seat lock, so the count and the last place are current.
 * The last place comes from the waitlist's index and the confirmed are counted only while
 * nobody waits: a registration costs the same with 10 or 10,000 people waiting. An email
 * with a live registration inserts nothing (no row returned): one statement fewer under the
 * lock than asking first. */
static struct db_stmt REGISTRATION_INSERT = {
    "registration_insert",
    "INSERT INTO workshop_registrations AS r (workshop_id, person_name, person_email,"
    " person_position, agency_id, attendance_mode, status, waitlist_position)"
    " SELECT w.id, b->'person'->>'name', b->'person'->>'email', b->'person'->>'position',"
    " $3::uuid, $4::text,"
    " CASE WHEN s.free THEN 'confirmed' ELSE 'waitlisted' END,"
    " CASE WHEN s.free THEN NULL ELSE s.last + 1 END"
    " FROM workshops w, (SELECT $2::jsonb AS b) x,"
    " LATERAL (SELECT coalesce((SELECT y.waitlist_position FROM workshop_registrations y"
    "     WHERE y.workshop_id = w.id AND y.attendance_mode = $4::text"
    "     AND y.status = 'waitlisted' ORDER BY y.waitlist_position DESC LIMIT 1), 0) AS last) k,"
    " LATERAL (SELECT c.cap IS NULL OR (k.last = 0 AND (SELECT count(*)"
    "     FROM workshop_registrations y WHERE y.workshop_id = w.id"
    "     AND y.attendance_mode = $4::text AND y.status = 'confirmed') < c.cap) AS free, k.last"
    "   FROM (SELECT CASE $4::text WHEN 'in_person' THEN w.capacity_in_person"
    "                 ELSE w.capacity_virtual END AS cap) c) s"
    " WHERE w.id = $1::uuid"
    " ON CONFLICT (workshop_id, lower(person_email)) WHERE status <> 'cancelled' DO NOTHING"
    " RETURNING registration_json(r), r.id"};
/* $1 registration, $2 workshop, $3 day. */
static struct db_stmt CHECK_IN_LOCK = {
    "check_in_lock",
    "SELECT registration_json(r), r.status, w.status, w.starts_on::text, w.ends_on::text,"
    " $3::date BETWEEN w.starts_on AND w.ends_on"
    " FROM workshop_registrations r JOIN workshops w ON w.id = r.workshop_id"
    " WHERE r.id = $1::uuid AND r.workshop_id = $2::uuid FOR UPDATE OF r"};
static struct db_stmt CHECK_IN_INSERT = {
    "check_in_insert",
    "INSERT INTO workshop_check_ins (registration_id, day) VALUES ($1::uuid, $2::date)"
    " ON CONFLICT DO NOTHING RETURNING day"};
/* A check-in changes the registration's representation: its version grows with it. */
static struct db_stmt REGISTRATION_TOUCH = {
    "registration_touch",
    "UPDATE workshop_registrations r SET updated_at = now() WHERE r.id = $1::uuid"
    " RETURNING registration_json(r)"};

static int workshop_check(struct req *r, json_t *doc, const char *id) {
  (void)doc, (void)id;
  return check_timezone(r, r->body);
}

static struct resource WORKSHOP = {
    "workshop",
    "/v1/workshops",
    "No workshop has this id.",
    "Ningún taller tiene este id.",
    .fields = WORKSHOP_FIELDS,
    .get = {"workshop_get", "SELECT workshop_json(w) FROM workshops w WHERE w.id = $1::uuid"
                            " AND workshop_visible(w, $3::text)"
                            " AND (w.archived_at IS NOT NULL) = coalesce($8::boolean, false)"},
    .lock = {"workshop_lock",
             "SELECT workshop_json(w), jsonb_merge_patch(workshop_json(w)::jsonb, $2::jsonb)::text,"
             " true, w.archived_at IS NOT NULL FROM workshops w WHERE w.id = $1::uuid FOR UPDATE"},
    .create = {"workshop_create",
               "SELECT workshop_json(w), w.id FROM workshop_create($2::jsonb) w"},
    .update = {"workshop_update",
               "SELECT workshop_json(w) FROM workshop_update($1::uuid, $2::jsonb) w"},
    .remove = {"workshop_archive", "UPDATE workshops SET archived_at = now() WHERE id = $1::uuid"},
    .restore = {"workshop_restore", "UPDATE workshops w SET archived_at = NULL"
                                    " WHERE id = $1::uuid RETURNING workshop_json(w)"},
    .erase = {"workshop_erase", "DELETE FROM workshops WHERE id = $1::uuid"},
    .dependents = {"workshop_dependents", "SELECT workshop_dependents($1::uuid)"},
    .check = workshop_check,
    .after = reseat,
    .refusals = WORKSHOP_REFUSALS,
};

static struct resource REGISTRATION = {
    "registration",
    NULL,
    "This workshop has no registration with this id.",
    "Este taller no tiene un registro con este id.",
    .id_param = "rid",
    .parent_param = "id",
    .fields = REGISTRATION_FIELDS,
    .get = {"registration_get",
            "SELECT registration_json(r) FROM workshop_registrations r WHERE " REGISTRATION_SCOPE},
    .lock = {"registration_lock",
             "SELECT registration_json(r), r.status FROM workshop_registrations r"
             " WHERE " REGISTRATION_SCOPE " FOR UPDATE"},
    .refusals = REGISTRATION_REFUSALS,
};

/* ---------------------------------------------------------------- helpers */

static const char *caller_role(const struct req *r) {
  return role_name(r->caller.role);
}

static enum problem workshop_not_found(struct req *r) {
  return req_fail(r, P_NOT_FOUND, "No workshop has this id.", "Ningún taller tiene este id.");
}

/* Fills free seats from the waitlists and renumbers them (workshop_reseat), auditing each
 * registration that moved. The caller holds the workshop's seat lock. */
static enum problem reseat(struct req *r, const char *workshop_id) {
  const char *p[] = {workshop_id};
  PGresult *res = req_exec(r, &WORKSHOP_RESEAT, 1, p);
  if (res == NULL)
    return r->problem;
  enum problem rc = P_NONE;
  for (int i = 0; i < PQntuples(res) && rc == P_NONE; i++)
    rc = req_audit(r, "updated", "registration", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                   PQgetvalue(res, i, 2));
  PQclear(res);
  return rc;
}

/* ------------------------------------------------------ workshop handlers */

static enum problem workshop_attendance(struct req *r) {
  const char *id = req_path_param(r, "id");
  if (!uuid_valid(id))
    return workshop_not_found(r);
  const char *p[] = {id, caller_role(r)};
  return reply_row(r, req_exec(r, &WORKSHOP_ATTENDANCE, 2, p), workshop_not_found);
}

/* -------------------------------------------------- registration handlers */

/* The workshop of a nested path, when the caller may see it: P_NONE or 404. */
static enum problem workshop_visible_to_caller(struct req *r, const char *id) {
  if (!uuid_valid(id))
    return workshop_not_found(r);
  const char *p[RESOURCE_PARAMS] = {id, NULL, caller_role(r)};
  PGresult *res = req_exec(r, &WORKSHOP.get, RESOURCE_PARAMS, p);
  if (res == NULL)
    return r->problem;
  enum problem rc = PQntuples(res) == 1 ? P_NONE : workshop_not_found(r);
  PQclear(res);
  return rc;
}

static enum problem registration_list(struct req *r) {
  enum problem rc = workshop_visible_to_caller(r, req_path_param(r, "id"));
  return rc != P_NONE ? rc : list_respond(r);
}

/* The attendance mode a registration gets: the one sent, which the workshop's mode must
 * offer, or the only one it offers. NULL with a field error added when there is none. */
static const char *resolve_mode(struct req *r, const char *workshop_mode) {
  const char *mode = req_body_string(r, "attendance_mode");
  bool hybrid = strcmp(workshop_mode, "hybrid") == 0;
  if (mode == NULL) {
    if (hybrid)
      req_field_error(r, "/attendance_mode", "required", NULL);
    return hybrid ? NULL : workshop_mode;
  }
  if (!hybrid && strcmp(mode, workshop_mode) != 0) {
    char en[96], es[96];
    snprintf(en, sizeof en, "this workshop is %s only", workshop_mode);
    snprintf(es, sizeof es, "este taller es solo %s", workshop_mode);
    req_field_error_text(r, "/attendance_mode", "invalid", en, es);
    return NULL;
  }
  return mode;
}

/*
 * Registers one person. Under the workshop's seat lock: the workshop must be open and inside
 * its window, the email must have no live registration, and the person is confirmed while
 * the mode has a free seat, else put last on that mode's waitlist. Answers the registration,
 * whose status and waitlist_position tell the person at once.
 */
static enum problem registration_create(struct req *r) {
  const char *wid = req_path_param(r, "id");
  PGresult *lock = NULL, *res = NULL;
  char *text = NULL;
  enum problem rc = P_NONE;
  if (validate_body(r, r->body, REGISTRATION_FIELDS, BODY_NEW) > 0) {
    rc = req_fail(r, P_VALIDATION, NULL, NULL);
    goto out;
  }
  if (!uuid_valid(wid)) {
    rc = workshop_not_found(r);
    goto out;
  }
  /* An agency user registers its own people: the agency defaults to, and must be, its own. */
  const json_t *agency = json_object_get(r->body, "agency_id");
  const char *agency_id = json_string_value(agency);
  if (r->caller.role == ROLE_AGENCY) {
    if (agency != NULL && (agency_id == NULL || strcmp(agency_id, r->caller.agency_id) != 0)) {
      rc = req_fail(r, P_FORBIDDEN, "An agency user registers only people of its own agency.",
                    "Un usuario de agencia solo registra a personas de su propia agencia.");
      goto out;
    }
    agency_id = r->caller.agency_id;
  }

  const char *p[] = {wid};
  lock = req_exec(r, &SEAT_LOCK, 1, p);
  if (lock == NULL) {
    rc = r->problem;
    goto out;
  }
  if (PQntuples(lock) == 0 ||
      (strcmp(PQgetvalue(lock, 0, 0), "draft") == 0 && !(r->caller.role & WRITERS))) {
    rc = workshop_not_found(r);
    goto out;
  }
  const char *mode = resolve_mode(r, PQgetvalue(lock, 0, 2));
  if (mode == NULL) {
    rc = req_fail(r, P_VALIDATION, NULL, NULL);
    goto out;
  }
  if (strcmp(PQgetvalue(lock, 0, 1), "t") != 0) {
    rc = req_fail(r, P_CONFLICT,
                  "Registration is not open: the workshop is %s, and registers from %s to %s.",
                  "El registro no está abierto: el taller está en %s, y registra de %s a %s.",
                  PQgetvalue(lock, 0, 0), PQgetvalue(lock, 0, 3), PQgetvalue(lock, 0, 4));
    goto out;
  }
  text = json_dumps(r->body, JSON_COMPACT);
  const char *ins[] = {wid, text, agency_id, mode};
  res = req_exec(r, &REGISTRATION_INSERT, 4, ins);
  if (res == NULL) {
    rc = req_refused(r, REGISTRATION_REFUSALS);
    goto out;
  }
  if (PQntuples(res) == 0) {
    /* The email has a live registration (the insert did nothing): name it to a caller who
     * may read it; another agency's is not this caller's to learn about. */
    PQclear(res);
    const char *email =
        json_string_value(json_object_get(json_object_get(r->body, "person"), "email"));
    const char *q[] = {wid, email, caller_role(r), req_caller_agency(r)};
    res = req_exec(r, &REGISTRATION_LIVE_FOR_EMAIL, 4, q);
    if (res == NULL) {
      rc = r->problem;
      goto out;
    }
    if (PQntuples(res) > 0)
      rc = req_fail(r, P_CONFLICT, "This email is already registered for this workshop: %s.",
                    "Este correo ya está registrado en este taller: %s.", PQgetvalue(res, 0, 0));
    else
      rc = req_fail(r, P_CONFLICT,
                    "This person cannot be registered for this workshop; ask the organizers.",
                    "Esta persona no puede registrarse en este taller; consulte a los "
                    "organizadores.");
    goto out;
  }
  rc = reply_created(r, "registration", r->in->url_path, PQgetvalue(res, 0, 1),
                     PQgetvalue(res, 0, 0));
out:
  free(text);
  PQclear(lock);
  PQclear(res);
  return rc;
}

/*
 * Changes a registration (body_text: the merge patch). Cancelling frees a seat or a waitlist
 * place, so the workshop's seat lock is taken first and the waitlist is reseated in the same
 * transaction: the first waitlisted of the mode is confirmed and the others move up,
 * atomically. With no_body, answers 204 (DELETE) instead of the registration.
 */
static enum problem registration_change(struct req *r, const char *body_text, bool no_body) {
  const char *wid = req_path_param(r, "id"), *rid = req_path_param(r, "rid");
  PGresult *lock = NULL, *current = NULL, *res = NULL;
  enum problem rc = P_NONE;
  if (!uuid_valid(wid) || !uuid_valid(rid))
    return resource_missing(r);
  const char *p[] = {wid};
  lock = req_exec(r, &SEAT_LOCK, 1, p);
  if (lock == NULL)
    return r->problem;
  const char *q[RESOURCE_PARAMS] = {rid, NULL, caller_role(r), NULL, req_caller_agency(r), wid};
  current = PQntuples(lock) == 1 ? req_exec(r, &REGISTRATION.lock, RESOURCE_PARAMS, q) : NULL;
  if (current == NULL || PQntuples(current) == 0) {
    rc = r->problem != P_NONE ? r->problem : resource_missing(r);
    goto out;
  }
  if ((rc = req_check_if_match(r, PQgetvalue(current, 0, 0))) != P_NONE)
    goto out;
  bool was_cancelled = strcmp(PQgetvalue(current, 0, 1), "cancelled") == 0;
  if (no_body && was_cancelled) { /* DELETE of a cancelled registration: nothing to do */
    reply_empty(r, 204);
    goto out;
  }
  const char *u[] = {rid, body_text};
  res = req_exec(r, &REGISTRATION_UPDATE, 2, u);
  if (res == NULL) {
    rc = req_refused(r, REGISTRATION_REFUSALS);
    goto out;
  }
  rc = req_audit(r, "updated", "registration", rid, PQgetvalue(current, 0, 0),
                 PQgetvalue(res, 0, 0));
  if (rc == P_NONE && !was_cancelled)
    rc = reseat(r, wid);
  if (rc == P_NONE && no_body)
    reply_empty(r, 204);
  else if (rc == P_NONE)
    reply_json(r, 200, PQgetvalue(res, 0, 0));
out:
  PQclear(lock);
  PQclear(current);
  PQclear(res);
  return rc;
}

static enum problem registration_patch(struct req *r) {
  if (validate_body(r, r->body, REGISTRATION_FIELDS, BODY_PATCH) > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  char *text = json_dumps(r->body, JSON_COMPACT);
  enum problem rc = registration_change(r, text, false);
  free(text);
  return rc;
}

/* DELETE cancels: the registration is kept, with status cancelled, for the record. */
static enum problem registration_delete(struct req *r) {
  return registration_change(r, "{\"status\":\"cancelled\"}", true);
}

/*
 * Records that a confirmed person attended on a day of the workshop. Idempotent per day:
 * 201 when the day is new, 200 (nothing changed) when it was already recorded.
 */
static enum problem registration_check_in(struct req *r) {
  const char *wid = req_path_param(r, "id"), *rid = req_path_param(r, "rid");
  PGresult *current = NULL, *res = NULL;
  enum problem rc = P_NONE;
  if (validate_body(r, r->body, CHECK_IN_FIELDS, BODY_NEW) > 0) {
    rc = req_fail(r, P_VALIDATION, NULL, NULL);
    goto out;
  }
  if (!uuid_valid(wid) || !uuid_valid(rid)) {
    rc = resource_missing(r);
    goto out;
  }
  const char *day = req_body_string(r, "day");
  const char *p[] = {rid, wid, day};
  if ((rc = req_one_row(r, &CHECK_IN_LOCK, 3, p, resource_missing, &current)) != P_NONE)
    goto out;
  const char *reg_status = PQgetvalue(current, 0, 1), *ws_status = PQgetvalue(current, 0, 2);
  if (strcmp(PQgetvalue(current, 0, 5), "t") != 0) {
    char range[32];
    snprintf(range, sizeof range, "%s..%s", PQgetvalue(current, 0, 3), PQgetvalue(current, 0, 4));
    req_field_error(r, "/day", "out_of_range", range);
    rc = req_fail(r, P_VALIDATION, NULL, NULL);
    goto out;
  }
  if (strcmp(ws_status, "draft") == 0 || strcmp(ws_status, "cancelled") == 0) {
    rc = req_fail(r, P_CONFLICT, "The workshop is %s: nobody can check in.",
                  "El taller está en %s: nadie puede registrar asistencia.", ws_status);
    goto out;
  }
  if (strcmp(reg_status, "confirmed") != 0) {
    rc = req_fail(r, P_CONFLICT, "Only confirmed registrations check in; this one is %s.",
                  "Solo los registros confirmados registran asistencia; este está %s.", reg_status);
    goto out;
  }
  const char *ins[] = {rid, day};
  res = req_exec(r, &CHECK_IN_INSERT, 2, ins);
  if (res == NULL) {
    rc = r->problem;
    goto out;
  }
  if (PQntuples(res) == 0) {
    reply_json(r, 200, PQgetvalue(current, 0, 0));
    goto out;
  }
  PQclear(res);
  const char *t[] = {rid};
  res = req_exec(r, &REGISTRATION_TOUCH, 1, t);
  if (res == NULL) {
    rc = r->problem;
    goto out;
  }
  rc = req_audit(r, "updated", "registration", rid, PQgetvalue(current, 0, 0),
                 PQgetvalue(res, 0, 0));
  if (rc == P_NONE)
    reply_json(r, 201, PQgetvalue(res, 0, 0));
out:
  PQclear(current);
  PQclear(res);
  return rc;
}
