/*
 * acredita.h — the types every layer shares.
 *
 * The service is built in layers that depend one way:
 *
 *   resources/  (one file per resource: route table, validation, handlers, SQL)
 *       |  uses
 *   http/       (dispatch, problems, query parsing, paging, ETags, idempotency, CORS)
 *   auth/       (JWT, password hashing, roles)
 *   db/         (connection pool, prepared statements, migrations)
 *
 * The HTTP layer never contains SQL of its own resources; the database layer never sees
 * a ulfius type. This header holds only what crosses those lines: the caller, the roles,
 * the problem kinds and the configuration.
 */
#ifndef ACREDITA_H
#define ACREDITA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACREDITA_VERSION "0.1.0"

/* Status codes of internal functions, redis style. */
#define A_OK 0
#define A_ERR (-1)

/* ------------------------------------------------------------------ roles */

/* Roles are bits so that a route can list the roles it admits as one mask. */
enum role {
  ROLE_ANONYMOUS = 1u << 0,
  ROLE_ADMIN = 1u << 1,
  ROLE_INL = 1u << 2,
  ROLE_ADVISOR = 1u << 3,
  ROLE_AGENCY = 1u << 4,
  ROLE_COALITION = 1u << 5,
  ROLE_PARTNER = 1u << 6,
};
#define ROLES_SIGNED_IN                                                                            \
  (ROLE_ADMIN | ROLE_INL | ROLE_ADVISOR | ROLE_AGENCY | ROLE_COALITION | ROLE_PARTNER)
#define ROLES_ALL (ROLES_SIGNED_IN | ROLE_ANONYMOUS)

/* Returns the role named by s ("admin", …), or 0 when s names none. "anonymous" is not a
 * role a token or a user can hold. */
enum role role_from_name(const char *s);
/* Returns the static name of a role ("admin", …). */
const char *role_name(enum role r);

/* Who is calling: filled by the auth layer from a verified token, or anonymous. */
struct caller {
  enum role role;
  char sub[64];       /* token subject: a user's or client's UUID; "" when anonymous */
  char agency_id[40]; /* for agency users; "" otherwise */
  char name[128];
  char scope[512];    /* space-separated scopes of machine clients; "" for people */
  bool scoped;        /* the token carries a scope claim (machine clients): routes check it */
  long token_version; /* the account's token version the token carries ("ver"); 0: none */
  char jti[65];       /* the token's id ("jti"); "" when it has none */
  long long expires;  /* its "exp", epoch seconds */
};

/* ---------------------------------------------------------------- problems */

/*
 * Every error the service answers is one of these kinds. http/problem.c maps each to its
 * status, its stable type URI and its title in Spanish and English; nothing else does.
 */
enum problem {
  P_NONE = 0,
  P_BAD_REQUEST,             /* 400 malformed request or parameter */
  P_VALIDATION,              /* 422 well-formed body that breaks field rules; errors[] */
  P_INVALID_QUERY,           /* 400 a bad query parameter; errors[] */
  P_UNAUTHORIZED,            /* 401 no token */
  P_INVALID_TOKEN,           /* 401 a token that does not verify */
  P_FORBIDDEN,               /* 403 role or scope not allowed */
  P_NOT_FOUND,               /* 404 */
  P_METHOD_NOT_ALLOWED,      /* 405 with Allow */
  P_NOT_ACCEPTABLE,          /* 406 */
  P_CONFLICT,                /* 409 conflict with the current state */
  P_IDEMPOTENCY_IN_PROGRESS, /* 409 the same key is still running */
  P_GONE,                    /* 410 */
  P_PRECONDITION_FAILED,     /* 412 stale If-Match */
  P_PAYLOAD_TOO_LARGE,       /* 413 */
  P_HEADERS_TOO_LARGE,       /* 431 */
  P_UNSUPPORTED_MEDIA,       /* 415 */
  P_IDEMPOTENCY_MISMATCH,    /* 422 same key, different body */
  P_RULE,                    /* 422 a rule of the domain (not a field's shape) */
  P_TOO_MANY_REQUESTS,       /* 429 */
  P_INTERNAL,                /* 500, never with internals */
  P_UNAVAILABLE,             /* 503 with Retry-After */
  P_OAUTH_INVALID_GRANT,     /* 400 token endpoint: invalid_grant */
  P_OAUTH_INVALID_CLIENT,    /* 401 token endpoint: invalid_client */
  P_OAUTH_UNSUPPORTED_GRANT, /* 400 token endpoint: unsupported_grant_type */
  P_OAUTH_INVALID_REQUEST,   /* 400 token endpoint: invalid_request */
  P_OAUTH_INVALID_SCOPE,     /* 400 token endpoint: invalid_scope */
  P__COUNT
};

enum lang { LANG_EN = 0, LANG_ES = 1 };

/* ----------------------------------------------------------- configuration */

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* An address or a network (CIDR): family AF_INET or AF_INET6, the address's bytes in network
 * order, and how many leading bits must match. */
struct net {
  int family;
  unsigned char addr[16];
  int bits;
};

struct config {
  char *database_url;
  int port;
  char *bind_address;
  /* JWT: either an HMAC secret or a key pair. */
  char *jwt_secret;
  size_t jwt_secret_len;
  char *jwt_private_key; /* PEM text, or NULL */
  char *jwt_public_key;  /* PEM text, or NULL */
  int jwt_alg;           /* a jwt_alg_t: HS256, RS256 or ES256 */
  char *jwt_issuer;
  char *jwt_audience;
  char **cors_origins; /* NULL-terminated; {"*"} allows any */
  /* The reverse proxies whose X-Forwarded-For names the client (TRUSTED_PROXIES). */
  struct net *trusted_proxies;
  size_t ntrusted_proxies;
  int db_pool_size;
  int csv_exports_max;    /* CSV_EXPORTS_MAX: CSV exports streaming at once, per instance */
  char **replica_urls;    /* DATABASE_REPLICA_URLS, NULL-terminated (empty without standbys) */
  int replica_max_lag_ms; /* REPLICA_MAX_LAG */
  int db_statements;      /* DB_STATEMENTS: an enum db_statements */
  int log_level;          /* a yder level */
  enum log_format log_format;
  unsigned char cursor_key[32]; /* derived from the JWT key material: cursors are MAC'd */
  /* Webhook deliveries (webhooks/): loopback receivers over http allowed (development and
   * tests only), one attempt's time limit, and the first retry's delay (doubling after). */
  bool webhook_allow_loopback;
  int webhook_timeout_ms;
  int webhook_retry_base_ms;
};

/* The process-wide configuration, read once at start-up before any thread starts. */
extern struct config g_config;

/* Reads the environment into g_config. need_db: DATABASE_URL is required. need_keys: a JWT
 * key is required. On a missing or invalid setting prints one line naming it to stderr and
 * returns A_ERR. */
int config_load(bool need_db, bool need_keys);
void config_free(void);

/* ----------------------------------------------------------------- logging */

void log_init(void);
void log_close(void);
/* printf-style; level is a yder level (Y_LOG_LEVEL_ERROR, …). request_id may be NULL. */
void log_msg(unsigned long level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The access log: one line (or JSON object) per request. */
void log_access(const char *method, const char *path, long status, long bytes, double ms,
                const char *request_id, const char *client);
bool log_enabled(unsigned long level);

/* ------------------------------------------------------------------- misc */

/* Fills out with a random RFC 4122 version 4 UUID (37 bytes with the NUL). */
void uuid_v4(char out[37]);
/* prefix followed by nbytes (at most 64) random bytes in base64, URL-safe and unpadded
 * (base64url) or standard: a secret or token to show once. A_OK, or A_ERR when out (cap
 * bytes) is too small. */
int random_text(char *out, size_t cap, const char *prefix, size_t nbytes, bool url_safe);
/* True when s is a UUID in canonical text form (any version, either case). */
bool uuid_valid(const char *s);
/* Hex SHA-256 of data into out (65 bytes with NUL). */
void sha256_hex(const void *data, size_t len, char out[65]);
/* True when the space-separated list scopes holds want. */
bool scope_has(const char *scopes, const char *want);
/* Reads an IPv4 or IPv6 address, or a network "addr/bits", into *out. A_OK or A_ERR. */
int net_parse(const char *text, struct net *out);
/* True when the address (family, bytes in network order) is inside n. */
bool net_contains(const struct net *n, int family, const unsigned char *addr);
/* Constant-time comparison of two byte strings of equal length n. */
bool bytes_equal_ct(const void *a, const void *b, size_t n);

#endif
