/*
 * transitions.c — the accreditation lifecycle of an agency (API.md §3): its moves
 * (/v1/agencies/{id}/transitions) and its awards (/v1/agencies/{id}/awards).
 *
 * The state machine itself is agency_transition() in db/functions/03_agencies.sql: it locks
 * the agency, checks the caller and the graph, sets the dates, writes the history and the
 * award. This file only turns its refusals into answers: a move the graph does not allow is a
 * 409 that names the allowed ones (in its detail, and as the array "allowed").
 */
#include "resources/agencies.h"
#include "resources/resources.h"
#include "resources/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const TARGETS[] = {AGENCY_STATES, NULL};

static const struct field TRANSITION_FIELDS[] = {{"to", F_ENUM, F_REQUIRED, 0, 0, TARGETS},
                                                 {"on", F_DATE, F_NULLABLE},
                                                 {"note", F_STRING, F_NULLABLE, 1, 2000},
                                                 {NULL}};

static enum problem transition_list(struct req *r);
static enum problem transition_create(struct req *r);
static enum problem transition_get(struct req *r);
static enum problem award_list(struct req *r);
static struct list_spec TRANSITION_LIST, AWARD_LIST;

/* Histories are private (notes carry reasons); awards are as public as the agency. */
#define HISTORY_READERS (ROLE_ADMIN | ROLE_INL | ROLE_ADVISOR | ROLE_AGENCY | ROLE_COALITION)

static const struct qparam AGENCY_PATH[] = {{"id", Q_PATH}, {NULL}};

static const struct route ROUTES[] = {
    {"GET", "/v1/agencies/:id/transitions", HISTORY_READERS, transition_list, R_LIST, AGENCY_PATH,
     .list = &TRANSITION_LIST},
    {"POST", "/v1/agencies/:id/transitions", ROLE_ADMIN | ROLE_INL | ROLE_ADVISOR,
     transition_create, R_BODY_JSON | R_IDEMPOTENT},
    {"GET", "/v1/agencies/:id/transitions/:tid", HISTORY_READERS, transition_get},
    {"GET", "/v1/agencies/:id/awards", ROLES_ALL, award_list, R_LIST, AGENCY_PATH,
     .list = &AWARD_LIST},
    {NULL}};

const struct route_table TRANSITION_ROUTES = {"transitions", ROUTES};

/* ------------------------------------------------------------------- SQL */

static struct db_stmt TRANSITION_APPLY = {
    "transition_apply",
    "SELECT transition_json, before_json, after_json, transition_json::json ->> 'id'"
    " FROM agency_transition($1::uuid, $2, $3::date, $4, $5, $6, $7)",
    0};
/* History and awards are keyset-paged lists like any other; $5 is the agency (Q_PATH). */
#define HISTORY_WHERE                                                                              \
  "t.agency_id = $5::uuid AND ($4::timestamptz IS NULL OR t.created_at >= $4::timestamptz)"
static struct list_sort TRANSITION_SORTS[] = {
    LIST_SORT("transitions_by_seq", "seq", "agency_transition_json(t)", "agency_transitions t",
              HISTORY_WHERE, "t.seq", "bigint", "6", "7", "8"),
    {NULL}};
static struct list_spec TRANSITION_LIST = {
    TRANSITION_SORTS, LIST_COUNT("transitions_count", "agency_transitions t", HISTORY_WHERE)};

#define AWARD_WHERE                                                                                \
  "w.agency_id = $5::uuid AND ($4::timestamptz IS NULL OR w.created_at >= $4::timestamptz)"
/* Two awards can share a day (Tier 1 then Advanced): creation order breaks the tie. */
static struct list_sort AWARD_SORTS[] = {
    LIST_SORT("awards_by_awarded_on", "awarded_on", "award_json(w)", "awards w", AWARD_WHERE,
              "to_char(w.awarded_on, 'YYYYMMDD') || to_char(w.created_at AT TIME ZONE 'UTC', "
              "'YYYYMMDDHH24MISSUS')",
              "text", "6", "7", "8"),
    {NULL}};
static struct list_spec AWARD_LIST = {AWARD_SORTS,
                                      LIST_COUNT("awards_count", "awards w", AWARD_WHERE)};

/* Whether the caller may see the agency's awards, or its history (an agency user only its
 * own); 404 otherwise, not an empty list. */
static struct db_stmt AGENCY_VISIBLE = {
    "agency_visible",
    "SELECT 1 FROM agencies a WHERE a.id = $1::uuid AND agency_visible_to(a, $2, $3)", 0};
static struct db_stmt HISTORY_VISIBLE = {
    "agency_history_visible",
    "SELECT 1 FROM agencies a WHERE a.id = $1::uuid AND agency_history_visible_to(a, $2, $3)", 0};
static struct db_stmt TRANSITION_BY_ID = {
    "transition_by_id",
    "SELECT agency_transition_json(t) FROM agency_transitions t JOIN agencies a"
    " ON a.id = t.agency_id WHERE t.id = $4::uuid AND a.id = $1::uuid"
    " AND agency_history_visible_to(a, $2, $3)",
    0};
/* -------------------------------------------------------------- handlers */

static enum problem not_found(struct req *r) {
  return req_fail(r, P_NOT_FOUND, "No agency has this id.", "Ninguna agencia tiene este id.");
}

/* Runs stmt with (agency id, role, caller's agency[, extra]) and answers its one row, or 404. */
static enum problem answer_scoped(struct req *r, struct db_stmt *stmt, const char *extra) {
  const char *id = req_path_param(r, "id");
  if (!uuid_valid(id) || (extra != NULL && !uuid_valid(extra)))
    return not_found(r);
  const char *p[] = {id, role_name(r->caller.role),
                     r->caller.agency_id[0] ? r->caller.agency_id : NULL, extra};
  return reply_row(r, req_exec(r, stmt, extra ? 4 : 3, p), not_found);
}

/* A page of the agency's history or awards, once visible (a statement of AGENCY_VISIBLE's
 * shape) says the caller may see them. */
static enum problem list_of_visible_agency(struct req *r, struct db_stmt *visible) {
  const char *id = req_path_param(r, "id");
  if (!uuid_valid(id))
    return not_found(r);
  const char *p[] = {id, role_name(r->caller.role),
                     r->caller.agency_id[0] ? r->caller.agency_id : NULL};
  PGresult *res = req_exec(r, visible, 3, p);
  if (res == NULL)
    return r->problem;
  bool seen = PQntuples(res) == 1;
  PQclear(res);
  return seen ? list_respond(r) : not_found(r);
}

static enum problem transition_list(struct req *r) {
  return list_of_visible_agency(r, &HISTORY_VISIBLE);
}

static enum problem transition_get(struct req *r) {
  return answer_scoped(r, &TRANSITION_BY_ID, req_path_param(r, "tid"));
}

static enum problem award_list(struct req *r) {
  return list_of_visible_agency(r, &AGENCY_VISIBLE);
}

/*
 * Turns the state machine's refusal (a P0001 whose HINT says why, see agency_transition())
 * into the answer: 404, 403, 409 naming the allowed targets, or 422 on a field.
 */
static enum problem transition_refused(struct req *r, const char *target) {
  if (r->db->status != DB_RAISED)
    return r->problem;
  char hint[256];
  snprintf(hint, sizeof hint, "%s", r->db->hint);
  char *parts[4] = {hint, "", "", ""};
  for (int i = 1; i < 4; i++) {
    char *bar = strchr(parts[i - 1], '|');
    if (bar == NULL)
      break;
    *bar = '\0';
    parts[i] = bar + 1;
  }
  if (strcmp(parts[0], "not_found") == 0)
    return not_found(r);
  if (strcmp(parts[0], "forbidden") == 0)
    return req_fail(r, P_FORBIDDEN,
                    "The role %s may not move this agency to %s: INL approves applications, "
                    "the agency's assigned advisors make the other moves.",
                    "El rol %s no puede pasar esta agencia a %s: INL aprueba las solicitudes, "
                    "los asesores asignados a la agencia hacen los demás cambios.",
                    role_name(r->caller.role), target);
  if (strcmp(parts[0], "conflict") == 0) {
    char allowed[512] = "";
    json_t *list = json_array();
    for (char *save = NULL, *s = strtok_r(parts[2], ",", &save); s != NULL;
         s = strtok_r(NULL, ",", &save)) {
      size_t used = strlen(allowed);
      snprintf(allowed + used, sizeof allowed - used, "%s%s", used ? ", " : "", s);
      json_array_append_new(list, json_string(s));
    }
    r->problem_members = json_pack("{s:s,s:o}", "current", parts[1], "allowed", list);
    if (allowed[0] == '\0')
      return req_fail(r, P_CONFLICT, "An agency in %s cannot move to %s; %s is final.",
                      "Una agencia en %s no puede pasar a %s; %s es definitivo.", parts[1], target,
                      parts[1]);
    return req_fail(r, P_CONFLICT, "An agency in %s cannot move to %s; allowed: %s.",
                    "Una agencia en %s no puede pasar a %s; permitidos: %s.", parts[1], target,
                    allowed);
  }
  if (strcmp(parts[0], "field") == 0) {
    req_field_error(r, parts[1], parts[2], parts[3][0] ? parts[3] : NULL);
    return req_fail(r, P_VALIDATION, NULL, NULL);
  }
  if (strcmp(parts[0], "rule") == 0) {
    req_field_error(r, parts[1], parts[2], NULL);
    return req_fail(r, P_RULE,
                    "A law-enforcement agency needs its tier (tier1 or advanced) before an "
                    "award; set it with PATCH first.",
                    "Una agencia policial necesita su nivel (tier1 o advanced) antes de una "
                    "acreditación; fíjelo antes con PATCH.");
  }
  return r->problem;
}

static enum problem transition_create(struct req *r) {
  const char *id = req_path_param(r, "id");
  if (!uuid_valid(id))
    return not_found(r);
  if (validate_body(r, r->body, TRANSITION_FIELDS, false) > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  const char *target = req_body_string(r, "to");
  const char *p[] = {id,
                     target,
                     req_body_string(r, "on"),
                     req_body_string(r, "note"),
                     r->caller.sub[0] ? r->caller.sub : "anonymous",
                     role_name(r->caller.role),
                     r->request_id};
  PGresult *res = req_exec(r, &TRANSITION_APPLY, 7, p);
  if (res == NULL)
    return transition_refused(r, target);
  const char *transition = PQgetvalue(res, 0, 0);
  enum problem rc =
      req_audit(r, "transitioned", "agency", id, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
  if (rc == P_NONE) {
    char location[128];
    snprintf(location, sizeof location, "/v1/agencies/%s/transitions/%s", id,
             PQgetvalue(res, 0, 3));
    reply_header(r, "Location", location);
    reply_json(r, 201, transition);
  }
  PQclear(res);
  return rc;
}
