/* unit.h — what the unit tests of http/ share: a request context without a server. */
#ifndef ACREDITA_TEST_UNIT_H
#define ACREDITA_TEST_UNIT_H

#include "http/http.h"

#include <orcania.h>
#include <stdio.h>
#include <string.h>

/* A request as dispatch() would hold it, with no server and no database. */
struct ctx {
  struct _u_request in;
  struct _u_response out;
  struct req r;
};

static inline void ctx_init(struct ctx *c, enum lang lang) {
  memset(c, 0, sizeof *c);
  ulfius_init_request(&c->in);
  ulfius_init_response(&c->out);
  c->in.url_path = o_strdup("/v1/things");
  c->in.http_verb = o_strdup("GET");
  c->in.http_url = o_strdup("/v1/things");
  c->r.in = &c->in;
  c->r.out = &c->out;
  c->r.lang = lang;
  snprintf(c->r.request_id, sizeof c->r.request_id, "req-1");
}

static inline void ctx_free(struct ctx *c) {
  json_decref(c->r.errors);
  json_decref(c->r.problem_members);
  ulfius_clean_request(&c->in);
  ulfius_clean_response(&c->out);
}

/* True when the request's errors[] has an entry for field with code. */
static inline bool ctx_has_error(const struct ctx *c, const char *field, const char *code) {
  size_t i;
  const json_t *e;
  json_array_foreach(c->r.errors, i, e) {
    if (strcmp(json_string_value(json_object_get(e, "field")), field) == 0 &&
        strcmp(json_string_value(json_object_get(e, "code")), code) == 0)
      return true;
  }
  return false;
}

#endif
