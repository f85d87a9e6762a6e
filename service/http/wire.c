/*
 * wire.c — libmicrohttpd driven by the service itself: a request off the wire into ulfius's
 * request and response types, its answer back onto the wire, and the requests in flight.
 *
 * ulfius's own access handler reads a whole body (up to its one size limit) before any
 * callback runs, so an anonymous caller could make the service hold 16 MiB before hearing
 * 401. Here the server's hooks see the headers first (begin): they decide there, before a
 * byte of the body is read, whether the request is answered at once (401, 403, 404, 413,
 * 431, …) and, if not, how large a body the route takes. A body that grows past that limit
 * (a chunked one, whose size is not announced) stops being read: libmicrohttpd 0.9.75 cannot
 * queue an answer in the middle of an upload, so the connection is closed.
 *
 * A request is in flight from its headers to the end of its answer, so that stopping the
 * server (wire_stop) lets an upload that has started finish, and refuses only new
 * connections.
 */
#include "http/http.h"

#include <malloc.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <orcania.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yder.h>

/* A request whose body or answer held more than this many bytes gives memory back to the
 * system when it ends (malloc_trim): a few large requests must not leave the process large. */
#define WIRE_TRIM_BYTES (1024 * 1024)
/* Blocks of this size and larger are mapped on their own and unmapped when freed. */
#define WIRE_MMAP_THRESHOLD (256 * 1024)

struct wire_request {
  struct _u_request in;
  struct _u_response out;
  void *app;       /* the hooks' state */
  long limit;      /* the largest body the route takes; -1 once answered */
  size_t capacity; /* of in.binary_body */
  size_t answer_bytes;
  bool started; /* the headers were seen (begin ran) */
  bool cut;     /* the body grew past limit */
};

static struct {
  struct MHD_Daemon *daemon;
  const struct wire_hooks *hooks;
  atomic_int in_flight;
  atomic_bool draining;
} wire;

/* The raw URI, before libmicrohttpd decodes it: the request begins here (its state becomes
 * the connection's con_cls). */
static void *wire_uri(void *cls, const char *uri) {
  (void)cls;
  struct wire_request *w = calloc(1, sizeof *w);
  if (w == NULL)
    return NULL;
  if (ulfius_init_request(&w->in) != U_OK || ulfius_init_response(&w->out) != U_OK) {
    free(w);
    return NULL;
  }
  w->in.http_url = o_strdup(uri);
  const char *q = strchr(uri, '?');
  w->in.url_path = q ? o_strndup(uri, (size_t)(q - uri)) : o_strdup(uri);
  return w;
}

/* Headers whose name and value are UTF-8 go into the map; a repeated name joins its values
 * with commas (RFC 9110 §5.3). */
static enum MHD_Result wire_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
  (void)kind;
  struct _u_map *map = cls;
  if (key == NULL || !utf8_valid(key, strlen(key)) ||
      (value != NULL && !utf8_valid(value, strlen(value))))
    return MHD_YES;
  const char *had = u_map_get(map, key);
  if (had == NULL) {
    u_map_put(map, key, value ? value : "");
  } else {
    char *joined = msprintf("%s,%s", had, value ? value : "");
    u_map_put(map, key, joined);
    o_free(joined);
  }
  return MHD_YES;
}

static void wire_read_headers(struct wire_request *w, struct MHD_Connection *c, const char *method,
                              const char *version) {
  w->in.http_verb = o_strdup(method);
  w->in.http_protocol = o_strdup(version);
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (ci != NULL && ci->client_addr != NULL) {
    socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                           : sizeof(struct sockaddr_in);
    /* ulfius frees it; its own handler copies only sizeof(struct sockaddr), cutting IPv6. */
    w->in.client_address = o_malloc(sizeof(struct sockaddr_storage));
    memset(w->in.client_address, 0, sizeof(struct sockaddr_storage));
    memcpy(w->in.client_address, ci->client_addr, len);
  }
  MHD_get_connection_values(c, MHD_HEADER_KIND, wire_header, w->in.map_header);
}

/* Appends an upload chunk; false when the body would pass the route's limit. */
static bool wire_append(struct wire_request *w, const char *data, size_t n) {
  size_t have = w->in.binary_body_length;
  if (have + n > (size_t)w->limit)
    return false;
  if (have + n > w->capacity) {
    size_t cap = w->capacity ? w->capacity : 16384;
    while (cap < have + n)
      cap *= 2;
    if (cap > (size_t)w->limit)
      cap = (size_t)w->limit;
    void *grown = o_realloc(w->in.binary_body, cap);
    if (grown == NULL)
      return false;
    w->in.binary_body = grown;
    w->capacity = cap;
  }
  memcpy((char *)w->in.binary_body + have, data, n);
  w->in.binary_body_length = have + n;
  return true;
}

/* Puts the hooks' answer (w->out) on the wire. The body is handed over, not copied. */
static enum MHD_Result wire_answer(struct wire_request *w, struct MHD_Connection *c) {
  struct _u_response *out = &w->out;
  struct MHD_Response *resp;
  if (out->stream_callback != NULL) {
    resp = MHD_create_response_from_callback(out->stream_size, out->stream_block_size,
                                             out->stream_callback, out->stream_user_data,
                                             out->stream_callback_free);
    out->stream_callback = NULL; /* libmicrohttpd owns the stream now */
    out->stream_user_data = NULL;
  } else {
    resp = MHD_create_response_from_buffer_with_free_callback(out->binary_body_length,
                                                              out->binary_body, &o_free);
    w->answer_bytes = out->binary_body_length;
    out->binary_body = NULL;
    out->binary_body_length = 0;
  }
  if (resp == NULL)
    return MHD_NO;
  const char **keys = u_map_enum_keys(out->map_header);
  for (size_t i = 0; keys != NULL && keys[i] != NULL; i++)
    MHD_add_response_header(resp, keys[i], u_map_get(out->map_header, keys[i]));
  /* While the server stops, a kept-alive connection would bring new requests. */
  if (atomic_load(&wire.draining))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result rc = MHD_queue_response(c, (unsigned int)out->status, resp);
  MHD_destroy_response(resp);
  w->limit = -1;
  return rc;
}

static enum MHD_Result wire_access(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls) {
  (void)cls;
  (void)url;
  struct wire_request *w = *con_cls;
  if (w == NULL)
    return MHD_NO;
  if (!w->started) {
    w->started = true;
    atomic_fetch_add(&wire.in_flight, 1);
    wire_read_headers(w, c, method, version);
    w->limit = wire.hooks->begin(&w->in, &w->out, &w->app);
    return w->limit < 0 ? wire_answer(w, c) : MHD_YES;
  }
  if (*upload_data_size > 0) {
    if (w->limit < 0 || !wire_append(w, upload_data, *upload_data_size)) {
      w->cut = true;
      return MHD_NO; /* closes the connection: nothing more is read */
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (w->limit < 0)
    return MHD_YES;
  wire.hooks->end(&w->in, &w->out, w->app);
  return wire_answer(w, c);
}

static void wire_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                           enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  struct wire_request *w = *con_cls;
  *con_cls = NULL;
  if (w == NULL)
    return;
  if (w->started) {
    enum wire_outcome how = w->cut                                       ? WIRE_CUT
                            : toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? WIRE_ANSWERED
                                                                         : WIRE_LOST;
    wire.hooks->done(w->app, how);
  }
  bool large = w->capacity >= WIRE_TRIM_BYTES || w->answer_bytes >= WIRE_TRIM_BYTES;
  /* A stream that never went on the wire (the connection failed first) is still ours. */
  if (w->out.stream_callback_free != NULL && w->out.stream_user_data != NULL)
    w->out.stream_callback_free(w->out.stream_user_data);
  ulfius_clean_request(&w->in);
  ulfius_clean_response(&w->out);
  bool started = w->started;
  free(w);
  if (large)
    malloc_trim(0);
  if (started)
    atomic_fetch_sub(&wire.in_flight, 1);
}

/* libmicrohttpd's own complaints go to the service's log, as one line each. */
static void wire_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  if (!log_enabled(Y_LOG_LEVEL_WARNING))
    return;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  msg[strcspn(msg, "\r\n")] = '\0';
  log_msg(Y_LOG_LEVEL_WARNING, NULL, "http: %s", msg);
}

int wire_start(const struct wire_hooks *hooks, const struct sockaddr *addr, int threads) {
  wire.hooks = hooks;
  atomic_store(&wire.draining, false);
  /* Large bodies (imports) are mapped on their own, so that freeing them unmaps them; a
   * fixed threshold also stops glibc from raising it after the first such free. */
  mallopt(M_MMAP_THRESHOLD, WIRE_MMAP_THRESHOLD);
  unsigned int flags =
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
  if (addr->sa_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  /* The logger first: libmicrohttpd reports the options that follow through it. */
  wire.daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, wire_access, NULL, MHD_OPTION_EXTERNAL_LOGGER, wire_log, NULL,
      MHD_OPTION_URI_LOG_CALLBACK, wire_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, wire_completed,
      NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned int)HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      (size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_END);
  return wire.daemon != NULL ? A_OK : A_ERR;
}

int wire_port(void) {
  const union MHD_DaemonInfo *info =
      wire.daemon ? MHD_get_daemon_info(wire.daemon, MHD_DAEMON_INFO_LISTEN_FD) : NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (info == NULL || getsockname(info->listen_fd, (struct sockaddr *)&ss, &len) != 0)
    return -1;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int wire_in_flight(void) {
  return atomic_load(&wire.in_flight);
}

void wire_stop(int grace_ms) {
  if (wire.daemon == NULL)
    return;
  /* No new connections; a request whose headers have arrived is in flight and may finish,
   * its body included, within the grace period. */
  atomic_store(&wire.draining, true);
  MHD_socket fd = MHD_quiesce_daemon(wire.daemon);
  for (int waited = 0; atomic_load(&wire.in_flight) > 0 && waited < grace_ms; waited += 10)
    usleep(10000);
  MHD_stop_daemon(wire.daemon);
  wire.daemon = NULL;
  /* The listening socket is ours after quiescing, but only closable once MHD is stopped. */
  if (fd != MHD_INVALID_SOCKET)
    close(fd);
}
