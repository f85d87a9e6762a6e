/* test_bytes.c — http/bytes.c: entity tags and UTF-8. */
#include "unit.h"

#include <criterion/criterion.h>

Test(etag, from_data_and_matching) {
  char a[40], b[40], c[40];
  etag_of("{\"x\":1}", 7, a);
  etag_of("{\"x\":1}", 7, b);
  etag_of("{\"x\":2}", 7, c);
  cr_assert_str_eq(a, b);
  cr_assert_str_neq(a, c);
  cr_assert_eq(a[0], '"');
  cr_assert(etag_matches(a, a));
  char list[128];
  snprintf(list, sizeof list, "\"zzz\", W/%s", a);
  cr_assert(etag_matches(list, a));
  cr_assert(etag_matches("*", a));
  cr_assert_not(etag_matches(c, a));
  cr_assert_not(etag_matches(NULL, a));
}

Test(utf8, accepts_and_refuses) {
  cr_assert(utf8_valid("Querétaro", strlen("Querétaro")));
  cr_assert_not(utf8_valid("\xff", 1));
  cr_assert_not(utf8_valid("a\0b", 3));
  cr_assert_not(utf8_valid("\xc0\xaf", 2), "overlong");
  cr_assert_not(utf8_valid("\xed\xa0\x80", 3), "surrogate");
  cr_assert_not(utf8_valid("\xc3", 1), "truncated");
}
