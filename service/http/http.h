/*
 * http.h — the HTTP plumbing every resource uses: routes, the request context, problems,
 * query parameters, bodies, lists, conditional requests, and the shared handlers that turn a
 * resource spec (its SQL, its field table, its refusals) into GET, POST, PATCH and DELETE.
 *
 * A resource declares a route table. Most of its routes name a shared handler
 * (resource_get, resource_create, resource_patch, resource_delete, list_respond) and the spec
 * it works on; the others are handlers of the form
 *   static enum problem user_get(struct req *r);
 * that return P_NONE after setting a response with reply_json()/reply_empty(), or a problem
 * kind (with req_fail() for a detail, req_field_error() for field errors). Dispatch does the
 * rest, the same way for every route: request ID, CORS, authentication and roles, limits,
 * content type, query validation, the transaction around writes, Idempotency-Key, the ETag
 * and 304, the problem body, metrics and the access log.
 *
 * The files of http/ depend one way (each calls only files listed before it):
 *   bytes.c query.c request.c problem.c database.c conditional.c validate.c stream.c page.c
 *   resource.c metrics.c wire.c server.c
 */
#ifndef ACREDITA_HTTP_H
#define ACREDITA_HTTP_H

#include "acredita.h"
#include "db/db.h"

#include <jansson.h>
#include <stdio.h>
#include <sys/socket.h>
#include <ulfius.h>

/* Largest request body accepted by default, in bytes. */
#define HTTP_MAX_BODY_BYTES (1024 * 1024)
/* Largest body any route accepts (imports); the server's own buffer limit. */
#define HTTP_MAX_IMPORT_BYTES (16 * 1024 * 1024)
/* Largest size of a request's headers (names and values), in bytes: 431 beyond. */
#define HTTP_MAX_HEADER_BYTES (32 * 1024)
/* Memory libmicrohttpd gives each connection for the request line and headers; headers
 * between HTTP_MAX_HEADER_BYTES and about half of this still get the service's own 431 (a
 * Cookie header takes twice its size: libmicrohttpd copies it to parse it). */
#define HTTP_CONNECTION_MEMORY (256 * 1024)
/* Most field errors an answer lists; the others are counted in errors_omitted. */
#define HTTP_MAX_FIELD_ERRORS 100
/* Most query parameters a request may have (400 beyond). */
#define HTTP_MAX_QUERY_PARAMS 100
/* Seconds a connection may stay idle before it is closed. */
#define HTTP_IDLE_TIMEOUT_S 60
/* How long a request waits for a database connection before answering 503, in ms. */
#define HTTP_DB_WAIT_MS 2000
/* Seconds a client is told to wait after a 503. */
#define HTTP_RETRY_AFTER 2

struct req;
struct resource;
struct list_spec;
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
  bool hidden; /* filters on a field the list's public view hides (list_spec.public_roles) */
};

/* Route flags. */
enum {
  R_TX = 1u << 0,         /* run inside one transaction: commit on success, roll back on error */
  R_IDEMPOTENT = 1u << 1, /* honours Idempotency-Key (implies R_TX) */
  R_BODY_JSON = 1u << 2,  /* takes application/json; parsed into r->body (an object) */
  R_BODY_FORM = 1u << 3,  /* also takes application/x-www-form-urlencoded into r->body */
  R_BODY_RAW = 1u << 4,   /* takes NDJSON or CSV; the handler reads r->in->binary_body */
  R_LIST = 1u << 5,       /* a list: limit, cursor, sort, count, format and updated_since */
  R_NO_DB = 1u << 6,      /* never touches the database */
  R_LARGE_BODY = 1u << 7, /* up to HTTP_MAX_IMPORT_BYTES instead of HTTP_MAX_BODY_BYTES */
  R_PRIMARY = 1u << 8,    /* a GET the primary answers unless it is down (not a standby) */
  R_NO_STORE = 1u << 9,   /* never cached, not even anonymous answers (health, metrics) */
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
  const char *scope;         /* scope a machine client's token must carry; NULL: "<table name>:read"
                                for GET, ":write" otherwise (none for the service, tokens, me tables) */
  struct resource *resource; /* the spec a shared handler works on, or NULL */
  struct list_spec *list;    /* the list list_respond answers, or NULL */
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

struct csv_stream;

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
  json_t *errors;        /* array of {field, code, message}; NULL until the first error */
  size_t errors_omitted; /* field errors past HTTP_MAX_FIELD_ERRORS, not in errors */
  /* The response. */
  long status;
  bool has_body;
  char etag[40]; /* set by a handler that knows the tag without the body (a stream); else
                    finish() hashes the body */
  bool idempotent_replay;
  char *journal_ids;         /* ids of the change-feed rows written ("1,2"): stamped at COMMIT */
  const char *scope;         /* the scope a machine client needs here ("" for none) */
  json_t *problem_members;   /* extra members of the problem body (owned), or NULL */
  char *replay_body;         /* what an Idempotency-Key replay answers instead of the body, when the
                                body shows a secret once (malloc'd, owned), or NULL */
  struct csv_stream *stream; /* a body to stream once the answer is decided (owned), or NULL */
  double started;            /* CLOCK_MONOTONIC ms when the headers arrived */
  bool finished;             /* the answer is decided and accounted (finish() ran) */
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
/* True when the caller's role and scopes admit the route method pattern ("/v1/tasks/:id"). */
bool req_may_call(const struct req *r, const char *method, const char *pattern);
/* True when some route open to role needs scope (what a person's token may be narrowed to). */
bool http_scope_for_role(enum role role, const char *scope);
/* The port actually bound (useful with PORT=0). */
int http_server_port(void);

/* ------------------------------------------------------- bytes (bytes.c) */

/* True when s[0..len) is valid UTF-8 without NUL bytes. */
bool utf8_valid(const char *s, size_t len);
/* The entity tag of a body: a quoted hash of its bytes. */
void etag_of(const void *body, size_t len, char out[40]);
/* True when an If-None-Match / If-Match header value lists tag (or is "*"). */
bool etag_matches(const char *header, const char *tag);

/* ------------------------------------------------------ url decoding (query.c) */

/* Decodes s[0..len) of a query string or form ('+' is a space, %XX a byte). Returns a
 * malloc'd string the caller frees, or NULL when it would contain a NUL byte (%00). */
char *url_decode(const char *s, size_t len);
/* Splits a query string (without the '?') into decoded name/value pairs in order: '&'
 * separates pairs (empty ones are skipped), the first '=' separates name and value (a name
 * alone has the value ""). Returns A_OK with *out malloc'd (free with query_pairs_free), or
 * A_ERR with *out NULL when a name or value is not valid UTF-8 or holds a NUL byte. */
int query_split(const char *qs, struct qpair **out, size_t *n);
void query_pairs_free(struct qpair *pairs, size_t n);

/* --------------------------------------------- reading and replying (request.c) */

/* The path parameter name (":id") or NULL. */
const char *req_path_param(const struct req *r, const char *name);
/* The value of a validated query parameter (its last occurrence), or NULL when absent. */
const char *req_query_value(const struct req *r, const char *name);
/* The value of a query parameter bound for SQL: repeatable ones as a JSON array text. The
 * caller frees it with free(); NULL when absent. */
char *req_query_sql(const struct req *r, const struct qparam *p);
/* A request header (case-insensitive) or NULL. */
const char *req_header(const struct req *r, const char *name);
/* True when the request's Content-Type is want (parameters such as charset aside). */
bool req_content_type_is(const struct req *r, const char *want);
/* A string member of the body, or NULL when absent or not a string. */
const char *req_body_string(const struct req *r, const char *name);
/* The client's address as text ("-" when unknown): the peer's, or, when the peer is one of
 * TRUSTED_PROXIES, the address its X-Forwarded-For names. */
void req_client_address(const struct req *r, char *out, size_t cap);
/* The caller's sub and agency for SQL: NULL when the caller has none. */
const char *req_caller_sub(const struct req *r);
const char *req_caller_agency(const struct req *r);

/* Sets a JSON response (copied). finish() adds the ETag of 200 and 201 answers. */
enum problem reply_json(struct req *r, long status, const char *json_text);
/* Same, taking ownership of a jansson value. */
enum problem reply_jansson(struct req *r, long status, json_t *value);
/* Sets a body of another media type (copied). */
enum problem reply_text(struct req *r, long status, const char *content_type, const char *body,
                        size_t len);
/* Sets an empty response (204). */
enum problem reply_empty(struct req *r, long status);
/* Adds a response header (replacing one of the same name). */
void reply_header(struct req *r, const char *name, const char *value);
/* Adds name to the response's Vary header, once. */
void reply_vary(struct req *r, const char *name);

/* ------------------------------------------------------ problems (problem.c) */

/* Sets the problem and its detail in both languages (printf formats taking the same
 * arguments). Returns kind, so a handler can write: return req_fail(r, P_CONFLICT, …). */
enum problem req_fail(struct req *r, enum problem kind, const char *en, const char *es, ...);
/* Adds a field error: pointer is a JSON Pointer ("/state"), code a stable word from the
 * catalogue in problem.c (required, invalid_type, invalid_enum, too_long, …), arg fills the
 * message's placeholder or is NULL. arg is the same in every language — values, numbers,
 * ranges —: prose goes through req_field_error_text(). Past HTTP_MAX_FIELD_ERRORS errors it
 * only counts them (r->errors_omitted). */
void req_field_error(struct req *r, const char *pointer, const char *code, const char *arg);
/* The same with an argument in prose, in both languages (the request's is used). */
void req_field_error_text(struct req *r, const char *pointer, const char *code, const char *en,
                          const char *es);
/* The i-th field error code of the catalogue, or NULL past its end (for tests). */
const char *problem_field_code(size_t i);
/* Renders r->problem as application/problem+json into the response. */
void problem_render(struct req *r);
/* The HTTP status of a problem kind. */
long problem_status(enum problem kind);
/* Maps a failed database call to a problem (503 unavailable, 409 unique, …) and sets it. */
enum problem problem_from_db(struct req *r, const struct db_conn *c);

/*
 * How a resource answers a refusal of the database: a constraint (its name), or a rule our
 * own SQL raises (P0001, the first word of its HINT), mapped to a kind of problem. A 422 with
 * a field adds a field error (code, and its argument in both languages); any other row says
 * why in the detail (en, es). A row named "*unique", "*foreign_key" or "*check" answers any
 * other refusal of that class. A table ends with {NULL}.
 */
struct refusal {
  const char *constraint;
  enum problem kind; /* P_VALIDATION, P_CONFLICT, P_RULE, … */
  const char *field; /* JSON Pointer, or NULL for a detail only */
  const char *code;  /* the field error's code */
  const char *en, *es;
};
/* The answer to the database's refusal of the last statement on r->db, from table (NULL:
 * the generic answer of problem_from_db()). */
enum problem req_refused(struct req *r, const struct refusal *table);

/* ----------------------------------------------- database access (database.c) */

/* The request's database connection, acquired on first call; NULL (and the problem set to
 * P_UNAVAILABLE) when none can be had. A GET outside a transaction is a read and may be
 * answered by a standby (db_acquire_read), one that has replayed the Acredita-Position it
 * carries (a malformed one answers 400); everything else goes to the primary. A read whose
 * server goes away runs again on another (req_exec). */
struct db_conn *req_db(struct req *r);
/* The same for a CSV export (a GET): a connection of the pools' export lane, never one an
 * ordinary request could be waiting for. The caller reserved the export's place first
 * (csv_export_reserve()) and holds no other connection. */
struct db_conn *req_db_export(struct req *r);
/* Runs a statement on the request's connection; on failure sets the problem from the
 * database's answer (503, 409, 422 or 500) and returns NULL. */
PGresult *req_exec(struct req *r, struct db_stmt *s, int n, const char *const *params);
/* Runs s for a row: P_NONE with *row (at least one row; the caller PQclears it), or the
 * failure's problem, or not_found's answer when there is none (*row NULL then). */
enum problem req_one_row(struct req *r, struct db_stmt *s, int n, const char *const *params,
                         handler_fn not_found, PGresult **row);

/* ------------------------------------------- conditional requests (conditional.c) */

/* For PATCH, PUT, DELETE: checks If-Match against the current representation. */
enum problem req_check_if_match(struct req *r, const char *current_json);
/* For a GET 200 whose tag is r->etag: true when If-None-Match names it (answer 304). */
bool req_not_modified(const struct req *r);
/* Runs lock — a statement returning the row's JSON first, with FOR UPDATE, params[0] the
 * id — and checks If-Match against it. not_found answers a non-UUID id or a missing row. On
 * P_NONE *current holds the row: the caller PQclears it (also when If-Match failed). */
enum problem req_lock_row(struct req *r, struct db_stmt *lock, int n, const char *const *params,
                          handler_fn not_found, PGresult **current);

/* -------------------------------------------------------- validation (validate.c) */

/* A text in both languages. */
struct phrase {
  const char *en, *es;
};
/* What a value must be: the argument of an invalid_type or invalid_format field error. */
enum phrase_id {
  PH_STRING,
  PH_EMAIL,
  PH_UUID,
  PH_DATE,
  PH_DATETIME,
  PH_URL,
  PH_BOOL,
  PH_INTEGER,
  PH_WHOLE,
  PH_NUMBER,
  PH_BILINGUAL,
  PH_STRINGS,
  PH_OBJECT,
  PH_OBJECTS,
  PH__COUNT
};
extern const struct phrase VALIDATE_PHRASES[PH__COUNT];
/* Adds the field error code ("invalid_type", "invalid_format") saying the value must be what. */
void req_field_must_be(struct req *r, const char *pointer, const char *code, enum phrase_id what);

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

enum {
  F_REQUIRED = 1u << 0,  /* a new record must have it */
  F_NULLABLE = 1u << 1,  /* null is a value (in a merge patch, null also clears) */
  F_READ_ONLY = 1u << 2, /* in the representation, never in a body: 422 read_only */
  F_FIXED = 1u << 3,     /* set when the record is created, never changed: read_only in PATCH */
  F_SECRET = 1u << 4,    /* write-only (a password): never sent to the database as given; the
                            resource's check hook stores what it becomes (a hash) in r->body */
};

struct field {
  const char *name;
  enum ftype type;
  unsigned flags;
  long min, max;             /* string length, integer range, array length (0, 0 = none) */
  const char *const *values; /* F_ENUM, F_STRING_ARRAY: NULL-terminated allowed values */
  const struct field *sub;   /* F_OBJECT, F_ARRAY_OF: ended by {NULL} */
};

/* How a body is read: a new record's document, or a JSON Merge Patch (RFC 7396) of the
 * representation, in which absent members are kept (nothing is required, in nested objects
 * neither) and a record's fixed members are read-only. Array items are whole values. */
enum body_kind { BODY_NEW, BODY_PATCH };

/* Checks body against fields, adding a field error for each problem found: unknown and
 * read-only members, types, formats, lengths, required members, nested objects and arrays,
 * all in one pass. A patch must not be empty. Returns the number of errors added. */
int validate_body(struct req *r, const json_t *body, const struct field *fields,
                  enum body_kind kind);
/* Checks one value against one field; pointer is the JSON Pointer of the value. */
int validate_value(struct req *r, const json_t *v, const struct field *f, const char *pointer,
                   enum body_kind kind);
/* Removes from doc the top-level members that errors (field errors) name: what the database
 * then judges has the right shape. */
void json_drop_erroneous(json_t *doc, const json_t *errors);
/* True when v is a well-formed value of query type t (enums are checked by the caller). */
bool qvalue_valid(enum qtype t, const char *v);
/* Compiles the validators' patterns; called once before threads start. */
void validate_format_init(void);

/* ---------------------------------------------------------------- lists (page.c) */

/*
 * A keyset-paged list. Its statements take, in order:
 *   $1 caller role, $2 caller sub, $3 caller agency_id (for scoping; may be NULL),
 *   $4 updated_since, $5 … $(4+F) the route's query parameters in table order,
 * and the page statements also $(5+F) the cursor's sort key (text), $(6+F) its id, $(7+F) the
 * row limit. A page statement returns rows of (json text, sort key as text, id); its CSV
 * twin rows of (CSV record, sort key as text, id). LIST_SORT in resources/sql.h writes them.
 */
struct list_sort {
  const char *name;       /* the sort's field: ?sort=name, ?sort=-name; NULL ends the array */
  struct db_stmt page[2]; /* ascending, descending */
  struct db_stmt csv[2];  /* the same rows as CSV records; name NULL for a list without CSV */
};
struct list_spec {
  struct list_sort *sorts; /* [0] is the default */
  struct db_stmt count;    /* SELECT count(*) with the list's filters ($1 … $(4+F)) */
  /* CSV (Accept: text/csv or ?format=csv): the header line ($1 role), and a fingerprint of
   * the rows the filters select (count, versions, today), which the CSV's ETag hashes. */
  struct db_stmt csv_header, csv_fingerprint;
  const char *csv_filename;
  /* The roles that see only a public view of the records, and the fields of that view they
   * may sort on (and updated_since when it lists updated_at); filters marked hidden are
   * refused to them. 0: every caller sees the whole record. */
  unsigned public_roles;
  const char *const *public_fields;
};
/* Answers the route's list (r->route->list) as a JSON page or, when asked, as CSV. */
enum problem list_respond(struct req *r);
/* Archived records are read only by admin, with ?archived=true (lists and single records):
 * from another role that parameter answers 400 (not_allowed). True when it did (the problem
 * is set). */
bool req_archived_refused(struct req *r);

/* Cursor codec, exposed for tests: encode returns a malloc'd string, sealed (its content
 * cannot be read); decode returns A_OK and fills key/id (malloc'd) when the cursor is intact
 * and was made for binding. */
char *cursor_encode(const char *key, const char *id, const char *binding);
int cursor_decode(const char *cursor, const char *binding, char **key, char **id);

/* ------------------------------------------------------------- CSV (stream.c) */

/* Prepares a 200 text/csv answer streamed in chunks (Transfer-Encoding: chunked) once the
 * answer is decided, so that an export of any size holds little memory: a UTF-8 byte order
 * mark (for Excel), header_line, then the rows of page, each line ended by CRLF, at most
 * max_rows of them (0: all). page is a keyset statement shaped like a list's page (LIST_SORT):
 * it takes params[0..n) and then the last row's key ($n+1) and id ($n+2), both NULL at
 * first, and the batch size ($n+3); it returns rows of (CSV record, key as text, id). The
 * stream runs it again after each batch's last row until a batch comes back short. It takes
 * over the request's connection, which must be inside db_begin_snapshot(): every batch reads
 * that one snapshot; the caller reserved the export's place (csv_export_reserve()), which
 * the stream now owns. The stream gives the connection and the place back when it ends or
 * the client goes away. The first batch runs in csv_stream_attach(), so that its failure is
 * an ordinary problem answer; a failure later cuts the stream short. params are copied. */
enum problem reply_csv_stream(struct req *r, struct db_stmt *page, int n, const char *const *params,
                              const char *header_line, long max_rows);
/* The cap on CSV exports streaming at once in this instance (CSV_EXPORTS_MAX). An export
 * holds a database connection of its pool's export lane until its stream ends, the client
 * leaving early included. csv_export_reserve() takes a place before the export takes a
 * connection, or answers 503 with Retry-After when every place is taken; the place is the
 * stream's from reply_csv_stream() on, and freed with it. Before that, csv_export_release()
 * gives it back. */
enum problem csv_export_reserve(struct req *r);
void csv_export_release(void);
/* Exports streaming now, and those refused since start. */
void csv_export_stats(int *active, unsigned long *refused);
/* Called by finish(): hands the stream to ulfius after its first batch (whose failure is
 * the answer), or drops it unread (a 304, a problem). */
enum problem csv_stream_attach(struct req *r, bool send);

/* -------------------------------------------- resources and audit (resource.c) */

/*
 * One stored resource, for the shared handlers. Every statement receives the same
 * parameters, all text (a statement uses those it needs):
 *   $1 the record's id (the route's id_param)   $2 the body: a new record's document, or
 *   $3 the caller's role                            a merge patch (NULL for GET and DELETE)
 *   $4 the caller's sub (NULL when anonymous)    $5 the caller's agency (NULL unless agency)
 *   $6 the parent's id (the route's parent_param, for nested records), $7 the request id,
 *   $8 the query parameter archived ("true": the archived records instead of the others).
 * get returns the representation (one row, or none: 404). lock returns, with FOR UPDATE, the
 * current representation, the document the patch makes (jsonb_merge_patch() of the
 * representation), optionally whether the caller may write it ("t"/"f": 403 when "f") and
 * whether the record is archived. create returns (representation, id); update returns the
 * representation after the patch (X_update($1, $2) in SQL); remove deletes.
 *
 * Records kept for their history (agencies, users, standards, workshops) also have restore,
 * erase and dependents, and remove archives them instead (audited "archived", a tombstone in
 * the change feed). Archived, a record is missing to get (but with admin's ?archived=true),
 * to a patch and to remove; restore brings it back and returns its representation; erase
 * deletes it, only when dependents returns "{}" (else a JSON object of counts: what holds its
 * history, which the 409 names).
 */
/* How many parameters every statement of a resource receives ($1 … $8 above). */
#define RESOURCE_PARAMS 8

struct resource {
  const char *name;       /* singular, for the audit and the feed: "webinar" */
  const char *collection; /* where records live, for Location: "/v1/webinars" (NULL: the path) */
  const char *missing_en, *missing_es; /* the 404's detail */
  const char *id_param;                /* the path parameter of the id (NULL: "id") */
  const char *parent_param;            /* the path parameter of $6, or NULL */
  const struct field *fields;          /* what a body may hold */
  struct db_stmt get, lock, create, update, remove;
  struct db_stmt restore, erase, dependents;
  /* Rules beyond the field table (may ask the database): adds field errors about doc — a new
   * record's document, or the document a patch makes (id is then the record's) — without the
   * members that already have an error. It may complete r->body with members the statements
   * need (a password's hash). Returns A_OK, or A_ERR with the problem set. NULL: none. */
  int (*check)(struct req *r, json_t *doc, const char *id);
  /* Runs after a create or update in the same transaction (seats, …): P_NONE or a problem.
   * The answer then shows the record as get reads it. */
  enum problem (*after)(struct req *r, const char *id);
  const struct refusal *refusals;
  const char *forbidden_en, *forbidden_es; /* the 403's detail */
};

/* The values of the parameters every statement of a resource receives (above) for this
 * request, the body's text aside: for a resource's own actions beyond the shared handlers (a
 * rotation, a redelivery). */
void resource_bind(struct req *r, const char *body, const char *p[RESOURCE_PARAMS]);
/* Locks the route's resource's record with its lock statement (p from resource_bind(), with
 * the patch document in p[1] or none) and checks the caller may write it and If-Match: a
 * 404 (also for an archived record), 403 or 412 otherwise. On P_NONE *current is the lock's
 * row (the current representation, the patched document, whether the caller may write it);
 * the caller PQclears it in every case. */
enum problem resource_lock(struct req *r, const char *p[RESOURCE_PARAMS], PGresult **current);

/* The shared handlers: route entries name them with .resource set. A create statement may
 * return a third column: a JSON object of members only its answer shows (a secret, a
 * token), merged into the 201 but never audited (reply_revealing). */
enum problem resource_get(struct req *r);
enum problem resource_create(struct req *r);
enum problem resource_patch(struct req *r);
enum problem resource_delete(struct req *r);
/* For records kept for their history (admin): POST …/{id}/restore brings an archived record
 * back (200, audited "restored"); POST …/{id}/erasure {"reason"} deletes one without history
 * (204, audited "erased" with the record as it was and the reason), or answers 409 naming
 * what depends on it. */
enum problem resource_restore(struct req *r);
enum problem resource_erase(struct req *r);
/* Answers 404 with the route's resource's detail. */
enum problem resource_missing(struct req *r);

/* Answers the one row of res (its first column, JSON) with 200, or not_found when there is
 * none; frees res. A NULL res (a failed query) answers the problem already set. */
enum problem reply_row(struct req *r, PGresult *res, handler_fn not_found);
/* Audit the write (resource is the singular name: "webinar") and answer it: 201 with
 * Location collection/id, or 200 with the new representation. */
enum problem reply_created(struct req *r, const char *resource, const char *collection,
                           const char *id, const char *json);
enum problem reply_updated(struct req *r, const char *resource, const char *id, const char *before,
                           const char *after);
/* Answers json (an object) with the members of shown_once (an object: a secret shown this
 * once) merged in, and Cache-Control: no-store. Audit json first: shown_once never is. An
 * Idempotency-Key replay answers json with each such member null and "<member>_shown": true
 * (the stored replay never holds the secret). */
enum problem reply_revealing(struct req *r, long status, const char *json, const char *shown_once);
/* Records a write in the audit trail and the change feed, in the request's transaction (the
 * route must have R_TX). before/after are the JSON representations (NULL for a create's
 * before or a delete's after); action is created, updated, deleted, transitioned, archived,
 * restored or erased (the feed shows the last three as deleted, created, deleted). */
enum problem req_audit(struct req *r, const char *action, const char *resource, const char *id,
                       const char *before, const char *after);
/* The same with a note: why (a reason, a rationale), or NULL. */
enum problem req_audit_note(struct req *r, const char *action, const char *resource, const char *id,
                            const char *before, const char *after, const char *note);

/* -------------------------------------------------------------------- wire (wire.c) */

/* How a request ended, for wire_hooks.done. */
enum wire_outcome {
  WIRE_ANSWERED, /* its answer was sent */
  WIRE_CUT,      /* its body grew past the limit begin gave: the connection was closed */
  WIRE_LOST,     /* the connection ended first */
};

/* What the server does with each request on the wire. */
struct wire_hooks {
  /* The headers are in (in: method, URL, headers, client address; no body). Returns the
   * largest body the request may send, or -1 when out holds its answer already: its body
   * is then never read. *app is the hooks' own state for the request. */
  long (*begin)(struct _u_request *in, struct _u_response *out, void **app);
  /* The body is in (in->binary_body, at most begin's limit): fills out. */
  void (*end)(struct _u_request *in, struct _u_response *out, void *app);
  /* The request is over, answered or not: frees app. */
  void (*done)(void *app, enum wire_outcome how);
};

/* Serves hooks on addr (its port included) with threads worker threads. A_OK or A_ERR. */
int wire_start(const struct wire_hooks *hooks, const struct sockaddr *addr, int threads);
/* The port bound, or -1. */
int wire_port(void);
/* Requests whose headers have arrived and whose answer has not been sent. */
int wire_in_flight(void);
/* Stops accepting connections, waits up to grace_ms for the requests in flight (bodies
 * still arriving included; their answers say Connection: close), then stops. */
void wire_stop(int grace_ms);

/* ------------------------------------------------------------ metrics (metrics.c) */

void metrics_observe(const char *route, long status, double ms);
/* The Prometheus text; malloc'd, free() it. */
char *metrics_render(void);

#endif
