/*
 * log.c — console logging through yder.
 *
 * yder keeps global state without locks and formats before it checks the level (STACK.md),
 * so it is initialised before any thread starts and every call here checks the level first.
 * With LOG_FORMAT=json each line is one JSON object built by jansson.
 */
#include "acredita.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <yder.h>

static const char *level_name(unsigned long level) {
  switch (level) {
  case Y_LOG_LEVEL_ERROR:
    return "error";
  case Y_LOG_LEVEL_WARNING:
    return "warning";
  case Y_LOG_LEVEL_DEBUG:
    return "debug";
  default:
    return "info";
  }
}

/* yder's console mode prefixes each line and writes to stdout; the callback writes exactly
 * one line per entry to stderr: "time level message", or the JSON object alone. */
static void write_line(void *cls, const char *app, const time_t date, const unsigned long level,
                       const char *message) {
  (void)cls;
  (void)app;
  char stamp[32];
  struct tm tm;
  gmtime_r(&date, &tm);
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (g_config.log_format == LOG_FORMAT_JSON)
    fprintf(stderr, "%s\n", message);
  else
    fprintf(stderr, "%s %s %s\n", stamp, level_name(level), message);
}

void log_init(void) {
  y_init_logs("acredita", Y_LOG_MODE_CALLBACK, (unsigned long)g_config.log_level, NULL, NULL);
  y_set_logs_callback(write_line, NULL, NULL);
}

void log_close(void) {
  y_close_logs();
}

bool log_enabled(unsigned long level) {
  return level <= (unsigned long)g_config.log_level;
}

/* Writes one finished line: JSON objects are rendered compactly, text is given as is. */
static void emit(unsigned long level, json_t *obj, const char *text) {
  if (g_config.log_format == LOG_FORMAT_JSON) {
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(obj, "time", json_string(stamp));
    json_object_set_new(obj, "level", json_string(level_name(level)));
    char *line = json_dumps(obj, JSON_COMPACT);
    if (line != NULL) {
      y_log_message(level, "%s", line);
      free(line);
    }
  } else {
    y_log_message(level, "%s", text);
  }
}

void log_msg(unsigned long level, const char *request_id, const char *fmt, ...) {
  if (!log_enabled(level))
    return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (g_config.log_format == LOG_FORMAT_JSON) {
    json_t *obj = json_pack("{s:s}", "msg", msg);
    if (request_id != NULL)
      json_object_set_new(obj, "request_id", json_string(request_id));
    emit(level, obj, NULL);
    json_decref(obj);
  } else {
    char line[2200];
    snprintf(line, sizeof line, "%s%s%s", request_id ? "[" : "", request_id ? request_id : "",
             request_id ? "] " : "");
    size_t used = strlen(line);
    snprintf(line + used, sizeof line - used, "%s", msg);
    emit(level, NULL, line);
  }
}

void log_access(const char *method, const char *path, long status, long bytes, double ms,
                const char *request_id, const char *client) {
  if (!log_enabled(Y_LOG_LEVEL_INFO))
    return;
  if (g_config.log_format == LOG_FORMAT_JSON) {
    json_t *obj = json_pack("{s:s,s:s,s:s,s:I,s:I,s:f,s:s,s:s}", "msg", "request", "method", method,
                            "path", path, "status", (json_int_t)status, "bytes", (json_int_t)bytes,
                            "ms", ms, "request_id", request_id, "client", client);
    if (obj != NULL) {
      emit(Y_LOG_LEVEL_INFO, obj, NULL);
      json_decref(obj);
    }
  } else {
    char line[2200];
    snprintf(line, sizeof line, "%s \"%s %s\" %ld %ld %.2fms request_id=%s", client, method, path,
             status, bytes, ms, request_id);
    emit(Y_LOG_LEVEL_INFO, NULL, line);
  }
}
