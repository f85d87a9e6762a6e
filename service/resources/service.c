/*
 * service.c — endpoints about the service itself: liveness, readiness, metrics, the OpenAPI
 * document, its reference page and the public keys that verify its tokens.
 */
#include "resources/resources.h"

#include "auth/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum problem healthz(struct req *r);
static enum problem readyz(struct req *r);
static enum problem metrics(struct req *r);
static enum problem openapi(struct req *r);
static enum problem docs(struct req *r);
static enum problem jwks(struct req *r);

static const struct route ROUTES[] = {{"GET", "/healthz", ROLES_ALL, healthz, R_NO_DB | R_NO_STORE},
                                      {"GET", "/readyz", ROLES_ALL, readyz, R_NO_STORE},
                                      {"GET", "/metrics", ROLES_ALL, metrics, R_NO_DB | R_NO_STORE},
                                      {"GET", "/v1/openapi.yaml", ROLES_ALL, openapi, R_NO_DB},
                                      {"GET", "/docs", ROLES_ALL, docs, R_NO_DB},
                                      {"GET", "/.well-known/jwks.json", ROLES_ALL, jwks, R_NO_DB},
                                      {NULL}};

const struct route_table SERVICE_ROUTES = {"service", ROUTES};

static enum problem healthz(struct req *r) {
  return reply_json(r, 200, "{\"status\":\"ok\"}");
}

/* Ready when the database answers and its schema and functions are this binary's;
 * degraded (still 200: reads are served) when only a standby answers. */
static enum problem readyz(struct req *r) {
  if (req_db(r) == NULL)
    return r->problem;
  bool functions_current = false;
  int have = db_conn_schema_version(r->db, &functions_current);
  if (have < 0)
    return problem_from_db(r, r->db);
  int want = db_known_schema_version();
  if (have != want)
    return req_fail(r, P_UNAVAILABLE, "The database schema is version %d; this build needs %d.",
                    "El esquema de la base de datos es la versión %d; se requiere la %d.", have,
                    want);
  if (!functions_current)
    return req_fail(r, P_UNAVAILABLE,
                    "The database's functions are not this build's; run acredita migrate.",
                    "Las funciones de la base de datos no son las de esta versión; ejecute "
                    "acredita migrate.");
  bool writable = db_conn_is_primary(r->db) || db_primary_ping(HTTP_DB_WAIT_MS) == A_OK;
  char body[64];
  snprintf(body, sizeof body, "{\"status\":\"%s\",\"schema_version\":%d}",
           writable ? "ready" : "degraded", have);
  return reply_json(r, 200, body);
}

static enum problem metrics(struct req *r) {
  char *text = metrics_render();
  reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
  free(text);
  return P_NONE;
}

static enum problem openapi(struct req *r) {
  const struct embedded_file *f = embedded_file("api/openapi.yaml");
  if (f == NULL)
    return req_fail(r, P_NOT_FOUND, NULL, NULL);
  return reply_text(r, 200, "application/yaml", (const char *)f->data, f->len);
}

/* The API reference page, rendered from the OpenAPI document at build time into one HTML file
 * that loads nothing from elsewhere, with the policy made for it (script/render-docs.mjs): its
 * inline scripts by hash, the styles it injects, data: images and its search worker. It changes
 * only with a deployment: caches keep it a few minutes, then revalidate with the ETag. */
static enum problem docs(struct req *r) {
  const struct embedded_file *page = embedded_file("docs/index.html");
  const struct embedded_file *csp = embedded_file("docs/csp.txt");
  if (page == NULL || csp == NULL)
    return req_fail(r, P_NOT_FOUND, NULL, NULL);
  reply_text(r, 200, "text/html; charset=utf-8", (const char *)page->data, page->len);
  reply_header(r, "Content-Security-Policy", (const char *)csp->data); /* NUL-terminated */
  reply_header(r, "Cache-Control", "public, max-age=300");
  return P_NONE;
}

static enum problem jwks(struct req *r) {
  char *keys = auth_jwks_json();
  if (keys == NULL)
    return req_fail(r, P_INTERNAL, NULL, NULL);
  reply_json(r, 200, keys);
  free(keys);
  return P_NONE;
}
