/* harness.c — see harness.h. */
#include "harness.h"

#include "auth/auth.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t boot_pid;

static const char *env_or_die(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') {
    fprintf(stderr, "harness: %s is not set (run the tests through script/test)\n", name);
    exit(1);
  }
  return v;
}

const char *th_url(void) {
  return env_or_die("TH_URL");
}
const char *th_db_url(void) {
  return env_or_die("TH_DB_URL");
}

/* TEST_DATABASE_URL with its database name replaced. */
static void db_url_for(const char *dbname, char *out, size_t cap) {
  const char *base = env_or_die("TEST_DATABASE_URL");
  const char *slash = strrchr(base, '/');
  snprintf(out, cap, "%.*s/%s", (int)(slash - base), base, dbname);
}

static void admin_exec(const char *sql) {
  PGconn *pg = PQconnectdb(env_or_die("TEST_DATABASE_URL"));
  if (PQstatus(pg) != CONNECTION_OK) {
    fprintf(stderr, "harness: %s", PQerrorMessage(pg));
    exit(1);
  }
  PGresult *res = PQexec(pg, sql);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    fprintf(stderr, "harness: %s: %s", sql, PQresultErrorMessage(res));
    exit(1);
  }
  PQclear(res);
  PQfinish(pg);
}

static void run_binary(const char *db_url, const char *cmd) {
  char line[1024];
  snprintf(line, sizeof line, "DATABASE_URL='%s' '%s' %s >/dev/null", db_url,
           env_or_die("ACREDITA_BIN"), cmd);
  if (system(line) != 0) {
    fprintf(stderr, "harness: acredita %s failed\n", cmd);
    exit(1);
  }
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(fd, (struct sockaddr *)&a, sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  close(fd);
  return ntohs(a.sin_port);
}

pid_t th_server_spawn(const char *db_url, const char *const *env, int *port) {
  *port = free_port();
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    /* A test that fails before stopping its server would leave it holding ctest's output
     * pipe, and ctest would wait for it until its timeout: the server goes with its test
     * (also when the test died before this line ran). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
      _exit(0);
    char portv[16];
    snprintf(portv, sizeof portv, "%d", *port);
    setenv("PORT", portv, 1);
    setenv("DATABASE_URL", db_url, 1);
    setenv("JWT_SECRET", TH_JWT_SECRET, 1);
    setenv("BIND_ADDRESS", "127.0.0.1", 1);
    setenv("DB_POOL_SIZE", "4", 1);
    if (getenv("LOG_LEVEL") == NULL)
      setenv("LOG_LEVEL", "warning", 1);
    for (const char *const *e = env; e != NULL && *e != NULL; e++)
      putenv(strdup(*e));
    const char *log = getenv("TH_STDERR");
    if (log != NULL && freopen(log, "w", stderr) == NULL)
      _exit(126);
    const char *bin = env_or_die("ACREDITA_BIN");
    /* ACREDITA_WRAPPER runs the server under another program (script/test: valgrind). */
    const char *wrapper = getenv("ACREDITA_WRAPPER");
    if (wrapper != NULL && *wrapper != '\0')
      execl(wrapper, wrapper, bin, "serve", (char *)NULL);
    else
      execl(bin, bin, "serve", (char *)NULL);
    _exit(127);
  }
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", *port);
  /* 5 s, or 60 s under a wrapper (valgrind starts slowly). */
  int tries = getenv("ACREDITA_WRAPPER") != NULL ? 6000 : 500;
  for (int i = 0; i < tries; i++) {
    struct th_resp r = th_req_to(base, "GET", "/healthz", NULL, NULL, NULL, 0, NULL);
    long st = r.status;
    th_free(&r);
    if (st == 200)
      return pid;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      fprintf(stderr, "harness: server exited at start-up\n");
      exit(1);
    }
    usleep(10000);
  }
  fprintf(stderr, "harness: server did not answer /healthz\n");
  kill(pid, SIGKILL);
  exit(1);
}

pid_t th_server_spawn_base(const char *const *env, char *base, size_t cap) {
  int port;
  pid_t pid = th_server_spawn(th_db_url(), env, &port);
  snprintf(base, cap, "http://127.0.0.1:%d", port);
  return pid;
}

int th_server_kill(pid_t pid, int sig) {
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void th_boot(const char *name, bool demo) {
  char dbname[96], db_url[512], sql[256];
  snprintf(dbname, sizeof dbname, "acredita_test_%s", name);
  snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
  admin_exec(sql);
  snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
  admin_exec(sql);
  db_url_for(dbname, db_url, sizeof db_url);
  run_binary(db_url, "migrate");
  if (demo)
    run_binary(db_url, "seed-demo");
  int port;
  const char *via = getenv("TH_DATABASE_VIA");
  char server_url[512];
  if (via != NULL && strcmp(via, "pgbouncer") == 0) {
    const char *bouncer = env_or_die("TEST_PGBOUNCER_URL");
    snprintf(server_url, sizeof server_url, "%.*s/%s", (int)(strrchr(bouncer, '/') - bouncer),
             bouncer, dbname);
  } else {
    snprintf(server_url, sizeof server_url, "%s", db_url);
  }
  boot_pid = th_server_spawn(server_url, NULL, &port);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
  setenv("TH_URL", base, 1);
  setenv("TH_DB_URL", db_url, 1);
}

void th_shutdown(void) {
  if (boot_pid > 0)
    th_server_kill(boot_pid, SIGTERM);
  boot_pid = 0;
}

/* ----------------------------------------------------------------- tokens */

static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void keys_init(void) {
  setenv("JWT_SECRET", TH_JWT_SECRET, 1);
  if (config_load(false, true) != A_OK || auth_init() != A_OK) {
    fprintf(stderr, "harness: cannot set up the JWT key\n");
    exit(1);
  }
}

char *th_token(const char *role, const char *sub, const char *agency_id) {
  pthread_once(&keys_once, keys_init);
  struct caller c;
  memset(&c, 0, sizeof c);
  c.role = role_from_name(role);
  snprintf(c.sub, sizeof c.sub, "%s", sub);
  snprintf(c.agency_id, sizeof c.agency_id, "%s", agency_id ? agency_id : "");
  snprintf(c.name, sizeof c.name, "test %s", role);
  return auth_issue_token(&c, 600);
}

char *th_client_token(const char *role, const char *sub, const char *scope) {
  pthread_once(&keys_once, keys_init);
  struct caller c;
  memset(&c, 0, sizeof c);
  c.role = role_from_name(role);
  snprintf(c.sub, sizeof c.sub, "%s", sub);
  snprintf(c.scope, sizeof c.scope, "%s", scope);
  c.scoped = true;
  return auth_issue_token(&c, 600);
}

/* Made once even when many test threads ask at the same moment. */
static char *admin_token;
static pthread_once_t admin_once = PTHREAD_ONCE_INIT;

static void admin_token_init(void) {
  admin_token = th_token("admin", "00000000-0000-4000-8000-000000000001", NULL);
}

const char *th_admin(void) {
  pthread_once(&admin_once, admin_token_init);
  return admin_token;
}

/* ------------------------------------------------------------------- HTTP */

struct buf {
  char *data;
  size_t len;
  size_t cap;
};

/* Grows by doubling: a body of megabytes arrives in 16 KB pieces, and under AddressSanitizer
 * every realloc copies the whole buffer (a 13 MB CSV export took minutes growing piece by
 * piece). */
static size_t collect(char *p, size_t size, size_t n, void *ud) {
  struct buf *b = ud;
  size_t add = size * n;
  if (b->len + add + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + add + 1)
      cap *= 2;
    char *grown = realloc(b->data, cap);
    if (grown == NULL)
      return 0;
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, add);
  b->len += add;
  b->data[b->len] = '\0';
  return add;
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* One JSON line per response, for the contract check (tests/contract/check.mjs). */
static void contract_log(const char *method, const char *path, const struct th_resp *r) {
  const char *file = getenv("CONTRACT_LOG");
  if (file == NULL || r->status == 0)
    return;
  char *ct = th_header(r, "Content-Type");
  json_t *line = json_pack("{s:s,s:s,s:I,s:s,s:s%}", "method", method, "path", path, "status",
                           (json_int_t)r->status, "content_type", ct ? ct : "", "body",
                           r->body ? r->body : "", r->len);
  free(ct);
  if (line == NULL) /* a body that is not UTF-8 is not a JSON document: nothing to check */
    return;
  char *text = json_dumps(line, JSON_COMPACT);
  json_decref(line);
  pthread_mutex_lock(&log_lock);
  int fd = open(file, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd >= 0) {
    size_t n = strlen(text);
    text[n] = '\n';
    ssize_t w = write(fd, text, n + 1);
    (void)w;
    close(fd);
  }
  pthread_mutex_unlock(&log_lock);
  free(text);
}

static atomic_long req_timeout_s;

void th_set_timeout(long seconds) {
  atomic_store(&req_timeout_s, seconds);
}

struct th_resp th_req_to(const char *base, const char *method, const char *path, const char *token,
                         const char *content_type, const char *body, size_t body_len,
                         const char *const *headers) {
  struct th_resp r = {0};
  struct buf hb = {0}, bb = {0};
  char url[4096], line[8192];
  snprintf(url, sizeof url, "%s%s", base ? base : th_url(), path);
  CURL *c = curl_easy_init();
  struct curl_slist *h = NULL;
  if (token != NULL) {
    snprintf(line, sizeof line, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, line);
  }
  if (content_type != NULL) {
    snprintf(line, sizeof line, "Content-Type: %s", content_type);
    h = curl_slist_append(h, line);
  }
  h = curl_slist_append(h, "Expect:");
  for (const char *const *x = headers; x != NULL && *x != NULL; x++)
    h = curl_slist_append(h, *x);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &bb);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
  /* 30 s, or 120 s with the server under a wrapper (valgrind), unless the test said. */
  long timeout = atomic_load(&req_timeout_s);
  if (timeout <= 0)
    timeout = getenv("ACREDITA_WRAPPER") != NULL ? 120L : 30L;
  curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (body != NULL) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
  }
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  r.body = bb.data ? bb.data : strdup("");
  r.len = bb.len;
  r.headers = hb.data ? hb.data : strdup("");
  r.json = r.len > 0 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
  contract_log(method, path, &r);
  return r;
}

struct th_resp th_req(const char *method, const char *path, const char *token, const char *body,
                      const char *const *headers) {
  return th_req_to(NULL, method, path, token, body ? "application/json" : NULL, body,
                   body ? strlen(body) : 0, headers);
}

char *th_header(const struct th_resp *r, const char *name) {
  size_t n = strlen(name);
  /* The last header block wins (after a 100 Continue there may be two). */
  char *found = NULL;
  for (const char *p = r->headers; p && *p;) {
    const char *eol = strstr(p, "\r\n");
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
      const char *v = p + n + 1;
      while (*v == ' ')
        v++;
      free(found);
      found = strndup(v, len - (size_t)(v - p));
    }
    p += len + (eol ? 2 : 0);
  }
  return found;
}

void th_free(struct th_resp *r) {
  free(r->body);
  free(r->headers);
  json_decref(r->json);
  memset(r, 0, sizeof *r);
}

/* -------------------------------------------------------------------- SQL */

char *th_sql(const char *sql) {
  PGconn *pg = PQconnectdb(th_db_url());
  cr_assert_eq(PQstatus(pg), CONNECTION_OK, "connect: %s", PQerrorMessage(pg));
  PGresult *res = PQexec(pg, sql);
  ExecStatusType st = PQresultStatus(res);
  cr_assert(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
            PQresultErrorMessage(res));
  char *v = st == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)
                ? strdup(PQgetvalue(res, 0, 0))
                : NULL;
  PQclear(res);
  PQfinish(pg);
  return v;
}

long th_sql_long(const char *sql) {
  char *v = th_sql(sql);
  long n = v ? atol(v) : -1;
  free(v);
  return n;
}

const char *th_str(const json_t *o, const char *key) {
  return json_string_value(json_object_get(o, key));
}

void th_assert_problem(const struct th_resp *r, long status, const char *slug) {
  cr_assert_eq(r->status, status, "status %ld, want %ld: %s", r->status, status, r->body);
  char want[128];
  snprintf(want, sizeof want, "https://acredita.dev/problems/%s", slug);
  cr_assert_str_eq(th_str(r->json, "type"), want, "%s", r->body);
}

bool th_has_error(const struct th_resp *r, const char *field, const char *code) {
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(r->json, "errors"), i, e) {
    if (strcmp(th_str(e, "field"), field) == 0 && strcmp(th_str(e, "code"), code) == 0)
      return true;
  }
  return false;
}

void th_pgctl(const char *action) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>&1", env_or_die("TEST_PGCTL"), action);
  cr_assert_eq(system(cmd), 0, "TEST_PGCTL %s failed", action);
}

/* ------------------------------------------------------------- standby */

const char *th_standby_db_url(void) {
  static char url[512];
  const char *base = env_or_die("TEST_STANDBY_URL");
  const char *db = strrchr(th_db_url(), '/');
  snprintf(url, sizeof url, "%.*s%s", (int)(strrchr(base, '/') - base), base, db);
  return url;
}

void th_standby_ctl(const char *action) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>&1", env_or_die("TEST_STANDBY_CTL"), action);
  cr_assert_eq(system(cmd), 0, "TEST_STANDBY_CTL %s failed", action);
}

static char *sql_on(const char *url, const char *sql, bool must) {
  PGconn *pg = PQconnectdb(url);
  if (PQstatus(pg) != CONNECTION_OK) {
    cr_assert(!must, "connect %s: %s", url, PQerrorMessage(pg));
    PQfinish(pg);
    return NULL;
  }
  PGresult *res = PQexec(pg, sql);
  ExecStatusType st = PQresultStatus(res);
  cr_assert(!must || st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
            PQresultErrorMessage(res));
  char *v = st == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)
                ? strdup(PQgetvalue(res, 0, 0))
                : NULL;
  PQclear(res);
  PQfinish(pg);
  return v;
}

char *th_standby_sql(const char *sql) {
  return sql_on(th_standby_db_url(), sql, true);
}

bool th_standby_caught_up(const char *position, int timeout_ms) {
  char *target = position ? strdup(position) : th_sql("SELECT pg_current_wal_insert_lsn()");
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn", target);
  free(target);
  for (int waited = 0; waited <= timeout_ms; waited += 20) {
    char *v = sql_on(th_standby_db_url(), sql, false);
    bool done = v != NULL && strcmp(v, "t") == 0;
    free(v);
    if (done)
      return true;
    usleep(20000);
  }
  return false;
}

double th_metric(const char *base, const char *prefix) {
  struct th_resp r = th_req_to(base, "GET", "/metrics", NULL, NULL, NULL, 0, NULL);
  double v = -1;
  size_t n = strlen(prefix);
  for (const char *p = r.body; p != NULL && *p != '\0';) {
    const char *eol = strchr(p, '\n');
    if (strncmp(p, prefix, n) == 0) {
      const char *space = memchr(p, ' ', eol ? (size_t)(eol - p) : strlen(p));
      if (space != NULL)
        v = strtod(space + 1, NULL);
      break;
    }
    p = eol ? eol + 1 : NULL;
  }
  th_free(&r);
  return v;
}
