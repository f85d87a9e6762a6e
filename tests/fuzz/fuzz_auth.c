/*
 * fuzz_auth.c — the Authorization header and the bearer token inside it.
 *
 * The first input byte picks a mode:
 *   even: the rest is an Authorization header value, handled as dispatch does ("Bearer ",
 *         spaces, then auth_verify_token()) — parsing, base64url, JSON, the algorithm check;
 *   odd:  the rest is a claims object that this harness signs with the configured secret, so
 *         that the fuzzer also reaches the claim checks behind the signature.
 * Invariant: a token accepted as AUTH_OK yields a caller with a role, a sub, and strings
 * that fit their buffers.
 */
#include "acredita.h"
#include "auth/auth.h"

#include <jwt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SECRET "fuzz-secret-0123456789abcdef0123456789"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  setenv("JWT_SECRET", SECRET, 1);
  if (config_load(false, true) != A_OK || auth_init() != A_OK)
    abort();
  return 0;
}

static void check_caller(const struct caller *c) {
  if (c->role == 0 || c->role == ROLE_ANONYMOUS || c->sub[0] == '\0' ||
      strnlen(c->sub, sizeof c->sub) == sizeof c->sub ||
      strnlen(c->name, sizeof c->name) == sizeof c->name ||
      strnlen(c->scope, sizeof c->scope) == sizeof c->scope)
    abort();
  if (c->role == ROLE_AGENCY && !uuid_valid(c->agency_id))
    abort();
}

static void verify(const char *token) {
  struct caller c;
  memset(&c, 0, sizeof c);
  enum auth_verdict v = auth_verify_token(token, &c);
  if (auth_verdict_text(v, LANG_EN) == NULL || auth_verdict_text(v, LANG_ES) == NULL)
    abort();
  if (v == AUTH_OK)
    check_caller(&c);
}

static void header_value(const char *h) {
  if (strncasecmp(h, "Bearer ", 7) != 0)
    return;
  const char *token = h + 7;
  while (*token == ' ')
    token++;
  verify(token);
}

static void signed_claims(const char *claims) {
  jwt_t *jwt = NULL;
  if (jwt_new(&jwt) != 0)
    return;
  if (jwt_add_grants_json(jwt, claims) == 0 &&
      jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)SECRET, (int)strlen(SECRET)) == 0) {
    char *token = jwt_encode_str(jwt);
    if (token != NULL)
      verify(token);
    free(token);
  }
  jwt_free(jwt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  char *text = strndup((const char *)data + 1, size - 1);
  if (text == NULL)
    return 0;
  if (data[0] & 1)
    signed_claims(text);
  else
    header_value(text);
  free(text);
  return 0;
}
