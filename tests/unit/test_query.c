/* test_query.c — http/query.c: query strings and form bodies, decoded. */
#include "unit.h"

#include <criterion/criterion.h>
#include <stdlib.h>

Test(query, decodes_pairs_in_order) {
  struct qpair *pairs = NULL;
  size_t n = 0;
  cr_assert_eq(query_split("a=1&&b=x+y%C3%A9&flag&a=2", &pairs, &n), A_OK);
  cr_assert_eq(n, 4);
  cr_assert_str_eq(pairs[0].name, "a");
  cr_assert_str_eq(pairs[1].value, "x yé");
  cr_assert_str_eq(pairs[2].name, "flag");
  cr_assert_str_eq(pairs[2].value, "");
  cr_assert_str_eq(pairs[3].value, "2");
  query_pairs_free(pairs, n);
}

Test(query, refuses_nul_and_bad_utf8) {
  struct qpair *pairs = NULL;
  size_t n = 0;
  cr_assert_eq(query_split("a=%00", &pairs, &n), A_ERR);
  cr_assert_null(pairs);
  cr_assert_eq(query_split("a=%ff", &pairs, &n), A_ERR);
  char *d = url_decode("%zz%4", 5);
  cr_assert_str_eq(d, "%zz%4", "a bad escape is kept as it is");
  free(d);
}
