/* test_resource.c — http/resource.c: the answers of the shared handlers. The handlers
 * themselves run against a real database in tests/integration/ (every resource uses them). */
#include "unit.h"

#include <criterion/criterion.h>

static struct resource THING = {"thing", "/v1/things", "No thing has this id.",
                                "Ningún objeto tiene este id."};
static const struct route ROUTE = {"GET", "/v1/things/:id", ROLES_ALL, resource_get,
                                   .resource = &THING};

Test(resource, missing_answers_the_resources_404) {
  struct ctx c;
  ctx_init(&c, LANG_ES);
  c.r.route = &ROUTE;
  cr_assert_eq(resource_get(&c.r), P_NOT_FOUND, "no :id in the path: no UUID");
  cr_assert_str_eq(c.r.detail, "Ningún objeto tiene este id.");
  ctx_free(&c);
}

Test(resource, reply_row_answers_one_row_or_not_found) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  c.r.route = &ROUTE;
  PGresult *none = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
  cr_assert_eq(reply_row(&c.r, none, resource_missing), P_NOT_FOUND);
  c.r.problem = P_UNAVAILABLE;
  cr_assert_eq(reply_row(&c.r, NULL, resource_missing), P_UNAVAILABLE, "a failed query's");
  ctx_free(&c);
}
