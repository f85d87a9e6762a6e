/* test_request.c — http/request.c: reading the request, writing the reply. */
#include "unit.h"

#include <criterion/criterion.h>
#include <stdlib.h>

Test(request, query_values_and_sql_parameters) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  cr_assert_eq(query_split("status=open&status=done&q=x&q=y", &c.r.query, &c.r.nquery), A_OK);
  cr_assert_str_eq(req_query_value(&c.r, "q"), "y", "the last occurrence");
  cr_assert_null(req_query_value(&c.r, "none"));
  const struct qparam repeat = {"status", Q_ENUM, true};
  char *sql = req_query_sql(&c.r, &repeat);
  cr_assert_str_eq(sql, "[\"open\",\"done\"]", "a repeatable parameter binds a JSON array");
  free(sql);
  query_pairs_free(c.r.query, c.r.nquery);
  ctx_free(&c);
}

Test(request, content_type_and_caller) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  u_map_put(c.in.map_header, "Content-Type", "application/json; charset=utf-8");
  cr_assert(req_content_type_is(&c.r, "application/json"));
  cr_assert_not(req_content_type_is(&c.r, "application/js"));
  cr_assert_null(req_caller_sub(&c.r), "anonymous has no sub");
  snprintf(c.r.caller.sub, sizeof c.r.caller.sub, "u-1");
  cr_assert_str_eq(req_caller_sub(&c.r), "u-1");
  ctx_free(&c);
}

Test(request, replies_set_status_type_and_body) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  reply_json(&c.r, 201, "{\"a\":1}");
  cr_assert_eq(c.r.status, 201);
  cr_assert(c.r.has_body);
  cr_assert_str_eq(u_map_get_case(c.out.map_header, "Content-Type"), "application/json");
  cr_assert_eq(c.r.etag[0], '\0', "tags are finish()'s");
  reply_empty(&c.r, 204);
  cr_assert_not(c.r.has_body);
  ctx_free(&c);
}
