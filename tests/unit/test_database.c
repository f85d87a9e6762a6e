/* test_database.c — http/database.c: a request without a database answers 503. */
#include "unit.h"

#include <criterion/criterion.h>

Test(database, no_connection_is_unavailable) {
  /* Nothing listens on port 1: the pool opens no connection, at once. */
  cr_assert_eq(db_pool_init("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", 1, 1,
                            DB_STATEMENTS_AUTO),
               A_OK);
  struct ctx c;
  ctx_init(&c, LANG_EN);
  cr_assert_null(req_db(&c.r));
  cr_assert_eq(c.r.problem, P_UNAVAILABLE);
  struct db_stmt s = {"nothing", "SELECT 1"};
  cr_assert_null(req_exec(&c.r, &s, 0, NULL));
  ctx_free(&c);
  db_pool_close();
}
