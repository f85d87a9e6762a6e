/*
 * query.c — decoding application/x-www-form-urlencoded text: query strings and form bodies.
 *
 * Pure functions on untrusted bytes, kept apart from dispatch so that they can be fuzzed
 * (tests/fuzz/fuzz_query.c) without a server. Checking the pairs against a route is dispatch's.
 */
#include "http/http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

char *url_decode(const char *s, size_t len) {
  char *out = malloc(len + 1);
  if (out == NULL)
    return NULL;
  size_t j = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '+') {
      out[j++] = ' ';
    } else if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
               isxdigit((unsigned char)s[i + 2])) {
      char hex[3] = {s[i + 1], s[i + 2], 0};
      out[j++] = (char)strtol(hex, NULL, 16);
      i += 2;
    } else {
      out[j++] = s[i];
    }
  }
  out[j] = '\0';
  /* A %00 would cut the string short of what was sent: refuse it rather than truncate. */
  if (strlen(out) != j) {
    free(out);
    return NULL;
  }
  return out;
}

void query_pairs_free(struct qpair *pairs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(pairs[i].name);
    free(pairs[i].value);
  }
  free(pairs);
}

int query_split(const char *qs, struct qpair **out, size_t *n) {
  *out = NULL;
  *n = 0;
  size_t cap = 1;
  for (const char *p = qs; *p; p++)
    cap += *p == '&';
  struct qpair *pairs = calloc(cap, sizeof *pairs);
  if (pairs == NULL)
    return A_ERR;
  size_t count = 0;
  for (const char *p = qs; *p;) {
    const char *seg = p, *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - seg) : strlen(seg);
    p += len + (end ? 1 : 0);
    if (len == 0) /* "a=1&&b=2" */
      continue;
    const char *eq = memchr(seg, '=', len);
    size_t nlen = eq ? (size_t)(eq - seg) : len;
    char *name = url_decode(seg, nlen);
    char *value = eq ? url_decode(eq + 1, len - nlen - 1) : strdup("");
    if (name == NULL || value == NULL || !utf8_valid(name, strlen(name)) ||
        !utf8_valid(value, strlen(value))) {
      free(name);
      free(value);
      query_pairs_free(pairs, count);
      return A_ERR;
    }
    pairs[count].name = name;
    pairs[count].value = value;
    count++;
  }
  *out = pairs;
  *n = count;
  return A_OK;
}
