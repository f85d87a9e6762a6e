/*
 * page.c — keyset paging with opaque cursors, and conditional-request tags.
 *
 * A cursor carries the last row's sort key and id, and a MAC over them and the list's
 * "binding" (its path, filters and sort). A cursor therefore cannot be forged or edited, and
 * reusing it with other filters or another sort is detected and refused, not silently
 * answered with the wrong page.
 */
#include "http/http.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <orcania.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_BYTES 16

static void mac_of(const char *payload, const char *binding, unsigned char out[32]) {
  size_t plen = strlen(payload), blen = strlen(binding);
  char *msg = malloc(plen + blen + 2);
  memcpy(msg, payload, plen);
  msg[plen] = '\n';
  memcpy(msg + plen + 1, binding, blen + 1);
  unsigned int len = 32;
  HMAC(EVP_sha256(), g_config.cursor_key, sizeof g_config.cursor_key, (unsigned char *)msg,
       plen + blen + 1, out, &len);
  free(msg);
}

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

char *cursor_encode(const char *key, const char *id, const char *binding) {
  json_t *p = json_pack("{s:s,s:s}", "k", key, "i", id);
  char *payload = json_dumps(p, JSON_COMPACT);
  json_decref(p);
  unsigned char mac[32];
  mac_of(payload, binding, mac);
  char *a = b64url((unsigned char *)payload, strlen(payload));
  char *b = b64url(mac, MAC_BYTES);
  char *cursor = NULL;
  if (a != NULL && b != NULL && asprintf(&cursor, "%s.%s", a, b) < 0)
    cursor = NULL;
  free(payload);
  free(a);
  free(b);
  return cursor;
}

int cursor_decode(const char *cursor, const char *binding, char **key, char **id) {
  int rc = A_ERR;
  char *copy = strdup(cursor);
  unsigned char *payload = NULL, *mac = NULL;
  json_t *p = NULL;
  char *dot = strchr(copy, '.');
  if (dot == NULL || strlen(cursor) > 2048)
    goto out;
  *dot = '\0';
  size_t plen, mlen;
  payload = unb64url(copy, &plen);
  mac = unb64url(dot + 1, &mlen);
  if (payload == NULL || mac == NULL || mlen != MAC_BYTES || strlen((char *)payload) != plen)
    goto out;
  unsigned char want[32];
  mac_of((char *)payload, binding, want);
  if (!bytes_equal_ct(want, mac, MAC_BYTES))
    goto out;
  p = json_loads((char *)payload, 0, NULL);
  const char *k = json_string_value(json_object_get(p, "k"));
  const char *i = json_string_value(json_object_get(p, "i"));
  if (k == NULL || i == NULL || !uuid_valid(i))
    goto out;
  *key = strdup(k);
  *id = strdup(i);
  rc = A_OK;
out:
  json_decref(p);
  free(copy);
  free(payload);
  free(mac);
  return rc;
}

void etag_of(const void *body, size_t len, char out[40]) {
  char hex[65];
  sha256_hex(body, len, hex);
  snprintf(out, 40, "\"%.32s\"", hex);
}

bool etag_matches(const char *header, const char *tag) {
  if (header == NULL || tag == NULL || tag[0] == '\0')
    return false;
  const char *p = header;
  size_t tlen = strlen(tag);
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (*p == '*')
      return true;
    if (strncmp(p, "W/", 2) == 0) /* weak comparison is fine for GET and for our tags */
      p += 2;
    if (strncmp(p, tag, tlen) == 0 && (p[tlen] == '\0' || p[tlen] == ',' || p[tlen] == ' '))
      return true;
    while (*p && *p != ',')
      p++;
  }
  return false;
}

enum problem req_check_if_match(struct req *r, const char *current_json) {
  const char *h = req_header(r, "If-Match");
  if (h == NULL)
    return P_NONE;
  char tag[40];
  etag_of(current_json, strlen(current_json), tag);
  if (etag_matches(h, tag))
    return P_NONE;
  return req_fail(r, P_PRECONDITION_FAILED,
                  "If-Match does not name the current version; fetch it again.",
                  "If-Match no corresponde a la versión actual; vuelva a obtenerla.");
}

/* ------------------------------------------------------------------ lists */

#define LIST_MAX_LIMIT 200
#define LIST_DEFAULT_LIMIT 50

static int route_query_count(const struct route *rt) {
  int n = 0;
  if (rt->query != NULL)
    while (rt->query[n].name != NULL)
      n++;
  return n;
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

enum problem list_respond(struct req *r, const struct list_spec *spec) {
  enum problem rc = P_NONE;
  int nf = route_query_count(r->route);
  const char **params = calloc((size_t)nf + 7, sizeof *params);
  char **owned = calloc((size_t)nf + 1, sizeof *owned);
  char *binding = NULL, *key = NULL, *id = NULL, *body = NULL, *next = NULL, *raw = NULL;
  PGresult *res = NULL;

  /* limit */
  long limit = LIST_DEFAULT_LIMIT;
  const char *lv = req_query_value(r, "limit");
  if (lv != NULL) {
    char *end;
    limit = strtol(lv, &end, 10);
    if (*lv == '\0' || *end != '\0' || limit < 1 || limit > LIST_MAX_LIMIT) {
      req_field_error(r, "/query/limit", "out_of_range", "1..200");
      rc = P_INVALID_QUERY;
    }
  }
  /* sort */
  const char *sv = req_query_value(r, "sort");
  int sort = 0;
  bool desc = false;
  if (sv != NULL) {
    desc = sv[0] == '-';
    const char *name = desc ? sv + 1 : sv;
    sort = -1;
    for (int i = 0; spec->sorts[i] != NULL; i++)
      if (strcmp(spec->sorts[i], name) == 0)
        sort = i;
    if (sort < 0) {
      char allowed[256] = "";
      for (int i = 0; spec->sorts[i] != NULL; i++) {
        size_t u = strlen(allowed);
        snprintf(allowed + u, sizeof allowed - u, "%s%s, -%s", i ? ", " : "", spec->sorts[i],
                 spec->sorts[i]);
      }
      req_field_error(r, "/query/sort", "invalid_enum", allowed);
      rc = P_INVALID_QUERY;
    }
  }
  const char *cv = req_query_value(r, "count");
  if (cv != NULL && strcmp(cv, "exact") != 0) {
    req_field_error(r, "/query/count", "invalid_enum", "exact");
    rc = P_INVALID_QUERY;
  }
  if (rc != P_NONE)
    goto out;

  /* The binding: what a cursor is valid for. */
  binding = mstrcatf(NULL, "%s|%s%s", r->route->path, desc ? "-" : "", spec->sorts[sort]);
  params[0] = role_name(r->caller.role);
  params[1] = r->caller.sub[0] ? r->caller.sub : NULL;
  params[2] = r->caller.agency_id[0] ? r->caller.agency_id : NULL;
  params[3] = req_query_value(r, "updated_since");
  binding = mstrcatf(binding, "|updated_since=%s", params[3] ? params[3] : "");
  for (int i = 0; i < nf; i++) {
    owned[i] = req_query_sql(r, &r->route->query[i]);
    params[4 + i] = owned[i];
    binding = mstrcatf(binding, "|%s=%s", r->route->query[i].name, owned[i] ? owned[i] : "");
  }

  const char *cursor = req_query_value(r, "cursor");
  if (cursor != NULL && cursor_decode(cursor, binding, &key, &id) != A_OK) {
    req_field_error(r, "/query/cursor", "invalid_cursor", NULL);
    rc = P_INVALID_QUERY;
    goto out;
  }
  char limit_text[24];
  snprintf(limit_text, sizeof limit_text, "%ld", limit + 1);
  params[4 + nf] = key;
  params[5 + nf] = id;
  params[6 + nf] = limit_text;

  res = req_exec(r, spec->pages[2 * sort + (desc ? 1 : 0)], nf + 7, params);
  if (res == NULL) {
    rc = r->problem;
    goto out;
  }
  int rows = PQntuples(res);
  int shown = rows > limit ? (int)limit : rows;
  size_t total_len = 64;
  for (int i = 0; i < shown; i++)
    total_len += (size_t)PQgetlength(res, i, 0) + 1;
  body = malloc(total_len + 2200);
  size_t pos = 0;
  memcpy(body, "{\"data\":[", 9);
  pos = 9;
  for (int i = 0; i < shown; i++) {
    if (i > 0)
      body[pos++] = ',';
    size_t n = (size_t)PQgetlength(res, i, 0);
    memcpy(body + pos, PQgetvalue(res, i, 0), n);
    pos += n;
  }
  body[pos] = '\0';
  if (rows > limit) {
    next = cursor_encode(PQgetvalue(res, shown - 1, 1), PQgetvalue(res, shown - 1, 2), binding);
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
  if (cv != NULL) {
    PQclear(res);
    res = req_exec(r, spec->count, nf + 4, params);
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
  for (int i = 0; i < nf; i++)
    free(owned[i]);
  free(owned);
  free(params);
  o_free(binding);
  o_free(raw);
  free(key);
  free(id);
  free(body);
  free(next);
  return rc;
}
