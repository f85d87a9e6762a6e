/*
 * auth.h — tokens and passwords. No HTTP here: the HTTP layer reads the Authorization header
 * and calls auth_verify_token(); the token endpoint calls auth_issue_token().
 */
#ifndef ACREDITA_AUTH_H
#define ACREDITA_AUTH_H

#include "acredita.h"
#include "db/db.h"

/* Longest token accepted, in bytes; longer ones are refused before any parsing. */
#define AUTH_MAX_TOKEN_BYTES 8192
/* Clock skew tolerated on exp and nbf, in seconds. */
#define AUTH_LEEWAY_SECONDS 60
/* Default lifetime of an issued token, in seconds. */
#define AUTH_DEFAULT_TTL 3600

enum auth_verdict {
  AUTH_OK = 0,
  AUTH_MALFORMED,      /* not a JWT, bad base64 or JSON */
  AUTH_TOO_LARGE,      /* over AUTH_MAX_TOKEN_BYTES */
  AUTH_WRONG_ALG,      /* alg differs from the configured one (none included) */
  AUTH_BAD_SIGNATURE,  /* signature does not verify */
  AUTH_EXPIRED,        /* exp missing or in the past (beyond the leeway) */
  AUTH_NOT_YET_VALID,  /* nbf in the future (beyond the leeway) */
  AUTH_WRONG_ISSUER,   /* iss missing or not g_config.jwt_issuer */
  AUTH_WRONG_AUDIENCE, /* aud (string or array) missing or without g_config.jwt_audience */
  AUTH_BAD_CLAIMS,     /* sub, role or agency_id missing or invalid */
  AUTH_REVOKED,        /* its account is gone, inactive or changed, or it was revoked */
};

/*
 * Reads the key material named by g_config (secret or PEM key pair), decides the algorithm
 * (HS256 for a secret; RS256 for an RSA pair; ES256 for an EC P-256 pair), checks that the
 * private and public keys belong together, and derives g_config.cursor_key from the key
 * material. On failure prints one line naming the setting to stderr and returns A_ERR.
 * A key pair, when either key is set, wins over JWT_SECRET; a secret must be at least 32 bytes.
 * The cursor key comes from the secret or the private key, never from the published public key.
 * Until it succeeds, every token is refused.
 */
int auth_init(void);

/* Verifies token (the text after "Bearer ") and fills *out. Returns AUTH_OK or the first
 * reason it was refused. *out is untouched on refusal. Thread-safe. */
enum auth_verdict auth_verify_token(const char *token, struct caller *out);

/* A short phrase for a verdict, for logs and the problem detail, in English or Spanish. */
const char *auth_verdict_text(enum auth_verdict v, enum lang lang);

/* Signs a token for c with the configured key: sub, role, name, agency_id (when set), scope
 * (when set, or empty when c->scoped: a machine client), ver (when c->token_version > 0), a
 * fresh random jti, iss, aud, iat, nbf, exp = now + ttl_seconds (AUTH_DEFAULT_TTL when <= 0).
 * Returns a malloc'd string the caller frees with free(), or NULL on failure, which includes
 * a caller whose token would not verify (no sub, anonymous, agency without a UUID agency_id). */
char *auth_issue_token(const struct caller *c, long ttl_seconds);

/*
 * Whether a verified token still stands (revocation.c): *v is AUTH_REVOKED when its subject's
 * account is deleted or inactive, when it carries a token version ("ver") its account no
 * longer has (or names no account), or when its jti was revoked; AUTH_OK otherwise. The
 * subjects checked are kept in memory while the listener (db/listen.c) tells which change;
 * without it, or for a subject not kept, the database is asked: with db NULL the function
 * then returns A_ERR (call it again with a connection), and A_ERR with db->status set when
 * the query failed. A_OK when *v is set.
 */
int auth_token_standing(const struct caller *c, struct db_conn *db, enum auth_verdict *v);
/* Registers the kept subjects with the listener; before db_listen_start(). */
void auth_standing_init(void);
/* Checks answered from memory and by PostgreSQL, and the seconds spent in all of them. */
void auth_standing_stats(unsigned long *from_memory, unsigned long *from_database, double *seconds);

/* The JSON Web Key Set of the public key: {"keys":[{kty,kid,use,alg,n,e | crv,x,y}]}, or
 * {"keys":[]} for HS256. Returns a malloc'd string the caller frees with free(), or NULL before
 * auth_init succeeded or when out of memory. */
char *auth_jwks_json(void);

/* Hashes password with yescrypt (libcrypt) and a fresh salt into out. Returns A_OK or A_ERR.
 * Each call costs tens of milliseconds and some megabytes by design. */
int auth_password_hash(const char *password, char out[256]);

/* True when password matches hash. With hash == NULL it still spends the time of one
 * verification against a fixed dummy hash and returns false, so that an unknown account
 * and a wrong password cannot be told apart by timing. Compares in constant time. Only "$y$"
 * hashes are checked; any other string ("", "!" for a locked account) is treated as NULL. */
bool auth_password_verify(const char *password, const char *hash);

#endif
