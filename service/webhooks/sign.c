/*
 * sign.c — Standard Webhooks secrets and signatures, and the rule for receiving URLs. Pure
 * functions: the unit tests check them against the specification's example.
 */
#include "webhooks/webhooks.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <orcania.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define SECRET_PREFIX "whsec_"
#define SECRET_MIN_BYTES 24
#define SECRET_MAX_BYTES 64

int webhook_secret_new(char out[WEBHOOK_SECRET_MAX]) {
  return random_text(out, WEBHOOK_SECRET_MAX, SECRET_PREFIX, 32, false);
}

/* The key of a secret into key (SECRET_MAX_BYTES); its length, or 0 when malformed. */
static size_t secret_key(const char *s, size_t n, unsigned char key[SECRET_MAX_BYTES + 3]) {
  size_t plen = strlen(SECRET_PREFIX);
  if (n <= plen || n - plen > 4 * ((SECRET_MAX_BYTES + 2) / 3) || strncmp(s, SECRET_PREFIX, plen))
    return 0;
  size_t len = 0;
  if (!o_base64_decode((const unsigned char *)s + plen, n - plen, key, &len))
    return 0;
  return len >= SECRET_MIN_BYTES && len <= SECRET_MAX_BYTES ? len : 0;
}

bool webhook_secret_valid(const char *s) {
  unsigned char key[SECRET_MAX_BYTES + 3];
  bool ok = s != NULL && secret_key(s, strlen(s), key) > 0;
  OPENSSL_cleanse(key, sizeof key);
  return ok;
}

char *webhook_signature(const char *secrets, const char *msg_id, long long timestamp,
                        const char *body, size_t len) {
  /* What is signed: "<msg_id>.<timestamp>.<body>". */
  char *signed_text = msprintf("%s.%lld.", msg_id, timestamp);
  size_t hn = strlen(signed_text);
  char *grown = realloc(signed_text, hn + len + 1);
  if (grown == NULL) {
    o_free(signed_text);
    return NULL;
  }
  signed_text = grown;
  memcpy(signed_text + hn, body, len);
  char *out = NULL;
  for (const char *s = secrets; *s != '\0';) {
    size_t n = strcspn(s, " ");
    unsigned char key[SECRET_MAX_BYTES + 3], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t keylen = secret_key(s, n, key);
    bool ok = keylen > 0 && HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)signed_text,
                                 hn + len, mac, &maclen) != NULL;
    OPENSSL_cleanse(key, sizeof key);
    unsigned char b64[EVP_MAX_MD_SIZE * 2];
    size_t b64len = 0;
    if (!ok || !o_base64_encode(mac, maclen, b64, &b64len)) {
      o_free(out);
      o_free(signed_text);
      return NULL;
    }
    out = mstrcatf(out, "%sv1,%.*s", out != NULL ? " " : "", (int)b64len, (const char *)b64);
    s += n;
    while (*s == ' ')
      s++;
  }
  o_free(signed_text);
  return out;
}

/* localhost, *.localhost, 127.0.0.0/8 and ::1, as a URL's host part writes them. */
static bool host_loopback(const char *host) {
  size_t n = strlen(host);
  if (strcasecmp(host, "localhost") == 0 ||
      (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0) || strcmp(host, "[::1]") == 0)
    return true;
  struct in_addr a4;
  return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

bool webhook_url_allowed(const char *url, bool allow_loopback) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *fragment = NULL;
  bool ok = u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_NO_FRAGMENT;
  if (ok) {
    bool loopback = host_loopback(host);
    ok = loopback ? allow_loopback && (strcmp(scheme, "https") == 0 || strcmp(scheme, "http") == 0)
                  : strcmp(scheme, "https") == 0;
  }
  curl_free(scheme);
  curl_free(host);
  curl_free(fragment);
  curl_url_cleanup(u);
  return ok;
}

bool webhook_address_loopback(const void *sockaddr) {
  const struct sockaddr *sa = sockaddr;
  if (sa->sa_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family != AF_INET6)
    return false;
  const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
  if (IN6_IS_ADDR_LOOPBACK(a6))
    return true;
  /* ::ffff:127.x.x.x reaches the IPv4 loopback too. */
  return IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127;
}
