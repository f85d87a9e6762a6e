/*
 * request.c — reading a request and writing a reply: path and query parameters, headers,
 * the body, database access on behalf of the request, and responses.
 */
#include "http/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A GET that is not part of a write: a standby may answer it. */
static bool req_is_read(const struct req *r) {
  return r->route != NULL && !(r->route->flags & (R_TX | R_IDEMPOTENT)) &&
         strcmp(r->in->http_verb, "GET") == 0;
}

struct db_conn *req_db(struct req *r) {
  if (r->db == NULL) {
    if (req_is_read(r)) {
      const char *at = req_header(r, HTTP_POSITION_HEADER);
      if (at != NULL && db_lsn_parse(at, &r->position) != A_OK) {
        req_fail(r, P_BAD_REQUEST, "%s must be a position a write answered (like 0/3A2B1C8).",
                 "%s debe ser una posición que devolvió una escritura (como 0/3A2B1C8).",
                 HTTP_POSITION_HEADER);
        return NULL;
      }
      r->db = db_acquire_read(HTTP_DB_WAIT_MS, r->position,
                              (r->route->flags & R_PRIMARY) ? DB_READ_PRIMARY_FIRST : 0);
    } else {
      r->db = db_acquire(HTTP_DB_WAIT_MS);
    }
    if (r->db == NULL)
      req_fail(r, P_UNAVAILABLE, "The database is unavailable; retry shortly.",
               "La base de datos no está disponible; reintente en breve.");
  }
  return r->db;
}

PGresult *req_exec(struct req *r, struct db_stmt *s, int n, const char *const *params) {
  struct db_conn *c = req_db(r);
  if (c == NULL)
    return NULL;
  PGresult *res = db_exec(c, s, n, params);
  /* A read whose server went away (or, a standby, cancelled it) runs again on another. */
  if (res == NULL && req_is_read(r) && db_read_retryable(c)) {
    r->db = c = db_reacquire_read(c, HTTP_DB_WAIT_MS, r->position);
    if (c == NULL) {
      req_fail(r, P_UNAVAILABLE, "The database is unavailable; retry shortly.",
               "La base de datos no está disponible; reintente en breve.");
      return NULL;
    }
    res = db_exec(c, s, n, params);
  }
  if (res == NULL)
    problem_from_db(r, c);
  return res;
}

const char *req_path_param(const struct req *r, const char *name) {
  return u_map_get(r->in->map_url, name);
}

const char *req_header(const struct req *r, const char *name) {
  return u_map_get_case(r->in->map_header, name);
}

const char *req_query_value(const struct req *r, const char *name) {
  const char *v = NULL;
  for (size_t i = 0; i < r->nquery; i++)
    if (strcmp(r->query[i].name, name) == 0)
      v = r->query[i].value;
  return v;
}

char *req_query_sql(const struct req *r, const struct qparam *p) {
  if (p->type == Q_PATH) {
    const char *v = req_path_param(r, p->name);
    return v ? strdup(v) : NULL;
  }
  if (!p->repeat) {
    const char *v = req_query_value(r, p->name);
    return v ? strdup(v) : NULL;
  }
  json_t *arr = json_array();
  for (size_t i = 0; i < r->nquery; i++)
    if (strcmp(r->query[i].name, p->name) == 0)
      json_array_append_new(arr, json_string(r->query[i].value));
  char *text = json_array_size(arr) > 0 ? json_dumps(arr, JSON_COMPACT) : NULL;
  json_decref(arr);
  return text;
}

const char *req_body_string(const struct req *r, const char *name) {
  return r->body ? json_string_value(json_object_get(r->body, name)) : NULL;
}

void reply_header(struct req *r, const char *name, const char *value) {
  u_map_put(r->out->map_header, name, value);
}

enum problem reply_text(struct req *r, long status, const char *content_type, const char *body,
                        size_t len) {
  ulfius_set_binary_body_response(r->out, (unsigned int)status, body, len);
  u_map_put(r->out->map_header, "Content-Type", content_type);
  r->status = status;
  r->has_body = true;
  return P_NONE;
}

enum problem reply_json(struct req *r, long status, const char *json_text) {
  reply_text(r, status, "application/json", json_text, strlen(json_text));
  if (status == 200 || status == 201) {
    etag_of(json_text, strlen(json_text), r->etag);
    reply_header(r, "ETag", r->etag);
  }
  return P_NONE;
}

enum problem reply_jansson(struct req *r, long status, json_t *value) {
  char *text = json_dumps(value, JSON_COMPACT);
  json_decref(value);
  if (text == NULL)
    return req_fail(r, P_INTERNAL, NULL, NULL);
  reply_json(r, status, text);
  free(text);
  return P_NONE;
}

enum problem reply_empty(struct req *r, long status) {
  ulfius_set_empty_body_response(r->out, (unsigned int)status);
  r->status = status;
  r->has_body = false;
  return P_NONE;
}

/* RFC 3629: rejects overlongs, surrogates, code points past U+10FFFF, and NUL. */
bool utf8_valid(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    if (c == 0)
      return false;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; k++) {
      if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}
