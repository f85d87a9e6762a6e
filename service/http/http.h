/*
 * http.h — the HTTP plumbing every resource uses: routes, the request context, problems,
 * query parameters, bodies, paging, conditional requests, idempotency and audit.
 *
 * A resource declares a route table and writes handlers of the form
 *   static enum problem user_get(struct req *r);
 * that return P_NONE after setting a response with reply_json()/reply_empty(), or a problem
 * kind (with req_fail() for a detail, req_field_error() for field errors). Dispatch does the
 * rest, the same way for every route: request ID, CORS, authentication and roles, limits,
 * content type, query validation, the transaction around writes, Idempotency-Key, ETag and
 * 304, the problem body, metrics and the access log.
 */
#ifndef ACREDITA_HTTP_H
#define ACREDITA_HTTP_H

#include "acredita.h"
#include "db/db.h"

#include <jansson.h>
#include <stdio.h>
#include <ulfius.h>

/* Largest request body accepted by default, in bytes. */
#define HTTP_MAX_BODY_BYTES (1024 * 1024)
/* Largest body any route accepts (imports); the server's own buffer limit. */
#define HTTP_MAX_IMPORT_BYTES (16 * 1024 * 1024)
/* How long a request waits for a database connection before answering 503, in ms. */
#define HTTP_DB_WAIT_MS 2000
/* Seconds a client is told to wait after a 503. */
#define HTTP_RETRY_AFTER 2

struct req;
typedef enum problem (*handler_fn)(struct req *r);

/* What kind of query parameter; values are checked before the handler runs. Q_PATH binds
 * the path parameter of that name (":id") in the parameter's place, so that a nested list
 * (/v1/agencies/:id/tasks) gets it like a filter and its cursors are bound to it; it is never
 * read from the query string, and the handler checks its value. */
enum qtype { Q_STRING, Q_UUID, Q_BOOL, Q_INT, Q_DATE, Q_DATETIME, Q_ENUM, Q_PATH };

struct qparam {
  const char *name;
  enum qtype type;
  bool repeat;               /* may be given more than once (passed to SQL as a JSON array) */
  const char *const *values; /* Q_ENUM: NULL-terminated allowed values */
};

/* Route flags. */
enum {
  R_TX = 1u << 0,         /* run inside one transaction: commit on success, roll back on error */
  R_IDEMPOTENT = 1u << 1, /* honours Idempotency-Key (implies R_TX) */
  R_BODY_JSON = 1u << 2,  /* takes application/json; parsed into r->body (an object) */
  R_BODY_FORM = 1u << 3,  /* also takes application/x-www-form-urlencoded into r->body */
  R_BODY_RAW = 1u << 4,   /* takes NDJSON or CSV; the handler reads r->in->binary_body */
  R_LIST = 1u << 5,       /* a list: limit, cursor, sort, count and updated_since allowed */
  R_NO_DB = 1u << 6,      /* never touches the database */
  R_LARGE_BODY = 1u << 7, /* up to HTTP_MAX_IMPORT_BYTES instead of HTTP_MAX_BODY_BYTES */
  R_PRIMARY = 1u << 8,    /* a GET the primary answers unless it is down (not a standby) */
};

/* The header that carries a write's commit position (db_commit_at) to the client, and back on
 * a later GET that must see that write (read-your-writes). */
#define HTTP_POSITION_HEADER "Acredita-Position"

struct route {
  const char *method;
  const char *path; /* ulfius pattern: "/v1/users/:id" */
  unsigned roles;   /* enum role bits admitted */
  handler_fn handler;
  unsigned flags;
  const struct qparam *query; /* allowed query parameters, ended by {NULL}; NULL for none */
  const char *scope; /* scope a machine client's token must carry; NULL: "<table name>:read"
                        for GET, ":write" otherwise (none for the service, tokens, me tables) */
};

/* A table of routes ended by an entry with method == NULL. */
struct route_table {
  const char *name;
  const struct route *routes;
};

/* One query parameter as received: decoded name and value. */
struct qpair {
  char *name;
  char *value;
};

struct req {
  const struct _u_request *in;
  struct _u_response *out;
  const struct route *route;
  char request_id[129];
  enum lang lang;
  struct caller caller;
  struct db_conn *db; /* acquired on first use by req_db(); released by dispatch */
  db_lsn position;    /* a read's Acredita-Position: whoever answers has replayed it (0: none) */
  json_t *body;       /* the parsed body object (R_BODY_JSON, R_BODY_FORM), owned by dispatch */
  struct qpair *query;
  size_t nquery;
  /* The problem being answered, when a handler or dispatch fails. */
  enum problem problem;
  char detail[512];
  json_t *errors; /* array of {field, code, message}; NULL until the first error */
  /* The response. */
  long status;
  bool has_body;
  char etag[40];
  bool idempotent_replay;
  char *journal_ids;       /* ids of the change-feed rows written ("1,2"): stamped at COMMIT */
  const char *scope;       /* the scope a machine client needs here ("" for none) */
  json_t *problem_members; /* extra members of the problem body (owned), or NULL */
  bool streamed;           /* the body is streamed after dispatch (reply_csv_stream) */
};

/* ----------------------------------------------------------------- server */

/* Starts serving tables (NULL-terminated) on g_config's address. A_OK or A_ERR. */
int http_server_start(const struct route_table *const *tables);
/* Stops accepting, waits up to grace_ms for requests in flight, then stops. */
void http_server_stop(int grace_ms);
/* The scope a route needs: its own, or derived from its table's name and its method. */
void route_scope(const struct route_table *table, const struct route *rt, char *out, size_t cap);
/* Prints every route as "METHOD<TAB>PATH<TAB>roles<TAB>scope" lines (acredita routes). */
void http_routes_describe(const struct route_table *const *tables, FILE *out);
/* The port actually bound (useful with PORT=0). */
int http_server_port(void);

/* ---------------------------------------------------------------- context */

/* The request's database connection, acquired on first call; NULL (and the problem set to
 * P_UNAVAILABLE) when none can be had. A GET outside a transaction is a read and may be
 * answered by a standby (db_acquire_read), one that has replayed the Acredita-Position it
 * carries (a malformed one answers 400); everything else goes to the primary. */
struct db_conn *req_db(struct req *r);
/* Runs a statement on the request's connection; on failure sets the problem from the
 * database's answer (503, 409, 422 or 500) and returns NULL. */
PGresult *req_exec(struct req *r, struct db_stmt *s, int n, const char *const *params);
/* The path parameter name (":id") or NULL. */
const char *req_path_param(const struct req *r, const char *name);
/* The value of a validated query parameter (its last occurrence), or NULL when absent. */
const char *req_query_value(const struct req *r, const char *name);
/* The value of a query parameter bound for SQL: repeatable ones as a JSON array text. The
 * caller frees it with free(); NULL when absent. */
char *req_query_sql(const struct req *r, const struct qparam *p);
/* A request header (case-insensitive) or NULL. */
const char *req_header(const struct req *r, const char *name);
/* A string member of the body, or NULL when absent or not a string. */
const char *req_body_string(const struct req *r, const char *name);

/* ---------------------------------------------------------------- replies */

/* Sets a JSON response (copied). ETag is added to 200 and 201 responses (dispatch adds one
 * to every other GET 200). */
enum problem reply_json(struct req *r, long status, const char *json_text);
/* Same, taking ownership of a jansson value. */
enum problem reply_jansson(struct req *r, long status, json_t *value);
/* Sets a body of another media type (copied). */
enum problem reply_text(struct req *r, long status, const char *content_type, const char *body,
                        size_t len);
/* Answers 200 text/csv streamed in chunks (Transfer-Encoding: chunked), so that an export
 * of any size holds little memory: a UTF-8 byte order mark (for Excel), header_line, then the
 * rows of page, each line ended by CRLF. page is a keyset page statement shaped like PAGE_SQL
 * (sql.h): it takes params[0..n) and then the last row's key ($n+1) and id ($n+2), both NULL
 * at first, and the batch size ($n+3); it returns rows of (CSV record without its line end,
 * key as text, id). The helper runs it again after each batch's last row until a batch comes
 * back short. Every batch reads one snapshot (REPEATABLE READ, READ ONLY) on a connection the
 * stream keeps: the request's own (taken over) or one from the pool. The stream gives it back
 * when it ends or the client goes away. The first batch runs here, so that its failure is an
 * ordinary problem answer; a failure later cuts the stream short. params are copied. There is
 * no ETag (the body is not known before it is sent). */
enum problem reply_csv_stream(struct req *r, struct db_stmt *page, int n, const char *const *params,
                              const char *header_line);
/* Sets an empty response (204). */
enum problem reply_empty(struct req *r, long status);
/* Adds a response header. */
void reply_header(struct req *r, const char *name, const char *value);

/* --------------------------------------------------------------- problems */

/* Sets the problem and its detail in both languages (printf formats taking the same
 * arguments). Returns kind, so a handler can write: return req_fail(r, P_CONFLICT, …). */
enum problem req_fail(struct req *r, enum problem kind, const char *en, const char *es, ...);
/* Adds a field error: pointer is a JSON Pointer ("/state"), code a stable word from the
 * catalogue in problem.c (required, invalid_type, invalid_enum, too_long, …), arg fills the
 * message's placeholder (the allowed values, the maximum) or is NULL. */
void req_field_error(struct req *r, const char *pointer, const char *code, const char *arg);
/* Renders r->problem as application/problem+json into the response. */
void problem_render(struct req *r);
/* The HTTP status of a problem kind. */
long problem_status(enum problem kind);
/* Maps a failed database call to a problem (503 unavailable, 409 unique, …) and sets it. */
enum problem problem_from_db(struct req *r, const struct db_conn *c);

/* ------------------------------------------------------------- validation */

enum ftype {
  F_STRING,
  F_EMAIL,
  F_UUID,
  F_BOOL,
  F_INT,
  F_NUMBER,
  F_DATE,
  F_DATETIME,
  F_ENUM,
  F_URL,
  F_BILINGUAL,    /* {"es": required, "en": optional} */
  F_STRING_ARRAY, /* array of strings (enum-checked when values is set) */
  F_OBJECT,       /* checked against sub */
  F_ARRAY_OF,     /* array of objects checked against sub */
  F_JSON,         /* any object: free keys */
};

enum { F_REQUIRED = 1u << 0, F_NULLABLE = 1u << 1 };

struct field {
  const char *name;
  enum ftype type;
  unsigned flags;
  long min, max;             /* string length, integer range, array length (0, 0 = none) */
  const char *const *values; /* F_ENUM, F_STRING_ARRAY: NULL-terminated allowed values */
  const struct field *sub;   /* F_OBJECT, F_ARRAY_OF: ended by {NULL} */
};

/* Checks body against fields, adding a field error for each problem found (unknown fields
 * included). With patch, nothing is required but the body must not be empty. Returns the
 * number of errors added. */
int validate_body(struct req *r, const json_t *body, const struct field *fields, bool patch);
/* Checks one value against one field; prefix is the JSON Pointer of the value. */
int validate_value(struct req *r, const json_t *v, const struct field *f, const char *pointer);

/* ---------------------------------------------------------------- paging */

/*
 * A keyset-paged list. Statements take, in order:
 *   $1 caller role, $2 caller sub, $3 caller agency_id (for scoping; may be NULL),
 *   $4 updated_since, $5 … $(4+F) the route's query parameters in table order,
 * and the page statements also $(5+F) the cursor's sort key (text), $(6+F) its id, $(7+F) the
 * row limit. A page statement returns rows of (json text, sort key as text, id).
 * LIST_SORT_KEY_PARAMS documents that numbering for SQL writers.
 */
struct list_spec {
  const char *const *sorts; /* NULL-terminated sort field names; [0] is the default */
  struct db_stmt **pages;   /* per sort: [2*i] ascending, [2*i+1] descending */
  struct db_stmt *count;
};
enum problem list_respond(struct req *r, const struct list_spec *spec);

/* Cursor codec, exposed for tests: encode returns a malloc'd string; decode returns A_OK and
 * fills key/id (malloc'd) when the cursor is intact and was made for binding. */
char *cursor_encode(const char *key, const char *id, const char *binding);
int cursor_decode(const char *cursor, const char *binding, char **key, char **id);

/* ------------------------------------------------------ conditional requests */

/* The entity tag of a body: a quoted hash of its bytes. */
void etag_of(const void *body, size_t len, char out[40]);
/* True when an If-None-Match / If-Match header value lists tag (or is "*"). */
bool etag_matches(const char *header, const char *tag);
/* For PATCH, PUT, DELETE: checks If-Match against the current representation. */
enum problem req_check_if_match(struct req *r, const char *current_json);

/* ------------------------------------------------------------------ audit */

/* Records a write in the audit trail and the change feed, in the request's transaction (the
 * route must have R_TX). before/after are the JSON representations (NULL for a create's
 * before or a delete's after); action is created, updated, deleted or transitioned. */
enum problem req_audit(struct req *r, const char *action, const char *resource, const char *id,
                       const char *before, const char *after);

/* ------------------------------------------------------ resource handlers */

/* Answers the one row of res (its first column, JSON) with 200, or not_found when there is
 * none; frees res. A NULL res (a failed query) answers the problem already set. */
enum problem reply_row(struct req *r, PGresult *res, handler_fn not_found);
/* Runs lock — a statement returning the row's JSON with FOR UPDATE, params[0] the id — and
 * checks If-Match against it. not_found answers a non-UUID id or a missing row. On P_NONE
 * *current holds the row: the caller PQclears it (also when If-Match failed). */
enum problem req_lock_row(struct req *r, struct db_stmt *lock, int n, const char *const *params,
                          handler_fn not_found, PGresult **current);
/* Audit the write (resource is the singular name: "webinar") and answer it: 201 with
 * Location collection/id, 200 with the new representation, or 204. */
enum problem reply_created(struct req *r, const char *resource, const char *collection,
                           const char *id, const char *json);
enum problem reply_updated(struct req *r, const char *resource, const char *id, const char *before,
                           const char *after);
enum problem reply_deleted(struct req *r, const char *resource, const char *id, const char *before);

/* ---------------------------------------------------------------- metrics */

void metrics_observe(const char *route, long status, double ms);
/* The Prometheus text; malloc'd, free() it. */
char *metrics_render(void);

/* ------------------------------------------------------------------ utils */

/* True when v is a well-formed value of query type t (enums are checked by the caller). */
bool qvalue_valid(enum qtype t, const char *v);
/* Compiles the validators' patterns; called once before threads start. */
void validate_format_init(void);

/* True when s[0..len) is valid UTF-8 without NUL bytes. */
bool utf8_valid(const char *s, size_t len);

/* ------------------------------------------------------------ url decoding */

/* Decodes s[0..len) of a query string or form ('+' is a space, %XX a byte). Returns a
 * malloc'd string the caller frees, or NULL when it would contain a NUL byte (%00). */
char *url_decode(const char *s, size_t len);
/* Splits a query string (without the '?') into decoded name/value pairs in order: '&'
 * separates pairs (empty ones are skipped), the first '=' separates name and value (a name
 * alone has the value ""). Returns A_OK with *out malloc'd (free with query_pairs_free), or
 * A_ERR with *out NULL when a name or value is not valid UTF-8 or holds a NUL byte. */
int query_split(const char *qs, struct qpair **out, size_t *n);
void query_pairs_free(struct qpair *pairs, size_t n);

#endif
