/*
 * server.c — the ulfius instance and the one callback every request goes through.
 *
 * Every route is registered with dispatch() as its callback and its route entry as user
 * data, so the conventions of API.md §1 are applied once, in the same order, for every
 * resource. Unmatched paths and methods reach dispatch() too (as the default endpoint, with
 * no route), because ulfius 2.7.13 otherwise answers them 200 with an empty body.
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

static struct _u_instance instance;
/* Each served route with the scope a machine client needs for it (see route_scope()). */
struct bound_route {
  const struct route *route;
  char scope[64];
};
static struct bound_route *bound;
static const struct route_table *const *route_tables;
static atomic_int in_flight;

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
  reply_header(r, "Vary", "Origin");
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
  if (v != AUTH_OK)
    return req_fail(r, P_INVALID_TOKEN, "The token was refused: %s.", "El token fue rechazado: %s.",
                    auth_verdict_text(v));
  r->caller = c;
  return P_NONE;
}

static bool has_scope(const char *scopes, const char *want) {
  size_t n = strlen(want);
  for (const char *p = scopes; (p = strstr(p, want)) != NULL; p += n)
    if ((p == scopes || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
      return true;
  return false;
}

static enum problem authorize(struct req *r) {
  const struct route *rt = r->route;
  if (!(rt->roles & r->caller.role)) {
    if (r->caller.role == ROLE_ANONYMOUS)
      return req_fail(r, P_UNAUTHORIZED, "This endpoint needs a bearer token.",
                      "Este recurso requiere un token de portador.");
    return req_fail(r, P_FORBIDDEN, "The role %s may not do this.",
                    "El rol %s no puede hacer esto.", role_name(r->caller.role));
  }
  /* Machine clients carry scopes; people are governed by their role alone. */
  if (r->scope[0] != '\0' && r->caller.scoped && !has_scope(r->caller.scope, r->scope))
    return req_fail(r, P_FORBIDDEN, "The token lacks the scope %s.",
                    "Al token le falta el alcance %s.", r->scope);
  return P_NONE;
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
      req_field_error(r, ptr, "invalid_format", "an RFC 3339 date-time");
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
      static const char *const WHAT[] = {[Q_UUID] = "a UUID",
                                         [Q_BOOL] = "true or false",
                                         [Q_INT] = "a whole number",
                                         [Q_DATE] = "a date YYYY-MM-DD",
                                         [Q_DATETIME] = "an RFC 3339 date-time"};
      req_field_error(r, ptr, "invalid_format", WHAT[spec->type] ? WHAT[spec->type] : "valid");
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
  const struct route *rt = r->route;
  size_t len = r->in->binary_body_length;
  size_t limit = (rt->flags & R_LARGE_BODY) ? HTTP_MAX_IMPORT_BYTES : HTTP_MAX_BODY_BYTES;
  if (len > limit)
    return req_fail(r, P_PAYLOAD_TOO_LARGE, "The body is larger than %zu bytes.",
                    "El cuerpo supera %zu bytes.", limit);
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
  char *body = strndup(r->out->binary_body ? r->out->binary_body : "", r->out->binary_body_length);
  int rc = db_idem_store(r->db, principal(r), key, r->in->http_verb, r->in->url_path, hash,
                         r->status, loc, body);
  free(body);
  return rc == A_OK ? P_NONE : problem_from_db(r, r->db);
}

/* ---------------------------------------------------------------- routing */

/* Does path match a ulfius pattern ("/v1/users/:id")? Parameters match one segment. */
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

static int stamp_journal(struct req *r) {
  char *ids = mstrcatf(NULL, "{%s}", r->journal_ids);
  int rc = db_feed_stamp(r->db, ids);
  o_free(ids);
  return rc;
}

static void run_route(struct req *r) {
  const struct route *rt = r->route;
  if (authenticate(r) != P_NONE || authorize(r) != P_NONE || parse_query(r) != P_NONE ||
      read_body(r) != P_NONE)
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

static void client_address(const struct req *r, char *out, size_t cap) {
  const char *xff = req_header(r, "X-Forwarded-For");
  if (xff != NULL) {
    size_t n = strcspn(xff, ", ");
    snprintf(out, cap, "%.*s", (int)(n < 64 ? n : 64), xff);
    return;
  }
  snprintf(out, cap, "-");
  const struct sockaddr *sa = r->in->client_address;
  if (sa == NULL)
    return;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* The answer's last steps, the same for every route: its tag (set here and only here: from
 * the body, unless the handler knew it, as a stream does), 304 when If-None-Match names
 * it, a stream started or dropped, the problem body, then the connection back to the pool,
 * metrics and the access log. */
static void finish(struct req *r, double started) {
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
  db_release(r->db);
  r->db = NULL;

  double ms = now_ms() - started;
  metrics_observe(r->route ? r->route->path : "(unmatched)", r->status, ms);
  char client[72];
  client_address(r, client, sizeof client);
  /* A streamed body is sent after this line is written: its size is not known (-1). */
  log_access(r->in->http_verb, r->in->url_path, r->status,
             streamed ? -1L : (long)r->out->binary_body_length, ms, r->request_id, client);

  json_decref(r->body);
  json_decref(r->errors);
  o_free(r->journal_ids);
  json_decref(r->problem_members);
  query_pairs_free(r->query, r->nquery);
}

static int dispatch(const struct _u_request *in, struct _u_response *out, void *user_data) {
  double started = now_ms();
  atomic_fetch_add(&in_flight, 1);
  struct req r;
  memset(&r, 0, sizeof r);
  r.in = in;
  r.out = out;
  const struct bound_route *b = user_data;
  r.route = b ? b->route : NULL;
  r.scope = b ? b->scope : "";
  assign_request_id(&r);
  choose_language(&r);
  apply_cors(&r);
  if (r.route == NULL)
    handle_unmatched(&r);
  else
    run_route(&r);
  finish(&r, started);
  atomic_fetch_sub(&in_flight, 1);
  return U_CALLBACK_COMPLETE;
}

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
  unsigned int flags =
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
  if (inet_pton(AF_INET, g_config.bind_address, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)g_config.port);
  } else if (inet_pton(AF_INET6, g_config.bind_address, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)g_config.port);
    flags |= MHD_USE_IPv6;
  } else {
    fprintf(stderr, "acredita: BIND_ADDRESS: not an IPv4 or IPv6 address\n");
    return A_ERR;
  }

  if (ulfius_init_instance(&instance, (unsigned int)g_config.port, NULL, NULL) != U_OK)
    return A_ERR;
  instance.max_post_body_size = HTTP_MAX_IMPORT_BYTES + 1;
  size_t n = 0, k = 0;
  for (size_t t = 0; tables[t] != NULL; t++)
    for (const struct route *rt = tables[t]->routes; rt->method != NULL; rt++)
      n++;
  bound = calloc(n, sizeof *bound);
  for (size_t t = 0; tables[t] != NULL; t++)
    for (const struct route *rt = tables[t]->routes; rt->method != NULL; rt++, k++) {
      bound[k].route = rt;
      route_scope(tables[t], rt, bound[k].scope, sizeof bound[k].scope);
      ulfius_add_endpoint_by_val(&instance, rt->method, NULL, rt->path, route_priority(rt->path),
                                 dispatch, &bound[k]);
    }
  ulfius_set_default_endpoint(&instance, dispatch, NULL);

  /* A thread pool instead of a thread per connection (STACK.md); with it ulfius needs
   * these two callbacks and ignores its own timeout and bind address. */
  struct MHD_OptionItem ops[] = {
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)mhd_request_completed, NULL},
      {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)ulfius_uri_logger, NULL},
      {MHD_OPTION_THREAD_POOL_SIZE, g_config.db_pool_size, NULL},
      {MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, 128 * 1024, NULL},
      {MHD_OPTION_SOCK_ADDR, 0, &addr},
      {MHD_OPTION_END, 0, NULL}};
  if (ulfius_start_framework_with_mhd_options(&instance, flags, ops) != U_OK) {
    fprintf(stderr, "acredita: PORT: cannot listen on %s:%d\n", g_config.bind_address,
            g_config.port);
    ulfius_clean_instance(&instance);
    return A_ERR;
  }
  log_msg(Y_LOG_LEVEL_INFO, NULL, "listening on %s:%d", g_config.bind_address, http_server_port());
  return A_OK;
}

int http_server_port(void) {
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(instance.mhd_daemon, MHD_DAEMON_INFO_LISTEN_FD);
  if (info == NULL)
    return g_config.port;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(info->listen_fd, (struct sockaddr *)&ss, &len) != 0)
    return g_config.port;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void http_server_stop(int grace_ms) {
  /* Stop accepting first, then let requests in flight finish, bounded. */
  MHD_socket fd = MHD_quiesce_daemon(instance.mhd_daemon);
  for (int waited = 0; atomic_load(&in_flight) > 0 && waited < grace_ms; waited += 10)
    usleep(10000);
  ulfius_stop_framework(&instance);
  /* The listening socket is ours after quiescing, but only closable once MHD is stopped. */
  if (fd != MHD_INVALID_SOCKET)
    close(fd);
  ulfius_clean_instance(&instance);
  free(bound);
  bound = NULL;
}
