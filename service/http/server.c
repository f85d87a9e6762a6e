/*
 * server.c — the one path every request goes through, from its headers to its answer.
 *
 * The wire (wire.c) hands over each request twice: when its headers are in (dispatch_begin)
 * and when its body is (dispatch_end). The conventions of API.md §1 are applied here once, in
 * the same order, for every route: what can be decided from the headers — the route, the
 * request ID, the language, CORS, the token and the role, the size of the headers and of
 * the announced body — is decided before a byte of the body is read, so that a caller who
 * may not send it never makes the service hold it. Unmatched paths and methods are answered
 * here too.
 */
#include "http/http.h"

#include "auth/auth.h"
#include "db/records.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <orcania.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <yder.h>

/* Each served route with the scope a machine client needs for it (see route_scope()). */
struct bound_route {
  const struct route *route;
  char scope[64];
  unsigned priority;
};
static struct bound_route *bound;
static size_t nbound;
static const struct route_table *const *route_tables;

static const char CORS_ALLOW_HEADERS[] =
    "Authorization, Content-Type, Accept, Accept-Language, If-Match, If-None-Match, "
    "Idempotency-Key, X-Request-Id, " HTTP_POSITION_HEADER;
static const char CORS_EXPOSE_HEADERS[] =
    "ETag, Link, X-Request-Id, Retry-After, Location, Idempotent-Replayed, " HTTP_POSITION_HEADER;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ request set-up */

/* Keeps a proxy's X-Request-Id when it is sane (printable ASCII, at most 128 bytes). */
static void assign_request_id(struct req *r) {
  const char *given = req_header(r, "X-Request-Id");
  bool ok = given != NULL && given[0] != '\0' && strlen(given) <= 128;
  for (const char *p = given; ok && *p; p++)
    ok = *p > 0x20 && *p < 0x7f;
  if (ok)
    snprintf(r->request_id, sizeof r->request_id, "%s", given);
  else
    uuid_v4(r->request_id);
  reply_header(r, "X-Request-Id", r->request_id);
}

/* Spanish when the highest-weighted of es / en in Accept-Language is es. */
static void choose_language(struct req *r) {
  const char *h = req_header(r, "Accept-Language");
  r->lang = LANG_EN;
  if (h == NULL)
    return;
  double best = -1;
  char *copy = strdup(h), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ')
      tok++;
    double q = 1.0;
    char *semi = strchr(tok, ';');
    if (semi != NULL) {
      *semi = '\0';
      char *qs = strstr(semi + 1, "q=");
      if (qs != NULL)
        q = strtod(qs + 2, NULL);
    }
    bool es = strncasecmp(tok, "es", 2) == 0 && (tok[2] == '\0' || tok[2] == '-');
    bool en = strncasecmp(tok, "en", 2) == 0 && (tok[2] == '\0' || tok[2] == '-');
    if ((es || en) && q > best) {
      best = q;
      r->lang = es ? LANG_ES : LANG_EN;
    }
  }
  free(copy);
}

static bool origin_allowed(const char *origin) {
  for (char **o = g_config.cors_origins; o != NULL && *o != NULL; o++)
    if (strcmp(*o, "*") == 0 || strcmp(*o, origin) == 0)
      return true;
  return false;
}

static void apply_cors(struct req *r) {
  const char *origin = req_header(r, "Origin");
  if (origin == NULL || !origin_allowed(origin))
    return;
  reply_header(r, "Access-Control-Allow-Origin", origin);
  reply_vary(r, "Origin");
  reply_header(r, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
}

/* ---------------------------------------------------------- authentication */

static enum problem authenticate(struct req *r) {
  const char *h = req_header(r, "Authorization");
  r->caller.role = ROLE_ANONYMOUS;
  if (h == NULL)
    return P_NONE;
  if (strncasecmp(h, "Bearer ", 7) != 0)
    return req_fail(r, P_INVALID_TOKEN, "The Authorization header must be: Bearer <token>.",
                    "La cabecera Authorization debe ser: Bearer <token>.");
  const char *token = h + 7;
  while (*token == ' ')
    token++;
  struct caller c;
  memset(&c, 0, sizeof c);
  enum auth_verdict v = auth_verify_token(token, &c);
  /* A signature is not enough: the account may be gone, or the token revoked since. The
   * standing is usually known without the database. */
  if (v == AUTH_OK && auth_token_standing(&c, NULL, &v) != A_OK) {
    if (req_db(r) == NULL)
      return r->problem;
    if (auth_token_standing(&c, r->db, &v) != A_OK)
      return problem_from_db(r, r->db);
  }
  if (v != AUTH_OK)
    return req_fail(r, P_INVALID_TOKEN, "The token was refused: %s.", "El token fue rechazado: %s.",
                    auth_verdict_text(v, r->lang));
  r->caller = c;
  return P_NONE;
}

/* Whether the caller's role and scopes admit rt, whose scope is scope. */
static bool caller_admitted(const struct caller *c, const struct route *rt, const char *scope) {
  return (rt->roles & c->role) && (scope[0] == '\0' || !c->scoped || scope_has(c->scope, scope));
}

/* Machine clients (and narrowed tokens) carry scopes; people are governed by their role. */
static enum problem authorize(struct req *r) {
  if (caller_admitted(&r->caller, r->route, r->scope))
    return P_NONE;
  if (r->route->roles & r->caller.role)
    return req_fail(r, P_FORBIDDEN, "The token lacks the scope %s.",
                    "Al token le falta el alcance %s.", r->scope);
  if (r->caller.role == ROLE_ANONYMOUS)
    return req_fail(r, P_UNAUTHORIZED, "This endpoint needs a bearer token.",
                    "Este recurso requiere un token de portador.");
  return req_fail(r, P_FORBIDDEN, "The role %s may not do this.", "El rol %s no puede hacer esto.",
                  role_name(r->caller.role));
}

/* ------------------------------------------------------------------ query */

static const char *const LIST_PARAMS[] = {"limit",         "cursor", "sort", "count",
                                          "updated_since", "format", NULL};

static const struct qparam *find_qparam(const struct route *rt, const char *name) {
  for (const struct qparam *p = rt->query; p != NULL && p->name != NULL; p++)
    if (p->type != Q_PATH && strcmp(p->name, name) == 0)
      return p;
  return NULL;
}

/* Splits the query string and checks every parameter against the route: unknown ones,
 * repeats of single ones, and malformed values are all reported at once. */
static enum problem parse_query(struct req *r) {
  const char *q = strchr(r->in->http_url, '?');
  if (q == NULL || q[1] == '\0')
    return P_NONE;
  if (query_split(q + 1, &r->query, &r->nquery) != A_OK)
    return req_fail(r, P_BAD_REQUEST, "The query string is not valid UTF-8.",
                    "La cadena de consulta no es UTF-8 válido.");
  if (r->nquery > HTTP_MAX_QUERY_PARAMS)
    return req_fail(r, P_BAD_REQUEST, "A request may have at most %d query parameters.",
                    "Una solicitud puede tener como máximo %d parámetros de consulta.",
                    HTTP_MAX_QUERY_PARAMS);
  int errs = 0;
  char ptr[160];
  for (size_t k = 0; k < r->nquery; k++) {
    const char *name = r->query[k].name, *value = r->query[k].value;
    snprintf(ptr, sizeof ptr, "/query/%.100s", name);

    bool listp = false;
    for (int i = 0; LIST_PARAMS[i] != NULL; i++)
      listp |= (r->route->flags & R_LIST) && strcmp(LIST_PARAMS[i], name) == 0;
    const struct qparam *spec = find_qparam(r->route, name);
    if (!listp && spec == NULL) {
      req_field_error(r, ptr, "unknown_parameter", NULL);
      errs++;
      continue;
    }
    bool repeated = false;
    for (size_t i = 0; i < k; i++)
      repeated |= strcmp(r->query[i].name, name) == 0;
    if (repeated && !(spec != NULL && spec->repeat)) {
      req_field_error(r, ptr, "repeated", NULL);
      errs++;
    } else if (listp && strcmp(name, "updated_since") == 0 && !qvalue_valid(Q_DATETIME, value)) {
      req_field_must_be(r, ptr, "invalid_format", PH_DATETIME);
      errs++;
    } else if (spec != NULL && spec->type == Q_ENUM) {
      bool ok = false;
      char allowed[512] = "";
      for (int i = 0; spec->values[i] != NULL; i++) {
        ok |= strcmp(spec->values[i], value) == 0;
        size_t u = strlen(allowed);
        snprintf(allowed + u, sizeof allowed - u, "%s%s", i ? ", " : "", spec->values[i]);
      }
      if (!ok) {
        req_field_error(r, ptr, "invalid_enum", allowed);
        errs++;
      }
    } else if (spec != NULL && !qvalue_valid(spec->type, value)) {
      static const enum phrase_id WHAT[] = {[Q_UUID] = PH_UUID,
                                            [Q_BOOL] = PH_BOOL,
                                            [Q_INT] = PH_WHOLE,
                                            [Q_DATE] = PH_DATE,
                                            [Q_DATETIME] = PH_DATETIME};
      req_field_must_be(r, ptr, "invalid_format", WHAT[spec->type]);
      errs++;
    } else if (spec != NULL && spec->type == Q_STRING && strlen(value) > 200) {
      req_field_error(r, ptr, "too_long", "200");
      errs++;
    }
  }
  return errs > 0 ? req_fail(r, P_INVALID_QUERY, NULL, NULL) : P_NONE;
}

/* ------------------------------------------------------------------- body */

/* application/x-www-form-urlencoded into a JSON object of strings. */
static json_t *parse_form(const char *body, size_t len) {
  json_t *obj = json_object();
  const char *p = body, *stop = body + len;
  while (p < stop) {
    const char *amp = memchr(p, '&', (size_t)(stop - p));
    size_t plen = amp ? (size_t)(amp - p) : (size_t)(stop - p);
    const char *eq = memchr(p, '=', plen);
    if (eq != NULL) {
      char *k = url_decode(p, (size_t)(eq - p));
      char *v = url_decode(eq + 1, plen - (size_t)(eq - p) - 1);
      if (k == NULL || v == NULL || !utf8_valid(v, strlen(v)) || !utf8_valid(k, strlen(k))) {
        free(k);
        free(v);
        json_decref(obj);
        return NULL;
      }
      json_object_set_new(obj, k, json_string(v));
      free(k);
      free(v);
    }
    p += plen + 1;
  }
  return obj;
}

static enum problem read_body(struct req *r) {
  /* The wire read no more than the route's limit (body_limit()). */
  const struct route *rt = r->route;
  size_t len = r->in->binary_body_length;
  if (!(rt->flags & (R_BODY_JSON | R_BODY_FORM)))
    return P_NONE;
  bool json = req_content_type_is(r, "application/json");
  bool form =
      (rt->flags & R_BODY_FORM) && req_content_type_is(r, "application/x-www-form-urlencoded");
  if (!json && !form)
    return req_fail(r, P_UNSUPPORTED_MEDIA, "Send the body as %s.", "Envíe el cuerpo como %s.",
                    (rt->flags & R_BODY_FORM)
                        ? "application/json or application/x-www-form-urlencoded"
                        : "application/json");
  if (len == 0)
    return req_fail(r, P_BAD_REQUEST, "A request body is required.",
                    "Se requiere un cuerpo en la solicitud.");
  if (form) {
    r->body = parse_form(r->in->binary_body, len);
    if (r->body == NULL)
      return req_fail(r, P_BAD_REQUEST, "The form body is not valid UTF-8.",
                      "El formulario no es UTF-8 válido.");
    return P_NONE;
  }
  json_error_t err;
  r->body = json_loadb(r->in->binary_body, len, JSON_REJECT_DUPLICATES, &err);
  if (r->body == NULL)
    return req_fail(r, P_BAD_REQUEST, "The body is not valid JSON (line %d, column %d): %s.",
                    "El cuerpo no es JSON válido (línea %d, columna %d): %s.", err.line, err.column,
                    err.text);
  if (!json_is_object(r->body))
    return req_fail(r, P_BAD_REQUEST, "The body must be a JSON object.",
                    "El cuerpo debe ser un objeto JSON.");
  return P_NONE;
}

/* ------------------------------------------------------------ idempotency */

static const char *principal(const struct req *r) {
  return r->caller.sub[0] ? r->caller.sub : "anonymous";
}

/* The method, the path with its query (?dry_run=true is another request) and the body. */
static void request_hash(const struct req *r, char out[65]) {
  const char *url = r->in->http_url ? r->in->http_url : r->in->url_path;
  size_t n = strlen(r->in->http_verb) + strlen(url) + r->in->binary_body_length + 3;
  char *buf = malloc(n);
  int k = snprintf(buf, n, "%s\n%s\n", r->in->http_verb, url);
  if (r->in->binary_body_length > 0)
    memcpy(buf + k, r->in->binary_body, r->in->binary_body_length);
  sha256_hex(buf, (size_t)k + r->in->binary_body_length, out);
  free(buf);
}

/* Inside the write's transaction: takes the key's lock and replays a stored response.
 * Returns P_NONE with *replayed set when the stored response was put in place. */
static enum problem idempotency_begin(struct req *r, const char *key, bool *replayed) {
  *replayed = false;
  if (strlen(key) == 0 || strlen(key) > 255)
    return req_fail(r, P_BAD_REQUEST, "Idempotency-Key must have 1 to 255 characters.",
                    "Idempotency-Key debe tener de 1 a 255 caracteres.");
  int locked = db_idem_lock(r->db, principal(r), key);
  if (locked < 0)
    return problem_from_db(r, r->db);
  if (locked == 0)
    return req_fail(r, P_IDEMPOTENCY_IN_PROGRESS,
                    "A request with this Idempotency-Key is still running; retry later.",
                    "Una solicitud con esta Idempotency-Key sigue en curso; reintente luego.");
  struct idem_record rec = {0};
  int found = db_idem_find(r->db, principal(r), key, &rec);
  if (found < 0)
    return problem_from_db(r, r->db);
  if (found == 0)
    return P_NONE;
  char hash[65];
  request_hash(r, hash);
  enum problem rc = P_NONE;
  if (strcmp(hash, rec.request_hash) != 0) {
    rc = req_fail(r, P_IDEMPOTENCY_MISMATCH,
                  "This Idempotency-Key was used with a different request.",
                  "Esta Idempotency-Key se usó con otra solicitud.");
  } else {
    reply_json(r, rec.status, rec.body);
    if (rec.location[0])
      reply_header(r, "Location", rec.location);
    reply_header(r, "Idempotent-Replayed", "true");
    *replayed = true;
  }
  free(rec.body);
  return rc;
}

static enum problem idempotency_store(struct req *r, const char *key) {
  if (r->status < 200 || r->status > 299)
    return P_NONE;
  char hash[65];
  request_hash(r, hash);
  const char *loc = u_map_get_case(r->out->map_header, "Location");
  char *body = r->replay_body != NULL ? strdup(r->replay_body)
                                      : strndup(r->out->binary_body ? r->out->binary_body : "",
                                                r->out->binary_body_length);
  int rc = db_idem_store(r->db, principal(r), key, r->in->http_verb, r->in->url_path, hash,
                         r->status, loc, body);
  free(body);
  return rc == A_OK ? P_NONE : problem_from_db(r, r->db);
}

/* ---------------------------------------------------------------- routing */

/* Does path match a route pattern ("/v1/users/:id")? Parameters match one segment. */
static bool path_matches(const char *pattern, const char *path) {
  while (*pattern == '/' && *path == '/') {
    pattern++;
    path++;
    const char *pe = strchr(pattern, '/'), *se = strchr(path, '/');
    size_t pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
    size_t sl = se ? (size_t)(se - path) : strlen(path);
    if (pattern[0] == ':') {
      if (sl == 0)
        return false;
    } else if (pl != sl || strncmp(pattern, path, pl) != 0) {
      return false;
    }
    pattern += pl;
    path += sl;
  }
  /* A trailing slash on the request is tolerated. */
  return *pattern == '\0' && (*path == '\0' || strcmp(path, "/") == 0);
}

/* The route of method and path: of the patterns that match, literal segments win over
 * parameters (/v1/agencies/import before /v1/agencies/:id). NULL when none matches. */
static const struct bound_route *route_for(const char *method, const char *path) {
  const struct bound_route *best = NULL;
  for (size_t k = 0; k < nbound; k++)
    if (strcasecmp(bound[k].route->method, method) == 0 &&
        path_matches(bound[k].route->path, path) &&
        (best == NULL || bound[k].priority < best->priority))
      best = &bound[k];
  return best;
}

/* Puts the path's parameters (":id") into in->map_url, decoded. A value that is not UTF-8
 * (or holds a NUL) is left out: the handler finds it NULL. path matched pattern. */
static void bind_path_params(const char *pattern, struct _u_request *in) {
  const char *path = in->url_path;
  while (*pattern == '/' && *path == '/') {
    pattern++;
    path++;
    size_t pl = strcspn(pattern, "/"), sl = strcspn(path, "/");
    if (pattern[0] == ':') {
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)(pl - 1), pattern + 1);
      char *value = url_decode(path, sl);
      if (value != NULL && utf8_valid(value, strlen(value)))
        u_map_put(in->map_url, name, value);
      free(value);
    }
    pattern += pl;
    path += sl;
  }
}

/* The methods allowed on path, as an Allow header value; false when no route has the path. */
static bool allowed_methods(const char *path, char *out, size_t cap) {
  out[0] = '\0';
  bool any = false;
  for (size_t t = 0; route_tables[t] != NULL; t++)
    for (const struct route *rt = route_tables[t]->routes; rt->method != NULL; rt++)
      if (path_matches(rt->path, path) && strstr(out, rt->method) == NULL) {
        size_t u = strlen(out);
        snprintf(out + u, cap - u, "%s%s", any ? ", " : "", rt->method);
        any = true;
      }
  if (any) {
    size_t u = strlen(out);
    snprintf(out + u, cap - u, ", OPTIONS");
  }
  return any;
}

static void handle_unmatched(struct req *r) {
  char allow[128];
  if (!allowed_methods(r->in->url_path, allow, sizeof allow)) {
    req_fail(r, P_NOT_FOUND, "There is nothing at %s.", "No hay nada en %s.", r->in->url_path);
    return;
  }
  reply_header(r, "Allow", allow);
  if (strcmp(r->in->http_verb, "OPTIONS") == 0) {
    /* A CORS preflight (or a plain OPTIONS): answered without authentication. */
    const char *origin = req_header(r, "Origin");
    if (origin != NULL && origin_allowed(origin)) {
      reply_header(r, "Access-Control-Allow-Methods", allow);
      reply_header(r, "Access-Control-Allow-Headers", CORS_ALLOW_HEADERS);
      reply_header(r, "Access-Control-Max-Age", "600");
    }
    reply_empty(r, 204);
    return;
  }
  req_fail(r, P_METHOD_NOT_ALLOWED, "%s is not allowed here; allowed: %s.",
           "%s no está permitido aquí; permitidos: %s.", r->in->http_verb, allow);
}

/* ------------------------------------------------------------------ limits */

/* The bytes of all the request's headers, names and values. */
static size_t header_bytes(const struct req *r) {
  size_t n = 0;
  const char **keys = u_map_enum_keys(r->in->map_header);
  for (size_t i = 0; keys != NULL && keys[i] != NULL; i++)
    n += strlen(keys[i]) + strlen(u_map_get(r->in->map_header, keys[i])) + 4;
  return n;
}

static size_t body_limit(const struct route *rt) {
  return (rt->flags & R_LARGE_BODY) ? HTTP_MAX_IMPORT_BYTES : HTTP_MAX_BODY_BYTES;
}

/* A body announced larger than the route takes is refused before it is read. */
static enum problem check_announced_body(struct req *r) {
  const char *cl = req_header(r, "Content-Length");
  size_t limit = body_limit(r->route);
  if (cl != NULL && strtoull(cl, NULL, 10) > limit)
    return req_fail(r, P_PAYLOAD_TOO_LARGE, "The body is larger than %zu bytes.",
                    "El cuerpo supera %zu bytes.", limit);
  return P_NONE;
}

/* Whether a body follows the headers: a Content-Length other than 0, or chunks. */
static bool body_announced(struct req *r) {
  const char *cl = req_header(r, "Content-Length");
  return req_header(r, "Transfer-Encoding") != NULL || (cl != NULL && strtoull(cl, NULL, 10) > 0);
}

/* ------------------------------------------------------------------ a route */

static int stamp_journal(struct req *r) {
  char *ids = mstrcatf(NULL, "{%s}", r->journal_ids);
  int rc = db_feed_stamp(r->db, ids);
  o_free(ids);
  return rc;
}

/* With the body in: the query, the body, the transaction, Idempotency-Key, the handler. */
static void run_route(struct req *r) {
  const struct route *rt = r->route;
  if (parse_query(r) != P_NONE || read_body(r) != P_NONE)
    return;

  bool tx = (rt->flags & (R_TX | R_IDEMPOTENT)) != 0;
  const char *key = (rt->flags & R_IDEMPOTENT) ? req_header(r, "Idempotency-Key") : NULL;
  if (tx) {
    if (req_db(r) == NULL)
      return;
    if (db_begin(r->db) != A_OK) {
      problem_from_db(r, r->db);
      return;
    }
  }
  bool replayed = false;
  char position[DB_LSN_TEXT];
  if (key != NULL && (idempotency_begin(r, key, &replayed) != P_NONE || replayed)) {
    r->idempotent_replay = replayed;
    db_rollback(r->db);
    /* The first answer's commit is behind the primary's position now. */
    if (replayed && db_wal_position(r->db, position, sizeof position) == A_OK)
      reply_header(r, HTTP_POSITION_HEADER, position);
    return;
  }
  enum problem p = rt->handler(r);
  if (p != P_NONE && r->problem == P_NONE)
    r->problem = p;
  if (!tx)
    return;
  if (r->problem == P_NONE && key != NULL)
    idempotency_store(r, key);
  if (r->problem == P_NONE && r->journal_ids != NULL && stamp_journal(r) != A_OK)
    problem_from_db(r, r->db);
  if (r->problem != P_NONE) {
    db_rollback(r->db);
  } else if (db_commit_at(r->db, position, sizeof position) != A_OK) {
    /* A deferred constraint is checked at COMMIT: the route's resource still names it. */
    problem_from_db(r, r->db);
    if (rt->resource != NULL)
      req_refused(r, rt->resource->refusals);
    if (r->problem == P_NONE)
      req_fail(r, P_INTERNAL, NULL, NULL);
  } else if (position[0] != '\0') {
    reply_header(r, HTTP_POSITION_HEADER, position);
  }
}

/* Metrics and one access-log line. bytes is -1 for a streamed body (sent after this). */
static void account(struct req *r, long bytes) {
  double ms = now_ms() - r->started;
  metrics_observe(r->route ? r->route->path : "(unmatched)", r->status, ms);
  char client[INET6_ADDRSTRLEN];
  req_client_address(r, client, sizeof client);
  log_access(r->in->http_verb, r->in->url_path, r->status, bytes, ms, r->request_id, client);
}

/*
 * What a browser or a cache may do with the answer, decided by the service itself so that an
 * instance reached without the proxy is as safe: never sniff its type; keep nothing said to
 * a caller who sent a token (or any error, or a write); a public GET answered to an
 * anonymous caller may be kept by any cache for a minute, apart from callers with a token.
 */
static void cache_headers(struct req *r) {
  reply_header(r, "X-Content-Type-Options", "nosniff");
  if (u_map_get_case(r->out->map_header, "Cache-Control") != NULL)
    return;
  bool shared = r->route != NULL && !(r->route->flags & R_NO_STORE) &&
                req_header(r, "Authorization") == NULL && r->problem == P_NONE &&
                (r->status == 200 || r->status == 304) && strcasecmp(r->in->http_verb, "GET") == 0;
  if (shared) {
    reply_header(r, "Cache-Control", "public, max-age=60");
    reply_vary(r, "Authorization");
  } else {
    reply_header(r, "Cache-Control", "no-store");
  }
}

/* The answer's last steps, the same for every route: its tag (set here and only here: from
 * the body, unless the handler knew it, as a stream does), 304 when If-None-Match names
 * it, a stream started or dropped, the problem body, then the connection back to the pool,
 * metrics and the access log. */
static void finish(struct req *r) {
  if (r->problem == P_NONE && r->status == 0)
    req_fail(r, P_INTERNAL, NULL, NULL);
  if (r->problem == P_NONE && r->has_body && r->etag[0] == '\0' &&
      (r->status == 200 || r->status == 201))
    etag_of(r->out->binary_body, r->out->binary_body_length, r->etag);
  bool not_modified = r->problem == P_NONE && req_not_modified(r);
  bool streamed = r->stream != NULL && r->problem == P_NONE && !not_modified;
  if (r->stream != NULL && csv_stream_attach(r, streamed) != P_NONE)
    streamed = false;
  if (r->problem != P_NONE) {
    problem_render(r);
  } else if (not_modified) {
    ulfius_set_empty_body_response(r->out, 304);
    u_map_remove_from_key(r->out->map_header, "Content-Type");
    r->status = 304;
    r->has_body = false;
  }
  if (r->problem == P_NONE && r->etag[0] != '\0')
    reply_header(r, "ETag", r->etag);
  cache_headers(r);
  db_release(r->db);
  r->db = NULL;
  r->finished = true;
  account(r, streamed ? -1L : (long)r->out->binary_body_length);
}

/* ------------------------------------------------------------------ dispatch */

/* The headers are in: everything that can be decided without the body. Returns the largest
 * body the route takes, or -1 when the request is answered already (its body is never
 * read). The request's state is *app until dispatch_done. */
static long dispatch_begin(struct _u_request *in, struct _u_response *out, void **app) {
  struct req *r = calloc(1, sizeof *r);
  *app = r;
  r->started = now_ms();
  r->in = in;
  r->out = out;
  const struct bound_route *b = route_for(in->http_verb, in->url_path);
  r->route = b ? b->route : NULL;
  r->scope = b ? b->scope : "";
  if (b != NULL)
    bind_path_params(b->route->path, in);
  assign_request_id(r);
  choose_language(r);
  apply_cors(r);
  if (header_bytes(r) > HTTP_MAX_HEADER_BYTES)
    req_fail(r, P_HEADERS_TOO_LARGE, "The request's headers exceed %d bytes.",
             "Las cabeceras de la solicitud superan %d bytes.", HTTP_MAX_HEADER_BYTES);
  else if (r->route == NULL)
    handle_unmatched(r);
  else if (authenticate(r) == P_NONE && authorize(r) == P_NONE)
    check_announced_body(r);
  if (r->problem != P_NONE || r->status != 0) {
    finish(r);
    return -1;
  }
  /* A slow upload must not hold a database connection; a request without a body keeps the
   * one its token's standing took (a read stays on the server that answered it). */
  if (body_announced(r)) {
    db_release(r->db);
    r->db = NULL;
  }
  return (long)body_limit(r->route);
}

/* The body is in: the rest of the request, and its answer. */
static void dispatch_end(struct _u_request *in, struct _u_response *out, void *app) {
  (void)in;
  (void)out;
  struct req *r = app;
  run_route(r);
  finish(r);
}

/* The request is over: a body cut at its limit is accounted here, then its state freed. */
static void dispatch_done(void *app, enum wire_outcome how) {
  struct req *r = app;
  if (r == NULL)
    return;
  if (!r->finished && how == WIRE_CUT) {
    r->status = problem_status(P_PAYLOAD_TOO_LARGE);
    account(r, 0);
  }
  db_release(r->db);
  json_decref(r->body);
  json_decref(r->errors);
  o_free(r->journal_ids);
  json_decref(r->problem_members);
  free(r->replay_body);
  query_pairs_free(r->query, r->nquery);
  if (r->stream != NULL)
    csv_stream_attach(r, false);
  free(r);
}

static const struct wire_hooks DISPATCH = {dispatch_begin, dispatch_end, dispatch_done};

/* ----------------------------------------------------------------- start */

/* Tables whose routes need no scope: the service itself, signing in, and "who am I". */
static const char *const UNSCOPED_TABLES[] = {"service", "tokens", "me", NULL};

void route_scope(const struct route_table *table, const struct route *rt, char *out, size_t cap) {
  out[0] = '\0';
  if (rt->scope != NULL) {
    snprintf(out, cap, "%s", rt->scope);
    return;
  }
  for (size_t i = 0; UNSCOPED_TABLES[i] != NULL; i++)
    if (strcmp(table->name, UNSCOPED_TABLES[i]) == 0)
      return;
  snprintf(out, cap, "%s:%s", table->name, strcmp(rt->method, "GET") == 0 ? "read" : "write");
}

void http_routes_describe(const struct route_table *const *tables, FILE *out) {
  for (size_t t = 0; tables[t] != NULL; t++)
    for (const struct route *rt = tables[t]->routes; rt->method != NULL; rt++) {
      char scope[64], roles[160] = "";
      route_scope(tables[t], rt, scope, sizeof scope);
      for (unsigned bit = ROLE_ANONYMOUS; bit <= ROLE_PARTNER; bit <<= 1)
        if (rt->roles & bit) {
          size_t u = strlen(roles);
          snprintf(roles + u, sizeof roles - u, "%s%s", u ? "," : "", role_name((enum role)bit));
        }
      fprintf(out, "%s\t%s\t%s\t%s\n", rt->method, rt->path, roles, scope[0] ? scope : "-");
    }
}

static unsigned int route_priority(const char *path) {
  /* Literal segments before parameters: /v1/agencies/import before /v1/agencies/:id. */
  unsigned int n = 1;
  for (const char *p = path; *p; p++)
    n += *p == ':';
  return n;
}

int http_server_start(const struct route_table *const *tables) {
  route_tables = tables;
  validate_format_init();

  struct sockaddr_storage addr;
  memset(&addr, 0, sizeof addr);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
  if (inet_pton(AF_INET, g_config.bind_address, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)g_config.port);
  } else if (inet_pton(AF_INET6, g_config.bind_address, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)g_config.port);
  } else {
    fprintf(stderr, "acredita: BIND_ADDRESS: not an IPv4 or IPv6 address\n");
    return A_ERR;
  }

  nbound = 0;
  for (size_t t = 0; tables[t] != NULL; t++)
    for (const struct route *rt = tables[t]->routes; rt->method != NULL; rt++)
      nbound++;
  bound = calloc(nbound, sizeof *bound);
  size_t k = 0;
  for (size_t t = 0; tables[t] != NULL; t++)
    for (const struct route *rt = tables[t]->routes; rt->method != NULL; rt++, k++) {
      bound[k].route = rt;
      bound[k].priority = route_priority(rt->path);
      route_scope(tables[t], rt, bound[k].scope, sizeof bound[k].scope);
    }

  if (wire_start(&DISPATCH, (const struct sockaddr *)&addr, g_config.db_pool_size) != A_OK) {
    fprintf(stderr, "acredita: PORT: cannot listen on %s:%d\n", g_config.bind_address,
            g_config.port);
    free(bound);
    bound = NULL;
    return A_ERR;
  }
  log_msg(Y_LOG_LEVEL_INFO, NULL, "listening on %s:%d", g_config.bind_address, http_server_port());
  return A_OK;
}

bool req_may_call(const struct req *r, const char *method, const char *pattern) {
  for (size_t k = 0; k < nbound; k++)
    if (strcmp(bound[k].route->method, method) == 0 && strcmp(bound[k].route->path, pattern) == 0)
      return caller_admitted(&r->caller, bound[k].route, bound[k].scope);
  return false;
}

bool http_scope_for_role(enum role role, const char *scope) {
  for (size_t k = 0; k < nbound; k++)
    if ((bound[k].route->roles & role) && strcmp(bound[k].scope, scope) == 0)
      return true;
  return false;
}

int http_server_port(void) {
  int port = wire_port();
  return port >= 0 ? port : g_config.port;
}

void http_server_stop(int grace_ms) {
  wire_stop(grace_ms);
  free(bound);
  bound = NULL;
  nbound = 0;
}
