/*
 * stream.c — CSV exports sent while they are read from the database (reply_csv_stream).
 *
 * A CSV export has every row of a list's filters: 100,000 agencies would not fit the
 * service's memory budget as one string. So the rows are read in keyset batches (the list's
 * own page statements, with a CSV column instead of JSON) and handed to ulfius's stream
 * response, which sends them with chunked transfer encoding as the client takes them.
 *
 * ulfius calls the stream callback after dispatch() has returned, on the same MHD thread,
 * whenever the socket can take more. The stream therefore takes over the request's
 * connection, inside one REPEATABLE READ transaction (db_begin_snapshot) so that every batch
 * reads the same snapshot. Nothing is read until finish() has decided the answer: a 304 or
 * a problem drops the stream unread. The free callback runs when MHD destroys the
 * response: at the end, and also when the client goes away early or the connection times
 * out. It is the one place the connection goes back to the pool.
 */
#include "http/http.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yder.h>

/* Rows per batch: large enough that round trips do not dominate, small enough that one
 * batch's result stays well under a megabyte. */
#define CSV_BATCH_ROWS 1000
/* Bytes ulfius asks the callback for at a time. */
#define CSV_BLOCK_BYTES (32 * 1024)

/* Seconds a refused export is told to wait: about what a small export takes. */
#define CSV_RETRY_AFTER "5"

static const char BOM[] = "\xEF\xBB\xBF";

/* Exports holding a place (csv_export_reserve) and exports refused. */
static atomic_int exports_active;
static atomic_ulong exports_refused;

enum problem csv_export_reserve(struct req *r) {
  int max = g_config.csv_exports_max > 0 ? g_config.csv_exports_max : 1;
  if (atomic_fetch_add(&exports_active, 1) < max)
    return P_NONE;
  atomic_fetch_sub(&exports_active, 1);
  atomic_fetch_add(&exports_refused, 1);
  reply_header(r, "Retry-After", CSV_RETRY_AFTER);
  return req_fail(r, P_UNAVAILABLE,
                  "%d CSV exports are already streaming from this server, its limit: retry "
                  "shortly, or ask for JSON pages meanwhile.",
                  "Ya se están descargando %d exportaciones CSV desde este servidor, su límite: "
                  "reintente en breve, o pida páginas JSON mientras tanto.",
                  max);
}

void csv_export_release(void) {
  atomic_fetch_sub(&exports_active, 1);
}

void csv_export_stats(int *active, unsigned long *refused) {
  *active = atomic_load(&exports_active);
  *refused = atomic_load(&exports_refused);
}

struct csv_stream {
  struct db_conn *db; /* owned until released; NULL afterwards */
  struct db_stmt *page;
  int n;           /* the caller's parameters; then last key, last id and the batch size */
  char **params;   /* n + 3 entries, owned */
  char *head;      /* byte order mark, header and CRLF; owned */
  size_t head_len; /* bytes of head */
  size_t head_off; /* bytes of head already sent */
  PGresult *batch; /* the rows being sent; owned */
  int row;         /* next row of batch to send */
  size_t row_off;  /* bytes of that row (text and CRLF) already sent */
  bool last;       /* batch is the last one: a short batch, or max_rows reached */
  long max_rows;   /* at most this many rows (0: all) */
  long sent_rows;  /* rows fetched so far */
  bool failed;     /* a later batch failed: cut the stream short */
  long long bytes; /* sent so far, for the log */
  char request_id[129];
};

/* Gives the connection back: ends the read-only transaction first when it went well. */
static void stream_release(struct csv_stream *s) {
  if (s->db == NULL)
    return;
  if (!s->failed && s->db->tx_depth > 0)
    db_commit(s->db);
  db_release(s->db);
  s->db = NULL;
}

/* Runs the page statement after the last row of the current batch (or from the start). */
static int stream_fetch(struct csv_stream *s) {
  if (s->batch != NULL) {
    int last = PQntuples(s->batch) - 1;
    free(s->params[s->n]);
    free(s->params[s->n + 1]);
    s->params[s->n] = strdup(PQgetvalue(s->batch, last, 1));
    s->params[s->n + 1] = strdup(PQgetvalue(s->batch, last, 2));
    PQclear(s->batch);
    s->batch = NULL;
  }
  long want = CSV_BATCH_ROWS;
  if (s->max_rows > 0 && s->max_rows - s->sent_rows < want)
    want = s->max_rows - s->sent_rows;
  free(s->params[s->n + 2]);
  s->params[s->n + 2] = NULL;
  if (asprintf(&s->params[s->n + 2], "%ld", want) < 0)
    return A_ERR;
  s->batch = db_exec(s->db, s->page, s->n + 3, (const char *const *)s->params);
  if (s->batch == NULL)
    return A_ERR;
  s->row = 0;
  s->row_off = 0;
  s->sent_rows += PQntuples(s->batch);
  s->last = PQntuples(s->batch) < want || (s->max_rows > 0 && s->sent_rows >= s->max_rows);
  return A_OK;
}

/* Copies what is left of src[off..len) into out[*w..max); returns the bytes copied. */
static size_t copy_part(char *out, size_t *w, size_t max, const char *src, size_t len, size_t off) {
  size_t k = len - off;
  if (k > max - *w)
    k = max - *w;
  memcpy(out + *w, src + off, k);
  *w += k;
  return k;
}

/* ulfius's stream callback: fills out with the next bytes. Returns how many, or
 * U_STREAM_END after the last row, or U_STREAM_ERROR when a batch failed (the client sees a
 * chunked body that never ends properly, never a silently short file). */
static ssize_t stream_next(void *cls, uint64_t offset, char *out, size_t max) {
  (void)offset;
  struct csv_stream *s = cls;
  size_t w = 0;
  while (w < max && !s->failed) {
    if (s->head_off < s->head_len) {
      s->head_off += copy_part(out, &w, max, s->head, s->head_len, s->head_off);
      continue;
    }
    if (s->batch != NULL && s->row < PQntuples(s->batch)) {
      size_t len = (size_t)PQgetlength(s->batch, s->row, 0);
      if (s->row_off < len)
        s->row_off += copy_part(out, &w, max, PQgetvalue(s->batch, s->row, 0), len, s->row_off);
      if (s->row_off >= len)
        s->row_off += copy_part(out, &w, max, "\r\n", 2, s->row_off - len);
      if (s->row_off == len + 2) {
        s->row++;
        s->row_off = 0;
      }
      continue;
    }
    if (s->last || s->db == NULL)
      break;
    if (stream_fetch(s) != A_OK) {
      log_msg(Y_LOG_LEVEL_ERROR, s->request_id, "CSV stream cut short: %s", s->db->message);
      s->failed = true;
    }
  }
  s->bytes += (long long)w;
  if (w > 0)
    return (ssize_t)w;
  if (s->failed)
    return U_STREAM_ERROR;
  stream_release(s);
  return U_STREAM_END;
}

static void stream_destroy(struct csv_stream *s) {
  s->failed |= s->db != NULL; /* not finished: roll back rather than commit */
  stream_release(s);
  csv_export_release(); /* the export's place, taken before its connection */
  PQclear(s->batch);
  for (int i = 0; i < s->n + 3; i++)
    free(s->params[i]);
  free(s->params);
  free(s->head);
  free(s);
}

/* ulfius's free callback: after the last byte, or when the client left early (the
 * connection is still held then). */
static void stream_free(void *cls) {
  struct csv_stream *s = cls;
  if (s->db != NULL)
    log_msg(Y_LOG_LEVEL_INFO, s->request_id, "CSV stream ended early after %lld bytes", s->bytes);
  stream_destroy(s);
}

enum problem reply_csv_stream(struct req *r, struct db_stmt *page, int n, const char *const *params,
                              const char *header_line, long max_rows) {
  struct csv_stream *s = calloc(1, sizeof *s);
  s->page = page;
  s->n = n;
  s->max_rows = max_rows;
  s->params = calloc((size_t)n + 3, sizeof *s->params);
  for (int i = 0; i < n; i++)
    s->params[i] = params[i] ? strdup(params[i]) : NULL;
  s->head_len = strlen(BOM) + strlen(header_line) + 2;
  s->head = malloc(s->head_len + 1);
  snprintf(s->head, s->head_len + 1, "%s%s\r\n", BOM, header_line);
  snprintf(s->request_id, sizeof s->request_id, "%s", r->request_id);
  /* The request's connection, inside its snapshot, becomes the stream's: dispatch must not
   * give it back. */
  s->db = r->db;
  r->db = NULL;
  r->stream = s;
  r->status = 200;
  r->has_body = false; /* nothing for finish() to hash: the tag is the list's */
  return P_NONE;
}

enum problem csv_stream_attach(struct req *r, bool send) {
  struct csv_stream *s = r->stream;
  r->stream = NULL;
  if (!send) {
    stream_destroy(s);
    return P_NONE;
  }
  for (int attempt = 0; stream_fetch(s) != A_OK; attempt++) {
    /* Its server went away before the first row (a standby stopped, say): another one can
     * stream it from the start, in a snapshot of its own. */
    db_rollback(s->db);
    if (attempt > 0 || !db_read_retryable(s->db)) {
      enum problem rc = problem_from_db(r, s->db);
      stream_destroy(s);
      return rc;
    }
    s->db = db_reacquire_read(s->db, HTTP_DB_WAIT_MS, r->position);
    if (s->db == NULL || db_begin_snapshot(s->db) != A_OK) {
      enum problem rc =
          s->db == NULL ? req_fail(r, P_UNAVAILABLE, "The database is unavailable; retry shortly.",
                                   "La base de datos no está disponible; reintente "
                                   "en breve.")
                        : problem_from_db(r, s->db);
      stream_destroy(s);
      return rc;
    }
  }
  if (ulfius_set_stream_response(r->out, 200, stream_next, stream_free, U_STREAM_SIZE_UNKNOWN,
                                 CSV_BLOCK_BYTES, s) != U_OK) {
    stream_destroy(s);
    return req_fail(r, P_INTERNAL, NULL, NULL);
  }
  reply_header(r, "Content-Type", "text/csv; charset=utf-8");
  return P_NONE;
}
