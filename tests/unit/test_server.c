/* test_server.c — http/server.c: the scopes routes need, and the route matrix it prints. */
#include "unit.h"

#include <criterion/criterion.h>
#include <stdlib.h>

static enum problem nothing(struct req *r) {
  (void)r;
  return P_NONE;
}

static const struct route ROUTES[] = {
    {"GET", "/v1/things", ROLES_ALL, nothing},
    {"POST", "/v1/things", ROLE_ADMIN | ROLE_INL, nothing},
    {"GET", "/v1/things/feed", ROLE_PARTNER, nothing, .scope = "feed:read"},
    {NULL}};
static const struct route_table THINGS = {"things", ROUTES};
static const struct route_table SERVICE = {"service", ROUTES};

Test(server, scopes_follow_the_table_and_the_method) {
  char scope[64];
  route_scope(&THINGS, &ROUTES[0], scope, sizeof scope);
  cr_assert_str_eq(scope, "things:read");
  route_scope(&THINGS, &ROUTES[1], scope, sizeof scope);
  cr_assert_str_eq(scope, "things:write");
  route_scope(&THINGS, &ROUTES[2], scope, sizeof scope);
  cr_assert_str_eq(scope, "feed:read", "a route may name its own");
  route_scope(&SERVICE, &ROUTES[0], scope, sizeof scope);
  cr_assert_str_eq(scope, "", "the service's own endpoints need none");
}

Test(server, routes_print_as_a_matrix) {
  const struct route_table *const tables[] = {&THINGS, NULL};
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  http_routes_describe(tables, f);
  fclose(f);
  cr_assert_not_null(strstr(text, "POST\t/v1/things\tadmin,inl\tthings:write\n"), "%s", text);
  free(text);
}
