/*
 * test_security.c — issue 17 (and 15.9, 15.11–15.13) against the real server: tokens that end
 * with their accounts, the sign-in throttle, limits decided before a body is read, capped
 * error answers, what public callers may filter on, the change feed per caller, existence
 * oracles, secrets on replay, URLs, the headers a browser expects, Spanish messages, scopes,
 * huge headers and draining. Each test failed against the code before the fix.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <orcania.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  th_boot("security", true);
}
ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  th_shutdown();
}

#define PASSWORD "correct horse battery staple"
#define DEMO_PASSWORD "demo-password-local-only"
#define DEMO_SECRET "demo-secret-local-only"
#define ADMIN_ID "00000000-0000-4000-8000-000000000001"
#define ADVISOR_ID "00000000-0000-4000-8000-000000000003"
#define DEMO_AGENCY "a0000000-0000-4000-8000-000000000001"
#define DEMO_AGENCY_USER "00000000-0000-4000-8000-000000000004"
#define COALITION_CLIENT "00000000-0000-4000-8000-0000000000c2"
#define UPCOMING "e5c00000-0000-4000-8000-000000000006"

/* ---------------------------------------------------------------- helpers */

static const char *jstr(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static int port_of(const char *base) {
  return atoi(strrchr(base, ':') + 1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* POST /v1/auth/token with a JSON body to base; the response. */
static struct th_resp token_request(const char *base, const char *body,
                                    const char *const *headers) {
  return th_req_to(base, "POST", "/v1/auth/token", NULL, "application/json", body, strlen(body),
                   headers);
}

/* A person's token by the password grant (malloc'd); fails the test otherwise. */
static char *sign_in(const char *email, const char *password) {
  char body[512];
  snprintf(body, sizeof body, "{\"grant_type\":\"password\",\"email\":\"%s\",\"password\":\"%s\"}",
           email, password);
  struct th_resp r = token_request(NULL, body, NULL);
  cr_assert_eq(r.status, 200, "sign-in of %s: %s", email, r.body);
  char *t = strdup(jstr(r.json, "access_token"));
  th_free(&r);
  return t;
}

/* Creates a user through the API and returns its id (malloc'd). */
static char *create_user(const char *email, const char *role, const char *agency) {
  char body[512];
  snprintf(
      body, sizeof body,
      "{\"email\":\"%s\",\"name\":\"Prueba\",\"role\":\"%s\",\"password\":\"" PASSWORD "\"%s%s%s}",
      email, role, agency ? ",\"agency_id\":\"" : "", agency ? agency : "", agency ? "\"" : "");
  struct th_resp r = th_req("POST", "/v1/users", th_admin(), body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  th_free(&r);
  return id;
}

/* The status of GET path with token, retried for up to 5 s until it is want: an account's
 * change reaches every instance through a notification, "within seconds". */
static long status_becomes(const char *path, const char *token, long want) {
  long status = 0;
  for (double end = now_s() + 5; now_s() < end; usleep(50000)) {
    struct th_resp r = th_req("GET", path, token, NULL, NULL);
    status = r.status;
    th_free(&r);
    if (status == want)
      break;
  }
  return status;
}

/* A raw connection to base's server. */
static int raw_connect(const char *base) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_of(base))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect");
  return fd;
}

static void raw_send(int fd, const char *data, size_t n) {
  for (size_t off = 0; off < n;) {
    ssize_t w = send(fd, data + off, n - off, MSG_NOSIGNAL);
    if (w <= 0)
      return;
    off += (size_t)w;
  }
}

/* Reads an answer's head (status line and headers) into out; the status, or 0. */
static long raw_status(int fd, char *out, size_t cap) {
  size_t got = 0;
  out[0] = '\0';
  while (got + 1 < cap && strstr(out, "\r\n\r\n") == NULL) {
    ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
    if (n <= 0)
      break;
    got += (size_t)n;
    out[got] = '\0';
  }
  return strncmp(out, "HTTP/1.", 7) == 0 ? strtol(out + 9, NULL, 10) : 0;
}

/* VmHWM (peak resident set) or VmRSS of a process, in kB. */
static long proc_kb(pid_t pid, const char *field) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long kb = -1;
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, field, strlen(field)) == 0)
      kb = atol(line + strlen(field) + 1);
  if (f != NULL)
    fclose(f);
  return kb;
}

/* Memory figures mean nothing under AddressSanitizer or valgrind. */
static bool memory_measurable(void) {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  const char *w = getenv("ACREDITA_WRAPPER");
  return w == NULL || *w == '\0';
#endif
}

/* ------------------------------------------ 17.1 tokens outlive accounts */

Test(revocation, a_users_token_ends_when_it_is_deleted_deactivated_demoted_or_rekeyed) {
  static const char *const CHANGES[][2] = {
      {"DELETE", NULL},
      {"PATCH", "{\"active\":false}"},
      {"PATCH", "{\"role\":\"inl\"}"},
      {"PATCH", "{\"password\":\"another long password\"}"},
  };
  for (size_t i = 0; i < sizeof CHANGES / sizeof *CHANGES; i++) {
    char email[64], path[96];
    snprintf(email, sizeof email, "sec-revoke-%zu@example.mx", i);
    char *id = create_user(email, "admin", NULL);
    char *token = sign_in(email, PASSWORD);
    snprintf(path, sizeof path, "/v1/users/%s", id);
    cr_assert_eq(status_becomes("/v1/users?limit=1", token, 200), 200);
    struct th_resp r = th_req(CHANGES[i][0], path, th_admin(), CHANGES[i][1], NULL);
    cr_assert(r.status == 200 || r.status == 204, "%s %s: %s", CHANGES[i][0], path, r.body);
    th_free(&r);
    cr_assert_eq(status_becomes("/v1/users?limit=1", token, 401), 401,
                 "%s %s: the token still works", CHANGES[i][0], CHANGES[i][1]);
    /* A write with it is refused and audited under nobody. */
    r = th_req("POST", "/v1/users", token,
               "{\"email\":\"sec-never@example.mx\",\"name\":\"X\",\"role\":\"admin\","
               "\"password\":\"" PASSWORD "\"}",
               NULL);
    cr_assert_eq(r.status, 401, "%s", r.body);
    cr_assert(strstr(r.body, "revoked"), "%s", r.body);
    th_free(&r);
    free(token);
    free(id);
  }
  cr_assert_eq(th_sql_long("SELECT count(*) FROM users WHERE email = 'sec-never@example.mx'"), 0);
}

Test(revocation, a_deleted_clients_token_ends) {
  struct th_resp r = th_req("POST", "/v1/clients", th_admin(),
                            "{\"name\":\"Sistema efímero\",\"role\":\"partner\","
                            "\"scopes\":[\"agencies:read\"]}",
                            NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  char body[512];
  snprintf(body, sizeof body,
           "{\"grant_type\":\"client_credentials\",\"client_id\":\"%s\",\"client_secret\":\"%s\"}",
           id, jstr(r.json, "client_secret"));
  th_free(&r);
  r = token_request(NULL, body, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char *token = strdup(jstr(r.json, "access_token"));
  th_free(&r);
  cr_assert_eq(status_becomes("/v1/agencies?limit=1", token, 200), 200);
  char path[96];
  snprintf(path, sizeof path, "/v1/clients/%s", id);
  r = th_req("DELETE", path, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 204, "%s", r.body);
  th_free(&r);
  cr_assert_eq(status_becomes("/v1/agencies?limit=1", token, 401), 401);
  free(token);
  free(id);
}

Test(revocation, a_holder_revokes_its_own_token_rfc7009) {
  char *id = create_user("sec-revoke-self@example.mx", "inl", NULL);
  char *one = sign_in("sec-revoke-self@example.mx", PASSWORD);
  char *two = sign_in("sec-revoke-self@example.mx", PASSWORD);
  char *form = msprintf("token=%s&token_type_hint=access_token", one);
  struct th_resp r = th_req_to(NULL, "POST", "/v1/auth/revoke", NULL,
                               "application/x-www-form-urlencoded", form, strlen(form), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  cr_assert_eq(status_becomes("/v1/me", one, 401), 401);
  /* Only that token: the account's other token still works. */
  r = th_req("GET", "/v1/me", two, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  /* A token that is not ours, or garbage, answers alike (RFC 7009 §2.2). */
  r = th_req("POST", "/v1/auth/revoke", NULL, "{\"token\":\"not.a.token\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  r = th_req("POST", "/v1/auth/revoke", NULL, "{}", NULL);
  cr_assert_eq(r.status, 400, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "error"), "invalid_request");
  th_free(&r);
  o_free(form);
  free(one);
  free(two);
  free(id);
}

/* ---------------------------------------------------- 17.2 the throttle */

static long sign_in_status(const char *base, const char *email, const char *password,
                           const char *forwarded) {
  char body[512], xff[96];
  snprintf(body, sizeof body, "{\"grant_type\":\"password\",\"email\":\"%s\",\"password\":\"%s\"}",
           email, password);
  snprintf(xff, sizeof xff, "X-Forwarded-For: %s", forwarded ? forwarded : "");
  const char *const h[] = {xff, NULL};
  struct th_resp r = token_request(base, body, forwarded ? h : NULL);
  long status = r.status;
  th_free(&r);
  return status;
}

Test(throttle, every_spelling_of_a_locked_account_is_locked) {
  free(create_user("sec-iiiii@example.mx", "inl", NULL));
  for (int i = 0; i < 5; i++)
    cr_assert_eq(sign_in_status(NULL, "sec-iiiii@example.mx", "wrong password!", NULL), 400);
  cr_assert_eq(sign_in_status(NULL, "sec-iiiii@example.mx", "wrong password!", NULL), 429);
  /* PostgreSQL's lower() folds these to the same account; so does the throttle now. */
  static const char *const SPELLINGS[] = {"SEC-IIIII@EXAMPLE.MX", "sec-\xc4\xb0iiii@example.mx",
                                          "sec-iiii\xc4\xb0@example.mx"};
  for (size_t i = 0; i < sizeof SPELLINGS / sizeof *SPELLINGS; i++) {
    char *want = th_sql("SELECT lower('sec-\xc4\xb0iiii@example.mx')");
    cr_assert_str_eq(want, "sec-iiiii@example.mx", "this database's lower() folds İ to i");
    free(want);
    cr_assert_eq(sign_in_status(NULL, SPELLINGS[i], "wrong password!", NULL), 429,
                 "%s got a fresh counter", SPELLINGS[i]);
  }
  /* The right password is refused too while the account is locked. */
  cr_assert_eq(sign_in_status(NULL, "sec-iiiii@example.mx", PASSWORD, NULL), 429);
  cr_assert_eq(th_sql_long("SELECT count(*) FROM login_failures WHERE account LIKE 'email:%iiii%'"),
               0);
}

Test(throttle, per_client_address_behind_a_trusted_proxy) {
  const char *const env[] = {"TRUSTED_PROXIES=127.0.0.1", NULL};
  char base[64];
  pid_t pid = th_server_spawn_base(env, base, sizeof base);
  /* Many accounts tried from one address: 50 failures lock the address. */
  long status = 0;
  int tried = 0;
  for (; tried < 60 && status != 429; tried++) {
    char email[64];
    snprintf(email, sizeof email, "sec-nobody-%d@example.mx", tried);
    status = sign_in_status(base, email, "wrong password!", "203.0.113.7");
  }
  cr_assert_eq(status, 429, "after %d failures from one address", tried);
  cr_assert_eq(tried, 51, "locked after %d", tried);
  /* Even a good password from there, for now; another address is not locked. */
  cr_assert_eq(sign_in_status(base, "inl@demo.acredita.mx", DEMO_PASSWORD, "203.0.113.7"), 429);
  cr_assert_eq(sign_in_status(base, "inl@demo.acredita.mx", DEMO_PASSWORD, "198.51.100.4"), 200);
  th_server_kill(pid, SIGTERM);
  /* Without TRUSTED_PROXIES a client's X-Forwarded-For is not believed. */
  cr_assert_eq(sign_in_status(NULL, "sec-nobody@example.mx", "wrong password!", "192.0.2.99"), 400);
  cr_assert_eq(
      th_sql_long("SELECT count(*) FROM login_failures WHERE account = 'address:192.0.2.99'"), 0);
  cr_assert_eq(
      th_sql_long("SELECT count(*) FROM login_failures WHERE account = 'address:127.0.0.1'"), 1);
}

/* ------------------------------------ 17.3 limits before a body is read */

Test(limits, a_body_is_refused_from_its_headers_before_it_is_read) {
  /* Headers announcing 16 MiB and no body at all: the answer comes without waiting for it. */
  char head[4096];
  const char *anonymous = "POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: 16777216\r\n\r\n";
  int fd = raw_connect(th_url());
  raw_send(fd, anonymous, strlen(anonymous));
  double t0 = now_s();
  cr_assert_eq(raw_status(fd, head, sizeof head), 401, "%s", head);
  cr_assert_lt(now_s() - t0, 2.0);
  close(fd);

  char *req = msprintf("POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Authorization: Bearer %s\r\nContent-Length: 2097152\r\n\r\n",
                       th_admin());
  fd = raw_connect(th_url());
  raw_send(fd, req, strlen(req));
  cr_assert_eq(raw_status(fd, head, sizeof head), 413, "%s", head);
  close(fd);
  o_free(req);

  /* A chunked body stops being read at the route's limit (1 MiB): the connection closes. */
  req = msprintf("POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Authorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n",
                 th_admin());
  fd = raw_connect(th_url());
  raw_send(fd, req, strlen(req));
  o_free(req);
  char chunk[65536 + 16];
  int hdr = snprintf(chunk, sizeof chunk, "10000\r\n");
  memset(chunk + hdr, ' ', 65536);
  memcpy(chunk + hdr + 65536, "\r\n", 2);
  /* Up to 16 MiB: the socket buffers hold a few of them, the server must refuse the rest. */
  int sent = 0;
  for (; sent < 256; sent++) {
    ssize_t w = send(fd, chunk, (size_t)hdr + 65536 + 2, MSG_NOSIGNAL);
    if (w <= 0)
      break;
  }
  cr_assert_lt(sent, 256, "the server read 16 MiB of a body whose limit is 1 MiB");
  close(fd);
  struct th_resp r = th_req("GET", "/healthz", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200);
  th_free(&r);
}

struct upload {
  const char *base;
  const char *body;
  size_t len;
  long status;
};

static void *upload_run(void *arg) {
  struct upload *u = arg;
  struct th_resp r =
      th_req_to(u->base, "POST", "/v1/users", NULL, "application/json", u->body, u->len, NULL);
  u->status = r.status;
  th_free(&r);
  return NULL;
}

Test(limits, ten_anonymous_16_mib_bodies_leave_the_service_small) {
  char base[64];
  pid_t pid = th_server_spawn_base(NULL, base, sizeof base);
  size_t len = 16u << 20;
  char *body = malloc(len);
  memset(body, ' ', len);
  body[0] = '{';
  body[len - 1] = '}';
  pthread_t t[10];
  struct upload u[10];
  for (int i = 0; i < 10; i++) {
    u[i] = (struct upload){base, body, len, 0};
    pthread_create(&t[i], NULL, upload_run, &u[i]);
  }
  for (int i = 0; i < 10; i++) {
    pthread_join(t[i], NULL);
    cr_assert(u[i].status == 401 || u[i].status == 0, "status %ld", u[i].status);
  }
  long peak = proc_kb(pid, "VmHWM:");
  free(body);
  th_server_kill(pid, SIGTERM);
  if (memory_measurable())
    cr_assert_lt(peak, 64 * 1024, "peak RSS %ld kB", peak);
}

Test(limits, memory_goes_back_after_a_large_import) {
  if (!memory_measurable())
    return;
  char base[64];
  pid_t pid = th_server_spawn_base(NULL, base, sizeof base);
  long before = proc_kb(pid, "VmRSS:");
  /* 15 MiB of one blank-padded line: read whole, refused, freed. */
  size_t len = 15u << 20;
  char *body = malloc(len);
  memset(body, ' ', len);
  memcpy(body, "{\"x\":", 5);
  body[len - 2] = '1';
  body[len - 1] = '}';
  struct th_resp r = th_req_to(base, "POST", "/v1/agencies/import?dry_run=true", th_admin(),
                               "application/x-ndjson", body, len, NULL);
  cr_assert(r.status == 200 || r.status == 422, "%ld %s", r.status, r.body);
  th_free(&r);
  free(body);
  /* The body is freed when the connection's request completes, just after the answer. */
  long after = proc_kb(pid, "VmRSS:");
  for (int i = 0; i < 40 && after - before >= 8 * 1024; i++) {
    usleep(50000);
    after = proc_kb(pid, "VmRSS:");
  }
  th_server_kill(pid, SIGTERM);
  cr_assert_lt(after - before, 8 * 1024, "RSS %ld kB before, %ld kB after", before, after);
}

/* ------------------------------------------------- 17.4 capped answers */

Test(limits, errors_are_capped_and_counted) {
  char *body = malloc(1100000);
  size_t n = (size_t)sprintf(body, "{");
  for (int i = 0; i < 60000; i++)
    n += (size_t)sprintf(body + n, "%s\"k%05d\":1", i ? "," : "", i);
  sprintf(body + n, "}");
  struct th_resp r = th_req("POST", "/v1/users", th_admin(), body, NULL);
  cr_assert_eq(r.status, 422, "%.300s", r.body);
  cr_assert_eq(json_array_size(json_object_get(r.json, "errors")), 100);
  /* 60,000 unknown members and 4 required ones missing. */
  cr_assert_eq(json_integer_value(json_object_get(r.json, "errors_omitted")), 60004 - 100);
  cr_assert_lt(r.len, 40000, "a %zu-byte answer", r.len);
  th_free(&r);
  free(body);
}

Test(limits, query_parameters_are_capped) {
  for (int count = 1500; count <= 3000; count += 1500) {
    char *path = msprintf("/v1/agencies?");
    for (int i = 0; i < count; i++)
      path = mstrcatf(path, "%sx%d=1", i ? "&" : "", i);
    struct th_resp r = th_req("GET", path, NULL, NULL, NULL);
    cr_assert_eq(r.status, 400, "%d parameters: %ld", count, r.status);
    cr_assert_lt(r.len, 2000, "%d parameters: a %zu-byte answer", count, r.len);
    th_free(&r);
    o_free(path);
  }
}

Test(limits, huge_headers_answer_431) {
  char *cookie = malloc(65536 + 16);
  memset(cookie, 'a', 65536);
  cookie[65536] = '\0';
  char *h = msprintf("Cookie: c=%s", cookie);
  const char *const hs[] = {h, NULL};
  struct th_resp r = th_req("GET", "/v1/agencies", NULL, NULL, hs);
  cr_assert_eq(r.status, 431, "%ld", r.status);
  char *ct = th_header(&r, "Content-Type");
  cr_assert(ct && strstr(ct, "application/problem+json"), "%s", ct);
  free(ct);
  th_free(&r);
  o_free(h);
  free(cookie);
}

/* --------------------------------------------- 17.5 the public view's fields */

Test(public_view, filters_and_sorts_only_on_fields_the_caller_sees) {
  char *partner = th_token("partner", "00000000-0000-4000-8000-000000000006", NULL);
  static const char *const REFUSED[] = {"tier=advanced",    "member=true",
                                        "in_program=true",  "sort=updated_at",
                                        "sort=-created_at", "updated_since=2020-01-01T00:00:00Z"};
  for (size_t i = 0; i < sizeof REFUSED / sizeof *REFUSED; i++) {
    char path[128];
    snprintf(path, sizeof path, "/v1/agencies?%s", REFUSED[i]);
    for (int who = 0; who < 2; who++) {
      struct th_resp r = th_req("GET", path, who ? partner : NULL, NULL, NULL);
      cr_assert_eq(r.status, 400, "%s as %s: %s", path, who ? "partner" : "anonymous", r.body);
      th_free(&r);
    }
    struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s as admin: %s", path, r.body);
    th_free(&r);
  }
  struct th_resp r = th_req("GET", "/v1/agencies?sort=-name&status=accredited", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  /* q searches what the public view shows: names, not municipalities. */
  free(th_sql("UPDATE agencies SET municipality = 'Xochiquetzalcoyotl' WHERE id = '" DEMO_AGENCY
              "'"));
  r = th_req("GET", "/v1/agencies?q=xochiquetzalcoyotl", partner, NULL, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 0, "%s", r.body);
  th_free(&r);
  r = th_req("GET", "/v1/agencies?q=xochiquetzalcoyotl", th_admin(), NULL, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 1, "%s", r.body);
  th_free(&r);
  free(partner);
}

Test(public_view, cursors_are_sealed) {
  struct th_resp r = th_req("GET", "/v1/agencies?limit=1", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  const char *cursor = jstr(r.json, "next_cursor");
  cr_assert_not_null(cursor);
  const char *name = jstr(json_array_get(json_object_get(r.json, "data"), 0), "name");
  /* Whatever part of it is decoded (each dot-separated segment, at each alignment), neither
   * the sort key nor the payload can be read. */
  char *copy = strdup(cursor), *save = NULL;
  for (char *seg = strtok_r(copy, ".", &save); seg != NULL; seg = strtok_r(NULL, ".", &save)) {
    size_t n = strlen(seg);
    unsigned char *raw = malloc(n + 8);
    for (size_t skip = 0; skip < 4 && skip < n; skip++) {
      size_t raw_len = 0;
      if (!o_base64url_decode((const unsigned char *)seg + skip, (n - skip) / 4 * 4, raw,
                              &raw_len) ||
          raw_len > n)
        continue;
      cr_assert(memmem(raw, raw_len, name, strlen(name)) == NULL, "the cursor shows the key");
      cr_assert(memmem(raw, raw_len, "\"k\"", 3) == NULL, "the cursor shows its payload");
    }
    free(raw);
  }
  free(copy);
  char path[2600];
  snprintf(path, sizeof path, "/v1/agencies?limit=1&cursor=%s", cursor);
  th_free(&r);
  r = th_req("GET", path, NULL, NULL, NULL);
  cr_assert_eq(r.status, 200, "the sealed cursor pages on: %s", r.body);
  th_free(&r);
}

/* --------------------------------------------------- 17.6 the change feed */

/* The resources of every entry of the feed after cursor, as seen with token. */
static char *feed_resources(const char *token, const char *after) {
  char path[2600];
  snprintf(path, sizeof path, "/v1/changes?limit=1000&after=%s", after);
  struct th_resp r = th_req("GET", path, token, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  char *seen = o_strdup("|");
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(r.json, "data"), i, e) {
    if (strstr(seen, jstr(e, "resource")) == NULL)
      seen = mstrcatf(seen, "%s|", jstr(e, "resource"));
  }
  th_free(&r);
  return seen;
}

Test(feed, each_caller_sees_what_it_may_read) {
  struct th_resp r = th_req("GET", "/v1/changes?after=now", th_admin(), NULL, NULL);
  char *start = strdup(jstr(r.json, "next_cursor"));
  th_free(&r);
  /* A task, a compliance record and a standard change. */
  r = th_req("POST", "/v1/agencies/" DEMO_AGENCY "/tasks", th_admin(),
             "{\"kind\":\"other\",\"title\":\"Tarea del feed\"}", NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  th_free(&r);
  char *standard = th_sql("SELECT s.id FROM standards s, agencies a WHERE a.id = '" DEMO_AGENCY
                          "' AND standard_applies(s, a) ORDER BY s.id LIMIT 1");
  char path[160];
  snprintf(path, sizeof path, "/v1/agencies/" DEMO_AGENCY "/compliance/%s", standard);
  r = th_req("PUT", path, th_admin(), "{\"note\":\"feed\"}", NULL);
  cr_assert(r.status == 200 || r.status == 201, "%s", r.body);
  th_free(&r);
  snprintf(path, sizeof path, "/v1/standards/%s", standard);
  r = th_req("PATCH", path, th_admin(), "{\"summary\":{\"es\":\"Resumen del feed\"}}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);

  char *admin = feed_resources(th_admin(), start);
  cr_assert(strstr(admin, "|task|") && strstr(admin, "|compliance|") && strstr(admin, "|standard|"),
            "%s", admin);
  char *coalition = th_token("coalition", "00000000-0000-4000-8000-000000000005", NULL);
  char *seen = feed_resources(coalition, start);
  cr_assert(!strstr(seen, "|task|") && !strstr(seen, "|compliance|"), "coalition: %s", seen);
  cr_assert(strstr(seen, "|standard|"), "coalition: %s", seen);
  o_free(seen);
  /* The CAISPMEX client has no standards:read. */
  char *c2 = th_client_token("coalition", COALITION_CLIENT, "agencies:read changes:read");
  seen = feed_resources(c2, start);
  cr_assert(!strstr(seen, "|standard|") && !strstr(seen, "|task|"), "client c2: %s", seen);
  o_free(seen);
  r = th_req("GET", "/v1/changes?resource=task", coalition, NULL, NULL);
  cr_assert_eq(r.status, 400, "%s", r.body);
  cr_assert(th_has_error(&r, "/query/resource", "not_allowed"));
  th_free(&r);
  o_free(admin);
  free(c2);
  free(coalition);
  free(standard);
  free(start);
}

/* ------------------------------------------------- 17.7 existence oracles */

Test(oracles, not_yours_and_not_there_answer_alike) {
  char *agency_user = th_token("agency", DEMO_AGENCY_USER, DEMO_AGENCY);
  char *other = th_sql("SELECT id FROM agencies WHERE id <> '" DEMO_AGENCY "' ORDER BY id LIMIT 1");
  static const char *const TAILS[] = {"tasks", "compliance", "due"};
  for (size_t i = 0; i < 3; i++) {
    char exists[160], missing[160];
    snprintf(exists, sizeof exists, "/v1/agencies/%s/%s", other, TAILS[i]);
    snprintf(missing, sizeof missing, "/v1/agencies/eeeeeeee-0000-4000-8000-00000000dead/%s",
             TAILS[i]);
    struct th_resp a = th_req("GET", exists, agency_user, NULL, NULL);
    struct th_resp b = th_req("GET", missing, agency_user, NULL, NULL);
    cr_assert_eq(a.status, 404, "%s: %s", exists, a.body);
    cr_assert_eq(b.status, 404, "%s: %s", missing, b.body);
    cr_assert_str_eq(jstr(a.json, "detail"), jstr(b.json, "detail"));
    th_free(&a);
    th_free(&b);
  }
  free(other);
  free(agency_user);
}

Test(oracles, an_assignee_belongs_to_the_agency_or_advises_it) {
  char *member = create_user("sec-assignee@example.mx", "agency", DEMO_AGENCY);
  char *advisor = th_sql("SELECT advisor_ids[1]::text FROM agencies WHERE id = '" DEMO_AGENCY "'");
  cr_assert_not_null(advisor);
  const char *refused[] = {ADMIN_ID, "eeeeeeee-0000-4000-8000-00000000dead"};
  const char *message = NULL;
  for (int i = 0; i < 2; i++) {
    char body[256];
    snprintf(body, sizeof body, "{\"kind\":\"other\",\"title\":\"x\",\"assignee_id\":\"%s\"}",
             refused[i]);
    struct th_resp r = th_req("POST", "/v1/agencies/" DEMO_AGENCY "/tasks", th_admin(), body, NULL);
    cr_assert_eq(r.status, 422, "%s", r.body);
    cr_assert(th_has_error(&r, "/assignee_id", "not_assignable"), "%s", r.body);
    const char *m = jstr(json_array_get(json_object_get(r.json, "errors"), 0), "message");
    if (message == NULL)
      message = strdup(m);
    else
      cr_assert_str_eq(m, message, "an existing user and none answer alike");
    cr_assert(strstr(r.body, "fkey") == NULL, "%s", r.body);
    th_free(&r);
  }
  const char *allowed[] = {member, advisor};
  for (int i = 0; i < 2; i++) {
    char body[256];
    snprintf(body, sizeof body, "{\"kind\":\"other\",\"title\":\"x\",\"assignee_id\":\"%s\"}",
             allowed[i]);
    struct th_resp r = th_req("POST", "/v1/agencies/" DEMO_AGENCY "/tasks", th_admin(), body, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    th_free(&r);
  }
  free((char *)message);
  free(advisor);
  free(member);
}

Test(oracles, a_registration_conflict_names_only_the_callers_own) {
  char *other =
      th_sql("SELECT id FROM agencies WHERE demo AND id <> '" DEMO_AGENCY "' ORDER BY id LIMIT 1");
  char *mine = th_token("agency", DEMO_AGENCY_USER, DEMO_AGENCY);
  char *theirs = th_token("agency", "5ec00000-0000-4000-8000-0000000000b2", other);
  const char *body = "{\"person\":{\"name\":\"Ana Oráculo\",\"email\":\"ana.oraculo@example.mx\"},"
                     "\"attendance_mode\":\"virtual\"}";
  const char *path = "/v1/workshops/" UPCOMING "/registrations";
  struct th_resp r = th_req("POST", path, mine, body, NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *id = strdup(jstr(r.json, "id"));
  th_free(&r);
  r = th_req("POST", path, mine, body, NULL);
  cr_assert_eq(r.status, 409, "%s", r.body);
  cr_assert(strstr(r.body, id), "its own agency learns which: %s", r.body);
  th_free(&r);
  r = th_req("POST", path, theirs, body, NULL);
  cr_assert_eq(r.status, 409, "%s", r.body);
  cr_assert(strstr(r.body, id) == NULL, "another agency's id given away: %s", r.body);
  th_free(&r);
  free(id);
  free(theirs);
  free(mine);
  free(other);
}

/* ------------------------------------------------- 17.9 secrets on replay */

Test(secrets, a_replay_does_not_show_the_client_secret_again) {
  const char *const h[] = {"Idempotency-Key: sec-client-1", NULL};
  const char *body = "{\"name\":\"Sistema repetido\",\"role\":\"partner\"}";
  struct th_resp r = th_req("POST", "/v1/clients", th_admin(), body, h);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *secret = strdup(jstr(r.json, "client_secret"));
  char *id = strdup(jstr(r.json, "id"));
  th_free(&r);
  r = th_req("POST", "/v1/clients", th_admin(), body, h);
  cr_assert_eq(r.status, 201, "%s", r.body);
  char *replayed = th_header(&r, "Idempotent-Replayed");
  cr_assert_str_eq(replayed, "true");
  cr_assert_str_eq(jstr(r.json, "id"), id);
  cr_assert(json_is_null(json_object_get(r.json, "client_secret")), "%s", r.body);
  cr_assert(json_is_true(json_object_get(r.json, "client_secret_shown")), "%s", r.body);
  cr_assert(strstr(r.body, secret) == NULL);
  th_free(&r);
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM idempotency_keys WHERE body LIKE '%%%s%%'",
           secret);
  cr_assert_eq(th_sql_long(sql), 0, "the stored answer holds the secret");
  free(replayed);
  free(secret);
  free(id);
}

/* ------------------------------------------------------------ 17.10 URLs */

Test(urls, only_absolute_http_urls_without_quotes_or_spaces) {
  static const char *const BAD[] = {"https://x\\\" onmouseover=\\\"alert(1)",
                                    "https://x onmouseover=alert(1)",
                                    "https://",
                                    "https:///path",
                                    "javascript:alert(1)",
                                    "https://a<b>.mx",
                                    "https://user@evil.example",
                                    "https://x.mx/%zz",
                                    "https://x.mx/\\u0001",
                                    "https://x.mx/'onload"};
  char path[96];
  snprintf(path, sizeof path, "/v1/agencies/%s", DEMO_AGENCY);
  for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
    char body[256];
    snprintf(body, sizeof body, "{\"website\":\"%s\"}", BAD[i]);
    struct th_resp r = th_req("PATCH", path, th_admin(), body, NULL);
    cr_assert_eq(r.status, 422, "%s: %s", BAD[i], r.body);
    cr_assert(th_has_error(&r, "/website", "invalid_format"), "%s", r.body);
    th_free(&r);
  }
  struct th_resp r =
      th_req("PATCH", path, th_admin(),
             "{\"website\":\"https://ssp.example.gob.mx:8443/a%20b/c?d=1&e=(2)#f\"}", NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  r = th_req("POST", "/v1/webinars", th_admin(),
             "{\"title\":{\"es\":\"Seminario\"},\"starts_at\":\"2030-01-01T10:00:00Z\","
             "\"duration_minutes\":60,\"audience\":\"public\","
             "\"recording_url\":\"https://x\\\" onmouseover=\\\"alert(1)\"}",
             NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(th_has_error(&r, "/recording_url", "invalid_format"), "%s", r.body);
  th_free(&r);
}

/* ---------------------------------------------------------- 17.11 headers */

static void assert_header(const struct th_resp *r, const char *name, const char *want) {
  char *v = th_header(r, name);
  cr_assert(v != NULL && strstr(v, want) != NULL, "%s: %s, want %s", name, v, want);
  free(v);
}

Test(headers, nosniff_and_cache_control_from_the_service) {
  struct th_resp r = th_req("GET", "/v1/agencies/" DEMO_AGENCY, th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200);
  assert_header(&r, "X-Content-Type-Options", "nosniff");
  assert_header(&r, "Cache-Control", "no-store");
  th_free(&r);
  r = th_req("GET", "/v1/agencies?limit=2", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200);
  assert_header(&r, "X-Content-Type-Options", "nosniff");
  assert_header(&r, "Cache-Control", "public");
  assert_header(&r, "Cache-Control", "max-age=");
  assert_header(&r, "Vary", "Authorization");
  th_free(&r);
  r = th_req("GET", "/v1/users", NULL, NULL, NULL);
  cr_assert_eq(r.status, 401);
  assert_header(&r, "Cache-Control", "no-store");
  assert_header(&r, "X-Content-Type-Options", "nosniff");
  th_free(&r);
  r = th_req("GET", "/readyz", NULL, NULL, NULL);
  assert_header(&r, "Cache-Control", "no-store");
  th_free(&r);
}

/* ----------------------------------------------------- 15.9 Spanish */

Test(spanish, a_422_in_spanish_has_no_english) {
  const char *const h[] = {"Accept-Language: es", NULL};
  struct th_resp r = th_req("POST", "/v1/agencies", th_admin(),
                            "{\"name\":7,\"type\":\"training_academy\",\"level\":[],"
                            "\"state\":\"MX-XXX\","
                            "\"website\":\"ftp://x\",\"applied_on\":\"ayer\",\"in_program\":1,"
                            "\"ceo\":\"nadie\",\"advisor_ids\":{},\"tier\":\"tier1\","
                            "\"external_ids\":{\"a\":3},\"desconocido\":true}",
                            h);
  cr_assert_eq(r.status, 422, "%s", r.body);
  static const char *const ENGLISH[] = {
      " must ",  " is ",   " an ",   "a string", "string",    "integer",   "object",   "array",
      "address", "one of", " only ", " the ",    " true or ", "date-time", "field of", "does not"};
  size_t i;
  const json_t *e;
  json_array_foreach(json_object_get(r.json, "errors"), i, e) {
    const char *m = jstr(e, "message");
    for (size_t k = 0; k < sizeof ENGLISH / sizeof *ENGLISH; k++)
      cr_assert(strstr(m, ENGLISH[k]) == NULL, "%s: \"%s\" has \"%s\"", jstr(e, "field"), m,
                ENGLISH[k]);
  }
  cr_assert_gt(json_array_size(json_object_get(r.json, "errors")), 8, "%s", r.body);
  th_free(&r);
}

/* ----------------------------------------------------- 15.11 scopes */

Test(scopes, a_token_is_narrowed_to_the_scopes_asked_for) {
  struct th_resp r =
      token_request(NULL,
                    "{\"grant_type\":\"client_credentials\",\"client_id\":\"" COALITION_CLIENT
                    "\",\"client_secret\":\"" DEMO_SECRET "\",\"scope\":\"agencies:read\"}",
                    NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "scope"), "agencies:read");
  char *token = strdup(jstr(r.json, "access_token"));
  th_free(&r);
  r = th_req("GET", "/v1/agencies?limit=1", token, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  r = th_req("GET", "/v1/changes", token, NULL, NULL);
  cr_assert_eq(r.status, 403, "changes:read was not asked for: %s", r.body);
  th_free(&r);
  free(token);
  /* A scope the client does not have. */
  r = token_request(NULL,
                    "{\"grant_type\":\"client_credentials\",\"client_id\":\"" COALITION_CLIENT
                    "\",\"client_secret\":\"" DEMO_SECRET
                    "\",\"scope\":\"agencies:read users:write\"}",
                    NULL);
  cr_assert_eq(r.status, 400, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "error"), "invalid_scope");
  th_free(&r);
  /* A person narrows a token for a script: form-encoded, like OAuth clients send it. */
  const char *form = "grant_type=password&email=admin%40demo.acredita.mx"
                     "&password=" DEMO_PASSWORD "&scope=agencies%3Aread";
  r = th_req_to(NULL, "POST", "/v1/auth/token", NULL, "application/x-www-form-urlencoded", form,
                strlen(form), NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  token = strdup(jstr(r.json, "access_token"));
  th_free(&r);
  r = th_req("GET", "/v1/users", token, NULL, NULL);
  cr_assert_eq(r.status, 403, "%s", r.body);
  th_free(&r);
  free(token);
  r = token_request(NULL,
                    "{\"grant_type\":\"password\",\"email\":\"partner@demo.acredita.mx\","
                    "\"password\":\"" DEMO_PASSWORD "\",\"scope\":\"users:write\"}",
                    NULL);
  cr_assert_eq(r.status, 400, "%s", r.body);
  cr_assert_str_eq(jstr(r.json, "error"), "invalid_scope");
  th_free(&r);
}

/* ----------------------------------------------------- 15.13 draining */

Test(drain, uploads_that_have_started_finish_after_sigterm) {
  char base[64];
  pid_t pid = th_server_spawn_base(NULL, base, sizeof base);
  /* POST /v1/auth/revoke answers 200 to any token: a cheap write to upload. */
  static const char BODY[] = "{\"token\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";
  char head[512], answer[4096];
  snprintf(head, sizeof head,
           "POST /v1/auth/revoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: %zu\r\n\r\n",
           strlen(BODY));
  int half[10], whole[10];
  for (int i = 0; i < 10; i++) {
    half[i] = raw_connect(base);
    raw_send(half[i], head, strlen(head));
    raw_send(half[i], BODY, strlen(BODY) / 2);
    whole[i] = raw_connect(base);
    raw_send(whole[i], head, strlen(head));
    raw_send(whole[i], BODY, strlen(BODY));
  }
  usleep(200000); /* every request's headers are in */
  kill(pid, SIGTERM);
  usleep(300000);
  for (int i = 0; i < 10; i++) {
    cr_assert_eq(raw_status(whole[i], answer, sizeof answer), 200, "%s", answer);
    close(whole[i]);
  }
  /* The rest of the half-sent bodies, within a second of the signal. */
  for (int i = 0; i < 10; i++)
    raw_send(half[i], BODY + strlen(BODY) / 2, strlen(BODY) - strlen(BODY) / 2);
  for (int i = 0; i < 10; i++) {
    cr_assert_eq(raw_status(half[i], answer, sizeof answer), 200, "upload %d: %s", i, answer);
    cr_assert(strcasestr(answer, "Connection: close"), "%s", answer);
    close(half[i]);
  }
  cr_assert_eq(th_server_kill(pid, 0), 0);
}

/* ------------------------------ the same rules on what main added since (issues 15, 16) */

/* The agency filters added with the attention lists are on fields the public view does not
 * show, and agency users see every agency but their own in that view: they are refused to
 * anonymous callers, partners and agency users alike; the expiry range is public. */
Test(public_view, the_newer_filters_follow_the_view_too) {
  char *partner = th_token("partner", "00000000-0000-4000-8000-000000000006", NULL);
  char *agency_user = th_token("agency", DEMO_AGENCY_USER, DEMO_AGENCY);
  static const char *const REFUSED[] = {"report_overdue", "tasks_overdue",
                                        "implementation_plan_overdue", "tier", "member"};
  const char *callers[] = {NULL, partner, agency_user};
  for (size_t i = 0; i < sizeof REFUSED / sizeof *REFUSED; i++) {
    char path[128], field[64];
    snprintf(path, sizeof path, "/v1/agencies?%s=%s", REFUSED[i],
             strcmp(REFUSED[i], "tier") == 0 ? "advanced" : "true");
    snprintf(field, sizeof field, "/query/%s", REFUSED[i]);
    for (size_t c = 0; c < 3; c++) {
      struct th_resp r = th_req("GET", path, callers[c], NULL, NULL);
      cr_assert_eq(r.status, 400, "%s as caller %zu: %s", path, c, r.body);
      cr_assert(th_has_error(&r, field, "not_allowed"), "%s", r.body);
      th_free(&r);
    }
    struct th_resp r = th_req("GET", path, th_admin(), NULL, NULL);
    cr_assert_eq(r.status, 200, "%s as admin: %s", path, r.body);
    th_free(&r);
  }
  for (size_t c = 0; c < 3; c++) {
    struct th_resp r = th_req("GET", "/v1/agencies?expires_from=2020-01-01&expires_to=2040-12-31",
                              callers[c], NULL, NULL);
    cr_assert_eq(r.status, 200, "caller %zu: %s", c, r.body);
    th_free(&r);
  }
  /* Sorting by a date of record would order the other agencies by what they do not show. */
  struct th_resp r = th_req("GET", "/v1/agencies?sort=-updated_at", agency_user, NULL, NULL);
  cr_assert_eq(r.status, 400, "%s", r.body);
  th_free(&r);
  r = th_req("GET", "/v1/agencies?sort=name", agency_user, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  th_free(&r);
  /* q finds an agency user's own agency by its municipality, another one by its name only. */
  free(th_sql("UPDATE agencies SET municipality = 'Tlahuicolehuatl' WHERE id = '" DEMO_AGENCY "'"));
  free(th_sql("UPDATE agencies SET municipality = 'Tlahuicolehuatl' WHERE id = (SELECT id FROM"
              " agencies WHERE id <> '" DEMO_AGENCY "' ORDER BY id LIMIT 1)"));
  r = th_req("GET", "/v1/agencies?q=tlahuicolehuatl", agency_user, NULL, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 1, "%s", r.body);
  cr_assert_str_eq(jstr(json_array_get(json_object_get(r.json, "data"), 0), "id"), DEMO_AGENCY);
  th_free(&r);
  r = th_req("GET", "/v1/agencies?q=tlahuicolehuatl", th_admin(), NULL, NULL);
  cr_assert_eq(json_array_size(json_object_get(r.json, "data")), 2, "%s", r.body);
  th_free(&r);
  free(agency_user);
  free(partner);
}

/* A webhook subscription is the change feed pushed: it hears only what its owner may read. */
Test(feed, a_webhook_hears_only_what_its_owner_may_read) {
  char *coalition = th_token("coalition", "00000000-0000-4000-8000-000000000005", NULL);
  struct th_resp r = th_req("POST", "/v1/webhooks", coalition,
                            "{\"url\":\"https://coalicion.example/hook\",\"events\":[\"task.*\","
                            "\"agency.updated\",\"compliance.created\"]}",
                            NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(th_has_error(&r, "/events/0", "not_allowed"), "%s", r.body);
  cr_assert(th_has_error(&r, "/events/2", "not_allowed"), "%s", r.body);
  cr_assert_eq(json_array_size(json_object_get(r.json, "errors")), 2, "%s", r.body);
  th_free(&r);
  /* The CAISPMEX client has no standards:read. */
  char *c2 =
      th_client_token("coalition", COALITION_CLIENT, "agencies:read webhooks:read webhooks:write");
  r = th_req("POST", "/v1/webhooks", c2,
             "{\"url\":\"https://caispmex.example/hook\",\"events\":[\"standard.*\"]}", NULL);
  cr_assert_eq(r.status, 422, "%s", r.body);
  cr_assert(th_has_error(&r, "/events/0", "not_allowed"), "%s", r.body);
  th_free(&r);
  r = th_req("POST", "/v1/webhooks", c2,
             "{\"url\":\"https://caispmex.example/hook\",\"events\":[\"agency.*\"]}", NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  th_free(&r);
  free(c2);
  free(coalition);
}

/* The secrets main added (a webhook's, a calendar token) show once too: a replay of the
 * request answers that they were shown, and the stored replay does not hold them. */
Test(secrets, a_replay_shows_no_webhook_secret_or_calendar_token) {
  static const struct {
    const char *path, *body, *key, *secret, *shown;
  } CASES[] = {
      {"/v1/webhooks", "{\"url\":\"https://repetido.example/hook\",\"events\":[\"agency.*\"]}",
       "Idempotency-Key: sec-webhook-1", "secret", "secret_shown"},
      {"/v1/me/calendar-tokens", "{\"agency_id\":\"" DEMO_AGENCY "\",\"name\":\"Repetido\"}",
       "Idempotency-Key: sec-calendar-1", "token", "token_shown"},
  };
  for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) {
    const char *const h[] = {CASES[i].key, NULL};
    struct th_resp r = th_req("POST", CASES[i].path, th_admin(), CASES[i].body, h);
    cr_assert_eq(r.status, 201, "%s", r.body);
    char *secret = strdup(jstr(r.json, CASES[i].secret));
    char *id = strdup(jstr(r.json, "id"));
    th_free(&r);
    r = th_req("POST", CASES[i].path, th_admin(), CASES[i].body, h);
    cr_assert_eq(r.status, 201, "%s", r.body);
    assert_header(&r, "Idempotent-Replayed", "true");
    cr_assert_str_eq(jstr(r.json, "id"), id);
    cr_assert(json_is_null(json_object_get(r.json, CASES[i].secret)), "%s", r.body);
    cr_assert(json_is_true(json_object_get(r.json, CASES[i].shown)), "%s", r.body);
    cr_assert(strstr(r.body, secret) == NULL, "%s", r.body);
    th_free(&r);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM idempotency_keys WHERE body LIKE '%%%s%%'",
             secret);
    cr_assert_eq(th_sql_long(sql), 0, "the stored answer holds the secret");
    free(secret);
    free(id);
  }
}

/* The routes main added answer from the headers too: a body announced over the limit is a
 * 413 before a byte of it is read. */
Test(limits, the_newer_routes_refuse_a_large_body_from_its_headers) {
  static const char *const PATHS[] = {
      "/v1/webhooks", "/v1/me/calendar-tokens", "/v1/agencies/" DEMO_AGENCY "/erasure",
      "/v1/agencies/" DEMO_AGENCY "/restore", "/v1/agencies/" DEMO_AGENCY "/reporting-requests"};
  for (size_t i = 0; i < sizeof PATHS / sizeof *PATHS; i++) {
    char head[4096];
    char *req = msprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Authorization: Bearer %s\r\nContent-Length: 2097152\r\n\r\n",
                         PATHS[i], th_admin());
    int fd = raw_connect(th_url());
    raw_send(fd, req, strlen(req));
    double t0 = now_s();
    cr_assert_eq(raw_status(fd, head, sizeof head), 413, "%s: %s", PATHS[i], head);
    cr_assert_lt(now_s() - t0, 2.0);
    close(fd);
    o_free(req);
  }
}

/* The headers of 15.11 on the routes main added: a calendar read with its token in the URL is
 * never kept by a cache; the public calendars and the reference page may be. */
Test(headers, the_newer_routes_send_them_too) {
  struct th_resp r = th_req("GET", "/v1/webhooks", th_admin(), NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  assert_header(&r, "X-Content-Type-Options", "nosniff");
  assert_header(&r, "Cache-Control", "no-store");
  th_free(&r);
  r = th_req("POST", "/v1/me/calendar-tokens", th_admin(),
             "{\"agency_id\":\"" DEMO_AGENCY "\",\"name\":\"Cabeceras\"}", NULL);
  cr_assert_eq(r.status, 201, "%s", r.body);
  assert_header(&r, "Cache-Control", "no-store");
  char *feed = strdup(jstr(r.json, "feed_url"));
  th_free(&r);
  r = th_req("GET", feed, NULL, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  assert_header(&r, "X-Content-Type-Options", "nosniff");
  assert_header(&r, "Cache-Control", "no-store");
  th_free(&r);
  free(feed);
  r = th_req("GET", "/v1/webinars.ics", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200, "%s", r.body);
  assert_header(&r, "X-Content-Type-Options", "nosniff");
  assert_header(&r, "Cache-Control", "public");
  th_free(&r);
  r = th_req("GET", "/docs", NULL, NULL, NULL);
  cr_assert_eq(r.status, 200);
  assert_header(&r, "X-Content-Type-Options", "nosniff");
  assert_header(&r, "Cache-Control", "max-age=");
  th_free(&r);
}
