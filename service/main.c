/*
 * main.c — the acredita binary: serve (default), migrate, seed-demo, token, user create.
 * Configuration comes from the environment only (config.c).
 */
#include "acredita.h"

#include "auth/auth.h"
#include "calendar/calendar.h"
#include "db/db.h"
#include "http/http.h"
#include "resources/resources.h"
#include "webhooks/webhooks.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yder.h>

/* Seconds requests in flight get to finish after SIGTERM. */
#define SHUTDOWN_GRACE_MS 10000

static const char USAGE[] =
    "usage: acredita [serve]\n"
    "       acredita migrate\n"
    "       acredita seed-demo\n"
    "       acredita token --sub ID --role ROLE [--agency ID] [--name NAME] [--ttl SECONDS]\n"
    "       acredita user create --email EMAIL --role ROLE [--name NAME] [--agency ID]"
    " --password-stdin\n"
    "       acredita routes   (method, path, roles and scope of every route)\n";

static int cmd_serve(void) {
  if (config_load(true, true) != A_OK || auth_init() != A_OK)
    return 1;
  /* Signals are taken synchronously by this thread; block them before threads start. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  /* Refuse a schema newer than this binary knows; an older one is reported by /readyz. */
  PGconn *pg = db_connect(g_config.database_url);
  if (pg != NULL) {
    int have = db_schema_version(pg);
    PQfinish(pg);
    if (have > db_known_schema_version()) {
      fprintf(stderr, "acredita: DATABASE_URL: schema version %d is newer than this build (%d)\n",
              have, db_known_schema_version());
      return 1;
    }
  }
  log_init();
  /* Each server's pool: DB_POOL_SIZE connections for requests and the export lane's
   * CSV_EXPORTS_MAX for the CSV exports (http/stream.c caps them). */
  int rc = db_pool_init(g_config.database_url, g_config.db_pool_size, g_config.csv_exports_max,
                        (enum db_statements)g_config.db_statements);
  for (char **url = g_config.replica_urls; rc == A_OK && *url != NULL; url++)
    rc = db_pool_add_standby(*url);
  if (rc != A_OK) {
    log_close();
    return 1;
  }
  /* The caches kept by notifications, then the listener that feeds them. */
  auth_standing_init();
  stats_cache_init();
  db_listen_start();
  if (http_server_start(ALL_ROUTES) != A_OK || db_housekeeping_start() != A_OK ||
      webhook_worker_start() != A_OK || db_replicas_start(g_config.replica_max_lag_ms) != A_OK) {
    log_close();
    return 1;
  }
  int sig = 0;
  sigwait(&stop, &sig);
  log_msg(Y_LOG_LEVEL_INFO, NULL, "signal %d: finishing requests in flight", sig);
  http_server_stop(SHUTDOWN_GRACE_MS);
  db_housekeeping_stop();
  webhook_worker_stop();
  calendar_shutdown();
  db_replicas_stop();
  db_pool_close();
  log_msg(Y_LOG_LEVEL_INFO, NULL, "stopped");
  log_close();
  config_free();
  return 0;
}

/* The settings and a connection for a one-shot command; NULL (with a line on stderr) when
 * either is missing. */
static PGconn *command_connection(void) {
  if (config_load(true, false) != A_OK)
    return NULL;
  PGconn *pg = db_connect(g_config.database_url);
  if (pg == NULL)
    fprintf(stderr, "acredita: DATABASE_URL: cannot connect\n");
  return pg;
}

static int cmd_migrate(void) {
  PGconn *pg = command_connection();
  if (pg == NULL)
    return 1;
  int rc = db_migrate(pg);
  if (rc == A_OK)
    printf("schema at version %d\n", db_schema_version(pg));
  PQfinish(pg);
  config_free();
  return rc == A_OK ? 0 : 1;
}

/* Demo accounts share one password, documented in the README as local-only. */
#define DEMO_PASSWORD "demo-password-local-only"
#define DEMO_SECRET "demo-secret-local-only"

static int cmd_seed_demo(void) {
  PGconn *pg = command_connection();
  if (pg == NULL)
    return 1;
  char phash[256], shash[256];
  int rc = A_ERR;
  if (db_schema_version(pg) != db_known_schema_version())
    fprintf(stderr, "acredita: run 'acredita migrate' first\n");
  else if (auth_password_hash(DEMO_PASSWORD, phash) == A_OK &&
           auth_password_hash(DEMO_SECRET, shash) == A_OK)
    rc = db_seed_demo(pg, phash, shash);
  if (rc == A_OK)
    printf("demo data loaded\n");
  PQfinish(pg);
  config_free();
  return rc == A_OK ? 0 : 1;
}

static int cmd_token(int argc, char **argv) {
  static const struct option opts[] = {{"sub", required_argument, 0, 's'},
                                       {"role", required_argument, 0, 'r'},
                                       {"agency", required_argument, 0, 'a'},
                                       {"name", required_argument, 0, 'n'},
                                       {"scope", required_argument, 0, 'c'},
                                       {"ttl", required_argument, 0, 't'},
                                       {0, 0, 0, 0}};
  struct caller c;
  memset(&c, 0, sizeof c);
  long ttl = AUTH_DEFAULT_TTL;
  int opt;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (opt) {
    case 's':
      snprintf(c.sub, sizeof c.sub, "%s", optarg);
      break;
    case 'r':
      c.role = role_from_name(optarg);
      break;
    case 'a':
      snprintf(c.agency_id, sizeof c.agency_id, "%s", optarg);
      break;
    case 'n':
      snprintf(c.name, sizeof c.name, "%s", optarg);
      break;
    case 'c':
      snprintf(c.scope, sizeof c.scope, "%s", optarg);
      c.scoped = true;
      break;
    case 't':
      ttl = strtol(optarg, NULL, 10);
      break;
    default:
      fputs(USAGE, stderr);
      return 2;
    }
  }
  if (c.sub[0] == '\0' || c.role == 0 || ttl <= 0 ||
      (c.role == ROLE_AGENCY && !uuid_valid(c.agency_id))) {
    fprintf(stderr, "acredita: token needs --sub, a valid --role, a positive --ttl, and --agency "
                    "(a UUID) for the agency role\n");
    return 2;
  }
  if (config_load(false, true) != A_OK || auth_init() != A_OK)
    return 1;
  char *token = auth_issue_token(&c, ttl);
  if (token == NULL)
    return 1;
  printf("%s\n", token);
  free(token);
  config_free();
  return 0;
}

static int cmd_user_create(int argc, char **argv) {
  static const struct option opts[] = {
      {"email", required_argument, 0, 'e'},    {"role", required_argument, 0, 'r'},
      {"name", required_argument, 0, 'n'},     {"agency", required_argument, 0, 'a'},
      {"password-stdin", no_argument, 0, 'p'}, {0, 0, 0, 0}};
  const char *email = NULL, *role = NULL, *name = NULL, *agency = NULL;
  bool from_stdin = false;
  int opt;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (opt == 'e')
      email = optarg;
    else if (opt == 'r')
      role = optarg;
    else if (opt == 'n')
      name = optarg;
    else if (opt == 'a')
      agency = optarg;
    else if (opt == 'p')
      from_stdin = true;
    else {
      fputs(USAGE, stderr);
      return 2;
    }
  }
  if (email == NULL || role_from_name(role) == 0 || !from_stdin) {
    fprintf(stderr, "acredita: user create needs --email, a valid --role and --password-stdin\n");
    return 2;
  }
  char password[256];
  if (fgets(password, sizeof password, stdin) == NULL) {
    fprintf(stderr, "acredita: no password on standard input\n");
    return 2;
  }
  password[strcspn(password, "\r\n")] = '\0';
  if (strlen(password) < 12) {
    fprintf(stderr, "acredita: the password must have at least 12 characters\n");
    return 2;
  }
  char hash[256];
  if (auth_password_hash(password, hash) != A_OK) {
    fprintf(stderr, "acredita: the password could not be hashed\n");
    return 1;
  }
  PGconn *pg = command_connection();
  if (pg == NULL)
    return 1;
  const char *p[] = {email, name ? name : email, role, agency, hash};
  PGresult *res = PQexecParams(pg,
                               "INSERT INTO users (email, name, role, agency_id, password_hash)"
                               " VALUES ($1, $2, $3, $4::uuid, $5) RETURNING id",
                               5, NULL, p, NULL, NULL, 0);
  int rc = 1;
  if (PQresultStatus(res) == PGRES_TUPLES_OK) {
    printf("%s\n", PQgetvalue(res, 0, 0));
    rc = 0;
  } else {
    fprintf(stderr, "acredita: %s", PQresultErrorMessage(res));
  }
  PQclear(res);
  PQfinish(pg);
  config_free();
  return rc;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "serve";
  if (strcmp(cmd, "serve") == 0)
    return cmd_serve();
  if (strcmp(cmd, "migrate") == 0)
    return cmd_migrate();
  if (strcmp(cmd, "seed-demo") == 0)
    return cmd_seed_demo();
  if (strcmp(cmd, "token") == 0)
    return cmd_token(argc - 1, argv + 1);
  if (strcmp(cmd, "user") == 0 && argc > 2 && strcmp(argv[2], "create") == 0)
    return cmd_user_create(argc - 2, argv + 2);
  if (strcmp(cmd, "routes") == 0) {
    http_routes_describe(ALL_ROUTES, stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0) {
    printf("acredita %s\n", ACREDITA_VERSION);
    return 0;
  }
  fputs(USAGE, stderr);
  return 2;
}
