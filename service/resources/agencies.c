/*
 * agencies.c — /v1/agencies: the agencies of the program (API.md §3).
 *
 * What each role sees and may write is decided in SQL with the caller (migration 0003):
 * agency_visible_to() scopes reads (an agency user sees only its agency: others answer 404;
 * anonymous callers see only the public directory), agency_json_for() picks the full or the
 * public representation, agency_writable_by() says who may write. Which fields a role may
 * write is the table below the routes. status and the lifecycle dates never change here:
 * only transitions (transitions.c) move them, so sending them is a 422.
 *
 * A PATCH is a JSON Merge Patch (RFC 7396) of the representation: nested objects merge,
 * null clears. The list answers text/csv too (every page, streamed) for spreadsheets.
 */
#include "resources/agencies.h"
#include "resources/resources.h"
#include "resources/sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const TYPES[] = {"law_enforcement", "training_academy", "communications_center",
                                    NULL};
static const char *const LEVELS[] = {"municipal", "state", "federal", NULL};
static const char *const TIERS[] = {"tier1", "advanced", NULL};
static const char *const FREQUENCIES[] = {"monthly", "quarterly", NULL};
/* The statuses a list can filter on: the stored ones and the derived "expired". */
static const char *const STATUSES[] = {"applied",
                                       "approved",
                                       "enrolled",
                                       "self_assessment",
                                       "pre_assessment",
                                       "site_assessment",
                                       "awaiting_hearing",
                                       "accredited",
                                       "conditionally_accredited",
                                       "reaccreditation",
                                       "probation",
                                       "suspended",
                                       "expired",
                                       "withdrawn",
                                       "removed",
                                       "revoked",
                                       NULL};

/* ------------------------------------------------------------- validation */

#define END_FIELDS                                                                                 \
  { NULL, 0, 0, 0, 0, NULL, NULL }

static const struct field CEO_FIELDS[] = {{"name", F_STRING, F_REQUIRED, 1, 200, NULL, NULL},
                                          {"title", F_STRING, F_NULLABLE, 1, 200, NULL, NULL},
                                          END_FIELDS};
static const struct field MANAGER_FIELDS[] = {{"name", F_STRING, F_REQUIRED, 1, 200, NULL, NULL},
                                              {"email", F_EMAIL, F_NULLABLE, 3, 254, NULL, NULL},
                                              {"phone", F_STRING, F_NULLABLE, 1, 40, NULL, NULL},
                                              END_FIELDS};
/* In a merge patch nothing inside an object is required: what is absent is kept. */
static const struct field CEO_PATCH_FIELDS[] = {{"name", F_STRING, 0, 1, 200, NULL, NULL},
                                                {"title", F_STRING, F_NULLABLE, 1, 200, NULL, NULL},
                                                END_FIELDS};
static const struct field MANAGER_PATCH_FIELDS[] = {
    {"name", F_STRING, 0, 1, 200, NULL, NULL},
    {"email", F_EMAIL, F_NULLABLE, 3, 254, NULL, NULL},
    {"phone", F_STRING, F_NULLABLE, 1, 40, NULL, NULL},
    END_FIELDS};
static const struct field REPORTING_FIELDS[] = {
    {"frequency", F_ENUM, 0, 0, 0, FREQUENCIES, NULL},
    {"last_report_on", F_DATE, F_NULLABLE, 0, 0, NULL, NULL},
    {"next_report_due", F_DATE, F_NULLABLE, 0, 0, NULL, NULL},
    END_FIELDS};
static const struct field MEMBERSHIP_FIELDS[] = {
    {"member", F_BOOL, 0, 0, 0, NULL, NULL},
    {"member_since", F_DATE, F_NULLABLE, 0, 0, NULL, NULL},
    {"dues_paid_through", F_DATE, F_NULLABLE, 0, 0, NULL, NULL},
    {"external_id", F_STRING, F_NULLABLE, 1, 100, NULL, NULL},
    END_FIELDS};

static const struct field AGENCY_FIELDS[] = {
    {"name", F_STRING, F_REQUIRED, 1, 300, NULL, NULL},
    {"type", F_ENUM, F_REQUIRED, 0, 0, TYPES, NULL},
    {"level", F_ENUM, F_REQUIRED, 0, 0, LEVELS, NULL},
    {"state", F_STRING, F_REQUIRED, 1, 10, NULL, NULL},
    {"ceo", F_OBJECT, F_NULLABLE, 0, 0, NULL, CEO_FIELDS},
    {"accreditation_manager", F_OBJECT, F_NULLABLE, 0, 0, NULL, MANAGER_FIELDS},
    {"acronym", F_STRING, F_NULLABLE, 1, 40, NULL, NULL},
    {"municipality", F_STRING, F_NULLABLE, 1, 200, NULL, NULL},
    {"website", F_URL, F_NULLABLE, 1, 500, NULL, NULL},
    {"regional_manager_id", F_UUID, F_NULLABLE, 0, 0, NULL, NULL},
    {"advisor_ids", F_STRING_ARRAY, 0, 0, 20, NULL, NULL},
    {"tier", F_ENUM, F_NULLABLE, 0, 0, TIERS, NULL},
    {"applied_on", F_DATE, 0, 0, 0, NULL, NULL},
    {"reporting", F_OBJECT, 0, 0, 0, NULL, REPORTING_FIELDS},
    {"membership", F_OBJECT, 0, 0, 0, NULL, MEMBERSHIP_FIELDS},
    {"external_ids", F_JSON, F_NULLABLE, 0, 0, NULL, NULL},
    {"in_program", F_BOOL, 0, 0, 0, NULL, NULL},
    END_FIELDS};

/* The same fields for a PATCH: nothing required, nested objects merge. */
static const struct field AGENCY_PATCH_FIELDS[] = {
    {"name", F_STRING, 0, 1, 300, NULL, NULL},
    {"type", F_ENUM, 0, 0, 0, TYPES, NULL},
    {"level", F_ENUM, 0, 0, 0, LEVELS, NULL},
    {"state", F_STRING, 0, 1, 10, NULL, NULL},
    {"ceo", F_OBJECT, F_NULLABLE, 0, 0, NULL, CEO_PATCH_FIELDS},
    {"accreditation_manager", F_OBJECT, F_NULLABLE, 0, 0, NULL, MANAGER_PATCH_FIELDS},
    {"acronym", F_STRING, F_NULLABLE, 1, 40, NULL, NULL},
    {"municipality", F_STRING, F_NULLABLE, 1, 200, NULL, NULL},
    {"website", F_URL, F_NULLABLE, 1, 500, NULL, NULL},
    {"regional_manager_id", F_UUID, F_NULLABLE, 0, 0, NULL, NULL},
    {"advisor_ids", F_STRING_ARRAY, 0, 0, 20, NULL, NULL},
    {"tier", F_ENUM, F_NULLABLE, 0, 0, TIERS, NULL},
    {"applied_on", F_DATE, 0, 0, 0, NULL, NULL},
    {"reporting", F_OBJECT, 0, 0, 0, NULL, REPORTING_FIELDS},
    {"membership", F_OBJECT, 0, 0, 0, NULL, MEMBERSHIP_FIELDS},
    {"external_ids", F_JSON, F_NULLABLE, 0, 0, NULL, NULL},
    {"in_program", F_BOOL, 0, 0, 0, NULL, NULL},
    END_FIELDS};

/* Fields of the representation that no request sets: the lifecycle moves by transitions,
 * the rest is derived or kept by the service. */
static const char *const READ_ONLY[] = {"id",
                                        "status",
                                        "status_reason",
                                        "status_before_probation",
                                        "approved_on",
                                        "enrolled_on",
                                        "accredited_on",
                                        "accreditation_expires_on",
                                        "withdrawn_on",
                                        "removed_on",
                                        "implementation_plan_due",
                                        "self_assessment_due",
                                        "next_annual_review_due",
                                        "continuation_fees_due",
                                        "demo",
                                        "created_at",
                                        "updated_at",
                                        "version",
                                        NULL};

/* What a role may PATCH: coalition only the CAISPMEX membership; an advisor everything but
 * the membership and the team assignment (the program's administrators assign teams). */
static const char *const COALITION_WRITABLE[] = {"membership", NULL};
static const char *const ADVISOR_UNWRITABLE[] = {"membership", "regional_manager_id", "advisor_ids",
                                                 "in_program", NULL};

static bool listed(const char *const *names, const char *name) {
  for (size_t i = 0; names[i] != NULL; i++)
    if (strcmp(names[i], name) == 0)
      return true;
  return false;
}

/* Reports read-only members and removes them from body, so that validation judges the rest.
 * Returns the number of errors added. */
static int strip_read_only(struct req *r, json_t *body) {
  int errs = 0;
  char ptr[80];
  for (size_t i = 0; READ_ONLY[i] != NULL; i++) {
    if (json_object_get(body, READ_ONLY[i]) == NULL)
      continue;
    snprintf(ptr, sizeof ptr, "/%s", READ_ONLY[i]);
    req_field_error(r, ptr, "read_only", NULL);
    if (strcmp(READ_ONLY[i], "status") == 0 || strstr(READ_ONLY[i], "_on") != NULL)
      req_fail(r, P_VALIDATION,
               "The status and its dates change only through POST /v1/agencies/{id}/transitions.",
               "El estado y sus fechas cambian solo mediante POST "
               "/v1/agencies/{id}/transitions.");
    json_object_del(body, READ_ONLY[i]);
    errs++;
  }
  return errs;
}

/* The members a role may not write in a PATCH, reported as not_allowed. */
static int role_field_errors(struct req *r, const json_t *body) {
  int errs = 0;
  const char *key;
  const json_t *v;
  char ptr[160];
  json_object_foreach((json_t *)body, key, v) {
    bool refused = (r->caller.role == ROLE_COALITION && !listed(COALITION_WRITABLE, key)) ||
                   (r->caller.role == ROLE_ADVISOR && listed(ADVISOR_UNWRITABLE, key));
    if (refused) {
      snprintf(ptr, sizeof ptr, "/%.100s", key);
      req_field_error(r, ptr, "not_allowed", NULL);
      errs++;
    }
  }
  return errs;
}

/* external_ids holds free keys for partner systems; their values are strings. */
static int external_ids_errors(struct req *r, const json_t *body) {
  const json_t *ids = json_object_get(body, "external_ids");
  if (!json_is_object(ids))
    return 0;
  int errs = 0;
  const char *key;
  const json_t *v;
  char ptr[200];
  json_object_foreach((json_t *)ids, key, v) {
    snprintf(ptr, sizeof ptr, "/external_ids/%.100s", key);
    if (strlen(key) == 0 || strlen(key) > 100) {
      req_field_error(r, ptr, "invalid", "keys have 1 to 100 characters");
      errs++;
    } else if (!json_is_string(v) && !json_is_null(v)) {
      req_field_error(r, ptr, "invalid_type", "a string");
      errs++;
    } else if (json_is_string(v) && json_string_length(v) > 200) {
      req_field_error(r, ptr, "too_long", "200");
      errs++;
    }
  }
  return errs;
}

/* What the import (agency_import.c) checks the same way. */

int agency_shape_errors(struct req *r, const json_t *doc, bool patch) {
  return validate_body(r, doc, patch ? AGENCY_PATCH_FIELDS : AGENCY_FIELDS, patch) +
         external_ids_errors(r, doc);
}

bool agency_read_only(const char *name) {
  return listed(READ_ONLY, name);
}

bool agency_role_may_write(enum role role, const char *name) {
  if (role == ROLE_COALITION)
    return listed(COALITION_WRITABLE, name);
  if (role == ROLE_ADVISOR)
    return !listed(ADVISOR_UNWRITABLE, name);
  return true;
}

/* ------------------------------------------------------------------- SQL */

/* Parameters: $1 role, $2 sub, $3 agency_id, $4 updated_since, then the query parameters
 * in AGENCY_QUERY's order ($5 type … $13 q). */
#define AGENCY_WHERE                                                                               \
  "agency_visible_to(a, $1, $3)"                                                                   \
  " AND ($4::timestamptz IS NULL OR a.updated_at >= $4::timestamptz)"                              \
  " AND ($5::text IS NULL OR a.type = $5)"                                                         \
  " AND ($6::text IS NULL OR a.level = $6)"                                                        \
  " AND ($7::text IS NULL OR a.state = $7)"                                                        \
  " AND ($8::jsonb IS NULL OR agency_status(a) IN (SELECT jsonb_array_elements_text($8::jsonb)))"  \
  " AND ($8::jsonb IS NULL OR a.status = ANY (agency_stored_statuses($8::jsonb)))"                 \
  " AND ($9::text IS NULL OR a.tier = $9)"                                                         \
  " AND ($10::boolean IS NULL OR a.member = $10::boolean)"                                         \
  " AND ($11::uuid IS NULL OR $11::uuid = ANY (a.advisor_ids)"                                     \
  "      OR a.regional_manager_id = $11::uuid)"                                                    \
  " AND ($12::boolean IS NULL OR a.in_program = $12::boolean)"                                     \
  " AND ($13::text IS NULL OR fold(a.name || ' ' || coalesce(a.acronym, '') || ' '"                \
  "      || coalesce(a.municipality, '')) LIKE contains_pattern($13))"

/* Pages render with agency_list_json(), agency_json_for() in plpgsql (migration 0008): a list
 * is planned again for each request, and planning the inlined representation cost more than
 * rendering the page. */
static struct db_stmt AGENCY_PAGES[] = {
    PAGE_PAIR("agencies_by_name", "agency_list_json(a, $1)", "agencies a", AGENCY_WHERE, "a.name",
              "text", "14", "15", "16"),
    PAGE_PAIR("agencies_by_created", "agency_list_json(a, $1)", "agencies a", AGENCY_WHERE,
              "a.created_at", "timestamptz", "14", "15", "16"),
    PAGE_PAIR("agencies_by_updated", "agency_list_json(a, $1)", "agencies a", AGENCY_WHERE,
              "a.updated_at", "timestamptz", "14", "15", "16"),
};
static struct db_stmt AGENCY_COUNT = {"agencies_count",
                                      "SELECT count(*) FROM agencies a WHERE " AGENCY_WHERE, 0};
static struct db_stmt *const AGENCY_PAGE_LIST[] = {&AGENCY_PAGES[0], &AGENCY_PAGES[1],
                                                   &AGENCY_PAGES[2], &AGENCY_PAGES[3],
                                                   &AGENCY_PAGES[4], &AGENCY_PAGES[5]};
static const char *const AGENCY_SORTS[] = {"name", "created_at", "updated_at", NULL};
static const struct list_spec AGENCY_LIST = {AGENCY_SORTS, (struct db_stmt **)AGENCY_PAGE_LIST,
                                             &AGENCY_COUNT};

/* The CSV export, streamed in keyset batches (reply_csv_stream): the list's page statements
 * with a CSV record (0007_import.sql) in place of the JSON. */
#define AGENCY_CSV_RECORD "agency_csv_record(a, $1)"
static struct db_stmt AGENCY_CSV_PAGES[] = {
    PAGE_PAIR("agencies_csv_by_name", AGENCY_CSV_RECORD, "agencies a", AGENCY_WHERE, "a.name",
              "text", "14", "15", "16"),
    PAGE_PAIR("agencies_csv_by_created", AGENCY_CSV_RECORD, "agencies a", AGENCY_WHERE,
              "a.created_at", "timestamptz", "14", "15", "16"),
    PAGE_PAIR("agencies_csv_by_updated", AGENCY_CSV_RECORD, "agencies a", AGENCY_WHERE,
              "a.updated_at", "timestamptz", "14", "15", "16"),
};
static struct db_stmt AGENCY_CSV_HEADER = {"agencies_csv_header",
                                           "SELECT rtrim(agency_csv_header($1), E'\\r\\n')", 0};

static struct db_stmt AGENCY_BY_ID = {"agency_by_id",
                                      "SELECT agency_json_for(a, $2) FROM agencies a"
                                      " WHERE a.id = $1::uuid AND agency_visible_to(a, $2, $3)",
                                      0};
static struct db_stmt AGENCY_LOCK = {
    "agency_lock",
    "SELECT agency_json(a), agency_writable_by(a, $2, $3) FROM agencies a"
    " WHERE a.id = $1::uuid FOR UPDATE",
    0};
/* Field errors that need the data. $1 the document (a new agency's, or a patch), $2 the id
 * of the agency a patch applies to (NULL for a new one). */
static struct db_stmt AGENCY_PROBLEMS = {
    "agency_problems",
    "SELECT field, code, arg FROM agency_problems("
    " CASE WHEN $2::uuid IS NULL THEN $1::jsonb"
    "  ELSE (SELECT jsonb_merge_patch(agency_json(x)::jsonb, $1::jsonb)"
    "        FROM agencies x WHERE x.id = $2::uuid) END,"
    " CASE WHEN $2::uuid IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_object_keys($1::jsonb)) END)",
    0};
static struct db_stmt AGENCY_INSERT = {
    "agency_insert", "SELECT agency_json(a), a.id FROM agency_create($1::jsonb, $2, $3, $4) a", 0};
static struct db_stmt AGENCY_UPDATE = {
    "agency_update", "SELECT agency_json(a) FROM agency_update($1::uuid, $2::jsonb) a", 0};
static struct db_stmt AGENCY_DELETE = {"agency_delete", "DELETE FROM agencies WHERE id = $1::uuid",
                                       0};

/* -------------------------------------------------------------- handlers */

static enum problem not_found(struct req *r) {
  return req_fail(r, P_NOT_FOUND, "No agency has this id.", "Ninguna agencia tiene este id.");
}

static bool public_caller(const struct req *r) {
  return r->caller.role == ROLE_ANONYMOUS || r->caller.role == ROLE_PARTNER;
}

/* Adds the field errors found in the database to r; doc is the document (or patch), id the
 * agency a patch applies to or NULL. Returns the number added, or -1 when the query failed. */
static int data_errors(struct req *r, const json_t *doc, const char *id) {
  char *text = json_dumps(doc, JSON_COMPACT);
  const char *p[] = {text, id};
  PGresult *res = req_exec(r, &AGENCY_PROBLEMS, 2, p);
  free(text);
  if (res == NULL)
    return -1;
  int n = PQntuples(res);
  for (int i = 0; i < n; i++)
    req_field_error(r, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                    PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2));
  PQclear(res);
  return n;
}

/* body without the top-level members that already have an error: the database checks only
 * values of the right shape. The caller json_decref()s the copy. */
static json_t *without_erroneous(const struct req *r, const json_t *body) {
  json_t *copy = json_deep_copy(body);
  size_t i;
  const json_t *e;
  json_array_foreach(r->errors, i, e) {
    const char *field = json_string_value(json_object_get(e, "field"));
    if (field == NULL || field[0] != '/')
      continue;
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int)strcspn(field + 1, "/"), field + 1);
    json_object_del(copy, key);
  }
  return copy;
}

/* Checks a create or patch body; returns the number of errors, or -1 on a database failure. */
static int check_body(struct req *r, json_t *body, const char *patch_of) {
  bool empty = json_object_size(body) == 0;
  int errs = strip_read_only(r, body);
  if (patch_of != NULL)
    errs += role_field_errors(r, body);
  /* A patch of nothing but read-only members has had its errors already. */
  if (empty || json_object_size(body) > 0)
    errs +=
        validate_body(r, body, patch_of ? AGENCY_PATCH_FIELDS : AGENCY_FIELDS, patch_of != NULL);
  errs += external_ids_errors(r, body);
  json_t *valid = without_erroneous(r, body);
  int found = json_object_size(valid) > 0 ? data_errors(r, valid, patch_of) : 0;
  json_decref(valid);
  return found < 0 ? -1 : errs + found;
}

/* Maps the database's refusal of an agency write. */
static enum problem write_refused(struct req *r) {
  if (r->db->status == DB_UNIQUE && strstr(r->db->constraint, "membership_external_id"))
    return req_fail(r, P_CONFLICT, "Another agency has this membership.external_id.",
                    "Otra agencia tiene este membership.external_id.");
  if (r->db->status == DB_CHECK && strstr(r->db->constraint, "_shape") != NULL) {
    req_field_error(r,
                    strstr(r->db->constraint, "ceo") ? "/ceo/name" : "/accreditation_manager/name",
                    "required", NULL);
    return req_fail(r, P_VALIDATION, NULL, NULL);
  }
  if (r->db->status == DB_CHECK &&
      strcmp(r->db->constraint, "agencies_tier_law_enforcement") == 0) {
    req_field_error(r, "/tier", "invalid", "only law-enforcement agencies have a tier");
    return req_fail(r, P_VALIDATION, NULL, NULL);
  }
  return r->problem;
}

static enum problem agency_csv(struct req *r) {
  static const char *const PAGING[] = {"limit", "cursor", "count", NULL};
  for (size_t i = 0; PAGING[i] != NULL; i++)
    if (req_query_value(r, PAGING[i]) != NULL) {
      char ptr[32];
      snprintf(ptr, sizeof ptr, "/query/%s", PAGING[i]);
      req_field_error(r, ptr, "invalid", "not with Accept: text/csv, which answers every page");
    }
  const char *sort = req_query_value(r, "sort");
  if (sort == NULL)
    sort = AGENCY_SORTS[0];
  bool desc = sort[0] == '-';
  size_t k = 0;
  while (AGENCY_SORTS[k] != NULL && strcmp(AGENCY_SORTS[k], sort + desc) != 0)
    k++;
  if (AGENCY_SORTS[k] == NULL)
    req_field_error(r, "/query/sort", "invalid_enum",
                    "name, -name, created_at, -created_at, updated_at, -updated_at");
  if (r->errors != NULL)
    return req_fail(r, P_INVALID_QUERY, NULL, NULL);

  const struct qparam *q = r->route->query;
  const char *p[13] = {role_name(r->caller.role), r->caller.sub[0] ? r->caller.sub : NULL,
                       r->caller.agency_id[0] ? r->caller.agency_id : NULL,
                       req_query_value(r, "updated_since")};
  char *owned[9] = {NULL};
  for (int i = 0; i < 9; i++)
    p[4 + i] = owned[i] = req_query_sql(r, &q[i]);
  enum problem rc;
  PGresult *header = req_exec(r, &AGENCY_CSV_HEADER, 1, p);
  if (header == NULL) {
    rc = r->problem;
    goto out;
  }
  reply_header(r, "Content-Disposition", "attachment; filename=\"agencies.csv\"");
  rc = reply_csv_stream(r, &AGENCY_CSV_PAGES[2 * k + desc], 13, p, PQgetvalue(header, 0, 0));
out:
  PQclear(header);
  for (int i = 0; i < 9; i++)
    free(owned[i]);
  return rc;
}

static enum problem agency_list(struct req *r) {
  /* Membership and team assignment are not public: filtering on them would reveal them. */
  if (public_caller(r)) {
    if (req_query_value(r, "member") != NULL)
      req_field_error(r, "/query/member", "not_allowed", NULL);
    if (req_query_value(r, "advisor_id") != NULL)
      req_field_error(r, "/query/advisor_id", "not_allowed", NULL);
    if (r->errors != NULL)
      return req_fail(r, P_INVALID_QUERY, NULL, NULL);
  }
  /* The same URL answers JSON or CSV: caches must key on Accept. */
  reply_header(r, "Vary", req_header(r, "Origin") ? "Accept, Origin" : "Accept");
  const char *accept = req_header(r, "Accept");
  if (accept != NULL && strstr(accept, "text/csv") != NULL)
    return agency_csv(r);
  return list_respond(r, &AGENCY_LIST);
}

static enum problem agency_get(struct req *r) {
  const char *id = req_path_param(r, "id");
  if (!uuid_valid(id))
    return not_found(r);
  const char *p[] = {id, role_name(r->caller.role),
                     r->caller.agency_id[0] ? r->caller.agency_id : NULL};
  return reply_row(r, req_exec(r, &AGENCY_BY_ID, 3, p), not_found);
}

static enum problem agency_create(struct req *r) {
  PGresult *res = NULL;
  char *text = NULL;
  enum problem rc = P_NONE;
  int errs = check_body(r, r->body, NULL);
  if (errs != 0) {
    rc = errs < 0 ? r->problem : req_fail(r, P_VALIDATION, NULL, NULL);
    goto out;
  }
  text = json_dumps(r->body, JSON_COMPACT);
  const char *p[] = {text, r->caller.sub[0] ? r->caller.sub : "anonymous",
                     role_name(r->caller.role), r->request_id};
  res = req_exec(r, &AGENCY_INSERT, 4, p);
  if (res == NULL) {
    rc = write_refused(r);
    goto out;
  }
  rc = reply_created(r, "agency", "/v1/agencies", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
out:
  free(text);
  PQclear(res);
  return rc;
}

/* Locks the agency's row, checks that the caller may write it and If-Match; *current is the
 * row (agency_json, writable) to PQclear. */
static enum problem lock_current(struct req *r, const char *id, PGresult **current) {
  *current = NULL;
  if (!uuid_valid(id))
    return not_found(r);
  const char *p[] = {id, role_name(r->caller.role), r->caller.sub};
  PGresult *res = req_exec(r, &AGENCY_LOCK, 3, p);
  if (res == NULL)
    return r->problem;
  *current = res;
  if (PQntuples(res) == 0)
    return not_found(r);
  if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
    return req_fail(r, P_FORBIDDEN, "Only the agency's assigned advisors may change it.",
                    "Solo los asesores asignados a la agencia pueden modificarla.");
  return req_check_if_match(r, PQgetvalue(res, 0, 0));
}

static enum problem agency_patch(struct req *r) {
  const char *id = req_path_param(r, "id");
  PGresult *current = NULL, *res = NULL;
  char *text = NULL;
  enum problem rc = lock_current(r, id, &current);
  if (rc != P_NONE)
    goto out;
  int errs = check_body(r, r->body, id);
  if (errs != 0) {
    rc = errs < 0 ? r->problem : req_fail(r, P_VALIDATION, NULL, NULL);
    goto out;
  }
  text = json_dumps(r->body, JSON_COMPACT);
  const char *p[] = {id, text};
  res = req_exec(r, &AGENCY_UPDATE, 2, p);
  if (res == NULL) {
    rc = write_refused(r);
    goto out;
  }
  rc = reply_updated(r, "agency", id, PQgetvalue(current, 0, 0), PQgetvalue(res, 0, 0));
out:
  free(text);
  PQclear(current);
  PQclear(res);
  return rc;
}

static enum problem agency_delete(struct req *r) {
  const char *id = req_path_param(r, "id");
  PGresult *current = NULL, *res = NULL;
  enum problem rc = lock_current(r, id, &current);
  if (rc != P_NONE)
    goto out;
  /* Users' link to their agency is checked at commit; check it now, to answer 409. */
  if (db_command(r->db, "SET CONSTRAINTS users_agency_fk IMMEDIATE") != A_OK) {
    rc = problem_from_db(r, r->db);
    goto out;
  }
  const char *p[] = {id};
  res = req_exec(r, &AGENCY_DELETE, 1, p);
  if (res == NULL) {
    rc = r->db->status == DB_FOREIGN_KEY
             ? req_fail(r, P_CONFLICT,
                        "Other records (users, tasks, …) still refer to this agency; remove "
                        "them first, or withdraw the agency instead.",
                        "Otros registros (usuarios, tareas, …) aún hacen referencia a esta "
                        "agencia; elimínelos primero, o retire la agencia.")
             : r->problem;
    goto out;
  }
  rc = reply_deleted(r, "agency", id, PQgetvalue(current, 0, 0));
out:
  PQclear(current);
  PQclear(res);
  return rc;
}

/* In the order of the $5 … $13 parameters of AGENCY_WHERE. */
static const struct qparam AGENCY_QUERY[] = {
    {"type", Q_ENUM, false, TYPES},      {"level", Q_ENUM, false, LEVELS},
    {"state", Q_STRING, false, NULL},    {"status", Q_ENUM, true, STATUSES},
    {"tier", Q_ENUM, false, TIERS},      {"member", Q_BOOL, false, NULL},
    {"advisor_id", Q_UUID, false, NULL}, {"in_program", Q_BOOL, false, NULL},
    {"q", Q_STRING, false, NULL},        {NULL, 0, false, NULL}};

static const struct route ROUTES[] = {
    {"GET", "/v1/agencies", ROLES_ALL, agency_list, R_LIST, AGENCY_QUERY, NULL},
    {"POST", "/v1/agencies", ROLE_ADMIN, agency_create, R_BODY_JSON | R_IDEMPOTENT, NULL, NULL},
    {"GET", "/v1/agencies/:id", ROLES_ALL, agency_get, 0, NULL, NULL},
    {"PATCH", "/v1/agencies/:id", ROLE_ADMIN | ROLE_ADVISOR | ROLE_COALITION, agency_patch,
     R_BODY_JSON | R_TX, NULL, NULL},
    {"DELETE", "/v1/agencies/:id", ROLE_ADMIN, agency_delete, R_TX, NULL, NULL},
    {NULL, NULL, 0, NULL, 0, NULL, NULL}};

const struct route_table AGENCY_ROUTES = {"agencies", ROUTES};
