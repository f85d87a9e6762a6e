/*
 * test_skeleton.c — the HTTP conventions, authentication and the service endpoints, against
 * the real server and a real PostgreSQL.
 */
#include "harness.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("skeleton", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

#define ADMIN_ID "00000000-0000-4000-8000-000000000001"

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static void assert_problem(const struct th_resp *r, long status, const char *slug) {
  cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body);
  char *ct = th_header(r, "Content-Type");
  cr_assert(ct && strstr(ct, "application/problem+json"), "content type %s", ct);
  free(ct);
  char want[128];
  snprintf(want, sizeof want, "https://acredita.dev/problems/%s", slug);
  cr_assert_str_eq(jstr(r->json, "type"), want);
  cr_assert_eq(json_integer_value(json_object_get(r->json, "status")), status);
  cr_assert_not_null(jstr(r->json, "request_id"));
}

/* Creates a user and returns its id (malloc'd). */
static char *create_user(const char *email, const char *role) {
  char body[512];
  snprintf(body, sizeof body,
           "{\"email\":\"%s\",\"name\":\"Prueba Ñandú\",\"role\":\"%s\","
           "\"password\":\"correct horse battery\"}",
           email, role);
  struct th_resp r = th_req("POST", "/v1/users", th_admin(), body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  th_free(&r);
  return id;
}

/* ------------------------------------------------------------- service */

Test(service, healthz_readyz_metrics_openapi_jwks) {
  struct th_resp r = th_req("GET", "/healthz", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(jstr(r.json, "status"), "ok");
  th_free(&r);
  r = th_req("GET", "/readyz", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "status"), "ready");
  cr_assert_gt(json_integer_value(json_object_get(r.json, "schema_version")), 2);
  th_free(&r);
  r = th_req("GET", "/metrics", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert(strstr(r.body, "acredita_http_requests_total{route=\"/readyz\",status=\"200\"}"));
  cr_assert(strstr(r.body, "acredita_db_pool_in_use"));
  cr_assert(strstr(r.body, "acredita_http_request_duration_seconds_bucket"));
  th_free(&r);
  r = th_req("GET", "/v1/openapi.yaml", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert(strncmp(r.body, "openapi: 3.1", 12) == 0);
  th_free(&r);
  r = th_req("GET", "/.well-known/jwks.json", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(json_array_size(json_object_get(r.json, "keys")), 0); /* HS256 publishes none */
  th_free(&r);
}

/* GET /docs: the reference page rendered at build time, with its own policy and caching. */
Test(service, docs_page) {
  struct th_resp r = th_req("GET", "/docs", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char *ct = th_header(&r, "Content-Type");
  cr_assert_str_eq(ct, "text/html; charset=utf-8");
  free(ct);
  cr_assert(strncmp(r.body, "<!DOCTYPE html>", 15) == 0);
  cr_assert(strstr(r.body, "<title>Acredita API reference</title>"));
  cr_assert(strstr(r.body, "getAgency"), "the page names the operations");
  cr_assert_null(strstr(r.body, "<script src="), "the page loads no script from elsewhere");
  char *csp = th_header(&r, "Content-Security-Policy");
  cr_assert(csp && strncmp(csp, "default-src 'none'; script-src 'sha256-", 39) == 0, "%s", csp);
  free(csp);
  char *cache = th_header(&r, "Cache-Control");
  cr_assert_str_eq(cache, "public, max-age=300");
  free(cache);
  char *etag = th_header(&r, "ETag");
  cr_assert_not_null(etag);
  th_free(&r);
  char inm[96];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *const h[] = {inm, NULL};
  r = th_req("GET", "/docs", NULL, NULL, h);
  cr_assert_eq(r.status, 304);
  free(etag);
  th_free(&r);
}

Test(service, request_id_kept_or_made) {
  const char *const h[] = {"X-Request-Id: proxy-abc-123", NULL};
  struct th_resp r = th_req("GET", "/v1/users/nope", th_admin(), NULL, h);
  char *id = th_header(&r, "X-Request-Id");
  cr_assert_str_eq(id, "proxy-abc-123");
  cr_assert_str_eq(jstr(r.json, "request_id"), "proxy-abc-123");
  free(id);
  th_free(&r);
  r = th_req("GET", "/healthz", NULL, NULL, NULL);
  id = th_header(&r, "X-Request-Id");
  cr_assert(id != NULL && strlen(id) == 36);
  free(id);
  th_free(&r);
}

Test(service, not_found_and_method_not_allowed) {
  struct th_resp r = th_req("GET", "/v1/nothing-here", NULL, NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  r = th_req("PUT", "/v1/users", th_admin(), "{}", NULL);
  assert_problem(&r, 405, "method-not-allowed");
  char *allow = th_header(&r, "Allow");
  cr_assert_str_eq(allow, "GET, POST, OPTIONS");
  free(allow);
  th_free(&r);
}

Test(service, spanish_texts_same_codes) {
  const char *const h[] = {"Accept-Language: es-MX,es;q=0.9,en;q=0.5", NULL};
  struct th_resp r = th_req("POST", "/v1/users", th_admin(), "{\"role\":\"jefe\"}", h);
  assert_problem(&r, 422, "validation");
  cr_assert_str_eq(jstr(r.json, "title"), "La solicitud tiene campos inválidos");
  json_t *errs = json_object_get(r.json, "errors");
  /* Every invalid field at once: email, name, password missing; role not an enum value. */
  cr_assert_eq(json_array_size(errs), 4, "%s", r.body);
  size_t i;
  json_t *e;
  bool saw_role = false;
  json_array_foreach(errs, i, e) {
    if (strcmp(jstr(e, "field"), "/role") == 0) {
      saw_role = true;
      cr_assert_str_eq(jstr(e, "code"), "invalid_enum");
      cr_assert(strstr(jstr(e, "message"), "debe ser uno de"));
    }
  }
  cr_assert(saw_role);
  th_free(&r);
}

Test(service, cors_preflight_and_exposed_headers) {
  const char *const env[] = {"CORS_ALLOWED_ORIGINS=https://caispmex.example", NULL};
  int port;
  pid_t pid = th_server_spawn(th_db_url(), env, &port);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  const char *const pre[] = {"Origin: https://caispmex.example",
                             "Access-Control-Request-Method: POST", NULL};
  struct th_resp r = th_req_to(base, "OPTIONS", "/v1/users", NULL, NULL, NULL, 0, pre);
  cr_assert_eq(r.status, 204);
  char *v = th_header(&r, "Access-Control-Allow-Origin");
  cr_assert_str_eq(v, "https://caispmex.example");
  free(v);
  v = th_header(&r, "Access-Control-Allow-Headers");
  cr_assert(v && strstr(v, "Idempotency-Key"));
  free(v);
  th_free(&r);
  const char *const other[] = {"Origin: https://evil.example", NULL};
  r = th_req_to(base, "GET", "/healthz", NULL, NULL, NULL, 0, other);
  v = th_header(&r, "Access-Control-Allow-Origin");
  cr_assert_null(v);
  th_free(&r);
  r = th_req_to(base, "GET", "/healthz", NULL, NULL, NULL, 0, pre);
  v = th_header(&r, "Access-Control-Expose-Headers");
  cr_assert(v && strstr(v, "ETag") && strstr(v, "Link") && strstr(v, "Retry-After"));
  free(v);
  th_free(&r);
  cr_assert_eq(th_server_kill(pid, SIGTERM), 0);
}

/* ---------------------------------------------------------------- auth */

Test(auth, password_grant_json_and_form) {
  struct th_resp r = th_req("POST", "/v1/auth/token", NULL,
                            "{\"grant_type\":\"password\",\"email\":\"ADMIN@demo.acredita.mx\","
                            "\"password\":\"demo-password-local-only\"}",
                            NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "token_type"), "Bearer");
  char *token = strdup(jstr(r.json, "access_token"));
  th_free(&r);
  r = th_req("GET", "/v1/me", token, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(json_object_get(r.json, "claims"), "role"), "admin");
  cr_assert_str_eq(jstr(json_object_get(r.json, "user"), "email"), "admin@demo.acredita.mx");
  cr_assert(json_is_null(json_object_get(r.json, "client")));
  th_free(&r);
  free(token);

  const char *form = "grant_type=password&email=inl%40demo.acredita.mx&password=demo-password-"
                     "local-only";
  r = th_req_to(NULL, "POST", "/v1/auth/token", NULL, "application/x-www-form-urlencoded", form,
                strlen(form), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
}

Test(auth, wrong_password_and_unknown_user_alike) {
  struct th_resp a = th_req(
      "POST", "/v1/auth/token", NULL,
      "{\"grant_type\":\"password\",\"email\":\"advisor@demo.acredita.mx\",\"password\":\"x\"}",
      NULL);
  struct th_resp b = th_req(
      "POST", "/v1/auth/token", NULL,
      "{\"grant_type\":\"password\",\"email\":\"nobody@demo.acredita.mx\",\"password\":\"x\"}",
      NULL);
  assert_problem(&a, 400, "invalid-grant");
  assert_problem(&b, 400, "invalid-grant");
  cr_assert_str_eq(jstr(a.json, "error"), "invalid_grant");
  cr_assert_str_eq(jstr(a.json, "detail"), jstr(b.json, "detail"));
  th_free(&a);
  th_free(&b);
  a = th_req("POST", "/v1/auth/token", NULL, "{\"grant_type\":\"magic\"}", NULL);
  assert_problem(&a, 400, "unsupported-grant-type");
  cr_assert_str_eq(jstr(a.json, "error"), "unsupported_grant_type");
  th_free(&a);
  a = th_req("POST", "/v1/auth/token", NULL, "{\"grant_type\":\"password\"}", NULL);
  assert_problem(&a, 400, "invalid-request");
  th_free(&a);
}

Test(auth, repeated_failures_throttled) {
  const char *body =
      "{\"grant_type\":\"password\",\"email\":\"coalition@demo.acredita.mx\",\"password\":\"no\"}";
  for (int i = 0; i < 5; i++) {
    struct th_resp r = th_req("POST", "/v1/auth/token", NULL, body, NULL);
    cr_assert_eq(r.status, 400, "attempt %d: %ld", i, r.status);
    th_free(&r);
  }
  /* Locked now, even with the right password. */
  struct th_resp r = th_req("POST", "/v1/auth/token", NULL,
                            "{\"grant_type\":\"password\",\"email\":\"coalition@demo.acredita.mx\","
                            "\"password\":\"demo-password-local-only\"}",
                            NULL);
  assert_problem(&r, 429, "too-many-requests");
  char *ra = th_header(&r, "Retry-After");
  cr_assert(ra && atoi(ra) > 0);
  free(ra);
  th_free(&r);
  th_sql("DELETE FROM login_failures");
}

Test(auth, client_credentials) {
  struct th_resp r = th_req("POST", "/v1/auth/token", NULL,
                            "{\"grant_type\":\"client_credentials\",\"client_id\":"
                            "\"00000000-0000-4000-8000-0000000000c1\",\"client_secret\":"
                            "\"demo-secret-local-only\"}",
                            NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char *token = strdup(jstr(r.json, "access_token"));
  th_free(&r);
  r = th_req("GET", "/v1/me", token, NULL, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(jstr(json_object_get(r.json, "claims"), "role"), "partner");
  cr_assert_str_eq(jstr(json_object_get(r.json, "client"), "role"), "partner");
  th_free(&r);
  /* A partner may not list users. */
  r = th_req("GET", "/v1/users", token, NULL, NULL);
  assert_problem(&r, 403, "forbidden");
  char *www = th_header(&r, "WWW-Authenticate");
  cr_assert(www && strstr(www, "insufficient_scope"));
  free(www);
  th_free(&r);
  free(token);
  r = th_req("POST", "/v1/auth/token", NULL,
             "{\"grant_type\":\"client_credentials\",\"client_id\":"
             "\"00000000-0000-4000-8000-0000000000c1\",\"client_secret\":\"wrong\"}",
             NULL);
  assert_problem(&r, 401, "invalid-client");
  th_free(&r);
}

Test(auth, missing_and_bad_tokens) {
  struct th_resp r = th_req("GET", "/v1/users", NULL, NULL, NULL);
  assert_problem(&r, 401, "unauthorized");
  char *www = th_header(&r, "WWW-Authenticate");
  cr_assert(www && strncmp(www, "Bearer", 6) == 0 && !strstr(www, "invalid_token"));
  free(www);
  th_free(&r);
  r = th_req("GET", "/v1/users", "not.a.token", NULL, NULL);
  assert_problem(&r, 401, "invalid-token");
  www = th_header(&r, "WWW-Authenticate");
  cr_assert(www && strstr(www, "error=\"invalid_token\""));
  free(www);
  th_free(&r);
  const char *const basic[] = {"Authorization: Basic YWRtaW46YWRtaW4=", NULL};
  r = th_req("GET", "/v1/users", NULL, NULL, basic);
  assert_problem(&r, 401, "invalid-token");
  th_free(&r);
}

Test(auth, cli_token_is_bare_and_valid) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "JWT_SECRET='%s' '%s' token --sub " ADMIN_ID " --role admin --ttl 120",
           TH_JWT_SECRET, getenv("ACREDITA_BIN"));
  FILE *p = popen(cmd, "r");
  char token[4096] = "";
  cr_assert(fgets(token, sizeof token, p) != NULL);
  char extra[16];
  cr_assert_null(fgets(extra, sizeof extra, p), "only the token on stdout");
  cr_assert_eq(pclose(p), 0);
  token[strcspn(token, "\n")] = '\0';
  struct th_resp r = th_req("GET", "/v1/users?limit=1", token, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
}

Test(auth, bad_configuration_stops_with_one_line) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "env -i DATABASE_URL=x JWT_SECRET=short '%s' serve 2>&1 >/dev/null",
           getenv("ACREDITA_BIN"));
  FILE *p = popen(cmd, "r");
  char line[512] = "", more[64];
  cr_assert(fgets(line, sizeof line, p) != NULL);
  cr_assert_null(fgets(more, sizeof more, p));
  cr_assert_neq(pclose(p), 0);
  cr_assert(strstr(line, "JWT_SECRET"), "%s", line);
  snprintf(cmd, sizeof cmd, "env -i JWT_SECRET=%s PORT=99999 '%s' serve 2>&1 >/dev/null",
           TH_JWT_SECRET, getenv("ACREDITA_BIN"));
  p = popen(cmd, "r");
  cr_assert(fgets(line, sizeof line, p) != NULL);
  cr_assert_neq(pclose(p), 0);
  cr_assert(strstr(line, "DATABASE_URL") || strstr(line, "PORT"), "%s", line);
}

/* --------------------------------------------------------------- users */

Test(users, create_get_patch_delete_with_audit) {
  char *id = create_user("crud@example.mx", "inl");
  char path[128];
  snprintf(path, sizeof path, "/v1/users/%s", id);
  struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_null(json_object_get(r.json, "password"));
  cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 1);
  char *etag = th_header(&r, "ETag");
  th_free(&r);

  /* Conditional GET. */
  char inm[128];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *const h304[] = {inm, NULL};
  r = th_req("GET", path, th_admin(), NULL, h304);
  cr_assert_eq(r.status, 304);
  cr_assert_eq(r.len, 0);
  char *etag2 = th_header(&r, "ETag");
  cr_assert_str_eq(etag2, etag);
  free(etag2);
  th_free(&r);

  /* PATCH with the current tag works; with the now stale tag, 412. */
  char im[128];
  snprintf(im, sizeof im, "If-Match: %s", etag);
  const char *const hm[] = {im, NULL};
  r = th_req("PATCH", path, th_admin(), "{\"name\":\"Renombrada\",\"active\":false}", hm);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "name"), "Renombrada");
  cr_assert_eq(json_integer_value(json_object_get(r.json, "version")), 2);
  th_free(&r);
  r = th_req("PATCH", path, th_admin(), "{\"name\":\"Otra\"}", hm);
  assert_problem(&r, 412, "precondition-failed");
  th_free(&r);
  r = th_req("DELETE", path, th_admin(), NULL, hm);
  assert_problem(&r, 412, "precondition-failed");
  th_free(&r);

  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT changes->'name'->>1 FROM audit WHERE resource = 'user' AND resource_id = '%s'"
           " AND action = 'updated'",
           id);
  char *after = th_sql(sql);
  cr_assert_str_eq(after, "Renombrada");
  free(after);
  snprintf(sql, sizeof sql, "SELECT actor FROM audit WHERE resource_id = '%s' LIMIT 1", id);
  char *actor = th_sql(sql);
  cr_assert_str_eq(actor, ADMIN_ID);
  free(actor);

  r = th_req("DELETE", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 204);
  th_free(&r);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  free(etag);
  free(id);
}

Test(users, email_unique_case_insensitive_and_rules) {
  char *id = create_user("Unique.Person@example.mx", "coalition");
  struct th_resp r = th_req("POST", "/v1/users", th_admin(),
                            "{\"email\":\"unique.person@EXAMPLE.mx\",\"name\":\"Dup\",\"role\":"
                            "\"inl\",\"password\":\"correct horse battery\"}",
                            NULL);
  assert_problem(&r, 409, "conflict");
  th_free(&r);
  r = th_req("POST", "/v1/users", th_admin(),
             "{\"email\":\"a@b.mx\",\"name\":\"Agency\",\"role\":\"agency\",\"password\":"
             "\"correct horse battery\"}",
             NULL);
  assert_problem(&r, 422, "validation");
  cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "errors"), 0), "field"),
                   "/agency_id");
  th_free(&r);
  r = th_req("GET", "/v1/users/not-a-uuid", th_admin(), NULL, NULL);
  assert_problem(&r, 404, "not-found");
  th_free(&r);
  free(id);
}

Test(users, malformed_requests) {
  struct th_resp r = th_req("POST", "/v1/users", th_admin(), "{\"email\":", NULL);
  assert_problem(&r, 400, "bad-request");
  th_free(&r);
  r = th_req("POST", "/v1/users", th_admin(), "[1,2]", NULL);
  assert_problem(&r, 400, "bad-request");
  th_free(&r);
  r = th_req("POST", "/v1/users", th_admin(), "{\"a\":1,\"a\":2}", NULL);
  assert_problem(&r, 400, "bad-request");
  th_free(&r);
  r = th_req_to(NULL, "POST", "/v1/users", th_admin(), "text/plain", "hi", 2, NULL);
  assert_problem(&r, 415, "unsupported-media-type");
  th_free(&r);
  size_t big = 1024 * 1024 + 10;
  char *body = malloc(big + 1);
  memset(body, ' ', big);
  body[0] = '{';
  body[big - 1] = '}';
  body[big] = '\0';
  r = th_req("POST", "/v1/users", th_admin(), body, NULL);
  assert_problem(&r, 413, "payload-too-large");
  th_free(&r);
  free(body);
  r = th_req("GET", "/v1/users?limit=500", th_admin(), NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  cr_assert(strstr(jstr(json_array_get(json_object_get(r.json, "errors"), 0), "message"), "200"));
  th_free(&r);
  r = th_req("GET", "/v1/users?colour=blue&role=chief", th_admin(), NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  cr_assert_eq(json_array_size(json_object_get(r.json, "errors")), 2);
  th_free(&r);
  r = th_req("GET", "/v1/users?q=%FF%FE", th_admin(), NULL, NULL);
  assert_problem(&r, 400, "bad-request");
  th_free(&r);
}

/* Pages through every user with limit=2 while users are being inserted: each user that
 * existed before the walk appears exactly once. */
Test(users, paging_stable_under_inserts) {
  for (int i = 0; i < 5; i++) {
    char email[64];
    snprintf(email, sizeof email, "page-before-%d@example.mx", i);
    free(create_user(email, "inl"));
  }
  /* (archived users are not listed) */
  long before = th_sql_long("SELECT count(*) FROM users WHERE archived_at IS NULL");
  char *existing = th_sql("SELECT string_agg(id::text, ',') FROM users WHERE archived_at IS NULL");
  json_t *seen = json_object();
  char path[1024] = "/v1/users?limit=2&sort=created_at";
  int pages = 0, inserted = 0;
  for (;;) {
    struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(r.json, "data"), i, u) {
      cr_assert_null(json_object_get(seen, jstr(u, "id")), "duplicate %s", jstr(u, "id"));
      json_object_set_new(seen, jstr(u, "id"), json_true());
    }
    pages++;
    const char *next = jstr(r.json, "next_cursor");
    char *link = th_header(&r, "Link");
    if (next == NULL) {
      cr_assert_null(link);
      th_free(&r);
      break;
    }
    cr_assert(link && strstr(link, "rel=\"next\"") && strstr(link, next));
    free(link);
    snprintf(path, sizeof path, "/v1/users?limit=2&sort=created_at&cursor=%s", next);
    th_free(&r);
    char email[64];
    snprintf(email, sizeof email, "page-during-%d@example.mx", inserted++);
    free(create_user(email, "inl"));
  }
  cr_assert_geq(pages, (int)(before / 2));
  char *save = NULL;
  for (char *id = strtok_r(existing, ",", &save); id; id = strtok_r(NULL, ",", &save))
    cr_assert_not_null(json_object_get(seen, id), "gap: %s missing", id);
  free(existing);
  json_decref(seen);
}

Test(users, cursor_bound_to_filters_and_count) {
  struct th_resp r =
      th_req("GET", "/v1/users?limit=1&role=admin&count=exact", th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(json_integer_value(json_object_get(r.json, "total")),
               th_sql_long("SELECT count(*) FROM users WHERE role = 'admin'"));
  th_free(&r);
  r = th_req("GET", "/v1/users?limit=1", th_admin(), NULL, NULL);
  char path[1024];
  snprintf(path, sizeof path, "/v1/users?limit=1&role=inl&cursor=%s", jstr(r.json, "next_cursor"));
  th_free(&r);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "errors"), 0), "code"),
                   "invalid_cursor");
  th_free(&r);
  r = th_req("GET", "/v1/users?cursor=eyJrIjoiMSJ9.AAAA", th_admin(), NULL, NULL);
  assert_problem(&r, 400, "invalid-query");
  th_free(&r);
}

/* --------------------------------------------------------- idempotency */

Test(idempotency, replay_mismatch_and_in_progress) {
  const char *body = "{\"email\":\"idem@example.mx\",\"name\":\"Idem\",\"role\":\"inl\","
                     "\"password\":\"correct horse battery\"}";
  const char *const h[] = {"Idempotency-Key: key-0001", NULL};
  struct th_resp a = th_req("POST", "/v1/users", th_admin(), body, h);
  cr_assert_eq(a.status, 201, "%s", a.body);
  struct th_resp b = th_req("POST", "/v1/users", th_admin(), body, h);
  cr_assert_eq(b.status, 201, "%s", b.body);
  cr_assert_str_eq(a.body, b.body);
  char *replayed = th_header(&b, "Idempotent-Replayed");
  cr_assert_str_eq(replayed, "true");
  free(replayed);
  cr_assert_eq(th_sql_long("SELECT count(*) FROM users WHERE email = 'idem@example.mx'"), 1);
  th_free(&a);
  th_free(&b);

  b = th_req("POST", "/v1/users", th_admin(),
             "{\"email\":\"idem2@example.mx\",\"name\":\"Idem\",\"role\":\"inl\","
             "\"password\":\"correct horse battery\"}",
             h);
  assert_problem(&b, 422, "idempotency-mismatch");
  th_free(&b);

  /* While another transaction holds the key's lock, the request is still "running". */
  PGconn *pg = PQconnectdb(th_db_url());
  PQclear(PQexec(pg, "BEGIN"));
  PGresult *res = PQexec(pg, "SELECT pg_advisory_xact_lock(hashtextextended("
                             "'" ADMIN_ID "' || '/' || 'key-0002', 0))");
  cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK);
  PQclear(res);
  const char *const h2[] = {"Idempotency-Key: key-0002", NULL};
  b = th_req("POST", "/v1/users", th_admin(), body, h2);
  assert_problem(&b, 409, "idempotency-in-progress");
  th_free(&b);
  PQclear(PQexec(pg, "ROLLBACK"));
  PQfinish(pg);
}

/* ------------------------------------------------------------ database */

Test(database, outage_answers_503_then_recovers) {
  th_pgctl("stop");
  struct th_resp r = th_req("GET", "/v1/users?limit=1", th_admin(), NULL, NULL);
  assert_problem(&r, 503, "unavailable");
  char *ra = th_header(&r, "Retry-After");
  cr_assert_not_null(ra);
  free(ra);
  th_free(&r);
  r = th_req("GET", "/readyz", NULL, NULL, NULL);
  cr_assert_eq(r.status, 503);
  th_free(&r);
  r = th_req("GET", "/healthz", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200);
  th_free(&r);
  th_pgctl("start");
  long status = 0;
  for (int i = 0; i < 100 && status != 200; i++) {
    r = th_req("GET", "/v1/users?limit=1", th_admin(), NULL, NULL);
    status = r.status;
    th_free(&r);
    if (status != 200)
      usleep(100000);
  }
  cr_assert_eq(status, 200, "the server did not recover");
}

Test(database, sigterm_exits_zero) {
  int port;
  pid_t pid = th_server_spawn(th_db_url(), NULL, &port);
  cr_assert_eq(th_server_kill(pid, SIGTERM), 0);
}

/* ------------------------------------------------------------- clients */

Test(clients, secret_shown_once_then_usable) {
  struct th_resp r = th_req("POST", "/v1/clients", th_admin(),
                            "{\"name\":\"Sistema de prueba\",\"role\":\"partner\",\"scopes\":"
                            "[\"agencies:read\"]}",
                            NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  char *secret = strdup(jstr(r.json, "client_secret"));
  th_free(&r);
  char path[128];
  snprintf(path, sizeof path, "/v1/clients/%s", id);
  r = th_req("GET", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_null(json_object_get(r.json, "client_secret"));
  th_free(&r);
  r = th_req("GET", "/v1/clients?role=partner", th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200);
  cr_assert_geq(json_array_size(json_object_get(r.json, "data")), 2);
  th_free(&r);

  char body[512];
  snprintf(body, sizeof body,
           "{\"grant_type\":\"client_credentials\",\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
           id, secret);
  r = th_req("POST", "/v1/auth/token", NULL, body, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char *token = strdup(jstr(r.json, "access_token"));
  th_free(&r);
  r = th_req("GET", "/v1/me", token, NULL, NULL);
  cr_assert_str_eq(jstr(json_object_get(r.json, "claims"), "scope"), "agencies:read");
  th_free(&r);

  r = th_req("DELETE", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 204);
  th_free(&r);
  r = th_req("POST", "/v1/auth/token", NULL, body, NULL);
  assert_problem(&r, 401, "invalid-client");
  th_free(&r);
  free(token);
  free(secret);
  free(id);
}

/* ------------------------------------------------------------- operation */

Test(operation, json_access_log_with_request_id) {
  /* The test plays the proxy: its X-Forwarded-For is believed. */
  const char *const env[] = {"LOG_FORMAT=json", "LOG_LEVEL=info", "TRUSTED_PROXIES=127.0.0.1",
                             "TH_STDERR=/tmp/acredita-skeleton-json.log", NULL};
  int port;
  pid_t pid = th_server_spawn(th_db_url(), env, &port);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  const char *const h[] = {"X-Request-Id: json-log-check", "X-Forwarded-For: 203.0.113.7", NULL};
  struct th_resp r = th_req_to(base, "GET", "/v1/users?limit=1", th_admin(), NULL, NULL, 0, h);
  cr_assert_eq(r.status, 200);
  th_free(&r);
  cr_assert_eq(th_server_kill(pid, SIGTERM), 0);
  FILE *f = fopen("/tmp/acredita-skeleton-json.log", "r");
  cr_assert_not_null(f);
  char line[4096];
  bool found = false;
  while (fgets(line, sizeof line, f) != NULL) {
    char *brace = strchr(line, '{');
    json_t *o = brace ? json_loads(brace, 0, NULL) : NULL;
    if (o != NULL && jstr(o, "request_id") &&
        strcmp(jstr(o, "request_id"), "json-log-check") == 0) {
      found = true;
      cr_assert_str_eq(jstr(o, "method"), "GET");
      cr_assert_str_eq(jstr(o, "path"), "/v1/users");
      cr_assert_eq(json_integer_value(json_object_get(o, "status")), 200);
      cr_assert_gt(json_integer_value(json_object_get(o, "bytes")), 0);
      cr_assert_not_null(json_object_get(o, "ms"));
      cr_assert_str_eq(jstr(o, "client"), "203.0.113.7");
    }
    json_decref(o);
  }
  fclose(f);
  remove("/tmp/acredita-skeleton-json.log");
  cr_assert(found, "no JSON access-log line for the request");
}

Test(operation, migrate_twice_and_newer_schema_refused) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "DATABASE_URL='%s' '%s' migrate >/dev/null 2>&1", th_db_url(),
           getenv("ACREDITA_BIN"));
  cr_assert_eq(system(cmd), 0, "migrate is idempotent");
  free(th_sql("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from the future')"));
  snprintf(cmd, sizeof cmd, "DATABASE_URL='%s' JWT_SECRET=%s PORT=0 '%s' serve 2>&1", th_db_url(),
           TH_JWT_SECRET, getenv("ACREDITA_BIN"));
  FILE *p = popen(cmd, "r");
  char line[512] = "";
  cr_assert(fgets(line, sizeof line, p) != NULL);
  int rc = pclose(p);
  free(th_sql("DELETE FROM schema_migrations WHERE version = 9999"));
  cr_assert_neq(rc, 0);
  cr_assert(strstr(line, "newer"), "%s", line);
}

Test(operation, user_create_command) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "echo 'a long enough password' | DATABASE_URL='%s' '%s' user create --email "
           "Cli.User@example.mx --role inl --name 'Desde la consola' --password-stdin",
           th_db_url(), getenv("ACREDITA_BIN"));
  FILE *p = popen(cmd, "r");
  char id[64] = "";
  cr_assert(fgets(id, sizeof id, p) != NULL);
  cr_assert_eq(pclose(p), 0);
  id[strcspn(id, "\n")] = '\0';
  cr_assert(uuid_valid(id), "%s", id);
  struct th_resp r = th_req("POST", "/v1/auth/token", NULL,
                            "{\"grant_type\":\"password\",\"email\":\"cli.user@example.mx\","
                            "\"password\":\"a long enough password\"}",
                            NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
}
