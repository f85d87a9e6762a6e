/*
 * bytes.c — pure functions on bytes that the rest of http/ shares: UTF-8 validity and entity
 * tags. No request, no database: a leaf of the dependency graph.
 */
#include "http/http.h"

#include <stdio.h>
#include <string.h>

/* RFC 3629: rejects overlongs, surrogates, code points past U+10FFFF, and NUL. */
bool utf8_valid(const char *str, size_t len) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    if (c == 0)
      return false;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; k++) {
      if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

void etag_of(const void *body, size_t len, char out[40]) {
  char hex[65];
  sha256_hex(body, len, hex);
  snprintf(out, 40, "\"%.32s\"", hex);
}

bool etag_matches(const char *header, const char *tag) {
  if (header == NULL || tag == NULL || tag[0] == '\0')
    return false;
  const char *p = header;
  size_t tlen = strlen(tag);
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (*p == '*')
      return true;
    if (strncmp(p, "W/", 2) == 0) /* weak comparison is fine for GET and for our tags */
      p += 2;
    if (strncmp(p, tag, tlen) == 0 && (p[tlen] == '\0' || p[tlen] == ',' || p[tlen] == ' '))
      return true;
    while (*p && *p != ',')
      p++;
  }
  return false;
}
