/*
 * webhooks.c — /v1/webhooks: subscriptions to the change feed, delivered as Standard Webhooks
 * (issue 16; API.md §11).
 *
 * Partner systems, the coalition and administrators subscribe with a URL (https; http and
 * loopback only in development, WEBHOOK_ALLOW_LOOPBACK), the events they want ("agency.updated",
 * "task.*": the feed's resources and actions) and a secret ("whsec_" and base64), generated
 * when none is given and shown once, in the creating answer and in a rotation's. Each sees
 * and changes only its own subscriptions (administrators all). A partner hears only what its
 * change feed shows: agency changes to public fields.
 *
 * Deliveries come from the change feed (db/functions/12_webhooks.sql) and are sent by
 * webhooks/worker.c. Each subscription's deliveries form its log (status, every attempt's
 * answer and latency); any of them can be redelivered, and a subscription that was disabled
 * (410 Gone, or failing for longer than the three days of retries) says why until its owner
 * enables it again.
 */
#include "resources/resources.h"
#include "resources/sql.h"

#include "webhooks/webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEED_EVENTS(resource)                                                                      \
  resource ".*", resource ".created", resource ".updated", resource ".deleted"
static const char *const EVENT_VALUES[] = {FEED_EVENTS("agency"),       "agency.transitioned",
                                           FEED_EVENTS("transition"),   FEED_EVENTS("standard"),
                                           FEED_EVENTS("compliance"),   FEED_EVENTS("task"),
                                           FEED_EVENTS("webinar"),      FEED_EVENTS("workshop"),
                                           FEED_EVENTS("registration"), NULL};
static const char *const DELIVERY_STATUS_VALUES[] = {"pending", "succeeded", "failed", NULL};

static enum problem webhook_rotate(struct req *r);
static enum problem delivery_list(struct req *r);
static enum problem delivery_redeliver(struct req *r);
static struct resource WEBHOOK, DELIVERY;
static struct list_spec WEBHOOK_LIST, DELIVERY_LIST;

/* In the order of the list statements' parameters from $5. */
static const struct qparam WEBHOOK_QUERY[] = {{"enabled", Q_BOOL}, {NULL}};
static const struct qparam DELIVERY_QUERY[] = {
    {"id", Q_PATH}, {"status", Q_ENUM, true, DELIVERY_STATUS_VALUES}, {NULL}};

#define OWNERS (ROLE_ADMIN | ROLE_COALITION | ROLE_PARTNER)

static const struct route ROUTES[] = {
    {"GET", "/v1/webhooks", OWNERS, list_respond, R_LIST, WEBHOOK_QUERY, .list = &WEBHOOK_LIST},
    {"POST", "/v1/webhooks", OWNERS, resource_create, R_BODY_JSON | R_IDEMPOTENT,
     .resource = &WEBHOOK},
    {"GET", "/v1/webhooks/:id", OWNERS, resource_get, .resource = &WEBHOOK},
    {"PATCH", "/v1/webhooks/:id", OWNERS, resource_patch, R_BODY_JSON | R_TX, .resource = &WEBHOOK},
    {"DELETE", "/v1/webhooks/:id", OWNERS, resource_delete, R_TX, .resource = &WEBHOOK},
    {"POST", "/v1/webhooks/:id/rotate-secret", OWNERS, webhook_rotate, R_IDEMPOTENT,
     .resource = &WEBHOOK},
    {"GET", "/v1/webhooks/:id/deliveries", OWNERS, delivery_list, R_LIST, DELIVERY_QUERY,
     .resource = &WEBHOOK, .list = &DELIVERY_LIST},
    {"GET", "/v1/webhooks/:id/deliveries/:did", OWNERS, resource_get, .resource = &DELIVERY},
    {"POST", "/v1/webhooks/:id/deliveries/:did/redeliver", OWNERS, delivery_redeliver, R_IDEMPOTENT,
     .resource = &DELIVERY},
    {NULL}};

const struct route_table WEBHOOK_ROUTES = {"webhooks", ROUTES};

/* ------------------------------------------------------------- validation */

static const struct field OWNER_FIELDS[] = {
    {"sub", F_STRING, F_READ_ONLY}, {"role", F_STRING, F_READ_ONLY}, {NULL}};

static const struct field WEBHOOK_FIELDS[] = {
    {"url", F_URL, F_REQUIRED, 8, 2000},
    {"events", F_STRING_ARRAY, F_REQUIRED, 1, 40, EVENT_VALUES},
    {"description", F_STRING, F_NULLABLE, 0, 500},
    {"enabled", F_BOOL},
    /* Write-only: given (or generated) when the subscription is made, shown in that answer. */
    {"secret", F_STRING, F_FIXED, 30, WEBHOOK_SECRET_MAX},
    {"disabled", F_JSON, F_READ_ONLY},
    {"failing_since", F_DATETIME, F_READ_ONLY},
    {"secret_rotated_at", F_DATETIME, F_READ_ONLY},
    {"owner", F_OBJECT, F_READ_ONLY, 0, 0, NULL, OWNER_FIELDS},
    RECORD_FIELDS,
    {NULL}};

/* The URL rule, and on a new subscription its secret: the one given, checked, or a new one. */
static int webhook_check(struct req *r, json_t *doc, const char *id) {
  /* A subscription hears only what its owner may read: the change feed's rule (a partner's
   * events are refused by the table's constraint, WEBHOOK_REFUSALS). */
  size_t i;
  const json_t *ev;
  json_t *events = r->caller.role == ROLE_PARTNER ? NULL : json_object_get(r->body, "events");
  json_array_foreach(events, i, ev) {
    const char *e = json_string_value(ev), *dot = e != NULL ? strchr(e, '.') : NULL;
    if (dot != NULL && !change_readable(r, e, (size_t)(dot - e))) {
      char ptr[32];
      snprintf(ptr, sizeof ptr, "/events/%zu", i);
      req_field_error(r, ptr, "not_allowed", NULL);
    }
  }
  const char *url = json_string_value(json_object_get(doc, "url"));
  if (url != NULL && !webhook_url_allowed(url, g_config.webhook_allow_loopback))
    req_field_error_text(r, "/url", "invalid_format",
                         g_config.webhook_allow_loopback
                             ? "an https URL, or an http URL of a loopback host"
                             : "an https URL of a host that is not loopback",
                         g_config.webhook_allow_loopback
                             ? "una URL https, o una URL http de un host local (loopback)"
                             : "una URL https de un host que no sea local (loopback)");
  if (id != NULL)
    return A_OK;
  /* doc lacks the members that already have an error: a secret of the wrong size is one. */
  const char *secret = json_string_value(json_object_get(doc, "secret"));
  if (secret != NULL) {
    if (!webhook_secret_valid(secret))
      req_field_error_text(r, "/secret", "invalid_format",
                           "whsec_ and the base64 of 24 to 64 random bytes",
                           "whsec_ y el base64 de 24 a 64 bytes aleatorios");
    return A_OK;
  }
  char fresh[WEBHOOK_SECRET_MAX];
  if (webhook_secret_new(fresh) != A_OK) {
    req_fail(r, P_INTERNAL, NULL, NULL);
    return A_ERR;
  }
  json_object_set_new(r->body, "secret", json_string(fresh));
  return A_OK;
}

static const struct refusal WEBHOOK_REFUSALS[] = {
    {"webhook_subscriptions_partner_events", P_VALIDATION, "/events", "invalid",
     "a partner system hears agency events only (agency.*)",
     "un sistema socio solo recibe eventos de agencias (agency.*)"},
    {NULL}};

/* ------------------------------------------------------------------- SQL */

/* $1 role, $2 sub, $3 agency, $4 updated_since, $5 enabled; pages add $6 key, $7 id, $8 limit. */
#define WEBHOOK_WHERE                                                                              \
  "webhook_visible(s, $1::text, $2::text)"                                                         \
  " AND ($4::timestamptz IS NULL OR s.updated_at >= $4::timestamptz)"                              \
  " AND ($5::boolean IS NULL OR s.enabled = $5::boolean)"

static struct list_sort WEBHOOK_SORTS[] = {LIST_SORTS_BY_TIME("webhooks", "webhook_json(s)",
                                                              "webhook_subscriptions s",
                                                              WEBHOOK_WHERE, "s", "6", "7", "8"),
                                           {NULL}};
static struct list_spec WEBHOOK_LIST = {
    WEBHOOK_SORTS, LIST_COUNT("webhooks_count", "webhook_subscriptions s", WEBHOOK_WHERE)};

/* $1 role, $2 sub, $3 agency, $4 updated_since, $5 the subscription, $6 status[]; pages add
 * $7 key, $8 id, $9 limit. */
#define DELIVERY_WHERE                                                                             \
  "d.subscription_id = $5::uuid"                                                                   \
  " AND ($4::timestamptz IS NULL OR d.updated_at >= $4::timestamptz)"                              \
  " AND ($6::jsonb IS NULL OR d.status IN (SELECT jsonb_array_elements_text($6::jsonb)))"

static struct list_sort DELIVERY_SORTS[] = {
    LIST_SORTS_BY_TIME("webhook_deliveries", "webhook_delivery_json(d)", "webhook_deliveries d",
                       DELIVERY_WHERE, "d", "7", "8", "9"),
    {NULL}};
static struct list_spec DELIVERY_LIST = {
    DELIVERY_SORTS, LIST_COUNT("webhook_deliveries_count", "webhook_deliveries d", DELIVERY_WHERE)};

/* $1 id, $2 body, $3 role, $4 sub, $6 the subscription of a delivery (see struct resource). */
#define WEBHOOK_MINE "webhook_visible(s, $3::text, $4::text)"

static struct resource WEBHOOK = {
    "webhook",
    "/v1/webhooks",
    "No webhook subscription of yours has this id.",
    "Ninguna suscripción de webhook suya tiene este id.",
    .fields = WEBHOOK_FIELDS,
    .get = {"webhook_get", "SELECT webhook_json(s) FROM webhook_subscriptions s"
                           " WHERE s.id = $1::uuid AND " WEBHOOK_MINE},
    .lock = {"webhook_lock",
             "SELECT webhook_json(s), jsonb_merge_patch(webhook_json(s)::jsonb, $2::jsonb)::text"
             " FROM webhook_subscriptions s WHERE s.id = $1::uuid AND " WEBHOOK_MINE " FOR UPDATE"},
    .create = {"webhook_create",
               "SELECT webhook_json(s), s.id, json_build_object('secret', s.secret)"
               " FROM webhook_create($2::jsonb, $3, $4) s"},
    .update = {"webhook_update",
               "SELECT webhook_json(s) FROM webhook_update($1::uuid, $2::jsonb) s"},
    .remove = {"webhook_delete", "DELETE FROM webhook_subscriptions WHERE id = $1::uuid"},
    .check = webhook_check,
    .refusals = WEBHOOK_REFUSALS,
};

static struct db_stmt WEBHOOK_ROTATE = {
    "webhook_rotate", "SELECT webhook_json(s), json_build_object('secret', s.secret)"
                      " FROM webhook_rotate_secret($1::uuid, $2::jsonb ->> 'secret') s"};

static struct resource DELIVERY = {
    "webhook_delivery",
    NULL,
    "No delivery of this subscription has this id.",
    "Ninguna entrega de esta suscripción tiene este id.",
    .id_param = "did",
    .parent_param = "id",
    .get = {"webhook_delivery_get",
            "SELECT webhook_delivery_json(d) FROM webhook_deliveries d"
            " JOIN webhook_subscriptions s ON s.id = d.subscription_id"
            " WHERE d.id = $1::uuid AND d.subscription_id = $6::uuid AND " WEBHOOK_MINE},
    /* The copy is queued behind the resource's pending deliveries. */
    .create =
        {"webhook_delivery_redeliver",
         "WITH s AS (SELECT s.id FROM webhook_subscriptions s"
         " WHERE s.id = $6::uuid AND " WEBHOOK_MINE ")"
         " SELECT webhook_delivery_json(d), d.id FROM s, webhook_redeliver(s.id, $1::uuid) d"},
};

/* -------------------------------------------------------------- handlers */

/* A new secret; the old one keeps signing beside it for a day. Shown in this answer only. */
static enum problem webhook_rotate(struct req *r) {
  PGresult *current = NULL, *res = NULL;
  char secret[WEBHOOK_SECRET_MAX], *doc = NULL;
  const char *p[RESOURCE_PARAMS];
  resource_bind(r, NULL, p);
  enum problem rc = resource_lock(r, p, &current);
  if (rc != P_NONE)
    goto out;
  if (webhook_secret_new(secret) != A_OK) {
    rc = req_fail(r, P_INTERNAL, NULL, NULL);
    goto out;
  }
  json_t *body = json_pack("{s:s}", "secret", secret);
  doc = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  p[1] = doc;
  res = req_exec(r, &WEBHOOK_ROTATE, RESOURCE_PARAMS, p);
  if (res == NULL) {
    rc = r->problem;
    goto out;
  }
  const char *after = PQgetvalue(res, 0, 0);
  rc = reply_updated(r, WEBHOOK.name, p[0], PQgetvalue(current, 0, 0), after);
  if (rc == P_NONE)
    rc = reply_revealing(r, 200, after, PQgetvalue(res, 0, 1));
out:
  free(doc);
  PQclear(current);
  PQclear(res);
  return rc;
}

/* The log of a subscription the caller sees (404 otherwise). */
static enum problem delivery_list(struct req *r) {
  const char *p[RESOURCE_PARAMS];
  resource_bind(r, NULL, p);
  if (!uuid_valid(p[0]))
    return resource_missing(r);
  PGresult *res = req_exec(r, &WEBHOOK.get, RESOURCE_PARAMS, p);
  if (res == NULL)
    return r->problem;
  bool mine = PQntuples(res) == 1;
  PQclear(res);
  return mine ? list_respond(r) : resource_missing(r);
}

/* Queues the delivery's message again: 201 with the new delivery. */
static enum problem delivery_redeliver(struct req *r) {
  const char *p[RESOURCE_PARAMS];
  resource_bind(r, NULL, p);
  if (!uuid_valid(p[0]) || !uuid_valid(p[5]))
    return resource_missing(r);
  PGresult *res = req_exec(r, &DELIVERY.create, RESOURCE_PARAMS, p);
  if (res == NULL)
    return r->problem;
  char collection[96];
  snprintf(collection, sizeof collection, "/v1/webhooks/%s/deliveries", p[5]);
  enum problem rc = PQntuples(res) == 1
                        ? reply_created(r, DELIVERY.name, collection, PQgetvalue(res, 0, 1),
                                        PQgetvalue(res, 0, 0))
                        : resource_missing(r);
  PQclear(res);
  return rc;
}
