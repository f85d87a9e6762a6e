/*
 * problem.c — every error answer, in one place (RFC 9457 problem details).
 *
 * A problem kind maps to one status, one stable type URI and a title in English and Spanish;
 * a field error code maps to a message in both languages. Codes and types never change with
 * the language; only the human texts do.
 */
#include "http/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yder.h>

#define PROBLEM_BASE "https://acredita.dev/problems/"

struct problem_info {
  long status;
  const char *slug;
  const char *title_en;
  const char *title_es;
  const char *oauth_error; /* the OAuth 2 "error" member, for the token endpoint */
};

static const struct problem_info PROBLEMS[P__COUNT] = {
    [P_NONE] = {200, "none", "OK", "OK", NULL},
    [P_BAD_REQUEST] = {400, "bad-request", "Malformed request", "Solicitud mal formada", NULL},
    [P_INVALID_QUERY] = {400, "invalid-query", "Invalid query parameters",
                         "Parámetros de consulta inválidos", NULL},
    [P_VALIDATION] = {422, "validation", "The request has invalid fields",
                      "La solicitud tiene campos inválidos", NULL},
    [P_UNAUTHORIZED] = {401, "unauthorized", "Authentication required", "Se requiere autenticación",
                        NULL},
    [P_INVALID_TOKEN] = {401, "invalid-token", "Invalid token", "Token inválido", NULL},
    [P_FORBIDDEN] = {403, "forbidden", "Not allowed for this role", "No permitido para este rol",
                     NULL},
    [P_NOT_FOUND] = {404, "not-found", "Not found", "No encontrado", NULL},
    [P_METHOD_NOT_ALLOWED] = {405, "method-not-allowed", "Method not allowed",
                              "Método no permitido", NULL},
    [P_NOT_ACCEPTABLE] = {406, "not-acceptable", "Not acceptable", "No aceptable", NULL},
    [P_CONFLICT] = {409, "conflict", "Conflict with the current state",
                    "Conflicto con el estado actual", NULL},
    [P_IDEMPOTENCY_IN_PROGRESS] = {409, "idempotency-in-progress",
                                   "A request with this Idempotency-Key is still running",
                                   "Una solicitud con esta Idempotency-Key sigue en curso", NULL},
    [P_GONE] = {410, "gone", "Gone", "Ya no está disponible", NULL},
    [P_PRECONDITION_FAILED] = {412, "precondition-failed", "The resource has changed",
                               "El recurso ha cambiado", NULL},
    [P_PAYLOAD_TOO_LARGE] = {413, "payload-too-large", "Request body too large",
                             "Cuerpo de la solicitud demasiado grande", NULL},
    [P_HEADERS_TOO_LARGE] = {431, "headers-too-large", "Request headers too large",
                             "Cabeceras de la solicitud demasiado grandes", NULL},
    [P_UNSUPPORTED_MEDIA] = {415, "unsupported-media-type", "Unsupported content type",
                             "Tipo de contenido no admitido", NULL},
    [P_IDEMPOTENCY_MISMATCH] = {422, "idempotency-mismatch",
                                "Idempotency-Key reused with a different request",
                                "Idempotency-Key reutilizada con otra solicitud", NULL},
    [P_RULE] = {422, "rule-violation", "The request breaks a rule",
                "La solicitud infringe una regla", NULL},
    [P_TOO_MANY_REQUESTS] = {429, "too-many-requests", "Too many requests",
                             "Demasiadas solicitudes", NULL},
    [P_INTERNAL] = {500, "internal", "Internal error", "Error interno", NULL},
    [P_UNAVAILABLE] = {503, "unavailable", "Service unavailable", "Servicio no disponible", NULL},
    [P_OAUTH_INVALID_GRANT] = {400, "invalid-grant", "Invalid credentials",
                               "Credenciales inválidas", "invalid_grant"},
    [P_OAUTH_INVALID_CLIENT] = {401, "invalid-client", "Invalid client credentials",
                                "Credenciales de cliente inválidas", "invalid_client"},
    [P_OAUTH_UNSUPPORTED_GRANT] = {400, "unsupported-grant-type", "Unsupported grant type",
                                   "Tipo de concesión no admitido", "unsupported_grant_type"},
    [P_OAUTH_INVALID_REQUEST] = {400, "invalid-request", "Invalid token request",
                                 "Solicitud de token inválida", "invalid_request"},
    [P_OAUTH_INVALID_SCOPE] = {400, "invalid-scope", "Scope not allowed", "Alcance no permitido",
                               "invalid_scope"},
};

/* Field error codes and their messages; %s is the argument (values, a limit). */
struct code_message {
  const char *code;
  const char *en;
  const char *es;
};

static const struct code_message FIELD_MESSAGES[] = {
    {"required", "is required", "es obligatorio"},
    {"unknown_field", "is not a field of this resource", "no es un campo de este recurso"},
    {"unknown_parameter", "is not a parameter of this endpoint",
     "no es un parámetro de este recurso"},
    {"invalid_type", "must be %s", "debe ser %s"},
    {"invalid_enum", "must be one of: %s", "debe ser uno de: %s"},
    {"too_short", "must have at least %s characters", "debe tener al menos %s caracteres"},
    {"too_long", "must have at most %s characters", "debe tener como máximo %s caracteres"},
    {"out_of_range", "must be within %s", "debe estar dentro de %s"},
    {"invalid_format", "must be %s", "debe ser %s"},
    {"not_null", "cannot be null", "no puede ser nulo"},
    {"empty", "must change at least one field", "debe cambiar al menos un campo"},
    {"repeated", "may be given only once", "solo puede indicarse una vez"},
    {"invalid_cursor", "does not belong to this list, its filters or its sort, or is damaged",
     "no corresponde a esta lista, sus filtros o su orden, o está dañado"},
    {"taken", "is already in use", "ya está en uso"},
    {"not_found", "does not exist", "no existe"},
    {"not_assignable", "must be a user of the agency or one of its advisors",
     "debe ser un usuario de la agencia o uno de sus asesores"},
    {"invalid", "is not valid: %s", "no es válido: %s"},
    {"not_allowed", "may not be set by this role", "no puede ser modificado por este rol"},
    {"read_only", "is read-only", "es de solo lectura"},
};

const char *problem_field_code(size_t i) {
  return i < sizeof FIELD_MESSAGES / sizeof *FIELD_MESSAGES ? FIELD_MESSAGES[i].code : NULL;
}

long problem_status(enum problem kind) {
  return PROBLEMS[kind].status;
}

static const char *pick(const struct req *r, const char *en, const char *es) {
  return r->lang == LANG_ES ? es : en;
}

enum problem req_fail(struct req *r, enum problem kind, const char *en, const char *es, ...) {
  r->problem = kind;
  const char *fmt = pick(r, en, es);
  if (fmt != NULL) {
    va_list ap;
    va_start(ap, es);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
  }
  return kind;
}

/* Replaces every byte of s that is not part of a valid UTF-8 character with '?': texts that
 * quote the request (its path, a cut-short pointer) must still render as JSON, or json_pack
 * fails and the answer goes out as an empty 200 (found by tests/integration/test_hostile.c
 * and tests/fuzz). */
static void utf8_scrub(char *s) {
  for (size_t i = 0; s[i] != '\0';) {
    unsigned char c = (unsigned char)s[i];
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : 4;
    if (strnlen(s + i, n) == n && utf8_valid(s + i, n)) {
      i += n;
    } else {
      s[i] = '?';
      i++;
    }
  }
}

void req_field_error_text(struct req *r, const char *pointer, const char *code, const char *en,
                          const char *es) {
  req_field_error(r, pointer, code, pick(r, en, es));
}

void req_field_error(struct req *r, const char *pointer, const char *code, const char *arg) {
  const char *fmt = code;
  for (size_t i = 0; i < sizeof FIELD_MESSAGES / sizeof *FIELD_MESSAGES; i++)
    if (strcmp(FIELD_MESSAGES[i].code, code) == 0)
      fmt = pick(r, FIELD_MESSAGES[i].en, FIELD_MESSAGES[i].es);
  /* Every catalogue message has at most one %s: the argument goes there. */
  char msg[512];
  const char *hole = strstr(fmt, "%s");
  if (hole != NULL)
    snprintf(msg, sizeof msg, "%.*s%s%s", (int)(hole - fmt), fmt, arg ? arg : "", hole + 2);
  else
    snprintf(msg, sizeof msg, "%s", fmt);
  /* A pointer or message cut short by a fixed buffer may end inside a UTF-8 character;
   * json_pack would refuse it and the error would be lost (found by tests/fuzz). */
  /* An answer lists a bounded number of errors; the rest are counted (errors_omitted). */
  if (r->errors != NULL && json_array_size(r->errors) >= HTTP_MAX_FIELD_ERRORS) {
    r->errors_omitted++;
    return;
  }
  char field[512];
  snprintf(field, sizeof field, "%s", pointer);
  utf8_scrub(field);
  utf8_scrub(msg);
  if (r->errors == NULL)
    r->errors = json_array();
  json_array_append_new(r->errors,
                        json_pack("{s:s,s:s,s:s}", "field", field, "code", code, "message", msg));
}

enum problem problem_from_db(struct req *r, const struct db_conn *c) {
  switch (c->status) {
  case DB_OK:
    return P_NONE;
  case DB_UNAVAILABLE:
  case DB_LOCK_NOT_AVAILABLE:
    return req_fail(r, P_UNAVAILABLE, "The database is unavailable; retry shortly.",
                    "La base de datos no está disponible; reintente en breve.");
  /* Constraint names are internal: they go to the log, never to the client. A resource's
   * refusal table (req_refused) names the field instead. */
  case DB_UNIQUE:
    log_msg(Y_LOG_LEVEL_INFO, r->request_id, "unique violation: %s", c->constraint);
    return req_fail(r, P_CONFLICT, "A record with the same unique value exists.",
                    "Ya existe un registro con el mismo valor único.");
  case DB_FOREIGN_KEY:
    log_msg(Y_LOG_LEVEL_INFO, r->request_id, "foreign key violation: %s", c->constraint);
    return req_fail(r, P_RULE, "A referenced record does not exist, or others refer to this one.",
                    "Un registro referido no existe, u otros hacen referencia a este.");
  case DB_CHECK:
    log_msg(Y_LOG_LEVEL_INFO, r->request_id, "check violation: %s", c->constraint);
    return req_fail(r, P_RULE, "A rule of the data was broken.",
                    "Se infringió una regla de los datos.");
  /* PostgreSQL's own messages name types, columns and functions: they go to the log. */
  case DB_INVALID_INPUT:
    log_msg(Y_LOG_LEVEL_INFO, r->request_id, "invalid input: %s", c->message);
    return req_fail(r, P_BAD_REQUEST, "A value of the request could not be read.",
                    "Un valor de la solicitud no pudo leerse.");
  case DB_SERIALIZATION:
    return req_fail(r, P_CONFLICT, "A concurrent change conflicted; retry.",
                    "Un cambio simultáneo entró en conflicto; reintente.");
  case DB_RAISED:
    /* A rule our own SQL raises is answered by the resource that knows it (its refusal
     * table reads the HINT); one it does not know is not described to the client. */
    log_msg(Y_LOG_LEVEL_INFO, r->request_id, "rule raised: %s (%s)", c->message, c->hint);
    return req_fail(r, P_CONFLICT, "The request conflicts with a rule of the data.",
                    "La solicitud entra en conflicto con una regla de los datos.");
  case DB_ERROR:
  default:
    log_msg(Y_LOG_LEVEL_ERROR, r->request_id, "database error %s: %s", c->sqlstate, c->message);
    return req_fail(r, P_INTERNAL, "An internal error occurred.", "Ocurrió un error interno.");
  }
}

/* The class of a refusal, as a refusal table names it in a row starting with '*'. */
static const char *refusal_class(enum db_status s) {
  static const char *const CLASSES[] = {
      [DB_UNIQUE] = "*unique", [DB_FOREIGN_KEY] = "*foreign_key", [DB_CHECK] = "*check"};
  return (size_t)s < sizeof CLASSES / sizeof *CLASSES && CLASSES[s] != NULL ? CLASSES[s] : "";
}

enum problem req_refused(struct req *r, const struct refusal *table) {
  const struct db_conn *c = r->db;
  if (c == NULL || table == NULL)
    return r->problem;
  /* A rule our SQL raises says which in the first word of its HINT ("tier|…"). */
  char key[64];
  const char *from = c->status == DB_RAISED ? c->hint : c->constraint;
  snprintf(key, sizeof key, "%.*s", (int)strcspn(from, "|"), from);
  const struct refusal *hit = NULL;
  for (const struct refusal *t = table; t->constraint != NULL && hit == NULL; t++)
    if (key[0] != '\0' && strcmp(t->constraint, key) == 0)
      hit = t;
  for (const struct refusal *t = table; t->constraint != NULL && hit == NULL; t++)
    if (strcmp(t->constraint, refusal_class(c->status)) == 0)
      hit = t;
  if (hit == NULL)
    return r->problem;
  /* A 422 names the field; any other answer says why in its detail. The database's own
   * message (English, for logs) is not the 422's detail: its title, in the request's
   * language, is. */
  if (hit->field == NULL || problem_status(hit->kind) != 422)
    return req_fail(r, hit->kind, "%s", "%s", pick(r, hit->en, hit->es));
  req_field_error_text(r, hit->field, hit->code, hit->en, hit->es);
  r->detail[0] = '\0';
  return req_fail(r, hit->kind, NULL, NULL);
}

void problem_render(struct req *r) {
  const struct problem_info *p = &PROBLEMS[r->problem];
  if (r->problem == P_INTERNAL && r->detail[0] == '\0')
    snprintf(r->detail, sizeof r->detail, "%s",
             pick(r, "An internal error occurred.", "Ocurrió un error interno."));
  if (r->detail[0] == '\0')
    snprintf(r->detail, sizeof r->detail, "%s", pick(r, p->title_en, p->title_es));

  char type[128];
  snprintf(type, sizeof type, PROBLEM_BASE "%s", p->slug);
  char *instance = strdup(r->in->url_path ? r->in->url_path : "");
  utf8_scrub(instance);
  utf8_scrub(r->detail);
  json_t *doc = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s}", "type", type, "title",
                          pick(r, p->title_en, p->title_es), "status", (json_int_t)p->status,
                          "detail", r->detail, "instance", instance, "request_id", r->request_id);
  free(instance);
  if (p->oauth_error != NULL)
    json_object_set_new(doc, "error", json_string(p->oauth_error));
  /* errors[] only on 400 and 422 (API.md §10), at most HTTP_MAX_FIELD_ERRORS of them. */
  if (r->errors != NULL && (p->status == 400 || p->status == 422)) {
    size_t n = json_array_size(r->errors);
    json_t *shown = json_array();
    for (size_t i = 0; i < n && i < HTTP_MAX_FIELD_ERRORS; i++)
      json_array_append(shown, json_array_get(r->errors, i));
    json_object_set_new(doc, "errors", shown);
    size_t omitted =
        r->errors_omitted + (n > HTTP_MAX_FIELD_ERRORS ? n - HTTP_MAX_FIELD_ERRORS : 0);
    if (omitted > 0)
      json_object_set_new(doc, "errors_omitted", json_integer((json_int_t)omitted));
  }
  /* Members a resource adds (an import's per-line results); never the standard ones. */
  if (r->problem_members != NULL)
    json_object_update_missing(doc, r->problem_members);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);

  ulfius_set_string_body_response(r->out, (unsigned int)p->status, text);
  u_map_put(r->out->map_header, "Content-Type", "application/problem+json");
  u_map_remove_from_key(r->out->map_header, "ETag");
  r->status = p->status;
  r->has_body = true;
  free(text);

  switch (r->problem) {
  case P_UNAUTHORIZED:
    reply_header(r, "WWW-Authenticate", "Bearer realm=\"acredita\"");
    break;
  case P_INVALID_TOKEN:
    reply_header(r, "WWW-Authenticate", "Bearer realm=\"acredita\", error=\"invalid_token\"");
    break;
  case P_FORBIDDEN:
    reply_header(r, "WWW-Authenticate", "Bearer realm=\"acredita\", error=\"insufficient_scope\"");
    break;
  case P_UNAVAILABLE:
  case P_TOO_MANY_REQUESTS:
    if (u_map_get_case(r->out->map_header, "Retry-After") == NULL) {
      char secs[16];
      snprintf(secs, sizeof secs, "%d", HTTP_RETRY_AFTER);
      reply_header(r, "Retry-After", secs);
    }
    break;
  default:
    break;
  }
}
