/* me.c — GET /v1/me: the caller's verified claims and, when it is one, its user or client. */
#include "resources/resources.h"

#include <orcania.h>
#include <stdlib.h>
#include <string.h>

static enum problem me_get(struct req *r);

static const struct route ROUTES[] = {{"GET", "/v1/me", ROLES_SIGNED_IN, me_get}, {NULL}};

const struct route_table ME_ROUTES = {"me", ROUTES};

static struct db_stmt ME_USER = {"me_user", "SELECT user_json(u) FROM users u WHERE id::text = $1",
                                 0};
static struct db_stmt ME_CLIENT = {"me_client",
                                   "SELECT client_json(c) FROM clients c WHERE id::text = $1", 0};

/* The claims of the (already verified) bearer token, decoded from its payload. */
static json_t *token_claims(const struct req *r) {
  const char *h = req_header(r, "Authorization");
  const char *dot1 = h ? strchr(h, '.') : NULL;
  const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
  if (dot2 == NULL)
    return NULL;
  size_t n = (size_t)(dot2 - dot1 - 1), len = 0;
  unsigned char *buf = malloc(n + 4);
  json_t *claims = NULL;
  if (o_base64url_decode((const unsigned char *)dot1 + 1, n, buf, &len))
    claims = json_loadb((const char *)buf, len, 0, NULL);
  free(buf);
  return claims;
}

/* The representation of the caller's user or client row, or JSON null. */
static json_t *row_of(struct req *r, struct db_stmt *s) {
  const char *p[] = {r->caller.sub};
  PGresult *res = req_exec(r, s, 1, p);
  json_t *v = res && PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : json_null();
  PQclear(res);
  return v;
}

static enum problem me_get(struct req *r) {
  json_t *claims = token_claims(r);
  if (claims == NULL)
    return req_fail(r, P_INTERNAL, NULL, NULL);
  json_t *user = row_of(r, &ME_USER);
  json_t *client = r->problem == P_NONE ? row_of(r, &ME_CLIENT) : json_null();
  if (r->problem != P_NONE) {
    json_decref(claims);
    json_decref(user);
    json_decref(client);
    return r->problem;
  }
  return reply_jansson(
      r, 200, json_pack("{s:o,s:o,s:o}", "claims", claims, "user", user, "client", client));
}
