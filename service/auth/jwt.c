/*
 * jwt.c — the service's JSON Web Tokens: key set-up, verification, issuing and the JWKS.
 *
 * libjwt 1.10 checks a signature and nothing else, and it trusts the token's own "alg": given an
 * HS256 token and an RSA public key it MACs with the key's PEM text as the secret, so a token
 * anyone can make passes. This file therefore reads the header itself and refuses any "alg" other
 * than the configured one before libjwt sees the token, and checks every claim itself from the
 * payload it parsed (the same bytes the signature covers).
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "auth/auth.h"

#define HMAC_SECRET_MIN_BYTES 32
#define RSA_MIN_BITS 2048
#define CURSOR_KEY_LABEL "acredita-cursor:"

/* Key id of the public key ("" for HS256): set by auth_init, read-only afterwards. */
static char s_kid[17];

/* ------------------------------------------------------------------ base64url */

/* Decodes unpadded base64url text (RFC 7515 §2). Returns a malloc'd buffer with a NUL after the
 * data, or NULL when in is not base64url. */
static unsigned char *b64url_decode(const char *in, size_t len, size_t *out_len) {
  if (len % 4 == 1)
    return NULL;
  size_t pad = (4 - len % 4) % 4;
  char *std = malloc(len + pad + 1);
  unsigned char *out = malloc((len + pad) / 4 * 3 + 1);
  if (std == NULL || out == NULL)
    goto fail;
  for (size_t i = 0; i < len; i++) {
    char ch = in[i];
    if (ch == '-')
      ch = '+';
    else if (ch == '_')
      ch = '/';
    else if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
      goto fail; /* EVP_DecodeBlock would skip white space: be strict here */
    std[i] = ch;
  }
  memset(std + len, '=', pad);
  std[len + pad] = '\0';
  /* EVP_DecodeBlock counts the padding as zero bytes of output. */
  int n = EVP_DecodeBlock(out, (const unsigned char *)std, (int)(len + pad));
  if (n < 0 || (size_t)n < pad)
    goto fail;
  free(std);
  *out_len = (size_t)n - pad;
  out[*out_len] = '\0';
  return out;
fail:
  free(std);
  free(out);
  return NULL;
}

/* Returns malloc'd unpadded base64url text of data, or NULL when out of memory. */
static char *b64url_encode(const unsigned char *data, size_t len) {
  char *out = malloc((len + 2) / 3 * 4 + 1);
  if (out == NULL)
    return NULL;
  int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
  while (n > 0 && out[n - 1] == '=')
    n--;
  out[n] = '\0';
  for (char *p = out; *p; p++) {
    if (*p == '+')
      *p = '-';
    else if (*p == '/')
      *p = '_';
  }
  return out;
}

/* Decodes one segment of a compact JWS into a JSON object; NULL when it is not one. Duplicate
 * member names are refused so that no other reader of the token can see another value than ours;
 * "\u0000" is refused too (no JSON_ALLOW_NUL), so C string comparisons see whole values. */
static json_t *segment_object(const char *seg, size_t len) {
  size_t n;
  unsigned char *text = b64url_decode(seg, len, &n);
  if (text == NULL)
    return NULL;
  json_t *obj = json_loadb((const char *)text, n, JSON_REJECT_DUPLICATES, NULL);
  free(text);
  if (obj != NULL && !json_is_object(obj)) {
    json_decref(obj);
    return NULL;
  }
  return obj;
}

/* ----------------------------------------------------------------- key set-up */

static bool alg_configured(void) {
  return g_config.jwt_alg == JWT_ALG_HS256 || g_config.jwt_alg == JWT_ALG_RS256 ||
         g_config.jwt_alg == JWT_ALG_ES256;
}

/* The key libjwt signs with: the secret, or the private key PEM. */
static const char *signing_key(int *len) {
  if (g_config.jwt_alg == JWT_ALG_HS256) {
    *len = (int)g_config.jwt_secret_len;
    return g_config.jwt_secret;
  }
  *len = g_config.jwt_private_key ? (int)strlen(g_config.jwt_private_key) : 0;
  return g_config.jwt_private_key;
}

/* The key libjwt verifies with: the secret, or the public key PEM. */
static const char *verification_key(int *len) {
  if (g_config.jwt_alg == JWT_ALG_HS256) {
    *len = (int)g_config.jwt_secret_len;
    return g_config.jwt_secret;
  }
  *len = g_config.jwt_public_key ? (int)strlen(g_config.jwt_public_key) : 0;
  return g_config.jwt_public_key;
}

static void derive_cursor_key(const char *material, size_t len) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
      !EVP_DigestUpdate(md, CURSOR_KEY_LABEL, strlen(CURSOR_KEY_LABEL)) ||
      !EVP_DigestUpdate(md, material, len) || !EVP_DigestFinal_ex(md, g_config.cursor_key, NULL))
    abort(); /* SHA-256 cannot fail short of a broken libcrypto */
  EVP_MD_CTX_free(md);
}

/* Refuses to prompt on the terminal for the passphrase of an encrypted key. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf;
  (void)size;
  (void)rwflag;
  (void)u;
  return -1;
}

static EVP_PKEY *pem_private_key(const char *pem) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
  BIO_free(bio);
  return key;
}

static EVP_PKEY *pem_public_key(const char *pem) {
  BIO *bio = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL) : NULL;
  BIO_free(bio);
  return key;
}

/* The JWS algorithm a key is fit for: RS256 for RSA of at least 2048 bits, ES256 for EC P-256,
 * JWT_ALG_INVAL for anything else. */
static jwt_alg_t key_alg(const EVP_PKEY *key) {
  switch (EVP_PKEY_get_base_id(key)) {
  case EVP_PKEY_RSA:
    return EVP_PKEY_get_bits(key) >= RSA_MIN_BITS ? JWT_ALG_RS256 : JWT_ALG_INVAL;
  case EVP_PKEY_EC: {
    char group[64];
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, NULL))
      return JWT_ALG_INVAL;
    return OBJ_txt2nid(group) == NID_X9_62_prime256v1 ? JWT_ALG_ES256 : JWT_ALG_INVAL;
  }
  default:
    return JWT_ALG_INVAL;
  }
}

/* Signs a token with the private key and verifies it with the public one, through libjwt, so
 * that a pair that does not belong together (or that libjwt cannot use) stops start-up. */
static bool key_pair_round_trip(jwt_alg_t alg) {
  jwt_t *jwt = NULL, *back = NULL;
  char *token = NULL;
  bool ok = false;
  int slen, vlen;
  const char *skey = signing_key(&slen), *vkey = verification_key(&vlen);

  if (jwt_new(&jwt) != 0 || jwt_add_grant(jwt, "sub", "auth_init") != 0 ||
      jwt_set_alg(jwt, alg, (const unsigned char *)skey, slen) != 0)
    goto out;
  token = jwt_encode_str(jwt);
  if (token == NULL || jwt_decode(&back, token, (const unsigned char *)vkey, vlen) != 0)
    goto out;
  ok = jwt_get_alg(back) == alg;
out:
  free(token);
  jwt_free(back);
  jwt_free(jwt);
  return ok;
}

static int init_secret(void) {
  if (g_config.jwt_secret == NULL || g_config.jwt_secret_len == 0) {
    fprintf(stderr, "acredita: JWT_SECRET: not set (nor JWT_PRIVATE_KEY_FILE)\n");
    return A_ERR;
  }
  if (g_config.jwt_secret_len < HMAC_SECRET_MIN_BYTES) {
    fprintf(stderr, "acredita: JWT_SECRET: shorter than %d bytes\n", HMAC_SECRET_MIN_BYTES);
    return A_ERR;
  }
  derive_cursor_key(g_config.jwt_secret, g_config.jwt_secret_len);
  g_config.jwt_alg = JWT_ALG_HS256;
  return A_OK;
}

static int init_key_pair(void) {
  EVP_PKEY *priv = NULL, *pub = NULL;
  unsigned char *der = NULL;
  int status = A_ERR;

  if (g_config.jwt_private_key == NULL) {
    fprintf(stderr, "acredita: JWT_PRIVATE_KEY_FILE: not set (JWT_PUBLIC_KEY_FILE needs it)\n");
    goto out;
  }
  if (g_config.jwt_public_key == NULL) {
    fprintf(stderr, "acredita: JWT_PUBLIC_KEY_FILE: not set (JWT_PRIVATE_KEY_FILE needs it)\n");
    goto out;
  }
  priv = pem_private_key(g_config.jwt_private_key);
  jwt_alg_t alg = priv ? key_alg(priv) : JWT_ALG_INVAL;
  if (alg == JWT_ALG_INVAL) {
    fprintf(stderr, "acredita: JWT_PRIVATE_KEY_FILE: not an unencrypted PEM RSA (2048 bits or "
                    "more) or EC P-256 private key\n");
    goto out;
  }
  pub = pem_public_key(g_config.jwt_public_key);
  if (pub == NULL) {
    fprintf(stderr, "acredita: JWT_PUBLIC_KEY_FILE: not a PEM public key\n");
    goto out;
  }
  g_config.jwt_alg = alg; /* the round trip signs with it */
  if (key_alg(pub) != alg || EVP_PKEY_eq(priv, pub) != 1 || !key_pair_round_trip(alg)) {
    g_config.jwt_alg = JWT_ALG_INVAL;
    fprintf(stderr, "acredita: JWT_PUBLIC_KEY_FILE: does not match JWT_PRIVATE_KEY_FILE\n");
    goto out;
  }

  int der_len = i2d_PUBKEY(pub, &der);
  if (der_len <= 0) {
    g_config.jwt_alg = JWT_ALG_INVAL;
    fprintf(stderr, "acredita: JWT_PUBLIC_KEY_FILE: cannot be encoded\n");
    goto out;
  }
  char hex[65];
  sha256_hex(der, (size_t)der_len, hex);
  memcpy(s_kid, hex, sizeof s_kid - 1);
  s_kid[sizeof s_kid - 1] = '\0';
  /* From the private key: the public one is published, and cursors must not be forgeable. */
  derive_cursor_key(g_config.jwt_private_key, strlen(g_config.jwt_private_key));
  status = A_OK;
out:
  OPENSSL_free(der);
  EVP_PKEY_free(pub);
  EVP_PKEY_free(priv);
  ERR_clear_error();
  return status;
}

int auth_init(void) {
  g_config.jwt_alg = JWT_ALG_INVAL; /* until proven otherwise, every token is refused */
  s_kid[0] = '\0';
  if (g_config.jwt_issuer == NULL || g_config.jwt_issuer[0] == '\0') {
    fprintf(stderr, "acredita: JWT_ISSUER: not set\n");
    return A_ERR;
  }
  if (g_config.jwt_audience == NULL || g_config.jwt_audience[0] == '\0') {
    fprintf(stderr, "acredita: JWT_AUDIENCE: not set\n");
    return A_ERR;
  }
  /* A key pair wins over a secret: the secret is then unused. */
  if (g_config.jwt_private_key != NULL || g_config.jwt_public_key != NULL)
    return init_key_pair();
  return init_secret();
}

/* --------------------------------------------------------------- verification */

/* For optional claims: absent and null are the same. */
static bool claim_absent(const json_t *v) {
  return v == NULL || json_is_null(v);
}

static bool audience_matches(const json_t *aud) {
  const char *s = json_string_value(aud);
  if (s != NULL)
    return strcmp(s, g_config.jwt_audience) == 0;
  if (!json_is_array(aud))
    return false;
  size_t i;
  const json_t *item;
  json_array_foreach(aud, i, item) {
    s = json_string_value(item);
    if (s != NULL && strcmp(s, g_config.jwt_audience) == 0)
      return true;
  }
  return false;
}

/* Copies s into dst[size], cutting at a UTF-8 character boundary when it does not fit (jansson
 * guarantees s is valid UTF-8, and the name is echoed back in JSON). */
static void copy_utf8_truncated(char *dst, size_t size, const char *s) {
  size_t n = strlen(s);
  if (n >= size) {
    n = size - 1;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--;
  }
  memcpy(dst, s, n);
  dst[n] = '\0';
}

static enum auth_verdict check_times(const json_t *claims) {
  double now = (double)time(NULL);
  const json_t *exp = json_object_get(claims, "exp");
  if (!json_is_number(exp) || now >= json_number_value(exp) + AUTH_LEEWAY_SECONDS)
    return AUTH_EXPIRED;
  const json_t *nbf = json_object_get(claims, "nbf");
  if (!claim_absent(nbf) &&
      (!json_is_number(nbf) || json_number_value(nbf) > now + AUTH_LEEWAY_SECONDS))
    return AUTH_NOT_YET_VALID;
  return AUTH_OK;
}

/* Checks the claims of a verified token and fills *c. */
static enum auth_verdict check_claims(const json_t *claims, struct caller *c) {
  enum auth_verdict v = check_times(claims);
  if (v != AUTH_OK)
    return v;

  const char *iss = json_string_value(json_object_get(claims, "iss"));
  if (iss == NULL || strcmp(iss, g_config.jwt_issuer) != 0)
    return AUTH_WRONG_ISSUER;
  if (!audience_matches(json_object_get(claims, "aud")))
    return AUTH_WRONG_AUDIENCE;

  const char *sub = json_string_value(json_object_get(claims, "sub"));
  if (sub == NULL || sub[0] == '\0' || strlen(sub) >= sizeof c->sub)
    return AUTH_BAD_CLAIMS;
  const char *role_s = json_string_value(json_object_get(claims, "role"));
  enum role role = role_s ? role_from_name(role_s) : 0;
  if (role == 0 || role == ROLE_ANONYMOUS)
    return AUTH_BAD_CLAIMS;

  const json_t *agency = json_object_get(claims, "agency_id");
  const char *agency_id = json_string_value(agency);
  if (claim_absent(agency)) {
    if (role == ROLE_AGENCY)
      return AUTH_BAD_CLAIMS;
  } else if (agency_id == NULL || strlen(agency_id) >= sizeof c->agency_id ||
             !uuid_valid(agency_id)) {
    return AUTH_BAD_CLAIMS;
  }

  const json_t *name = json_object_get(claims, "name");
  if (!claim_absent(name) && !json_is_string(name))
    return AUTH_BAD_CLAIMS;
  /* Scopes grant access: a scope list cut short could end in another scope's name. */
  const json_t *scope = json_object_get(claims, "scope");
  const char *scope_s = json_string_value(scope);
  if (!claim_absent(scope) && (scope_s == NULL || strlen(scope_s) >= sizeof c->scope))
    return AUTH_BAD_CLAIMS;
  /* The account's token version, and the token's own id (for revoking it alone). */
  const json_t *ver = json_object_get(claims, "ver");
  if (!claim_absent(ver) && (!json_is_integer(ver) || json_integer_value(ver) < 1 ||
                             json_integer_value(ver) > 2147483647))
    return AUTH_BAD_CLAIMS;
  const json_t *jti = json_object_get(claims, "jti");
  const char *jti_s = json_string_value(jti);
  if (!claim_absent(jti) && (jti_s == NULL || jti_s[0] == '\0' || strlen(jti_s) >= sizeof c->jti))
    return AUTH_BAD_CLAIMS;

  memset(c, 0, sizeof *c);
  c->role = role;
  strcpy(c->sub, sub);
  if (agency_id != NULL)
    strcpy(c->agency_id, agency_id); /* a UUID: 36 bytes */
  if (json_is_string(name))
    copy_utf8_truncated(c->name, sizeof c->name, json_string_value(name));
  if (scope_s != NULL)
    strcpy(c->scope, scope_s);
  /* A machine client's token always names its scopes, even none: it is limited to them. */
  c->scoped = !claim_absent(scope);
  c->token_version = json_is_integer(ver) ? (long)json_integer_value(ver) : 0;
  if (jti_s != NULL)
    strcpy(c->jti, jti_s);
  c->expires = (long long)json_number_value(json_object_get(claims, "exp"));
  return AUTH_OK;
}

/* The header must name exactly the configured algorithm: this is what stops "none", another
 * HMAC strength, and an HS256 token MAC'd with the published public key. */
static enum auth_verdict check_header(const json_t *header) {
  const char *alg = json_string_value(json_object_get(header, "alg"));
  if (alg == NULL || strcmp(alg, jwt_alg_str((jwt_alg_t)g_config.jwt_alg)) != 0)
    return AUTH_WRONG_ALG;
  /* Extensions we do not implement must not be ignored (RFC 7515 §4.1.11). */
  if (json_object_get(header, "crit") != NULL)
    return AUTH_MALFORMED;
  return AUTH_OK;
}

/* ------------------------------------------------------------ verified tokens */

/*
 * A client sends the same token with every request until it expires, and verifying it costs
 * two parses and a signature check; with a key pair libjwt also parses the PEM public key
 * every time (ES256: 0.6 ms a request, ten times the rest of a GET). So the tokens that
 * verified are remembered, by a digest of their bytes together with everything the verdict
 * depends on (algorithm, key, issuer, audience), with the caller they name and their expiry:
 * of their checks only exp can change its answer later (nbf only becomes true). A slot is
 * taken over by the next token that hashes to it.
 */
#define VERIFIED_SLOTS 256

struct verified {
  bool used;
  unsigned char digest[32];
  double exp;
  struct caller caller;
};
static struct verified s_verified[VERIFIED_SLOTS];
static pthread_mutex_t s_verified_lock = PTHREAD_MUTEX_INITIALIZER;

static bool verified_digest(const char *token, size_t len, unsigned char out[32]) {
  int key_len;
  const char *key = verification_key(&key_len);
  int alg = g_config.jwt_alg;
  if (g_config.jwt_issuer == NULL || g_config.jwt_audience == NULL)
    return false;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  bool ok = md != NULL && key != NULL && key_len > 0 && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
            EVP_DigestUpdate(md, &alg, sizeof alg) &&
            EVP_DigestUpdate(md, &key_len, sizeof key_len) &&
            EVP_DigestUpdate(md, key, (size_t)key_len) &&
            EVP_DigestUpdate(md, g_config.jwt_issuer, strlen(g_config.jwt_issuer) + 1) &&
            EVP_DigestUpdate(md, g_config.jwt_audience, strlen(g_config.jwt_audience) + 1) &&
            EVP_DigestUpdate(md, token, len) && EVP_DigestFinal_ex(md, out, NULL);
  EVP_MD_CTX_free(md);
  return ok;
}

static struct verified *verified_slot(const unsigned char digest[32]) {
  size_t i;
  memcpy(&i, digest, sizeof i);
  return &s_verified[i % VERIFIED_SLOTS];
}

/* AUTH_OK with *out filled, or AUTH_EXPIRED, for a remembered token; AUTH_MALFORMED (the
 * verdict of an empty slot) when it must be verified. */
static enum auth_verdict verified_find(const unsigned char digest[32], struct caller *out) {
  enum auth_verdict v = AUTH_MALFORMED;
  pthread_mutex_lock(&s_verified_lock);
  struct verified *e = verified_slot(digest);
  if (e->used && memcmp(e->digest, digest, sizeof e->digest) == 0) {
    v = (double)time(NULL) >= e->exp + AUTH_LEEWAY_SECONDS ? AUTH_EXPIRED : AUTH_OK;
    if (v == AUTH_OK && out != NULL)
      *out = e->caller;
    e->used = v == AUTH_OK;
  }
  pthread_mutex_unlock(&s_verified_lock);
  return v;
}

static void verified_add(const unsigned char digest[32], double exp, const struct caller *c) {
  pthread_mutex_lock(&s_verified_lock);
  struct verified *e = verified_slot(digest);
  e->used = true;
  memcpy(e->digest, digest, sizeof e->digest);
  e->exp = exp;
  e->caller = *c;
  pthread_mutex_unlock(&s_verified_lock);
}

enum auth_verdict auth_verify_token(const char *token, struct caller *out) {
  json_t *header = NULL, *claims = NULL;
  jwt_t *jwt = NULL;
  struct caller c;
  enum auth_verdict v = AUTH_MALFORMED;

  if (token == NULL)
    return AUTH_MALFORMED;
  size_t len = strnlen(token, AUTH_MAX_TOKEN_BYTES + 1);
  if (len > AUTH_MAX_TOKEN_BYTES)
    return AUTH_TOO_LARGE;
  if (!alg_configured())
    return AUTH_WRONG_ALG; /* auth_init did not succeed: nothing verifies */
  unsigned char digest[32];
  bool known = verified_digest(token, len, digest);
  if (known && (v = verified_find(digest, out)) != AUTH_MALFORMED)
    return v;
  v = AUTH_MALFORMED;

  /* Compact JWS: header.payload.signature, exactly two dots. */
  const char *dot1 = memchr(token, '.', len);
  const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
  if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
    goto out;
  header = segment_object(token, (size_t)(dot1 - token));
  if (header == NULL)
    goto out;
  v = check_header(header);
  if (v != AUTH_OK)
    goto out;
  v = AUTH_MALFORMED;
  claims = segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
  if (claims == NULL)
    goto out;

  int key_len;
  const char *key = verification_key(&key_len);
  v = AUTH_BAD_SIGNATURE;
  /* Never a NULL key: libjwt would then accept the token unverified. */
  if (key == NULL || key_len <= 0 || dot2[1] == '\0')
    goto out;
  if (jwt_decode(&jwt, token, (const unsigned char *)key, key_len) != 0) {
    jwt = NULL;
    goto out;
  }
  if (jwt_get_alg(jwt) != (jwt_alg_t)g_config.jwt_alg) {
    v = AUTH_WRONG_ALG;
    goto out;
  }
  v = check_claims(claims, &c);
  if (v == AUTH_OK && known)
    verified_add(digest, json_number_value(json_object_get(claims, "exp")), &c);
  if (v == AUTH_OK && out != NULL)
    *out = c;
out:
  jwt_free(jwt);
  json_decref(claims);
  json_decref(header);
  ERR_clear_error(); /* a failed verification must not leave errors for libpq's TLS to find */
  return v;
}

const char *auth_verdict_text(enum auth_verdict v, enum lang lang) {
  static const char *const TEXT[][2] = {
      [AUTH_OK] = {"valid token", "token válido"},
      [AUTH_MALFORMED] = {"malformed token", "token mal formado"},
      [AUTH_TOO_LARGE] = {"token too large", "token demasiado grande"},
      [AUTH_WRONG_ALG] = {"token signed with an algorithm this service does not accept",
                          "token firmado con un algoritmo que este servicio no acepta"},
      [AUTH_BAD_SIGNATURE] = {"token signature does not verify",
                              "la firma del token no se verifica"},
      [AUTH_EXPIRED] = {"token expired", "token vencido"},
      [AUTH_NOT_YET_VALID] = {"token not yet valid", "token aún no válido"},
      [AUTH_WRONG_ISSUER] = {"token from another issuer", "token de otro emisor"},
      [AUTH_WRONG_AUDIENCE] = {"token for another audience", "token para otra audiencia"},
      [AUTH_BAD_CLAIMS] = {"token claims missing or invalid",
                           "afirmaciones del token ausentes o inválidas"},
      [AUTH_REVOKED] = {"token revoked, or its account changed or is no longer active",
                        "token revocado, o su cuenta cambió o ya no está activa"},
  };
  if ((unsigned)v >= sizeof TEXT / sizeof *TEXT)
    return lang == LANG_ES ? "token inválido" : "invalid token";
  return TEXT[v][lang == LANG_ES];
}

/* -------------------------------------------------------------------- issuing */

/* Only tokens that auth_verify_token would accept are issued. */
static bool caller_issuable(const struct caller *c) {
  if (c == NULL || strnlen(c->sub, sizeof c->sub) == sizeof c->sub ||
      strnlen(c->agency_id, sizeof c->agency_id) == sizeof c->agency_id ||
      strnlen(c->name, sizeof c->name) == sizeof c->name ||
      strnlen(c->scope, sizeof c->scope) == sizeof c->scope)
    return false; /* not NUL-terminated */
  const char *role = role_name(c->role);
  if (c->sub[0] == '\0' || c->role == ROLE_ANONYMOUS || role == NULL ||
      role_from_name(role) != c->role)
    return false;
  if (c->agency_id[0] == '\0')
    return c->role != ROLE_AGENCY;
  return uuid_valid(c->agency_id);
}

char *auth_issue_token(const struct caller *c, long ttl_seconds) {
  jwt_t *jwt = NULL;
  char *token = NULL;

  if (!alg_configured() || !caller_issuable(c))
    return NULL;
  if (ttl_seconds <= 0)
    ttl_seconds = AUTH_DEFAULT_TTL;
  int key_len;
  const char *key = signing_key(&key_len);
  if (key == NULL || key_len <= 0)
    return NULL;

  long now = (long)time(NULL);
  unsigned char id[16];
  char jti[33];
  if (RAND_bytes(id, sizeof id) != 1)
    return NULL;
  for (size_t i = 0; i < sizeof id; i++)
    snprintf(jti + 2 * i, 3, "%02x", id[i]);
  if (jwt_new(&jwt) != 0)
    return NULL;
  if (jwt_add_grant(jwt, "sub", c->sub) != 0 ||
      jwt_add_grant(jwt, "role", role_name(c->role)) != 0 ||
      jwt_add_grant(jwt, "name", c->name) != 0 ||
      (c->agency_id[0] != '\0' && jwt_add_grant(jwt, "agency_id", c->agency_id) != 0) ||
      ((c->scoped || c->scope[0] != '\0') && jwt_add_grant(jwt, "scope", c->scope) != 0) ||
      (c->token_version > 0 && jwt_add_grant_int(jwt, "ver", c->token_version) != 0) ||
      jwt_add_grant(jwt, "jti", jti) != 0 || jwt_add_grant(jwt, "iss", g_config.jwt_issuer) != 0 ||
      jwt_add_grant(jwt, "aud", g_config.jwt_audience) != 0 ||
      jwt_add_grant_int(jwt, "iat", now) != 0 || jwt_add_grant_int(jwt, "nbf", now) != 0 ||
      jwt_add_grant_int(jwt, "exp", now + ttl_seconds) != 0)
    goto out;
  if (s_kid[0] != '\0' && jwt_add_header(jwt, "kid", s_kid) != 0)
    goto out;
  if (jwt_set_alg(jwt, (jwt_alg_t)g_config.jwt_alg, (const unsigned char *)key, key_len) != 0)
    goto out;
  token = jwt_encode_str(jwt);
out:
  jwt_free(jwt);
  ERR_clear_error();
  return token;
}

/* ----------------------------------------------------------------------- JWKS */

/* Sets jwk[name] to the base64url of a big-endian integer, padded to width bytes when width > 0
 * (EC coordinates have a fixed size; RSA n and e have none). */
static bool jwk_set_bn(json_t *jwk, const char *name, const BIGNUM *bn, int width) {
  int len = width > 0 ? width : BN_num_bytes(bn);
  unsigned char *bytes = malloc(len > 0 ? (size_t)len : 1);
  char *text = NULL;
  bool ok = false;
  if (bytes == NULL)
    goto out;
  if ((width > 0 ? BN_bn2binpad(bn, bytes, width) : BN_bn2bin(bn, bytes)) != len)
    goto out;
  text = b64url_encode(bytes, (size_t)len);
  ok = text != NULL && json_object_set_new(jwk, name, json_string(text)) == 0;
out:
  free(text);
  free(bytes);
  return ok;
}

/* Adds the public numbers of key named by params[0..1] to jwk. */
static bool jwk_set_params(json_t *jwk, const EVP_PKEY *key, const char *const names[2],
                           const char *const params[2], int width) {
  bool ok = true;
  for (int i = 0; i < 2 && ok; i++) {
    BIGNUM *bn = NULL;
    ok = EVP_PKEY_get_bn_param(key, params[i], &bn) && jwk_set_bn(jwk, names[i], bn, width);
    BN_free(bn);
  }
  return ok;
}

static json_t *public_jwk(void) {
  EVP_PKEY *key = pem_public_key(g_config.jwt_public_key);
  json_t *jwk = NULL;
  bool ok = false;
  if (key == NULL)
    goto out;
  if (g_config.jwt_alg == JWT_ALG_RS256) {
    static const char *const names[2] = {"n", "e"};
    static const char *const params[2] = {OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E};
    jwk =
        json_pack("{s:s, s:s, s:s, s:s}", "kty", "RSA", "use", "sig", "alg", "RS256", "kid", s_kid);
    ok = jwk != NULL && jwk_set_params(jwk, key, names, params, 0);
  } else {
    /* X and Y rather than the encoded point: they do not depend on how the file compressed it. */
    static const char *const names[2] = {"x", "y"};
    static const char *const params[2] = {OSSL_PKEY_PARAM_EC_PUB_X, OSSL_PKEY_PARAM_EC_PUB_Y};
    jwk = json_pack("{s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "use", "sig", "alg", "ES256", "kid",
                    s_kid, "crv", "P-256");
    ok = jwk != NULL && jwk_set_params(jwk, key, names, params, 32);
  }
out:
  EVP_PKEY_free(key);
  if (!ok) {
    json_decref(jwk);
    jwk = NULL;
  }
  return jwk;
}

char *auth_jwks_json(void) {
  if (!alg_configured())
    return NULL;
  json_t *keys = json_array();
  if (keys == NULL)
    return NULL;
  if (g_config.jwt_alg != JWT_ALG_HS256) {
    json_t *jwk = public_jwk();
    if (jwk == NULL || json_array_append_new(keys, jwk) != 0) {
      json_decref(keys);
      ERR_clear_error();
      return NULL;
    }
  }
  json_t *set = json_object();
  if (set == NULL) {
    json_decref(keys);
    return NULL;
  }
  if (json_object_set_new(set, "keys", keys) != 0) { /* keys is freed even then */
    json_decref(set);
    return NULL;
  }
  char *text = json_dumps(set, JSON_COMPACT);
  json_decref(set);
  return text;
}
