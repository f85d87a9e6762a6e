/*
 * request.c — reading a request and writing a reply: path and query parameters, headers,
 * the body, the caller, and responses. It knows nothing of problems or the database.
 */
#include "http/http.h"

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

const char *req_caller_sub(const struct req *r) {
  return r->caller.sub[0] ? r->caller.sub : NULL;
}

const char *req_caller_agency(const struct req *r) {
  return r->caller.agency_id[0] ? r->caller.agency_id : NULL;
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
