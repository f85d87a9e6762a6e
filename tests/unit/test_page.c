/* test_page.c — http/page.c: list cursors. */
#include "unit.h"

#include <criterion/criterion.h>
#include <stdlib.h>

static void keys(void) {
  memset(&g_config, 0, sizeof g_config);
  memset(g_config.cursor_key, 7, sizeof g_config.cursor_key);
}

TestSuite(cursor, .init = keys);

Test(cursor, round_trip) {
  char *c = cursor_encode("2024-01-25 15:00:00+00", "7c0e2f4e-0000-4000-8000-000000000001",
                          "/v1/users|created_at");
  char *k = NULL, *id = NULL;
  cr_assert_eq(cursor_decode(c, "/v1/users|created_at", &k, &id), A_OK);
  cr_assert_str_eq(k, "2024-01-25 15:00:00+00");
  cr_assert_str_eq(id, "7c0e2f4e-0000-4000-8000-000000000001");
  free(k);
  free(id);
  free(c);
}

Test(cursor, refused_when_tampered_or_rebound) {
  char *c = cursor_encode("abc", "7c0e2f4e-0000-4000-8000-000000000001", "b1");
  char *k = NULL, *id = NULL;
  cr_assert_eq(cursor_decode(c, "b2", &k, &id), A_ERR, "other filters");
  char *t = strdup(c);
  t[3] = t[3] == 'A' ? 'B' : 'A';
  cr_assert_eq(cursor_decode(t, "b1", &k, &id), A_ERR, "edited payload");
  t[3] = c[3];
  t[strlen(t) - 1] = t[strlen(t) - 1] == 'A' ? 'B' : 'A';
  cr_assert_eq(cursor_decode(t, "b1", &k, &id), A_ERR, "edited MAC");
  cr_assert_eq(cursor_decode("", "b1", &k, &id), A_ERR);
  cr_assert_eq(cursor_decode("no-dot", "b1", &k, &id), A_ERR);
  cr_assert_eq(cursor_decode("....", "b1", &k, &id), A_ERR);
  memset(g_config.cursor_key, 8, sizeof g_config.cursor_key);
  cr_assert_eq(cursor_decode(c, "b1", &k, &id), A_ERR, "another key");
  free(t);
  free(c);
}

/* ------------------------------------------------------- issue 17, 15.9 */

Test(cursor, sealed_nothing_readable) {
  char *c = cursor_encode("Policía de Querétaro", "7c0e2f4e-0000-4000-8000-000000000001", "b1");
  size_t n = strlen(c);
  cr_assert(strchr(c, '.') == NULL);
  unsigned char *raw = malloc(n + 8);
  size_t len = 0;
  cr_assert(o_base64url_decode((const unsigned char *)c, n / 4 * 4, raw, &len));
  cr_assert(memmem(raw, len, "Quer", 4) == NULL, "the sort key reads in the clear");
  cr_assert(memmem(raw, len, "7c0e2f4e", 8) == NULL, "the id reads in the clear");
  free(raw);
  /* The same position gives the same cursor (a poller at the end of the feed gets its own
   * back); another position, or another list, another one. */
  char *d = cursor_encode("Policía de Querétaro", "7c0e2f4e-0000-4000-8000-000000000001", "b1");
  char *e = cursor_encode("Policía de Querétaro", "7c0e2f4e-0000-4000-8000-000000000002", "b1");
  char *f = cursor_encode("Policía de Querétaro", "7c0e2f4e-0000-4000-8000-000000000001", "b2");
  cr_assert_str_eq(c, d);
  cr_assert_str_neq(c, e);
  cr_assert_str_neq(c, f);
  free(c);
  free(d);
  free(e);
  free(f);
}
