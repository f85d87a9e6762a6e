/*
 * request.c — reading a request and writing a reply: path and query parameters, headers,
 * the body, the caller, and responses. It knows nothing of problems or the database.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <orcania.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

bool req_content_type_is(const struct req *r, const char *want) {
  const char *ct = req_header(r, "Content-Type");
  size_t n = strlen(want);
  return ct != NULL && strncasecmp(ct, want, n) == 0 &&
         (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

const char *req_body_string(const struct req *r, const char *name) {
  return r->body ? json_string_value(json_object_get(r->body, name)) : NULL;
}

/* The address bytes of a socket address, or NULL. */
static const unsigned char *sockaddr_bytes(const struct sockaddr *sa) {
  if (sa != NULL && sa->sa_family == AF_INET)
    return (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
  if (sa != NULL && sa->sa_family == AF_INET6)
    return (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
  return NULL;
}

static bool trusted_proxy(int family, const unsigned char *addr) {
  for (size_t i = 0; i < g_config.ntrusted_proxies; i++)
    if (net_contains(&g_config.trusted_proxies[i], family, addr))
      return true;
  return false;
}

/* The rightmost X-Forwarded-For entry that is not itself a trusted proxy, when it is an
 * address: the client the nearest trusted proxy saw connect. */
static bool forwarded_client(const char *xff, char *out, size_t cap) {
  char *copy = strdup(xff);
  char *items[32];
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(copy, ", ", &save); t != NULL && n < 32; t = strtok_r(NULL, ", ", &save))
    items[n++] = t;
  bool found = false;
  for (int i = n - 1; i >= 0 && !found; i--) {
    struct net a;
    if (net_parse(items[i], &a) != A_OK || a.bits != (a.family == AF_INET ? 32 : 128))
      break; /* not an address: nothing further left can be trusted either */
    if (!trusted_proxy(a.family, a.addr)) {
      inet_ntop(a.family, a.addr, out, (socklen_t)cap);
      found = true;
    }
  }
  free(copy);
  return found;
}

void req_client_address(const struct req *r, char *out, size_t cap) {
  snprintf(out, cap, "-");
  const struct sockaddr *sa = r->in->client_address;
  const unsigned char *peer = sockaddr_bytes(sa);
  if (peer == NULL)
    return;
  const char *xff = req_header(r, "X-Forwarded-For");
  if (xff != NULL && trusted_proxy(sa->sa_family, peer) && forwarded_client(xff, out, cap))
    return;
  inet_ntop(sa->sa_family, peer, out, (socklen_t)cap);
}

const char *req_caller_sub(const struct req *r) {
  return r->caller.sub[0] ? r->caller.sub : NULL;
}

const char *req_caller_agency(const struct req *r) {
  return r->caller.agency_id[0] ? r->caller.agency_id : NULL;
}

void reply_header(struct req *r, const char *name, const char *value) {
  u_map_put(r->out->map_header, name, value);
}

void reply_vary(struct req *r, const char *name) {
  const char *had = u_map_get_case(r->out->map_header, "Vary");
  if (had == NULL) {
    u_map_put(r->out->map_header, "Vary", name);
    return;
  }
  size_t n = strlen(name);
  for (const char *p = had; (p = strcasestr(p, name)) != NULL; p += n)
    if ((p == had || p[-1] == ' ' || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
      return;
  char *joined = msprintf("%s, %s", had, name);
  u_map_put(r->out->map_header, "Vary", joined);
  o_free(joined);
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
  return reply_text(r, status, "application/json", json_text, strlen(json_text));
}

enum problem reply_jansson(struct req *r, long status, json_t *value) {
  char *text = json_dumps(value, JSON_COMPACT);
  json_decref(value);
  if (text == NULL) /* only when out of memory: finish() answers 500 for a status of 0 */
    return P_INTERNAL;
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
