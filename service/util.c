/* util.c — small helpers every layer uses: UUIDs, random secrets, hashing, roles. */
#include "acredita.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <orcania.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

static const char *const ROLE_NAMES[] = {"anonymous", "admin",     "inl",    "advisor",
                                         "agency",    "coalition", "partner"};

enum role role_from_name(const char *s) {
  if (s == NULL)
    return 0;
  /* Index 0 is "anonymous": not a role anyone can be given. */
  for (size_t i = 1; i < sizeof ROLE_NAMES / sizeof *ROLE_NAMES; i++)
    if (strcmp(s, ROLE_NAMES[i]) == 0)
      return (enum role)(1u << i);
  return 0;
}

const char *role_name(enum role r) {
  for (size_t i = 0; i < sizeof ROLE_NAMES / sizeof *ROLE_NAMES; i++)
    if ((unsigned)r == 1u << i)
      return ROLE_NAMES[i];
  return "unknown";
}

/* Fills buf with n bytes from the kernel's CSPRNG (getrandom may return fewer at once). */
static void random_fill(unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = getrandom(buf + got, n - got, 0);
    if (k > 0)
      got += (size_t)k;
  }
}

void uuid_v4(char out[37]) {
  unsigned char b[16];
  random_fill(b, sizeof b);
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

bool uuid_valid(const char *s) {
  if (s == NULL || strlen(s) != 36)
    return false;
  for (int i = 0; i < 36; i++) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-')
        return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

void sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(data, len, md);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

bool bytes_equal_ct(const void *a, const void *b, size_t n) {
  return CRYPTO_memcmp(a, b, n) == 0;
}

int random_text(char *out, size_t cap, const char *prefix, size_t nbytes, bool url_safe) {
  unsigned char raw[64];
  size_t plen = strlen(prefix);
  /* base64 of nbytes takes at most 4 * ceil(nbytes / 3) characters, and the NUL. */
  if (nbytes > sizeof raw || cap < plen + 4 * ((nbytes + 2) / 3) + 1)
    return A_ERR;
  random_fill(raw, nbytes);
  memcpy(out, prefix, plen);
  size_t len = cap - plen - 1;
  bool ok = url_safe ? o_base64url_encode(raw, nbytes, (unsigned char *)out + plen, &len)
                     : o_base64_encode(raw, nbytes, (unsigned char *)out + plen, &len);
  OPENSSL_cleanse(raw, sizeof raw);
  if (!ok)
    return A_ERR;
  out[plen + len] = '\0';
  return A_OK;
}

int net_parse(const char *text, struct net *out) {
  char host[64];
  const char *slash = strchr(text, '/');
  size_t n = slash ? (size_t)(slash - text) : strlen(text);
  if (n == 0 || n >= sizeof host)
    return A_ERR;
  memcpy(host, text, n);
  host[n] = '\0';
  memset(out, 0, sizeof *out);
  int max;
  if (inet_pton(AF_INET, host, out->addr) == 1) {
    out->family = AF_INET;
    max = 32;
  } else if (inet_pton(AF_INET6, host, out->addr) == 1) {
    out->family = AF_INET6;
    max = 128;
  } else {
    return A_ERR;
  }
  out->bits = max;
  if (slash != NULL) {
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    if (slash[1] == '\0' || *end != '\0' || bits < 0 || bits > max)
      return A_ERR;
    out->bits = (int)bits;
  }
  return A_OK;
}

bool net_contains(const struct net *n, int family, const unsigned char *addr) {
  if (family != n->family)
    return false;
  int full = n->bits / 8, rest = n->bits % 8;
  if (memcmp(n->addr, addr, (size_t)full) != 0)
    return false;
  unsigned char mask = (unsigned char)(0xff00 >> rest);
  return rest == 0 || (n->addr[full] & mask) == (addr[full] & mask);
}

bool scope_has(const char *scopes, const char *want) {
  size_t n = strlen(want);
  for (const char *p = scopes; n > 0 && (p = strstr(p, want)) != NULL; p += n)
    if ((p == scopes || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
      return true;
  return false;
}
