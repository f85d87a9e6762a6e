/*
 * test_jwt.c — auth/jwt.c: each refusal is a token that differs from a good one in one respect,
 * built with libjwt directly (or by hand where libjwt will not), so that the service's own
 * issuing code is not what is tested.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth/auth.h"

#define AGENCY_UUID "0b6f4a8e-3c1d-4e2f-9a7b-5c6d7e8f9a0b"

static char secret[] = "0123456789abcdef0123456789abcdef-test-secret";
static char issuer[] = "https://acredita.test";
static char audience[] = "acredita-api";

/* Key pairs made by a fixture, in PEM text; freed by teardown. */
static EVP_PKEY *s_key;
static char *s_private_pem, *s_public_pem;

/* ------------------------------------------------------------------ helpers */

static char *bio_text(BIO *bio) {
  char *data;
  long len = BIO_get_mem_data(bio, &data);
  char *text = malloc((size_t)len + 1);
  cr_assert_not_null(text);
  memcpy(text, data, (size_t)len);
  text[len] = '\0';
  return text;
}

static char *private_pem(EVP_PKEY *key) {
  BIO *bio = BIO_new(BIO_s_mem());
  cr_assert(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL));
  char *text = bio_text(bio);
  BIO_free(bio);
  return text;
}

static char *public_pem(EVP_PKEY *key) {
  BIO *bio = BIO_new(BIO_s_mem());
  cr_assert(PEM_write_bio_PUBKEY(bio, key));
  char *text = bio_text(bio);
  BIO_free(bio);
  return text;
}

/* Decodes unpadded base64url into out; returns the length, or -1. */
static int b64url_decode(const char *in, unsigned char *out, size_t out_size) {
  size_t len = strlen(in), pad = (4 - len % 4) % 4;
  char std[1024];
  cr_assert_lt(len + pad, sizeof std);
  for (size_t i = 0; i < len; i++)
    std[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
  memset(std + len, '=', pad);
  std[len + pad] = '\0';
  cr_assert_geq(out_size, (len + pad) / 4 * 3);
  int n = EVP_DecodeBlock(out, (unsigned char *)std, (int)(len + pad));
  return n < 0 ? -1 : n - (int)pad;
}

static char *b64url_encode(const void *data, size_t len) {
  char *out = malloc((len + 2) / 3 * 4 + 1);
  int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
  while (n > 0 && out[n - 1] == '=')
    n--;
  out[n] = '\0';
  for (char *p = out; *p; p++)
    *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
  return out;
}

static long now(void) {
  return (long)time(NULL);
}

/* The claims of a good token; each test changes one of them. */
static json_t *good_claims(void) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "sub",
                   "7d1e5c2a-0000-4000-8000-000000000001", "role", "admin", "name", "Ana Pérez",
                   "iss", issuer, "aud", audience, "iat", (json_int_t)now(), "nbf",
                   (json_int_t)now(), "exp", (json_int_t)(now() + 600));
}

/* Signs claims (and takes them) with alg and key, without the service's code. */
static char *sign(json_t *claims, jwt_alg_t alg, const char *key, size_t key_len) {
  jwt_t *jwt;
  char *json = json_dumps(claims, JSON_COMPACT);
  json_decref(claims);
  cr_assert_eq(jwt_new(&jwt), 0);
  cr_assert_eq(jwt_add_grants_json(jwt, json), 0);
  cr_assert_eq(jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)key_len), 0);
  char *token = jwt_encode_str(jwt);
  cr_assert_not_null(token);
  jwt_free(jwt);
  free(json);
  return token;
}

static char *sign_hs256(json_t *claims) {
  return sign(claims, JWT_ALG_HS256, secret, strlen(secret));
}

/* An HS256 token of a payload given as raw text, for what libjwt refuses to build. */
static char *sign_raw_hs256(const char *payload, size_t payload_len) {
  static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  char *h = b64url_encode(header, strlen(header)), *p = b64url_encode(payload, payload_len);
  size_t input_len = strlen(h) + 1 + strlen(p);
  char *token = malloc(input_len + 64);
  sprintf(token, "%s.%s", h, p);
  unsigned char mac[32];
  unsigned int mac_len = 0;
  cr_assert_not_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)token,
                          input_len, mac, &mac_len));
  char *sig = b64url_encode(mac, mac_len);
  sprintf(token + input_len, ".%s", sig);
  free(sig);
  free(p);
  free(h);
  return token;
}

/* The text of claims (taken) with one more member, extra ("\"k\":v"), at the end. */
static char *payload_with(json_t *claims, const char *extra, size_t *len) {
  char *json = json_dumps(claims, JSON_COMPACT);
  json_decref(claims);
  size_t base = strlen(json) - 1; /* without the closing brace */
  char *out = malloc(base + strlen(extra) + 3);
  memcpy(out, json, base);
  *len = base + (size_t)sprintf(out + base, ",%s}", extra);
  free(json);
  return out;
}

static enum auth_verdict verify(char *token) {
  struct caller c;
  enum auth_verdict v = auth_verify_token(token, &c);
  free(token);
  return v;
}

/* Verifies an HS256 token of claims (taken). */
static enum auth_verdict verify_claims(json_t *claims) {
  return verify(sign_hs256(claims));
}

static json_t *with(json_t *claims, const char *name, json_t *value) {
  json_object_set_new(claims, name, value);
  return claims;
}

static json_t *without(json_t *claims, const char *name) {
  json_object_del(claims, name);
  return claims;
}

/* Segment index of token (0 the header, 1 the payload) as a JSON object. */
static json_t *segment(const char *token, int index) {
  const char *start = token;
  for (int i = 0; i < index; i++)
    start = strchr(start, '.') + 1;
  size_t len = strcspn(start, ".");
  char text[2048];
  unsigned char raw[2048];
  cr_assert_lt(len, sizeof text);
  memcpy(text, start, len);
  text[len] = '\0';
  int n = b64url_decode(text, raw, sizeof raw);
  cr_assert_geq(n, 0);
  json_t *obj = json_loadb((const char *)raw, (size_t)n, 0, NULL);
  cr_assert_not_null(obj);
  return obj;
}

/* ----------------------------------------------------------------- fixtures */

static void reset_config(void) {
  memset(&g_config, 0, sizeof g_config);
  g_config.jwt_issuer = issuer;
  g_config.jwt_audience = audience;
}

static void setup_hs256(void) {
  reset_config();
  g_config.jwt_secret = secret;
  g_config.jwt_secret_len = strlen(secret);
  cr_assert_eq(auth_init(), A_OK);
}

static void use_key(EVP_PKEY *key) {
  reset_config();
  s_key = key;
  cr_assert_not_null(s_key);
  s_private_pem = private_pem(s_key);
  s_public_pem = public_pem(s_key);
  g_config.jwt_private_key = s_private_pem;
  g_config.jwt_public_key = s_public_pem;
}

static void setup_rs256(void) {
  use_key(EVP_RSA_gen(2048));
  cr_assert_eq(auth_init(), A_OK);
}

static void setup_es256(void) {
  use_key(EVP_EC_gen("P-256"));
  cr_assert_eq(auth_init(), A_OK);
}

static void setup_stderr(void) {
  reset_config();
  cr_redirect_stderr();
}

static void teardown(void) {
  EVP_PKEY_free(s_key);
  free(s_private_pem);
  free(s_public_pem);
  s_key = NULL;
  s_private_pem = s_public_pem = NULL;
  memset(&g_config, 0, sizeof g_config);
}

TestSuite(jwt, .fini = teardown);

/* ------------------------------------------------------------ HS256: accepted */

Test(jwt, issued_token_round_trips_all_claims, .init = setup_hs256) {
  struct caller in = {.role = ROLE_AGENCY}, out;
  strcpy(in.sub, "7d1e5c2a-0000-4000-8000-000000000001");
  strcpy(in.agency_id, AGENCY_UUID);
  strcpy(in.name, "María Ángeles Núñez");
  strcpy(in.scope, "agencies:read tasks:write");

  char *token = auth_issue_token(&in, 600);
  cr_assert_not_null(token);
  cr_assert_eq(auth_verify_token(token, &out), AUTH_OK);
  cr_assert_eq(out.role, ROLE_AGENCY);
  cr_assert_str_eq(out.sub, in.sub);
  cr_assert_str_eq(out.agency_id, AGENCY_UUID);
  cr_assert_str_eq(out.name, in.name);
  cr_assert_str_eq(out.scope, in.scope);

  json_t *header = segment(token, 0), *claims = segment(token, 1);
  cr_assert_str_eq(json_string_value(json_object_get(header, "alg")), "HS256");
  cr_assert_null(json_object_get(header, "kid"));
  cr_assert_str_eq(json_string_value(json_object_get(claims, "role")), "agency");
  cr_assert_str_eq(json_string_value(json_object_get(claims, "iss")), issuer);
  cr_assert_str_eq(json_string_value(json_object_get(claims, "aud")), audience);
  json_int_t iat = json_integer_value(json_object_get(claims, "iat"));
  cr_assert_leq(labs(now() - (long)iat), 2);
  cr_assert_eq(json_integer_value(json_object_get(claims, "nbf")), iat);
  cr_assert_eq(json_integer_value(json_object_get(claims, "exp")), iat + 600);
  json_decref(header);
  json_decref(claims);
  free(token);
}

Test(jwt, issued_token_omits_empty_agency_and_scope, .init = setup_hs256) {
  struct caller in = {.role = ROLE_INL}, out;
  strcpy(in.sub, "someone");
  char *token = auth_issue_token(&in, 0);
  cr_assert_not_null(token);
  json_t *claims = segment(token, 1);
  cr_assert_null(json_object_get(claims, "agency_id"));
  cr_assert_null(json_object_get(claims, "scope"));
  cr_assert_eq(json_integer_value(json_object_get(claims, "exp")),
               json_integer_value(json_object_get(claims, "iat")) + AUTH_DEFAULT_TTL);
  cr_assert_eq(auth_verify_token(token, &out), AUTH_OK);
  cr_assert_eq(out.role, ROLE_INL);
  cr_assert_str_eq(out.agency_id, "");
  cr_assert_str_eq(out.scope, "");
  json_decref(claims);
  free(token);
}

Test(jwt, issue_refuses_callers_whose_token_would_not_verify, .init = setup_hs256) {
  struct caller c = {.role = ROLE_AGENCY};
  strcpy(c.sub, "someone");
  cr_assert_null(auth_issue_token(&c, 60)); /* agency without agency_id */
  c.role = ROLE_ANONYMOUS;
  cr_assert_null(auth_issue_token(&c, 60));
  c.role = ROLE_ADMIN;
  c.sub[0] = '\0';
  cr_assert_null(auth_issue_token(&c, 60));
  cr_assert_null(auth_issue_token(NULL, 60));
}

Test(jwt, accepts_good_token, .init = setup_hs256) {
  struct caller c;
  char *token = sign_hs256(good_claims());
  cr_assert_eq(auth_verify_token(token, &c), AUTH_OK);
  cr_assert_eq(c.role, ROLE_ADMIN);
  cr_assert_str_eq(c.name, "Ana Pérez");
  cr_assert_str_eq(c.agency_id, "");
  free(token);
}

Test(jwt, accepts_audience_array_containing_ours, .init = setup_hs256) {
  json_t *aud = json_pack("[s, s]", "another-api", audience);
  cr_assert_eq(verify_claims(with(good_claims(), "aud", aud)), AUTH_OK);
}

Test(jwt, accepts_exp_within_leeway, .init = setup_hs256) {
  json_t *exp = json_integer(now() - AUTH_LEEWAY_SECONDS / 2);
  cr_assert_eq(verify_claims(with(good_claims(), "exp", exp)), AUTH_OK);
}

Test(jwt, accepts_nbf_within_leeway, .init = setup_hs256) {
  json_t *nbf = json_integer(now() + AUTH_LEEWAY_SECONDS / 2);
  cr_assert_eq(verify_claims(with(good_claims(), "nbf", nbf)), AUTH_OK);
}

Test(jwt, accepts_missing_nbf_and_name, .init = setup_hs256) {
  cr_assert_eq(verify_claims(without(without(good_claims(), "nbf"), "name")), AUTH_OK);
}

Test(jwt, accepts_agency_id_on_other_roles, .init = setup_hs256) {
  cr_assert_eq(verify_claims(with(good_claims(), "agency_id", json_string(AGENCY_UUID))), AUTH_OK);
}

Test(jwt, truncates_long_name_on_a_character_boundary, .init = setup_hs256) {
  char name[301] = "";
  for (int i = 0; i < 100; i++)
    strcat(name, "ñ"); /* two bytes each: 127 bytes would cut one in half */
  strcat(name, "x");
  struct caller c;
  char *token = sign_hs256(with(good_claims(), "name", json_string(name)));
  cr_assert_eq(auth_verify_token(token, &c), AUTH_OK);
  cr_assert_eq(strlen(c.name), 126);
  cr_assert_eq(strncmp(c.name, name, 126), 0);
  free(token);
}

/* ------------------------------------------------------------ HS256: refused */

Test(jwt, refuses_expired, .init = setup_hs256) {
  json_t *exp = json_integer(now() - AUTH_LEEWAY_SECONDS - 60);
  cr_assert_eq(verify_claims(with(good_claims(), "exp", exp)), AUTH_EXPIRED);
}

Test(jwt, refuses_missing_exp, .init = setup_hs256) {
  cr_assert_eq(verify_claims(without(good_claims(), "exp")), AUTH_EXPIRED);
}

Test(jwt, refuses_non_numeric_exp, .init = setup_hs256) {
  json_t *exp = json_string("9999999999");
  cr_assert_eq(verify_claims(with(good_claims(), "exp", exp)), AUTH_EXPIRED);
}

Test(jwt, refuses_not_yet_valid, .init = setup_hs256) {
  json_t *nbf = json_integer(now() + AUTH_LEEWAY_SECONDS + 60);
  cr_assert_eq(verify_claims(with(good_claims(), "nbf", nbf)), AUTH_NOT_YET_VALID);
}

Test(jwt, refuses_wrong_issuer, .init = setup_hs256) {
  json_t *iss = json_string("https://evil.test");
  cr_assert_eq(verify_claims(with(good_claims(), "iss", iss)), AUTH_WRONG_ISSUER);
}

Test(jwt, refuses_missing_issuer, .init = setup_hs256) {
  cr_assert_eq(verify_claims(without(good_claims(), "iss")), AUTH_WRONG_ISSUER);
}

Test(jwt, accepts_hand_built_token, .init = setup_hs256) {
  /* Proves the hand-built tokens below differ from a good one only where they mean to. */
  size_t len;
  char *payload = payload_with(good_claims(), "\"scope\":\"a b\"", &len);
  cr_assert_eq(verify(sign_raw_hs256(payload, len)), AUTH_OK);
  free(payload);
}

Test(jwt, refuses_issuer_with_embedded_nul, .init = setup_hs256) {
  /* libjwt will not build this one; strcmp would stop at the NUL and see our issuer. */
  char extra[128];
  size_t len;
  snprintf(extra, sizeof extra, "\"iss\":\"%s\\u0000.evil.test\"", issuer);
  char *payload = payload_with(without(good_claims(), "iss"), extra, &len);
  cr_assert_eq(verify(sign_raw_hs256(payload, len)), AUTH_MALFORMED);
  free(payload);
}

Test(jwt, refuses_duplicate_claims, .init = setup_hs256) {
  /* Readers that keep the first "role" and readers that keep the last must never disagree. */
  size_t len;
  char *payload = payload_with(good_claims(), "\"role\":\"inl\"", &len);
  cr_assert_eq(verify(sign_raw_hs256(payload, len)), AUTH_MALFORMED);
  free(payload);
}

Test(jwt, refuses_wrong_audience_string, .init = setup_hs256) {
  json_t *aud = json_string("another-api");
  cr_assert_eq(verify_claims(with(good_claims(), "aud", aud)), AUTH_WRONG_AUDIENCE);
}

Test(jwt, refuses_wrong_audience_array, .init = setup_hs256) {
  json_t *aud = json_pack("[s, s]", "another-api", "acredita");
  cr_assert_eq(verify_claims(with(good_claims(), "aud", aud)), AUTH_WRONG_AUDIENCE);
}

Test(jwt, refuses_empty_audience_array, .init = setup_hs256) {
  cr_assert_eq(verify_claims(with(good_claims(), "aud", json_array())), AUTH_WRONG_AUDIENCE);
}

Test(jwt, refuses_missing_audience, .init = setup_hs256) {
  cr_assert_eq(verify_claims(without(good_claims(), "aud")), AUTH_WRONG_AUDIENCE);
}

Test(jwt, refuses_bad_signature, .init = setup_hs256) {
  char *token = sign_hs256(good_claims());
  char *sig = strrchr(token, '.') + 1;
  sig[10] = sig[10] == 'A' ? 'B' : 'A';
  cr_assert_eq(verify(token), AUTH_BAD_SIGNATURE);
}

Test(jwt, refuses_empty_signature, .init = setup_hs256) {
  char *token = sign_hs256(good_claims());
  strrchr(token, '.')[1] = '\0';
  cr_assert_eq(verify(token), AUTH_BAD_SIGNATURE);
}

Test(jwt, refuses_token_of_another_secret, .init = setup_hs256) {
  const char *other = "another-secret-of-at-least-32-bytes!!";
  cr_assert_eq(verify(sign(good_claims(), JWT_ALG_HS256, other, strlen(other))),
               AUTH_BAD_SIGNATURE);
}

Test(jwt, refuses_alg_none, .init = setup_hs256) {
  /* {"alg":"none","typ":"JWT"}, the payload of a good token, and no signature. */
  static const char none_header[] = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
  char *good = sign_hs256(good_claims());
  char *payload = strchr(good, '.');
  size_t payload_len = (size_t)(strrchr(good, '.') - payload);
  char *token = malloc(sizeof none_header + payload_len + 1);
  memcpy(token, none_header, sizeof none_header - 1);
  memcpy(token + sizeof none_header - 1, payload, payload_len);
  strcpy(token + sizeof none_header - 1 + payload_len, ".");
  free(good);
  cr_assert_eq(verify(token), AUTH_WRONG_ALG);
}

Test(jwt, refuses_hs384_with_the_same_secret, .init = setup_hs256) {
  cr_assert_eq(verify(sign(good_claims(), JWT_ALG_HS384, secret, strlen(secret))), AUTH_WRONG_ALG);
}

Test(jwt, refuses_hs512_with_the_same_secret, .init = setup_hs256) {
  cr_assert_eq(verify(sign(good_claims(), JWT_ALG_HS512, secret, strlen(secret))), AUTH_WRONG_ALG);
}

Test(jwt, refuses_garbage, .init = setup_hs256) {
  static const char *const garbage[] = {"",          "abc",       "a.b.c",     "...",
                                        "a.b",       "eyJ9.e30.", "e30.e30.x", "eyJhbGci.e30.x",
                                        "W10.e30.x", "!!!.e30.x"};
  struct caller c;
  for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
    enum auth_verdict v = auth_verify_token(garbage[i], &c);
    cr_expect(v == AUTH_MALFORMED || v == AUTH_WRONG_ALG, "\"%s\" gave %d", garbage[i], v);
  }
  cr_assert_eq(auth_verify_token("abc", &c), AUTH_MALFORMED);
  cr_assert_eq(auth_verify_token("a.b.c", &c), AUTH_MALFORMED);
  cr_assert_eq(auth_verify_token("...", &c), AUTH_MALFORMED);
  cr_assert_eq(auth_verify_token("", &c), AUTH_MALFORMED);
  cr_assert_eq(auth_verify_token(NULL, &c), AUTH_MALFORMED);
}

Test(jwt, refuses_good_token_with_a_fourth_segment, .init = setup_hs256) {
  char *good = sign_hs256(good_claims());
  char *token = malloc(strlen(good) + 3);
  sprintf(token, "%s.x", good);
  free(good);
  cr_assert_eq(verify(token), AUTH_MALFORMED);
}

Test(jwt, refuses_payload_that_is_not_an_object, .init = setup_hs256) {
  /* A valid HS256 header, and "[]" as the payload. */
  char *good = sign_hs256(good_claims());
  char token[256];
  snprintf(token, sizeof token, "%.*s.W10.%s", (int)(strchr(good, '.') - good), good,
           strrchr(good, '.') + 1);
  free(good);
  struct caller c;
  cr_assert_eq(auth_verify_token(token, &c), AUTH_MALFORMED);
}

Test(jwt, refuses_oversize_before_parsing, .init = setup_hs256) {
  char *token = malloc(AUTH_MAX_TOKEN_BYTES + 2);
  memset(token, 'a', AUTH_MAX_TOKEN_BYTES + 1);
  token[AUTH_MAX_TOKEN_BYTES + 1] = '\0';
  struct caller c;
  cr_assert_eq(auth_verify_token(token, &c), AUTH_TOO_LARGE);
  token[AUTH_MAX_TOKEN_BYTES] = '\0';
  cr_assert_eq(auth_verify_token(token, &c), AUTH_MALFORMED);
  free(token);
}

Test(jwt, refuses_agency_without_agency_id, .init = setup_hs256) {
  cr_assert_eq(verify_claims(with(good_claims(), "role", json_string("agency"))), AUTH_BAD_CLAIMS);
}

Test(jwt, refuses_agency_id_that_is_not_a_uuid, .init = setup_hs256) {
  json_t *claims = with(good_claims(), "role", json_string("agency"));
  cr_assert_eq(verify_claims(with(claims, "agency_id", json_string("agency-7"))), AUTH_BAD_CLAIMS);
}

Test(jwt, accepts_agency_with_agency_id, .init = setup_hs256) {
  json_t *claims = with(good_claims(), "role", json_string("agency"));
  cr_assert_eq(verify_claims(with(claims, "agency_id", json_string(AGENCY_UUID))), AUTH_OK);
}

Test(jwt, refuses_unknown_role, .init = setup_hs256) {
  cr_assert_eq(verify_claims(with(good_claims(), "role", json_string("root"))), AUTH_BAD_CLAIMS);
}

Test(jwt, refuses_anonymous_role, .init = setup_hs256) {
  cr_assert_eq(verify_claims(with(good_claims(), "role", json_string("anonymous"))),
               AUTH_BAD_CLAIMS);
}

Test(jwt, refuses_missing_role, .init = setup_hs256) {
  cr_assert_eq(verify_claims(without(good_claims(), "role")), AUTH_BAD_CLAIMS);
}

Test(jwt, refuses_missing_sub, .init = setup_hs256) {
  cr_assert_eq(verify_claims(without(good_claims(), "sub")), AUTH_BAD_CLAIMS);
}

Test(jwt, refuses_empty_sub, .init = setup_hs256) {
  cr_assert_eq(verify_claims(with(good_claims(), "sub", json_string(""))), AUTH_BAD_CLAIMS);
}

Test(jwt, refuses_sub_too_long_for_the_caller, .init = setup_hs256) {
  char sub[sizeof((struct caller *)0)->sub + 1];
  memset(sub, 's', sizeof sub - 1);
  sub[sizeof sub - 1] = '\0';
  cr_assert_eq(verify_claims(with(good_claims(), "sub", json_string(sub))), AUTH_BAD_CLAIMS);
}

Test(jwt, refuses_scope_too_long_for_the_caller, .init = setup_hs256) {
  char scope[sizeof((struct caller *)0)->scope + 1];
  memset(scope, 's', sizeof scope - 1);
  scope[sizeof scope - 1] = '\0';
  cr_assert_eq(verify_claims(with(good_claims(), "scope", json_string(scope))), AUTH_BAD_CLAIMS);
}

Test(jwt, leaves_caller_untouched_on_refusal, .init = setup_hs256) {
  struct caller c, before;
  memset(&c, 0x5a, sizeof c);
  before = c;
  char *token = sign_hs256(with(good_claims(), "iss", json_string("https://evil.test")));
  cr_assert_eq(auth_verify_token(token, &c), AUTH_WRONG_ISSUER);
  cr_assert_eq(memcmp(&c, &before, sizeof c), 0);
  free(token);
}

Test(jwt, refuses_everything_without_auth_init) {
  reset_config(); /* jwt_alg is 0, which is libjwt's JWT_ALG_NONE */
  g_config.jwt_secret = secret;
  g_config.jwt_secret_len = strlen(secret);
  cr_assert_eq(verify(sign_hs256(good_claims())), AUTH_WRONG_ALG);
  cr_assert_null(auth_jwks_json());
}

Test(jwt, hs256_jwks_is_empty, .init = setup_hs256) {
  char *jwks = auth_jwks_json();
  cr_assert_str_eq(jwks, "{\"keys\":[]}");
  free(jwks);
}

Test(jwt, verdicts_have_text) {
  for (int v = AUTH_OK; v <= AUTH_REVOKED; v++) {
    cr_assert_str_neq(auth_verdict_text((enum auth_verdict)v, LANG_EN), "");
    cr_assert_str_neq(auth_verdict_text((enum auth_verdict)v, LANG_ES), "");
  }
  cr_assert_str_eq(auth_verdict_text(AUTH_EXPIRED, LANG_EN), "token expired");
  cr_assert_str_eq(auth_verdict_text(AUTH_EXPIRED, LANG_ES), "token vencido");
}

/* ------------------------------------------------------------ start-up errors */

Test(jwt, init_refuses_short_secret, .init = setup_stderr) {
  g_config.jwt_secret = "short";
  g_config.jwt_secret_len = 5;
  cr_assert_eq(auth_init(), A_ERR);
  fflush(stderr);
  cr_assert_stderr_eq_str("acredita: JWT_SECRET: shorter than 32 bytes\n");
}

Test(jwt, init_refuses_no_key_at_all, .init = setup_stderr) {
  cr_assert_eq(auth_init(), A_ERR);
  fflush(stderr);
  cr_assert_stderr_eq_str("acredita: JWT_SECRET: not set (nor JWT_PRIVATE_KEY_FILE)\n");
}

Test(jwt, init_refuses_missing_issuer, .init = setup_stderr) {
  g_config.jwt_secret = secret;
  g_config.jwt_secret_len = strlen(secret);
  g_config.jwt_issuer = NULL;
  cr_assert_eq(auth_init(), A_ERR);
  fflush(stderr);
  cr_assert_stderr_eq_str("acredita: JWT_ISSUER: not set\n");
}

Test(jwt, init_refuses_mismatched_key_pair, .init = setup_stderr) {
  EVP_PKEY *other = EVP_RSA_gen(2048);
  use_key(EVP_RSA_gen(2048));
  free(s_public_pem);
  s_public_pem = public_pem(other);
  g_config.jwt_public_key = s_public_pem;
  EVP_PKEY_free(other);
  cr_assert_eq(auth_init(), A_ERR);
  fflush(stderr);
  cr_assert_stderr_eq_str("acredita: JWT_PUBLIC_KEY_FILE: does not match JWT_PRIVATE_KEY_FILE\n");
  /* A failed start-up verifies nothing, not even a token of the right key. */
  cr_assert_eq(verify(sign(good_claims(), JWT_ALG_RS256, s_private_pem, strlen(s_private_pem))),
               AUTH_WRONG_ALG);
}

Test(jwt, init_refuses_private_key_that_is_not_pem, .init = setup_stderr) {
  use_key(EVP_EC_gen("P-256"));
  g_config.jwt_private_key = "-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n";
  cr_assert_eq(auth_init(), A_ERR);
  fflush(stderr);
  cr_assert_stderr_eq_str("acredita: JWT_PRIVATE_KEY_FILE: not an unencrypted PEM RSA (2048 "
                          "bits or more) or EC P-256 private key\n");
}

Test(jwt, init_refuses_small_rsa_key, .init = setup_stderr) {
  use_key(EVP_RSA_gen(1024));
  cr_assert_eq(auth_init(), A_ERR);
}

Test(jwt, init_refuses_other_ec_curves, .init = setup_stderr) {
  use_key(EVP_EC_gen("P-384"));
  cr_assert_eq(auth_init(), A_ERR);
}

Test(jwt, init_refuses_public_key_of_another_kind, .init = setup_stderr) {
  EVP_PKEY *ec = EVP_EC_gen("P-256");
  use_key(EVP_RSA_gen(2048));
  free(s_public_pem);
  s_public_pem = public_pem(ec);
  g_config.jwt_public_key = s_public_pem;
  EVP_PKEY_free(ec);
  cr_assert_eq(auth_init(), A_ERR);
}

Test(jwt, init_refuses_half_a_key_pair, .init = setup_stderr) {
  use_key(EVP_EC_gen("P-256"));
  g_config.jwt_public_key = NULL;
  cr_assert_eq(auth_init(), A_ERR);
  fflush(stderr);
  cr_assert_stderr_eq_str(
      "acredita: JWT_PUBLIC_KEY_FILE: not set (JWT_PRIVATE_KEY_FILE needs it)\n");
}

/* ------------------------------------------------------------------ RS256 */

static void check_kid(const char *token, const char *kid) {
  json_t *header = segment(token, 0);
  cr_assert_str_eq(json_string_value(json_object_get(header, "kid")), kid);
  json_decref(header);
}

Test(jwt, rs256_round_trip, .init = setup_rs256) {
  cr_assert_eq(g_config.jwt_alg, JWT_ALG_RS256);
  struct caller in = {.role = ROLE_PARTNER}, out;
  strcpy(in.sub, "client-1");
  strcpy(in.scope, "status:read");
  char *token = auth_issue_token(&in, 60);
  cr_assert_not_null(token);
  cr_assert_eq(auth_verify_token(token, &out), AUTH_OK);
  cr_assert_eq(out.role, ROLE_PARTNER);
  cr_assert_str_eq(out.sub, "client-1");
  cr_assert_str_eq(out.scope, "status:read");

  json_t *header = segment(token, 0);
  cr_assert_str_eq(json_string_value(json_object_get(header, "alg")), "RS256");
  char *jwks_text = auth_jwks_json();
  json_t *jwks = json_loads(jwks_text, 0, NULL);
  const char *kid =
      json_string_value(json_object_get(json_array_get(json_object_get(jwks, "keys"), 0), "kid"));
  check_kid(token, kid);
  json_decref(jwks);
  json_decref(header);
  free(jwks_text);
  free(token);
}

Test(jwt, rs256_jwks_shape, .init = setup_rs256) {
  char *text = auth_jwks_json();
  cr_assert_not_null(text);
  json_t *jwks = json_loads(text, 0, NULL);
  cr_assert_not_null(jwks);
  json_t *keys = json_object_get(jwks, "keys");
  cr_assert_eq(json_array_size(keys), 1);
  json_t *jwk = json_array_get(keys, 0);
  cr_assert_str_eq(json_string_value(json_object_get(jwk, "kty")), "RSA");
  cr_assert_str_eq(json_string_value(json_object_get(jwk, "use")), "sig");
  cr_assert_str_eq(json_string_value(json_object_get(jwk, "alg")), "RS256");
  const char *kid = json_string_value(json_object_get(jwk, "kid"));
  cr_assert_eq(strlen(kid), 16);
  cr_assert_eq(strspn(kid, "0123456789abcdef"), 16);
  cr_assert_str_eq(json_string_value(json_object_get(jwk, "e")), "AQAB");

  const char *n = json_string_value(json_object_get(jwk, "n"));
  cr_assert_eq(strcspn(n, "=+/"), strlen(n), "base64url without padding");
  unsigned char got[512], want[512];
  int got_len = b64url_decode(n, got, sizeof got);
  cr_assert_eq(got_len, 256);
  BIGNUM *bn = NULL;
  cr_assert(EVP_PKEY_get_bn_param(s_key, OSSL_PKEY_PARAM_RSA_N, &bn));
  cr_assert_eq(BN_bn2bin(bn, want), 256);
  cr_assert_eq(memcmp(got, want, 256), 0);
  BN_free(bn);
  json_decref(jwks);
  free(text);
}

Test(jwt, rs256_refuses_algorithm_confusion, .init = setup_rs256) {
  /* HS256 MAC'd with the public key's PEM text: libjwt alone accepts it. */
  char *token = sign(good_claims(), JWT_ALG_HS256, s_public_pem, strlen(s_public_pem));
  jwt_t *jwt = NULL;
  cr_assert_eq(
      jwt_decode(&jwt, token, (const unsigned char *)s_public_pem, (int)strlen(s_public_pem)), 0,
      "the libjwt pitfall this test guards against is gone; keep the check anyway");
  jwt_free(jwt);
  cr_assert_eq(verify(token), AUTH_WRONG_ALG);
}

Test(jwt, rs256_refuses_token_of_another_key, .init = setup_rs256) {
  EVP_PKEY *other = EVP_RSA_gen(2048);
  char *pem = private_pem(other);
  cr_assert_eq(verify(sign(good_claims(), JWT_ALG_RS256, pem, strlen(pem))), AUTH_BAD_SIGNATURE);
  free(pem);
  EVP_PKEY_free(other);
}

Test(jwt, rs256_accepts_token_signed_elsewhere_with_its_key, .init = setup_rs256) {
  cr_assert_eq(verify(sign(good_claims(), JWT_ALG_RS256, s_private_pem, strlen(s_private_pem))),
               AUTH_OK);
}

/* ------------------------------------------------------------------ ES256 */

Test(jwt, es256_round_trip, .init = setup_es256) {
  cr_assert_eq(g_config.jwt_alg, JWT_ALG_ES256);
  struct caller in = {.role = ROLE_COALITION}, out;
  strcpy(in.sub, "caispmex");
  strcpy(in.name, "CAISPMEX");
  char *token = auth_issue_token(&in, 60);
  cr_assert_not_null(token);
  cr_assert_eq(auth_verify_token(token, &out), AUTH_OK);
  cr_assert_eq(out.role, ROLE_COALITION);
  cr_assert_str_eq(out.name, "CAISPMEX");
  free(token);
}

Test(jwt, es256_refuses_rs256_and_hs256, .init = setup_es256) {
  EVP_PKEY *rsa = EVP_RSA_gen(2048);
  char *pem = private_pem(rsa);
  cr_assert_eq(verify(sign(good_claims(), JWT_ALG_RS256, pem, strlen(pem))), AUTH_WRONG_ALG);
  cr_assert_eq(verify(sign(good_claims(), JWT_ALG_HS256, s_public_pem, strlen(s_public_pem))),
               AUTH_WRONG_ALG);
  free(pem);
  EVP_PKEY_free(rsa);
}

Test(jwt, es256_jwks_shape, .init = setup_es256) {
  char *text = auth_jwks_json();
  cr_assert_not_null(text);
  json_t *jwks = json_loads(text, 0, NULL);
  cr_assert_not_null(jwks);
  cr_assert_eq(json_array_size(json_object_get(jwks, "keys")), 1);
  json_t *jwk = json_array_get(json_object_get(jwks, "keys"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(jwk, "kty")), "EC");
  cr_assert_str_eq(json_string_value(json_object_get(jwk, "crv")), "P-256");
  cr_assert_str_eq(json_string_value(json_object_get(jwk, "alg")), "ES256");
  cr_assert_str_eq(json_string_value(json_object_get(jwk, "use")), "sig");
  cr_assert_eq(strlen(json_string_value(json_object_get(jwk, "kid"))), 16);

  unsigned char point[65];
  size_t point_len = 0;
  cr_assert(EVP_PKEY_get_octet_string_param(s_key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                            &point_len));
  cr_assert_eq(point_len, 65);
  cr_assert_eq(point[0], 0x04, "uncompressed point");
  static const char *const coords[2] = {"x", "y"};
  for (int i = 0; i < 2; i++) {
    unsigned char got[64];
    const char *text_coord = json_string_value(json_object_get(jwk, coords[i]));
    cr_assert_eq(strlen(text_coord), 43, "32 bytes, unpadded");
    cr_assert_eq(b64url_decode(text_coord, got, sizeof got), 32);
    cr_assert_eq(memcmp(got, point + 1 + 32 * i, 32), 0);
  }
  json_decref(jwks);
  free(text);
}
