/* test_conditional.c — http/conditional.c: If-Match on writes, If-None-Match on reads. */
#include "unit.h"

#include <criterion/criterion.h>

Test(conditional, if_match_names_the_current_representation) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  const char *current = "{\"id\":1,\"version\":3}";
  cr_assert_eq(req_check_if_match(&c.r, current), P_NONE, "no If-Match: no condition");
  char tag[40], header[64];
  etag_of(current, strlen(current), tag);
  snprintf(header, sizeof header, "\"stale\", %s", tag);
  u_map_put(c.in.map_header, "If-Match", header);
  cr_assert_eq(req_check_if_match(&c.r, current), P_NONE);
  cr_assert_eq(req_check_if_match(&c.r, "{\"id\":1,\"version\":4}"), P_PRECONDITION_FAILED);
  ctx_free(&c);
}

Test(conditional, not_modified_only_for_a_get_200_with_its_tag) {
  struct ctx c;
  ctx_init(&c, LANG_EN);
  etag_of("x", 1, c.r.etag);
  u_map_put(c.in.map_header, "If-None-Match", c.r.etag);
  c.r.status = 200;
  cr_assert(req_not_modified(&c.r));
  c.r.status = 201;
  cr_assert_not(req_not_modified(&c.r));
  c.r.status = 200;
  o_free(c.in.http_verb);
  c.in.http_verb = o_strdup("PATCH");
  cr_assert_not(req_not_modified(&c.r));
  ctx_free(&c);
}
