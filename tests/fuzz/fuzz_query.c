/*
 * fuzz_query.c — query strings (and form bodies, which share the decoding): query_split()
 * and url_decode(), then every query-parameter type check on each decoded value.
 *
 * Invariants: a split that succeeds yields only valid UTF-8 without NUL bytes, never more
 * pairs than segments, and decoding never makes a string longer than its input.
 */
#include "http/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  validate_format_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A URL reaches dispatch as a C string: it ends at the first NUL. */
  char *qs = strndup((const char *)data, size);
  if (qs == NULL)
    return 0;
  size_t len = strlen(qs), segments = 1;
  for (size_t i = 0; i < len; i++)
    segments += qs[i] == '&';

  char *whole = url_decode(qs, len);
  if (whole != NULL && strlen(whole) > len)
    abort();
  free(whole);

  struct qpair *pairs = NULL;
  size_t n = 0;
  if (query_split(qs, &pairs, &n) == A_OK) {
    if (n > segments)
      abort();
    for (size_t i = 0; i < n; i++) {
      const char *name = pairs[i].name, *value = pairs[i].value;
      if (!utf8_valid(name, strlen(name)) || !utf8_valid(value, strlen(value)))
        abort();
      for (int t = Q_STRING; t <= Q_DATETIME; t++)
        (void)qvalue_valid((enum qtype)t, value);
    }
    query_pairs_free(pairs, n);
  } else if (pairs != NULL || n != 0) {
    abort();
  }
  free(qs);
  return 0;
}
