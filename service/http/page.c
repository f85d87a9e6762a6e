/*
 * page.c — lists: keyset pages with opaque cursors, and the same rows as one CSV document.
 *
 * A cursor carries the last row's sort key and id, sealed (AES-256-GCM) with the list's
 * "binding" (its path, filters and sort) as associated data. A cursor therefore cannot be
 * read, forged or edited — the sort key can be a value the caller does not see, such as a
 * record's exact updated_at — and reusing it with other filters or another sort is detected
 * and refused, not silently answered with the wrong page. The nonce is a MAC of the binding
 * and the payload (the SIV construction): the same position always gives the same cursor,
 * so that a poller at the end of the change feed gets its own cursor back and its ETag holds,
 * while two different positions never share a nonce.
 *
 * A list may show some roles only a public view of its records (anonymous callers and
 * partners see an agency's name and status, not its tier). Those roles may filter and sort
 * only on what that view shows: a parameter on a hidden field answers 400 not_allowed.
 */
#include "http/http.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <orcania.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONCE_BYTES 12
#define TAG_BYTES 16
#define CURSOR_MAX_CHARS 2048

/* base64url without padding of len bytes; malloc'd. */
static char *b64url(const unsigned char *data, size_t len) {
  size_t cap = 0;
  o_base64url_encode(data, len, NULL, &cap);
  unsigned char *out = malloc(cap + 1);
  if (out == NULL || !o_base64url_encode(data, len, out, &cap)) {
    free(out);
    return NULL;
  }
  out[cap] = '\0';
  return (char *)out;
}

/* Decodes unpadded base64url; malloc'd with a NUL after the data, or NULL. liborcania 2.3.2
 * must only see strict base64url: it reports a size of SIZE_MAX for "==" and writes whole
 * 3-byte groups, up to 2 bytes past the size it reports (both found by tests/fuzz). */
static unsigned char *unb64url(const char *s, size_t *len) {
  static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t n = strlen(s), cap = 0, room = (n + 3) / 4 * 3;
  if (n == 0 || n % 4 == 1 || strspn(s, ALPHABET) != n ||
      !o_base64url_decode((const unsigned char *)s, n, NULL, &cap) || cap > room)
    return NULL;
  unsigned char *out = malloc(room + 1);
  if (out == NULL || !o_base64url_decode((const unsigned char *)s, n, out, &cap) || cap > room) {
    free(out);
    return NULL;
  }
  out[cap] = '\0';
  *len = cap;
  return out;
}

/* The cursor key split in two for its two uses: the cipher's key, and the key of the MAC
 * that makes each payload's nonce. */
static void cursor_subkey(const char *label, unsigned char out[32]) {
  unsigned int len = 32;
  HMAC(EVP_sha256(), g_config.cursor_key, sizeof g_config.cursor_key, (const unsigned char *)label,
       strlen(label), out, &len);
}

static void cursor_nonce(const char *binding, const char *payload, unsigned char out[NONCE_BYTES]) {
  unsigned char key[32], mac[32];
  unsigned int len = sizeof mac;
  cursor_subkey("nonce", key);
  size_t blen = strlen(binding) + 1, plen = strlen(payload);
  unsigned char *msg = malloc(blen + plen);
  memcpy(msg, binding, blen); /* with its NUL: the binding ends where the payload begins */
  memcpy(msg + blen, payload, plen);
  HMAC(EVP_sha256(), key, sizeof key, msg, blen + plen, mac, &len);
  free(msg);
  memcpy(out, mac, NONCE_BYTES);
}

/* Seals (encrypt = true) or opens in[0..n) into out with the cipher key and binding as
 * associated data; tag is written or checked. False when a sealed text does not open. */
static bool cursor_crypt(bool encrypt, const unsigned char nonce[NONCE_BYTES], const char *binding,
                         const unsigned char *in, int n, unsigned char *out,
                         unsigned char tag[TAG_BYTES]) {
  unsigned char key[32];
  cursor_subkey("cipher", key);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0;
  bool ok = ctx != NULL &&
            EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, encrypt ? 1 : 0) == 1 &&
            EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)binding,
                             (int)strlen(binding)) == 1 &&
            EVP_CipherUpdate(ctx, out, &len, in, n) == 1 &&
            (encrypt || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag) == 1) &&
            EVP_CipherFinal_ex(ctx, out + len, &fin) == 1 &&
            (!encrypt || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, tag) == 1);
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

char *cursor_encode(const char *key, const char *id, const char *binding) {
  json_t *p = json_pack("{s:s,s:s}", "k", key, "i", id);
  char *payload = json_dumps(p, JSON_COMPACT);
  json_decref(p);
  size_t n = strlen(payload);
  unsigned char *sealed = malloc(NONCE_BYTES + n + TAG_BYTES);
  char *cursor = NULL;
  if (sealed != NULL) {
    cursor_nonce(binding, payload, sealed);
    if (cursor_crypt(true, sealed, binding, (unsigned char *)payload, (int)n, sealed + NONCE_BYTES,
                     sealed + NONCE_BYTES + n))
      cursor = b64url(sealed, NONCE_BYTES + n + TAG_BYTES);
  }
  free(payload);
  free(sealed);
  return cursor;
}

int cursor_decode(const char *cursor, const char *binding, char **key, char **id) {
  int rc = A_ERR;
  unsigned char *sealed = NULL, *payload = NULL;
  json_t *p = NULL;
  size_t len;
  if (strlen(cursor) > CURSOR_MAX_CHARS || (sealed = unb64url(cursor, &len)) == NULL ||
      len <= NONCE_BYTES + TAG_BYTES)
    goto out;
  int n = (int)(len - NONCE_BYTES - TAG_BYTES);
  payload = malloc((size_t)n + 1);
  if (payload == NULL || !cursor_crypt(false, sealed, binding, sealed + NONCE_BYTES, n, payload,
                                       sealed + NONCE_BYTES + n))
    goto out;
  payload[n] = '\0';
  p = json_loadb((char *)payload, (size_t)n, 0, NULL);
  const char *k = json_string_value(json_object_get(p, "k"));
  const char *i = json_string_value(json_object_get(p, "i"));
  if (k == NULL || i == NULL || !uuid_valid(i))
    goto out;
  *key = strdup(k);
  *id = strdup(i);
  rc = A_OK;
out:
  json_decref(p);
  free(sealed);
  free(payload);
  return rc;
}

/* ------------------------------------------------------------------ lists */

#define LIST_MAX_LIMIT 200
#define LIST_DEFAULT_LIMIT 50
/* CSV has every row unless limit says fewer. */
#define CSV_MAX_LIMIT 1000000

/* What a list request asks for, checked against its list. */
struct list_request {
  struct list_spec *spec;
  struct list_sort *sort;
  bool desc;
  bool csv;
  long limit;          /* rows of a page; for CSV at most this many rows, 0 for all */
  int nf;              /* the route's query parameters */
  const char **params; /* $1 … $(4+nf) of the list's statements, and three more places */
  char **owned;        /* the params this request allocated */
  char *binding;       /* what a cursor is valid for */
};

/* CSV when ?format=csv, or when Accept names text/csv and not application/json. */
static bool wants_csv(const struct req *r) {
  const char *format = req_query_value(r, "format");
  if (format != NULL)
    return strcmp(format, "csv") == 0;
  const char *accept = req_header(r, "Accept");
  return accept != NULL && strstr(accept, "text/csv") != NULL &&
         strstr(accept, "application/json") == NULL;
}

static bool parse_limit(const char *text, long max, long *limit) {
  char *end;
  long v = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < 1 || v > max)
    return false;
  *limit = v;
  return true;
}

static bool public_field(const struct list_spec *spec, const char *name) {
  for (size_t i = 0; spec->public_fields != NULL && spec->public_fields[i] != NULL; i++)
    if (strcmp(spec->public_fields[i], name) == 0)
      return true;
  return false;
}

/* For a caller who sees the public view: filters on hidden fields (struct qparam.hidden), a
 * sort on a field the view does not show, and updated_since unless updated_at is shown. */
static void public_view_errors(struct req *r, const struct list_spec *spec,
                               const struct list_sort *sort) {
  char ptr[160];
  for (const struct qparam *p = r->route->query; p != NULL && p->name != NULL; p++)
    if (p->hidden && req_query_value(r, p->name) != NULL) {
      snprintf(ptr, sizeof ptr, "/query/%.100s", p->name);
      req_field_error(r, ptr, "not_allowed", NULL);
    }
  if (sort != NULL && req_query_value(r, "sort") != NULL && !public_field(spec, sort->name)) {
    char allowed[256] = "";
    for (const struct list_sort *s = spec->sorts; s->name != NULL; s++)
      if (public_field(spec, s->name)) {
        size_t u = strlen(allowed);
        snprintf(allowed + u, sizeof allowed - u, "%s%s, -%s", u ? ", " : "", s->name, s->name);
      }
    req_field_error(r, "/query/sort", "invalid_enum", allowed);
  }
  if (req_query_value(r, "updated_since") != NULL && !public_field(spec, "updated_at"))
    req_field_error(r, "/query/updated_since", "not_allowed", NULL);
}

/* Checks the list's own parameters (the route's filters were checked by dispatch) and binds
 * the statements' parameters. Every bad parameter is reported at once. */
static enum problem list_parse(struct req *r, struct list_request *q) {
  struct list_spec *spec = q->spec;
  bool has_csv = spec->csv_header.name != NULL;
  char range[32];
  const char *format = req_query_value(r, "format");
  if (format != NULL && strcmp(format, "json") != 0 && (strcmp(format, "csv") != 0 || !has_csv))
    req_field_error(r, "/query/format", "invalid_enum", has_csv ? "json, csv" : "json");
  q->csv = has_csv && wants_csv(r);

  const char *lv = req_query_value(r, "limit");
  long max = q->csv ? CSV_MAX_LIMIT : LIST_MAX_LIMIT;
  q->limit = q->csv ? 0 : LIST_DEFAULT_LIMIT;
  snprintf(range, sizeof range, "1..%ld", max);
  if (lv != NULL && !parse_limit(lv, max, &q->limit))
    req_field_error(r, "/query/limit", "out_of_range", range);

  const char *sv = req_query_value(r, "sort");
  q->sort = &spec->sorts[0];
  if (sv != NULL) {
    q->desc = sv[0] == '-';
    q->sort = NULL;
    char allowed[256] = "";
    for (struct list_sort *s = spec->sorts; s->name != NULL; s++) {
      if (strcmp(s->name, sv + q->desc) == 0)
        q->sort = s;
      size_t u = strlen(allowed);
      snprintf(allowed + u, sizeof allowed - u, "%s%s, -%s", u ? ", " : "", s->name, s->name);
    }
    if (q->sort == NULL)
      req_field_error(r, "/query/sort", "invalid_enum", allowed);
  }
  if (r->caller.role & spec->public_roles)
    public_view_errors(r, spec, q->sort);
  const char *cv = req_query_value(r, "count");
  if (cv != NULL && strcmp(cv, "exact") != 0)
    req_field_error(r, "/query/count", "invalid_enum", "exact");
  /* CSV is one document: it has no pages to count or continue. */
  static const char *const NOT_CSV[] = {"cursor", "count", NULL};
  for (size_t i = 0; q->csv && NOT_CSV[i] != NULL; i++)
    if (req_query_value(r, NOT_CSV[i]) != NULL) {
      char ptr[32];
      snprintf(ptr, sizeof ptr, "/query/%s", NOT_CSV[i]);
      req_field_error_text(r, ptr, "invalid", "not with CSV, which holds every row at once",
                           "no con CSV, que contiene todas las filas a la vez");
    }
  if (r->errors != NULL)
    return req_fail(r, P_INVALID_QUERY, NULL, NULL);

  q->nf = 0;
  while (r->route->query != NULL && r->route->query[q->nf].name != NULL)
    q->nf++;
  q->params = calloc((size_t)q->nf + 7, sizeof *q->params);
  q->owned = calloc((size_t)q->nf + 1, sizeof *q->owned);
  q->params[0] = role_name(r->caller.role);
  q->params[1] = req_caller_sub(r);
  q->params[2] = req_caller_agency(r);
  q->params[3] = req_query_value(r, "updated_since");
  q->binding = mstrcatf(NULL, "%s|%s%s|updated_since=%s", r->route->path, q->desc ? "-" : "",
                        q->sort->name, q->params[3] ? q->params[3] : "");
  for (int i = 0; i < q->nf; i++) {
    q->params[4 + i] = q->owned[i] = req_query_sql(r, &r->route->query[i]);
    q->binding =
        mstrcatf(q->binding, "|%s=%s", r->route->query[i].name, q->owned[i] ? q->owned[i] : "");
  }
  return P_NONE;
}

static void list_request_free(struct list_request *q) {
  for (int i = 0; q->owned != NULL && i < q->nf; i++)
    free(q->owned[i]);
  free(q->owned);
  free(q->params);
  o_free(q->binding);
}

/* Appends "&name=value" pairs, as received, except the cursor. */
static void append_raw_query(const struct req *r, char **out) {
  const char *q = strchr(r->in->http_url, '?');
  if (q == NULL)
    return;
  char *copy = strdup(q + 1);
  char *save = NULL;
  for (char *tok = strtok_r(copy, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
    if (strncmp(tok, "cursor=", 7) == 0 || strcmp(tok, "cursor") == 0)
      continue;
    *out = mstrcatf(*out, "%s%s", (*out)[0] ? "&" : "", tok);
  }
  free(copy);
}

/* One page as {"data": [...], "next_cursor", "total"?} with a Link to the next page. */
static enum problem list_page(struct req *r, struct list_request *q) {
  enum problem rc = P_NONE;
  char *key = NULL, *id = NULL, *body = NULL, *next = NULL, *raw = NULL;
  PGresult *res = NULL;
  const char *cursor = req_query_value(r, "cursor");
  if (cursor != NULL && cursor_decode(cursor, q->binding, &key, &id) != A_OK) {
    req_field_error(r, "/query/cursor", "invalid_cursor", NULL);
    rc = req_fail(r, P_INVALID_QUERY, NULL, NULL);
    goto out;
  }
  char limit_text[24];
  snprintf(limit_text, sizeof limit_text, "%ld", q->limit + 1);
  q->params[4 + q->nf] = key;
  q->params[5 + q->nf] = id;
  q->params[6 + q->nf] = limit_text;
  res = req_exec(r, &q->sort->page[q->desc], q->nf + 7, q->params);
  if (res == NULL) {
    rc = r->problem;
    goto out;
  }
  int rows = PQntuples(res);
  int shown = rows > q->limit ? (int)q->limit : rows;
  size_t total_len = 64;
  for (int i = 0; i < shown; i++)
    total_len += (size_t)PQgetlength(res, i, 0) + 1;
  body = malloc(total_len + 2200);
  memcpy(body, "{\"data\":[", 9);
  size_t pos = 9;
  for (int i = 0; i < shown; i++) {
    if (i > 0)
      body[pos++] = ',';
    size_t n = (size_t)PQgetlength(res, i, 0);
    memcpy(body + pos, PQgetvalue(res, i, 0), n);
    pos += n;
  }
  body[pos] = '\0';
  if (rows > q->limit) {
    next = cursor_encode(PQgetvalue(res, shown - 1, 1), PQgetvalue(res, shown - 1, 2), q->binding);
    pos += (size_t)snprintf(body + pos, 2200, "],\"next_cursor\":\"%s\"", next);
    raw = o_strdup("");
    append_raw_query(r, &raw);
    char *link = mstrcatf(NULL, "<%s?%s%scursor=%s>; rel=\"next\"", r->in->url_path, raw,
                          raw[0] ? "&" : "", next);
    reply_header(r, "Link", link);
    o_free(link);
  } else {
    pos += (size_t)snprintf(body + pos, 2200, "],\"next_cursor\":null");
  }
  if (req_query_value(r, "count") != NULL) {
    PQclear(res);
    res = req_exec(r, &q->spec->count, q->nf + 4, q->params);
    if (res == NULL) {
      rc = r->problem;
      goto out;
    }
    pos += (size_t)snprintf(body + pos, 2200, ",\"total\":%s", PQgetvalue(res, 0, 0));
  }
  snprintf(body + pos, 2200, "}");
  reply_json(r, 200, body);
out:
  PQclear(res);
  o_free(raw);
  free(key);
  free(id);
  free(body);
  free(next);
  return rc;
}

/* Every row of the filters (or the first limit) as one CSV document, streamed from one
 * snapshot. Its tag hashes what the rows are made of (the fingerprint statement: how many,
 * which versions, and today, on which derived values depend), the header and the order, so
 * that it is known before the first byte is sent and a 304 costs no export. */
static enum problem list_csv(struct req *r, struct list_request *q) {
  struct list_spec *spec = q->spec;
  PGresult *header = NULL, *print = NULL;
  enum problem rc = P_NONE;
  /* The cap first, before any connection is taken; then the request gives back any
   * ordinary connection it holds, and the export takes one of the export lane: it never
   * holds a connection an ordinary request could be waiting for. */
  if (csv_export_reserve(r) != P_NONE)
    return r->problem;
  db_release(r->db);
  r->db = NULL;
  for (int attempt = 0;; attempt++) {
    if (req_db_export(r) == NULL) {
      csv_export_release();
      return r->problem;
    }
    if (db_begin_snapshot(r->db) == A_OK &&
        (header = db_exec(r->db, &spec->csv_header, 1, q->params)) != NULL &&
        (print = db_exec(r->db, &spec->csv_fingerprint, q->nf + 4, q->params)) != NULL)
      break;
    PQclear(header);
    header = NULL;
    /* Its server went away (a standby stopped, say): another one can answer the export. */
    db_rollback(r->db);
    if (attempt > 0 || !db_read_retryable(r->db)) {
      csv_export_release();
      return problem_from_db(r, r->db);
    }
    r->db = db_reacquire_read(r->db, HTTP_DB_WAIT_MS, r->position);
  }
  char *source = mstrcatf(NULL, "%s\n%s\n%s%s\n%ld", PQgetvalue(header, 0, 0),
                          PQgetvalue(print, 0, 0), q->desc ? "-" : "", q->sort->name, q->limit);
  etag_of(source, strlen(source), r->etag);
  o_free(source);
  char disposition[128];
  snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"", spec->csv_filename);
  reply_header(r, "Content-Disposition", disposition);
  rc = reply_csv_stream(r, &q->sort->csv[q->desc], q->nf + 4, q->params, PQgetvalue(header, 0, 0),
                        q->limit);
  PQclear(header);
  PQclear(print);
  return rc;
}

bool req_archived_refused(struct req *r) {
  const char *archived = req_query_value(r, "archived");
  if (archived == NULL || strcmp(archived, "true") != 0 || r->caller.role == ROLE_ADMIN)
    return false;
  req_field_error(r, "/query/archived", "not_allowed", NULL);
  req_fail(r, P_INVALID_QUERY, NULL, NULL);
  return true;
}

enum problem list_respond(struct req *r) {
  struct list_request q = {.spec = r->route->list};
  if (req_archived_refused(r))
    return r->problem;
  /* The same URL answers JSON or CSV: caches must key on Accept. */
  if (q.spec->csv_header.name != NULL)
    reply_vary(r, "Accept");
  enum problem rc = list_parse(r, &q);
  if (rc == P_NONE)
    rc = q.csv ? list_csv(r, &q) : list_page(r, &q);
  list_request_free(&q);
  return rc;
}
