/*
 * resource.c — the handlers every stored resource shares, driven by its spec (struct
 * resource): read one record, create, patch and delete, each in one order for every
 * resource. A write is
 *   1. the body checked against the field table (no database: every shape error at once),
 *   2. the record locked (404, 403 when the caller may not write it, 412 on a stale If-Match),
 *   3. the rules that need the data checked on the document the write makes (the resource's
 *      check hook; a patch's document is merged in PostgreSQL, jsonb_merge_patch),
 *   4. the statement, whose refusal (a constraint, a raised rule) the resource's refusal
 *      table turns into an answer,
 *   5. the audit entry and change-feed row, and the answer.
 * A resource keeps only its SQL, its field table, its refusals and its hooks.
 */
#include "http/http.h"

#include "db/records.h"

#include <orcania.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RP_ID, RP_BODY, RP_ROLE, RP_SUB, RP_AGENCY, RP_PARENT, RP_REQUEST, RP_COUNT };
_Static_assert(RP_COUNT == RESOURCE_PARAMS, "struct resource's parameter vector");

void resource_bind(struct req *r, const char *body, const char *p[RP_COUNT]) {
  struct resource *s = r->route->resource;
  p[RP_ID] = req_path_param(r, s->id_param != NULL ? s->id_param : "id");
  p[RP_BODY] = body;
  p[RP_ROLE] = role_name(r->caller.role);
  p[RP_SUB] = req_caller_sub(r);
  p[RP_AGENCY] = req_caller_agency(r);
  p[RP_PARENT] = s->parent_param != NULL ? req_path_param(r, s->parent_param) : NULL;
  p[RP_REQUEST] = r->request_id;
}

/* True when the path names a record that could exist (UUIDs); a 404 otherwise. */
static bool path_ids_valid(const struct req *r, const char *p[RP_COUNT]) {
  return uuid_valid(p[RP_ID]) &&
         (r->route->resource->parent_param == NULL || uuid_valid(p[RP_PARENT]));
}

enum problem resource_missing(struct req *r) {
  struct resource *s = r->route->resource;
  return req_fail(r, P_NOT_FOUND, "%s", "%s", r->lang == LANG_ES ? s->missing_es : s->missing_en);
}

static enum problem forbidden(struct req *r) {
  struct resource *s = r->route->resource;
  if (s->forbidden_en == NULL)
    return req_fail(r, P_FORBIDDEN, "You may not change this record.",
                    "No puede modificar este registro.");
  return req_fail(r, P_FORBIDDEN, "%s", "%s",
                  r->lang == LANG_ES ? s->forbidden_es : s->forbidden_en);
}

/* body without the top-level members that already have an error (the rules that need the
 * data judge only values of the right shape) and without secrets. The caller json_decref()s
 * the copy. */
static json_t *fit_for_database(const struct req *r, const json_t *body) {
  json_t *copy = json_deep_copy(body);
  for (const struct field *f = r->route->resource->fields; f->name != NULL; f++)
    if (f->flags & F_SECRET)
      json_object_del(copy, f->name);
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

/* Runs the resource's check hook on doc, after the field table's checks: P_NONE, a 422
 * when either found an error, or the hook's failure. */
static enum problem check_rules(struct req *r, json_t *doc, const char *id) {
  struct resource *s = r->route->resource;
  if (s->check != NULL && doc != NULL && s->check(r, doc, id) != A_OK)
    return r->problem;
  return r->errors != NULL ? req_fail(r, P_VALIDATION, NULL, NULL) : P_NONE;
}

/* After a write: the resource's after hook, then the record as get reads it (into *json,
 * which the caller PQclears), when there is a hook. */
static enum problem after_write(struct req *r, const char *id, PGresult **reread) {
  struct resource *s = r->route->resource;
  *reread = NULL;
  if (s->after == NULL)
    return P_NONE;
  enum problem rc = s->after(r, id);
  if (rc != P_NONE)
    return rc;
  const char *p[RP_COUNT];
  resource_bind(r, NULL, p);
  p[RP_ID] = id;
  *reread = req_exec(r, &s->get, RP_COUNT, p);
  return *reread == NULL ? r->problem : P_NONE;
}

enum problem resource_get(struct req *r) {
  struct resource *s = r->route->resource;
  const char *p[RP_COUNT];
  resource_bind(r, NULL, p);
  if (!path_ids_valid(r, p))
    return resource_missing(r);
  return reply_row(r, req_exec(r, &s->get, RP_COUNT, p), resource_missing);
}

enum problem resource_create(struct req *r) {
  struct resource *s = r->route->resource;
  PGresult *res = NULL, *reread = NULL;
  char *text = NULL;
  enum problem rc = P_NONE;
  const char *p[RP_COUNT];
  resource_bind(r, NULL, p);
  if (s->parent_param != NULL && !uuid_valid(p[RP_PARENT]))
    return resource_missing(r);
  validate_body(r, r->body, s->fields, BODY_NEW);
  json_t *doc = fit_for_database(r, r->body);
  rc = check_rules(r, doc, NULL);
  json_decref(doc);
  if (rc != P_NONE)
    return rc;
  text = json_dumps(r->body, JSON_COMPACT);
  p[RP_BODY] = text;
  res = req_exec(r, &s->create, RP_COUNT, p);
  if (res == NULL) {
    rc = req_refused(r, s->refusals);
    goto out;
  }
  if (PQntuples(res) == 0) {
    rc = forbidden(r);
    goto out;
  }
  const char *id = PQgetvalue(res, 0, 1);
  rc = after_write(r, id, &reread);
  const char *json = PQgetvalue(reread != NULL ? reread : res, 0, 0);
  if (rc == P_NONE)
    rc = reply_created(r, s->name, s->collection != NULL ? s->collection : r->in->url_path, id,
                       json);
  /* A third column holds what this answer alone shows (a secret), never audited. */
  if (rc == P_NONE && PQnfields(res) > 2 && !PQgetisnull(res, 0, 2))
    rc = reply_revealing(r, 201, json, PQgetvalue(res, 0, 2));
out:
  free(text);
  PQclear(res);
  PQclear(reread);
  return rc;
}

enum problem resource_lock(struct req *r, const char *p[RP_COUNT], PGresult **current) {
  struct resource *s = r->route->resource;
  *current = NULL;
  if (!path_ids_valid(r, p))
    return resource_missing(r);
  PGresult *res = req_exec(r, &s->lock, RP_COUNT, p);
  if (res == NULL)
    return r->problem;
  *current = res;
  if (PQntuples(res) == 0)
    return resource_missing(r);
  if (PQnfields(res) > 2 && strcmp(PQgetvalue(res, 0, 2), "f") == 0)
    return forbidden(r);
  return req_check_if_match(r, PQgetvalue(res, 0, 0));
}

enum problem resource_patch(struct req *r) {
  struct resource *s = r->route->resource;
  PGresult *current = NULL, *res = NULL, *reread = NULL;
  json_t *valid = NULL, *doc = NULL;
  char *valid_text = NULL, *text = NULL;
  const char *p[RP_COUNT];
  resource_bind(r, NULL, p);
  validate_body(r, r->body, s->fields, BODY_PATCH);
  valid = fit_for_database(r, r->body);
  valid_text = json_dumps(valid, JSON_COMPACT);
  p[RP_BODY] = valid_text;
  enum problem rc = resource_lock(r, p, &current);
  if (rc != P_NONE)
    goto out;
  if (PQnfields(current) > 1 && !PQgetisnull(current, 0, 1))
    doc = json_loads(PQgetvalue(current, 0, 1), 0, NULL);
  if ((rc = check_rules(r, doc, p[RP_ID])) != P_NONE)
    goto out;
  text = json_dumps(r->body, JSON_COMPACT);
  p[RP_BODY] = text;
  res = req_exec(r, &s->update, RP_COUNT, p);
  if (res == NULL) {
    rc = req_refused(r, s->refusals);
    goto out;
  }
  rc = after_write(r, p[RP_ID], &reread);
  if (rc == P_NONE)
    rc = reply_updated(r, s->name, p[RP_ID], PQgetvalue(current, 0, 0),
                       PQgetvalue(reread != NULL ? reread : res, 0, 0));
out:
  json_decref(valid);
  json_decref(doc);
  free(valid_text);
  free(text);
  PQclear(current);
  PQclear(res);
  PQclear(reread);
  return rc;
}

enum problem resource_delete(struct req *r) {
  struct resource *s = r->route->resource;
  PGresult *current = NULL, *res = NULL;
  const char *p[RP_COUNT];
  resource_bind(r, NULL, p);
  enum problem rc = resource_lock(r, p, &current);
  if (rc != P_NONE)
    goto out;
  res = req_exec(r, &s->remove, RP_COUNT, p);
  rc = res == NULL ? req_refused(r, s->refusals)
                   : reply_deleted(r, s->name, p[RP_ID], PQgetvalue(current, 0, 0));
out:
  PQclear(current);
  PQclear(res);
  return rc;
}

/* ------------------------------------------------------------- answers */

enum problem reply_row(struct req *r, PGresult *res, handler_fn not_found) {
  if (res == NULL)
    return r->problem;
  enum problem rc = PQntuples(res) == 1 ? reply_json(r, 200, PQgetvalue(res, 0, 0)) : not_found(r);
  PQclear(res);
  return rc;
}

enum problem req_audit(struct req *r, const char *action, const char *resource, const char *id,
                       const char *before, const char *after) {
  if (req_db(r) == NULL)
    return r->problem;
  long long change_id = 0;
  int journaled =
      db_audit(r->db, &r->caller, r->request_id, action, resource, id, before, after, &change_id);
  if (journaled < 0)
    return problem_from_db(r, r->db);
  if (journaled > 0)
    r->journal_ids = mstrcatf(r->journal_ids, "%s%lld", r->journal_ids ? "," : "", change_id);
  return P_NONE;
}

enum problem reply_created(struct req *r, const char *resource, const char *collection,
                           const char *id, const char *json) {
  enum problem rc = req_audit(r, "created", resource, id, NULL, json);
  if (rc != P_NONE)
    return rc;
  char location[512];
  snprintf(location, sizeof location, "%s/%s", collection, id);
  reply_header(r, "Location", location);
  return reply_json(r, 201, json);
}

enum problem reply_updated(struct req *r, const char *resource, const char *id, const char *before,
                           const char *after) {
  enum problem rc = req_audit(r, "updated", resource, id, before, after);
  return rc != P_NONE ? rc : reply_json(r, 200, after);
}

enum problem reply_deleted(struct req *r, const char *resource, const char *id,
                           const char *before) {
  enum problem rc = req_audit(r, "deleted", resource, id, before, NULL);
  return rc != P_NONE ? rc : reply_empty(r, 204);
}

enum problem reply_revealing(struct req *r, long status, const char *json, const char *shown_once) {
  json_t *body = json_loads(json, 0, NULL), *once = json_loads(shown_once, 0, NULL);
  if (!json_is_object(body) || !json_is_object(once)) {
    json_decref(body);
    json_decref(once);
    return req_fail(r, P_INTERNAL, NULL, NULL);
  }
  json_object_update(body, once);
  json_decref(once);
  reply_header(r, "Cache-Control", "no-store");
  return reply_jansson(r, status, body);
}
