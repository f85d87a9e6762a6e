/*
 * config.c — the environment, read once at start-up.
 *
 * Every setting is checked here, so that a wrong one stops the process with one line that
 * names it instead of failing later under load.
 */
#include "acredita.h"

#include "db/db.h"

#include <errno.h>
#include <limits.h>
#include <orcania.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yder.h>

struct config g_config;

static int fail(const char *name, const char *why) {
  fprintf(stderr, "acredita: %s: %s\n", name, why);
  return A_ERR;
}

/* Parses an integer setting in [min, max]; unset gives def. */
static int env_int(const char *name, int def, int min, int max, int *out) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') {
    *out = def;
    return A_OK;
  }
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || n < min || n > max) {
    char why[96];
    snprintf(why, sizeof why, "must be a whole number from %d to %d", min, max);
    return fail(name, why);
  }
  *out = (int)n;
  return A_OK;
}

/* Reads a whole file into a malloc'd NUL-terminated string; NULL on failure. */
static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + n + 1 > cap) {
      cap = (len + n + 1) * 2;
      char *grown = realloc(buf, cap);
      if (grown == NULL) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = grown;
    }
    memcpy(buf + len, chunk, n);
    len += n;
  }
  fclose(f);
  if (buf == NULL)
    buf = o_strdup("");
  else
    buf[len] = '\0';
  return buf;
}

static int load_log_settings(void) {
  const char *lvl = getenv("LOG_LEVEL");
  if (lvl == NULL || *lvl == '\0' || strcmp(lvl, "info") == 0)
    g_config.log_level = Y_LOG_LEVEL_INFO;
  else if (strcmp(lvl, "debug") == 0)
    g_config.log_level = Y_LOG_LEVEL_DEBUG;
  else if (strcmp(lvl, "warning") == 0)
    g_config.log_level = Y_LOG_LEVEL_WARNING;
  else if (strcmp(lvl, "error") == 0)
    g_config.log_level = Y_LOG_LEVEL_ERROR;
  else
    return fail("LOG_LEVEL", "must be one of error, warning, info, debug");

  const char *fmt = getenv("LOG_FORMAT");
  if (fmt == NULL || *fmt == '\0' || strcmp(fmt, "text") == 0)
    g_config.log_format = LOG_FORMAT_TEXT;
  else if (strcmp(fmt, "json") == 0)
    g_config.log_format = LOG_FORMAT_JSON;
  else
    return fail("LOG_FORMAT", "must be text or json");
  return A_OK;
}

static int load_jwt_settings(bool need_keys) {
  const char *secret = getenv("JWT_SECRET");
  const char *priv = getenv("JWT_PRIVATE_KEY_FILE");
  const char *pub = getenv("JWT_PUBLIC_KEY_FILE");
  bool has_secret = secret != NULL && *secret != '\0';
  bool has_priv = priv != NULL && *priv != '\0';
  bool has_pub = pub != NULL && *pub != '\0';

  if (has_secret && (has_priv || has_pub))
    return fail("JWT_SECRET", "set either JWT_SECRET or the key files, not both");
  if (has_priv != has_pub)
    return fail(has_priv ? "JWT_PUBLIC_KEY_FILE" : "JWT_PRIVATE_KEY_FILE",
                "both JWT_PRIVATE_KEY_FILE and JWT_PUBLIC_KEY_FILE are needed");
  if (has_secret) {
    if (strlen(secret) < 32)
      return fail("JWT_SECRET", "must be at least 32 bytes");
    g_config.jwt_secret = o_strdup(secret);
    g_config.jwt_secret_len = strlen(secret);
  } else if (has_priv) {
    g_config.jwt_private_key = read_file(priv);
    if (g_config.jwt_private_key == NULL)
      return fail("JWT_PRIVATE_KEY_FILE", "cannot be read");
    g_config.jwt_public_key = read_file(pub);
    if (g_config.jwt_public_key == NULL)
      return fail("JWT_PUBLIC_KEY_FILE", "cannot be read");
  } else if (need_keys) {
    return fail("JWT_SECRET", "is not set (or set JWT_PRIVATE_KEY_FILE and JWT_PUBLIC_KEY_FILE)");
  }

  const char *iss = getenv("JWT_ISSUER");
  const char *aud = getenv("JWT_AUDIENCE");
  g_config.jwt_issuer = o_strdup(iss != NULL && *iss != '\0' ? iss : "acredita");
  g_config.jwt_audience = o_strdup(aud != NULL && *aud != '\0' ? aud : "acredita-api");
  return A_OK;
}

/* CORS_ALLOWED_ORIGINS: a comma-separated list of origins (scheme://host[:port]) or "*". */
static int load_cors_settings(void) {
  const char *v = getenv("CORS_ALLOWED_ORIGINS");
  g_config.cors_origins = NULL;
  if (v == NULL || *v == '\0') {
    g_config.cors_origins = calloc(1, sizeof(char *));
    return g_config.cors_origins ? A_OK : A_ERR;
  }
  char **parts = NULL;
  size_t n = split_string(v, ",", &parts);
  g_config.cors_origins = calloc(n + 1, sizeof(char *));
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char *o = o_strdup(parts[i]);
    const char *t = trimwhitespace(o);
    if (*t == '\0') {
      o_free(o);
      continue;
    }
    if (strcmp(t, "*") != 0 && strncmp(t, "http://", 7) != 0 && strncmp(t, "https://", 8) != 0) {
      o_free(o);
      free_string_array(parts);
      return fail("CORS_ALLOWED_ORIGINS", "each origin must start with http:// or https://");
    }
    g_config.cors_origins[k++] = o_strdup(t);
    o_free(o);
  }
  free_string_array(parts);
  return A_OK;
}

/* WEBHOOK_ALLOW_LOOPBACK (true/false), WEBHOOK_TIMEOUT_MS, WEBHOOK_RETRY_BASE_MS. */
static int load_webhook_settings(void) {
  const char *v = getenv("WEBHOOK_ALLOW_LOOPBACK");
  if (v == NULL || *v == '\0' || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
    g_config.webhook_allow_loopback = false;
  else if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
    g_config.webhook_allow_loopback = true;
  else
    return fail("WEBHOOK_ALLOW_LOOPBACK", "must be true or false");
  return env_int("WEBHOOK_TIMEOUT_MS", 10000, 100, 60000, &g_config.webhook_timeout_ms) == A_OK &&
                 env_int("WEBHOOK_RETRY_BASE_MS", 10000, 100, 3600000,
                         &g_config.webhook_retry_base_ms) == A_OK
             ? A_OK
             : A_ERR;
}

/* Where the next server of a comma-separated list starts: after a comma followed by a URI
 * scheme or a keyword=value pair. Other commas belong to the server (a URI with several
 * hosts: postgresql://a,b/db). */
static const char *next_server(const char *p) {
  for (const char *comma = strchr(p, ','); comma != NULL; comma = strchr(comma + 1, ',')) {
    const char *q = comma + 1;
    while (*q == ' ' || *q == '\t')
      q++;
    size_t word = strspn(q, "abcdefghijklmnopqrstuvwxyz_");
    if (strncmp(q, "postgresql://", 13) == 0 || strncmp(q, "postgres://", 11) == 0 ||
        (word > 0 && q[word + strspn(q + word, " ")] == '='))
      return comma;
  }
  return NULL;
}

/* DATABASE_REPLICA_URLS: libpq connection strings or URIs of hot standbys, comma-separated;
 * REPLICA_MAX_LAG: seconds (decimals allowed) a standby may lag and still be read from. */
static int load_replica_settings(void) {
  const char *v = getenv("DATABASE_REPLICA_URLS");
  size_t n = 0;
  g_config.replica_urls = calloc(10, sizeof(char *));
  if (g_config.replica_urls == NULL)
    return A_ERR;
  for (const char *p = v; p != NULL && *p != '\0';) {
    const char *end = next_server(p);
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char *url = o_strndup(p, len);
    const char *t = trimwhitespace(url);
    char *err = NULL;
    PQconninfoOption *opts = *t ? PQconninfoParse(t, &err) : NULL;
    if (*t != '\0' && opts == NULL) {
      char why[300];
      snprintf(why, sizeof why, "not a libpq connection string or URI: %s",
               err ? err : "cannot be parsed");
      PQfreemem(err);
      o_free(url);
      return fail("DATABASE_REPLICA_URLS", why);
    }
    PQconninfoFree(opts);
    if (*t != '\0') {
      if (n == 8) {
        o_free(url);
        return fail("DATABASE_REPLICA_URLS", "at most 8 standbys");
      }
      g_config.replica_urls[n++] = o_strdup(t);
    }
    o_free(url);
    p = end ? end + 1 : NULL;
  }

  const char *lag = getenv("REPLICA_MAX_LAG");
  g_config.replica_max_lag_ms = 5000;
  if (lag != NULL && *lag != '\0') {
    char *end;
    errno = 0;
    double s = strtod(lag, &end);
    if (errno != 0 || end == lag || *end != '\0' || !(s > 0) || s > 3600)
      return fail("REPLICA_MAX_LAG", "must be a number of seconds above 0, at most 3600");
    g_config.replica_max_lag_ms = (int)(s * 1000.0 + 0.5);
  }

  const char *st = getenv("DB_STATEMENTS");
  if (st == NULL || *st == '\0' || strcmp(st, "auto") == 0)
    g_config.db_statements = DB_STATEMENTS_AUTO;
  else if (strcmp(st, "named") == 0)
    g_config.db_statements = DB_STATEMENTS_NAMED;
  else if (strcmp(st, "pooled") == 0)
    g_config.db_statements = DB_STATEMENTS_POOLED;
  else if (strcmp(st, "unnamed") == 0)
    g_config.db_statements = DB_STATEMENTS_UNNAMED;
  else
    return fail("DB_STATEMENTS", "must be auto, named, pooled or unnamed");
  return A_OK;
}

/* TRUSTED_PROXIES: comma-separated addresses or networks (10.0.0.5, 172.30.57.0/24) of the
 * reverse proxies in front of the service: only a request from one of them has its client
 * taken from X-Forwarded-For. */
static int load_trusted_proxies(void) {
  const char *v = getenv("TRUSTED_PROXIES");
  if (v == NULL || *v == '\0')
    return A_OK;
  char **parts = NULL;
  size_t n = split_string(v, ",", &parts);
  g_config.trusted_proxies = calloc(n + 1, sizeof *g_config.trusted_proxies);
  int rc = A_OK;
  for (size_t i = 0; i < n && rc == A_OK; i++) {
    char *item = o_strdup(parts[i]);
    const char *t = trimwhitespace(item);
    if (*t != '\0' && net_parse(t, &g_config.trusted_proxies[g_config.ntrusted_proxies++]) != A_OK)
      rc = fail("TRUSTED_PROXIES", "each entry must be an IP address or a network (addr/bits)");
    o_free(item);
  }
  free_string_array(parts);
  return rc;
}

int config_load(bool need_db, bool need_keys) {
  memset(&g_config, 0, sizeof g_config);
  if (load_log_settings() != A_OK)
    return A_ERR;
  const char *url = getenv("DATABASE_URL");
  if (url != NULL && *url != '\0')
    g_config.database_url = o_strdup(url);
  else if (need_db)
    return fail("DATABASE_URL", "is not set (a libpq connection string or URI)");

  if (env_int("PORT", 8080, 0, 65535, &g_config.port) != A_OK ||
      env_int("DB_POOL_SIZE", 8, 1, 256, &g_config.db_pool_size) != A_OK ||
      env_int("CSV_EXPORTS_MAX", 2, 1, 64, &g_config.csv_exports_max) != A_OK)
    return A_ERR;
  const char *bind = getenv("BIND_ADDRESS");
  g_config.bind_address = o_strdup(bind != NULL && *bind != '\0' ? bind : "127.0.0.1");
  if (load_jwt_settings(need_keys) != A_OK || load_cors_settings() != A_OK ||
      load_webhook_settings() != A_OK || load_replica_settings() != A_OK ||
      load_trusted_proxies() != A_OK)
    return A_ERR;
  return A_OK;
}

void config_free(void) {
  o_free(g_config.database_url);
  o_free(g_config.bind_address);
  o_free(g_config.jwt_secret);
  free(g_config.jwt_private_key);
  free(g_config.jwt_public_key);
  o_free(g_config.jwt_issuer);
  o_free(g_config.jwt_audience);
  if (g_config.replica_urls != NULL) {
    for (char **u = g_config.replica_urls; *u != NULL; u++)
      o_free(*u);
    free(g_config.replica_urls);
  }
  free(g_config.trusted_proxies);
  if (g_config.cors_origins != NULL) {
    for (char **o = g_config.cors_origins; *o != NULL; o++)
      o_free(*o);
    free(g_config.cors_origins);
  }
  memset(&g_config, 0, sizeof g_config);
}
