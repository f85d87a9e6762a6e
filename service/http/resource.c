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
 *
 * Records kept for their history (a spec with a restore statement) are never deleted by
 * DELETE: it archives them. They leave every read but an admin's ?archived=true, and come
 * back with restore. Erasing one for real takes a reason and a record without history.
 */
#include "http/http.h"

#include "db/records.h"

#include <orcania.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RP_ID, RP_BODY, RP_ROLE, RP_SUB, RP_AGENCY, RP_PARENT, RP_REQUEST, RP_ARCHIVED, RP_COUNT };
_Static_assert(RP_COUNT == RESOURCE_PARAMS, "the parameters of struct resource's statements");

void resource_bind(struct req *r, const char *body, const char *p[RP_COUNT]) {
  struct resource *s = r->route->resource;
  p[RP_ID] = req_path_param(r, s->id_param != NULL ? s->id_param : "id");
  p[RP_BODY] = body;
  p[RP_ROLE] = role_name(r->caller.role);
  p[RP_SUB] = req_caller_sub(r);
  p[RP_AGENCY] = req_caller_agency(r);
  p[RP_PARENT] = s->parent_param != NULL ? req_path_param(r, s->parent_param) : NULL;
  p[RP_REQUEST] = r->request_id;
  p[RP_ARCHIVED] = req_query_value(r, "archived");
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
  json_drop_erroneous(copy, r->errors);
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
  if (req_archived_refused(r))
    return r->problem;
  if (!path_ids_valid(r, p))
    return resource_missing(r);
  return reply_row(r, req_exec(r, &s->get, RP_COUNT, p), resource_missing);
}

/* Runs a write (create, or update when before is the current representation) with the
 * body, then the resource's after hook, and answers it: 201 with Location for a new record
 * (the statement returns its id too), 200 for a changed one. */
static enum problem write_record(struct req *r, struct db_stmt *stmt, const char *p[RP_COUNT],
                                 const char *before) {
  struct resource *s = r->route->resource;
  PGresult *reread = NULL;
  char *text = json_dumps(r->body, JSON_COMPACT);
  p[RP_BODY] = text;
  PGresult *res = req_exec(r, stmt, RP_COUNT, p);
  enum problem rc;
  if (res == NULL) {
    rc = req_refused(r, s->refusals);
  } else if (PQntuples(res) == 0) {
    rc = forbidden(r);
  } else {
    const char *id = before == NULL ? PQgetvalue(res, 0, 1) : p[RP_ID];
    rc = after_write(r, id, &reread);
    const char *json = PQgetvalue(reread != NULL ? reread : res, 0, 0);
    if (rc == P_NONE && before == NULL)
      rc = reply_created(r, s->name, s->collection != NULL ? s->collection : r->in->url_path, id,
                         json);
    /* A create's third column holds what this answer alone shows (a secret), never audited. */
    if (rc == P_NONE && before == NULL && PQnfields(res) > 2 && !PQgetisnull(res, 0, 2))
      rc = reply_revealing(r, 201, json, PQgetvalue(res, 0, 2));
    else if (rc == P_NONE && before != NULL)
      rc = reply_updated(r, s->name, id, before, json);
  }
  free(text);
  PQclear(res);
  PQclear(reread);
  return rc;
}

enum problem resource_create(struct req *r) {
  struct resource *s = r->route->resource;
  const char *p[RP_COUNT];
  resource_bind(r, NULL, p);
  if (s->parent_param != NULL && !uuid_valid(p[RP_PARENT]))
    return resource_missing(r);
  validate_body(r, r->body, s->fields, BODY_NEW);
  json_t *doc = fit_for_database(r, r->body);
  enum problem rc = check_rules(r, doc, NULL);
  json_decref(doc);
  return rc != P_NONE ? rc : write_record(r, &s->create, p, NULL);
}

/* True when the lock's row (see struct resource) is of an archived record. */
static bool locked_archived(const PGresult *res) {
  return PQnfields(res) > 3 && strcmp(PQgetvalue(res, 0, 3), "t") == 0;
}

/* Locks the record (with the patch document p[RP_BODY], or none) and checks the caller may
 * write it and If-Match. An archived record is missing unless archived_ok. On P_NONE
 * *current is the lock's row: the current representation, the patched document, whether the
 * caller may write it, whether it is archived. */
static enum problem lock_record(struct req *r, const char *p[RP_COUNT], bool archived_ok,
                                PGresult **current) {
  struct resource *s = r->route->resource;
  *current = NULL;
  if (!path_ids_valid(r, p))
    return resource_missing(r);
  PGresult *res = req_exec(r, &s->lock, RP_COUNT, p);
  if (res == NULL)
    return r->problem;
  *current = res;
  if (PQntuples(res) == 0 || (!archived_ok && locked_archived(res)))
    return resource_missing(r);
  if (PQnfields(res) > 2 && strcmp(PQgetvalue(res, 0, 2), "f") == 0)
    return forbidden(r);
  return req_check_if_match(r, PQgetvalue(res, 0, 0));
}

enum problem resource_lock(struct req *r, const char *p[RP_COUNT], PGresult **current) {
  return lock_record(r, p, false, current);
}

enum problem resource_patch(struct req *r) {
  struct resource *s = r->route->resource;
  PGresult *current = NULL;
  json_t *doc = NULL;
  const char *p[RP_COUNT];
  resource_bind(r, NULL, p);
  validate_body(r, r->body, s->fields, BODY_PATCH);
  json_t *valid = fit_for_database(r, r->body);
  char *valid_text = json_dumps(valid, JSON_COMPACT);
  p[RP_BODY] = valid_text;
  enum problem rc = lock_record(r, p, false, &current);
  if (rc != P_NONE)
    goto out;
  if (PQnfields(current) > 1 && !PQgetisnull(current, 0, 1))
    doc = json_loads(PQgetvalue(current, 0, 1), 0, NULL);
  if ((rc = check_rules(r, doc, p[RP_ID])) == P_NONE)
    rc = write_record(r, &s->update, p, PQgetvalue(current, 0, 0));
out:
  json_decref(valid);
  json_decref(doc);
  free(valid_text);
  PQclear(current);
  return rc;
}

/* A write on a locked record, other than a patch (remove, restore, erase). */
struct locked_write {
  struct db_stmt *stmt; /* runs on the record once locked */
  bool archived_ok;     /* the record may be archived */
  /* Judges the locked row (p the statements' parameters) before stmt runs: P_NONE or the
   * answer. NULL: nothing to judge. */
  enum problem (*ready)(struct req *r, const char *const *p, PGresult *current);
  const char *action;  /* the audit's */
  bool answers_record; /* 200 with stmt's representation (the audit's after); else 204 */
  const char *note;    /* the audit's note, or NULL */
};

/* Locks, judges, runs, audits and answers, in that order, for every such write. */
static enum problem locked_write(struct req *r, const struct locked_write *w) {
  struct resource *s = r->route->resource;
  PGresult *current = NULL, *res = NULL;
  const char *p[RP_COUNT];
  resource_bind(r, NULL, p);
  enum problem rc = lock_record(r, p, w->archived_ok, &current);
  if (rc == P_NONE && w->ready != NULL)
    rc = w->ready(r, p, current);
  if (rc != P_NONE)
    goto out;
  res = req_exec(r, w->stmt, RP_COUNT, p);
  if (res == NULL) {
    rc = req_refused(r, s->refusals);
    goto out;
  }
  const char *after = w->answers_record ? PQgetvalue(res, 0, 0) : NULL;
  rc = req_audit_note(r, w->action, s->name, p[RP_ID], after ? NULL : PQgetvalue(current, 0, 0),
                      after, w->note);
  if (rc == P_NONE)
    rc = after ? reply_json(r, 200, after) : reply_empty(r, 204);
out:
  PQclear(current);
  PQclear(res);
  return rc;
}

/* A record kept for its history is archived (a tombstone in the change feed); any other is
 * deleted. */
enum problem resource_delete(struct req *r) {
  struct resource *s = r->route->resource;
  const struct locked_write w = {
      &s->remove, false, NULL, s->restore.name != NULL ? "archived" : "deleted", false, NULL};
  return locked_write(r, &w);
}

static enum problem archived_only(struct req *r, const char *const *p, PGresult *current) {
  (void)p;
  return locked_archived(current) ? P_NONE
                                  : req_fail(r, P_CONFLICT, "This record is not archived.",
                                             "Este registro no está archivado.");
}

enum problem resource_restore(struct req *r) {
  const struct locked_write w = {
      &r->route->resource->restore, true, archived_only, "restored", true, NULL};
  return locked_write(r, &w);
}

/* The 409 of an erasure refused: what depends on the record (deps, a JSON object of counts),
 * in the detail and as the problem's member "dependents". */
static enum problem erase_refused(struct req *r, const char *deps) {
  json_t *counts = json_loads(deps, 0, NULL);
  char names[256] = "";
  const char *key;
  const json_t *n;
  json_object_foreach(counts, key, n) {
    size_t used = strlen(names);
    snprintf(names + used, sizeof names - used, "%s%s (%lld)", used ? ", " : "", key,
             (long long)json_integer_value(n));
  }
  r->problem_members = json_pack("{s:o}", "dependents", counts);
  return req_fail(r, P_CONFLICT,
                  "Only a record without history can be erased; this one has %s. Archive it "
                  "instead (DELETE).",
                  "Solo se puede borrar un registro sin historial; este tiene %s. Archívelo en su "
                  "lugar (DELETE).",
                  names);
}

/* Only a record nothing depends on is erased. */
static enum problem without_history(struct req *r, const char *const *p, PGresult *current) {
  (void)current;
  PGresult *deps = req_exec(r, &r->route->resource->dependents, RP_COUNT, p);
  if (deps == NULL)
    return r->problem;
  const char *counts = PQgetvalue(deps, 0, 0);
  enum problem rc = strcmp(counts, "{}") == 0 ? P_NONE : erase_refused(r, counts);
  PQclear(deps);
  return rc;
}

static const struct field ERASE_FIELDS[] = {{"reason", F_STRING, F_REQUIRED, 1, 2000}, {NULL}};

enum problem resource_erase(struct req *r) {
  if (validate_body(r, r->body, ERASE_FIELDS, BODY_NEW) > 0)
    return req_fail(r, P_VALIDATION, NULL, NULL);
  const struct locked_write w = {
      &r->route->resource->erase,  true, without_history, "erased", false,
      req_body_string(r, "reason")};
  return locked_write(r, &w);
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
  return req_audit_note(r, action, resource, id, before, after, NULL);
}

enum problem req_audit_note(struct req *r, const char *action, const char *resource, const char *id,
                            const char *before, const char *after, const char *note) {
  if (req_db(r) == NULL)
    return r->problem;
  long long change_id = 0;
  int journaled = db_audit(r->db, &r->caller, r->request_id, action, resource, id, before, after,
                           note, &change_id);
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

enum problem reply_revealing(struct req *r, long status, const char *json, const char *shown_once) {
  json_t *body = json_loads(json, 0, NULL), *once = json_loads(shown_once, 0, NULL);
  if (!json_is_object(body) || !json_is_object(once)) {
    json_decref(body);
    json_decref(once);
    return req_fail(r, P_INTERNAL, NULL, NULL);
  }
  /* A replay of the request (Idempotency-Key) is stored without the secret: each of its
   * members is null there, and "<member>_shown": true says it was shown once already. */
  json_t *replay = json_deep_copy(body), *v;
  const char *k;
  json_object_foreach(once, k, v) {
    char shown[96];
    snprintf(shown, sizeof shown, "%.80s_shown", k);
    json_object_set_new(replay, k, json_null());
    json_object_set_new(replay, shown, json_true());
  }
  free(r->replay_body);
  r->replay_body = json_dumps(replay, JSON_COMPACT);
  json_decref(replay);
  json_object_update(body, once);
  json_decref(once);
  reply_header(r, "Cache-Control", "no-store");
  return reply_jansson(r, status, body);
}
