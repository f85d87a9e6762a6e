/* test_stream.c — http/stream.c: a CSV answer waits for finish(), which may drop it unread. */
#include "unit.h"

#include <criterion/criterion.h>

Test(stream, prepared_then_dropped_without_reading) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  struct db_stmt page = {"no_page", "SELECT 1"};
  const char *params[] = {"admin", NULL};
  cr_assert_eq(reply_csv_stream(&c.r, &page, 2, params, "id,name", 10), P_NONE);
  cr_assert_eq(c.r.status, 200);
  cr_assert_not(c.r.has_body, "nothing for finish() to hash: the list knows the tag");
  cr_assert_not_null(c.r.stream);
  /* A 304 or a problem: the stream goes without a query (ASan and valgrind see no leak). */
  cr_assert_eq(csv_stream_attach(&c.r, false), P_NONE);
  cr_assert_null(c.r.stream);
  ctx_free(&c);
}
