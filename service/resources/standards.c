/*
 * standards.c — /v1/standards: the catalog of each program's standards manual (read: any
 * signed-in role; write: admin), and POST /v1/standards/import, the bulk load of a manual
 * version from NDJSON, all or nothing.
 *
 * Numbers are chapter.subchapter.standard and sort part by part as numbers (9.1.2 before
 * 9.1.10): the table keeps them as an int[] (a generated column) and lists and cursors use
 * that key, so the order is the database's, not a string's. A standard in use is archived,
 * not deleted (DELETE): it leaves the catalog and every agency's compliance list, its records
 * stay; only one nothing uses may be erased (standard_dependents()).
 */
#include "resources/resources.h"
#include "resources/sql.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Import limits: a manual has a few hundred standards; these leave ample room. */
#define IMPORT_MAX_BYTES (8 * 1024 * 1024)
#define IMPORT_MAX_LINES 5000
#define IMPORT_MAX_LINE_BYTES (64 * 1024)

static const char *const PROGRAM_VALUES[] = {"law_enforcement", "training_academy",
                                             "communications_center", NULL};
static const char *const TIER_VALUES[] = {"tier1", "advanced", NULL};
static const char *const FREQUENCY_VALUES[] = {"per_occurrence", "monthly",     "quarterly",
                                               "semiannual",     "annual",      "biennial",
                                               "triennial",      "quadrennial", NULL};
/* The time_sensitive filter: any frequency, or true / false for "has one" / "has none". */
static const char *const TIME_SENSITIVE_FILTER[] = {
    "true",   "false",    "per_occurrence", "monthly",     "quarterly", "semiannual",
    "annual", "biennial", "triennial",      "quadrennial", NULL};

static enum problem standard_import(struct req *r);
static struct resource STANDARD;
static struct list_spec STANDARD_LIST;

static const struct qparam STANDARD_QUERY[] = {
    {"program", Q_ENUM, false, PROGRAM_VALUES},
    {"manual_version", Q_STRING},
    {"chapter", Q_INT},
    {"tier", Q_ENUM, false, TIER_VALUES},
    {"time_sensitive", Q_ENUM, false, TIME_SENSITIVE_FILTER},
    {"active", Q_BOOL},
    {"q", Q_STRING},
    {"archived", Q_BOOL},
    {NULL}};

static const struct route ROUTES[] = {
    {"GET", "/v1/standards", ROLES_SIGNED_IN, list_respond, R_LIST, STANDARD_QUERY,
     .list = &STANDARD_LIST},
    {"POST", "/v1/standards", ROLE_ADMIN, resource_create, R_BODY_JSON | R_IDEMPOTENT,
     .resource = &STANDARD},
    {"POST", "/v1/standards/import", ROLE_ADMIN, standard_import,
     R_BODY_RAW | R_LARGE_BODY | R_IDEMPOTENT},
    {"GET", "/v1/standards/:id", ROLES_SIGNED_IN, resource_get, 0, ARCHIVED_QUERY,
     .resource = &STANDARD},
    {"PATCH", "/v1/standards/:id", ROLE_ADMIN, resource_patch, R_BODY_JSON | R_TX,
     .resource = &STANDARD},
    {"DELETE", "/v1/standards/:id", ROLE_ADMIN, resource_delete, R_TX, .resource = &STANDARD},
    KEPT_RECORD_ROUTES("/v1/standards/:id", &STANDARD),
    {NULL}};

const struct route_table STANDARD_ROUTES = {"standards", ROUTES};

/* ------------------------------------------------------------- validation */

static const struct field CHAPTER_FIELDS[] = {
    {"number", F_INT, F_REQUIRED, 0, 9999}, {"title", F_BILINGUAL, F_REQUIRED}, {NULL}};
static const struct field BULLET_FIELDS[] = {
    {"key", F_STRING, F_REQUIRED, 1, 2}, {"summary", F_BILINGUAL, F_REQUIRED}, {NULL}};
static const struct field STANDARD_FIELDS[] = {

    {"program", F_ENUM, F_REQUIRED, 0, 0, PROGRAM_VALUES},
    {"manual_version", F_STRING, F_REQUIRED, 0, 19},
    {"number", F_STRING, F_REQUIRED, 0, 14},
    {"chapter", F_OBJECT, F_REQUIRED, 0, 0, NULL, CHAPTER_FIELDS},
    {"title", F_BILINGUAL, F_REQUIRED},
    {"summary", F_BILINGUAL, F_NULLABLE},
    {"bullets", F_ARRAY_OF, 0, 0, 52, NULL, BULLET_FIELDS},
    {"tiers", F_STRING_ARRAY, 0, 0, 2, TIER_VALUES},
    {"time_sensitive", F_ENUM, F_NULLABLE, 0, 0, FREQUENCY_VALUES},
    {"active", F_BOOL},
    {"archived_at", F_DATETIME, F_READ_ONLY},
    RECORD_FIELDS,
    {NULL}};

/* True when s is min..max dot-separated whole numbers of 1-4 digits without leading zeros;
 * *first receives the first of them. */
static bool dotted_numbers(const char *s, int min, int max, long *first) {
  int parts = 0;
  const char *p = s;
  for (;;) {
    const char *start = p;
    while (isdigit((unsigned char)*p))
      p++;
    size_t len = (size_t)(p - start);
    if (len == 0 || len > 4 || (len > 1 && *start == '0'))
      return false;
    if (parts++ == 0 && first != NULL)
      *first = strtol(start, NULL, 10);
    if (*p == '\0')
      break;
    if (*p++ != '.')
      return false;
  }
  return parts >= min && parts <= max;
}

static void pointer_at(char *out, size_t cap, const char *prefix, const char *rest) {
  snprintf(out, cap, "%s%s", prefix, rest);
}

/* The rules across fields of a whole standard (obj, already shape-checked; fields whose
 * shape failed are skipped): number and version formats, the chapter matching the number,
 * bullet keys, and tiers only for law enforcement. Errors go under prefix. Returns their
 * number. */
static int standard_rules(struct req *r, const json_t *obj, const char *prefix) {
  int errs = 0;
  char ptr[192];
  const char *version = json_string_value(json_object_get(obj, "manual_version"));
  if (version != NULL && !dotted_numbers(version, 1, 4, NULL)) {
    pointer_at(ptr, sizeof ptr, prefix, "/manual_version");
    req_field_error_text(r, ptr, "invalid_format", "whole numbers separated by dots (6.15)",
                         "números enteros separados por puntos (6.15)");
    errs++;
  }
  const char *number = json_string_value(json_object_get(obj, "number"));
  long chapter_of_number = -1;
  if (number != NULL && !dotted_numbers(number, 3, 3, &chapter_of_number)) {
    pointer_at(ptr, sizeof ptr, prefix, "/number");
    req_field_error_text(
        r, ptr, "invalid_format",
        "chapter.subchapter.standard, whole numbers without leading zeros (41.2.2)",
        "capítulo.subcapítulo.estándar, números enteros sin ceros a la izquierda (41.2.2)");
    errs++;
    chapter_of_number = -1;
  }
  const json_t *cn = json_object_get(json_object_get(obj, "chapter"), "number");
  if (chapter_of_number >= 0 && json_is_integer(cn) &&
      json_integer_value(cn) != chapter_of_number) {
    pointer_at(ptr, sizeof ptr, prefix, "/chapter/number");
    req_field_error_text(r, ptr, "invalid", "it must be the first part of number",
                         "debe ser la primera parte de number");
    errs++;
  }
  const json_t *bullets = json_object_get(obj, "bullets");
  size_t i;
  const json_t *b;
  json_array_foreach(bullets, i, b) {
    const char *key = json_string_value(json_object_get(b, "key"));
    if (key == NULL)
      continue;
    char rest[64];
    snprintf(rest, sizeof rest, "/bullets/%zu/key", i);
    pointer_at(ptr, sizeof ptr, prefix, rest);
    bool letters = key[0] != '\0';
    for (const char *k = key; *k; k++)
      letters &= *k >= 'a' && *k <= 'z';
    if (!letters) {
      req_field_error_text(r, ptr, "invalid_format", "lowercase letters (a, b, … aa)",
                           "letras minúsculas (a, b, … aa)");
      errs++;
      continue;
    }
    for (size_t j = 0; j < i; j++) {
      const char *other = json_string_value(json_object_get(json_array_get(bullets, j), "key"));
      if (other != NULL && strcmp(other, key) == 0) {
        req_field_error(r, ptr, "taken", NULL);
        errs++;
        break;
      }
    }
  }
  const char *program = json_string_value(json_object_get(obj, "program"));
  const json_t *tiers = json_object_get(obj, "tiers");
  size_t ntiers = json_is_array(tiers) ? json_array_size(tiers) : 0;
  pointer_at(ptr, sizeof ptr, prefix, "/tiers");
  if (program != NULL && strcmp(program, "law_enforcement") == 0 && ntiers == 0 &&
      (tiers == NULL || json_is_array(tiers))) {
    req_field_error_text(
        r, ptr, tiers == NULL ? "required" : "invalid",
        "law enforcement standards name the tiers they apply to (tier1, advanced)",
        "los estándares policiales indican los niveles a los que se aplican (tier1, advanced)");
    errs++;
  } else if (program != NULL && strcmp(program, "law_enforcement") != 0 && ntiers > 0) {
    req_field_error_text(r, ptr, "invalid", "only law enforcement standards have tiers",
                         "solo los estándares policiales tienen niveles");
    errs++;
  } else if (ntiers == 2 && json_equal(json_array_get(tiers, 0), json_array_get(tiers, 1))) {
    req_field_error_text(r, ptr, "invalid", "each tier once", "cada nivel una sola vez");
    errs++;
  }
  return errs;
}

/* Checks a whole standard object: shapes, then the rules across fields. */
static int standard_check_line(struct req *r, const json_t *obj, const char *prefix) {
  const struct field top = {"", F_OBJECT, 0, 0, 0, NULL, STANDARD_FIELDS};
  int errs = validate_value(r, obj, &top, prefix, BODY_NEW);
  if (json_is_object(obj))
    errs += standard_rules(r, obj, prefix);
  return errs;
}

/* The resource's check: the rules across fields of the standard a write makes. */
static int standard_check(struct req *r, json_t *doc, const char *id) {
  (void)id;
  standard_rules(r, doc, "");
  return A_OK;
}

static const struct refusal STANDARD_REFUSALS[] = {
    {"standards_number_key", P_CONFLICT, NULL, NULL,
     "This manual version already has a standard with this number.",
     "Esta versión del manual ya tiene un estándar con este número."},
    {"standards_summary_check", P_VALIDATION, "/summary/es", "required"},
    {"standards_title_check", P_VALIDATION, "/title/es", "required"},
    {"standards_chapter_title_check", P_VALIDATION, "/chapter/title/es", "required"},
    {NULL}};

/* ------------------------------------------------------------------- SQL */

#define STANDARD_WHERE                                                                             \
  "($4::timestamptz IS NULL OR s.updated_at >= $4::timestamptz)"                                   \
  " AND ($5::text IS NULL OR s.program = $5::text)"                                                \
  " AND ($6::text IS NULL OR s.manual_version = $6::text)"                                         \
  " AND ($7::int IS NULL OR s.chapter_number = $7::int)"                                           \
  " AND ($8::text IS NULL OR $8::text = ANY (s.tiers))"                                            \
  " AND ($9::text IS NULL OR CASE $9::text WHEN 'true' THEN s.time_sensitive IS NOT NULL"          \
  "   WHEN 'false' THEN s.time_sensitive IS NULL ELSE s.time_sensitive = $9::text END)"            \
  " AND ($10::boolean IS NULL OR s.active = $10::boolean)"                                         \
  " AND ($11::text IS NULL OR fold(concat_ws(' ', s.number, s.title->>'es', s.title->>'en',"       \
  "   s.summary->>'es', s.summary->>'en')) LIKE contains_pattern($11::text))"                      \
  " AND (s.archived_at IS NOT NULL) = coalesce($12::boolean, false)"

LIST_SPEC(STANDARD_LIST, "standards", "number", "standard_json(s)", "standards s", STANDARD_WHERE,
          "s.sort_key", "int[]", "s", "13", "14", "15");

/* Import: the positions (1-based) of standards whose number exists already. */
static struct db_stmt STANDARD_IMPORT_TAKEN = {
    "standard_import_taken",
    "SELECT x.n FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY x(b, n)"
    " JOIN standards s ON s.program = x.b->>'program' AND s.manual_version = x.b->>'manual_version'"
    "  AND s.number = x.b->>'number' ORDER BY x.n"};
static struct db_stmt STANDARD_IMPORT = {
    "standard_import", "SELECT standard_json(s), s.id FROM standards_create($1::jsonb) s"};

static struct resource STANDARD = {
    "standard",
    "/v1/standards",
    "No standard has this id.",
    "Ningún estándar tiene este id.",
    .fields = STANDARD_FIELDS,
    .get = {"standard_get", "SELECT standard_json(s) FROM standards s WHERE id = $1::uuid"
                            " AND (s.archived_at IS NOT NULL) = coalesce($8::boolean, false)"},
    .lock = {"standard_lock",
             "SELECT standard_json(s), jsonb_merge_patch(standard_json(s)::jsonb, $2::jsonb)::text,"
             " true, s.archived_at IS NOT NULL FROM standards s WHERE id = $1::uuid FOR UPDATE"},
    .create =
        {"standard_create",
         "SELECT standard_json(s), s.id FROM standards_create(jsonb_build_array($2::jsonb)) s"},
    .update = {"standard_update",
               "SELECT standard_json(s) FROM standard_update($1::uuid, $2::jsonb) s"},
    .remove = {"standard_archive", "UPDATE standards SET archived_at = now() WHERE id = $1::uuid"},
    .restore = {"standard_restore", "UPDATE standards s SET archived_at = NULL"
                                    " WHERE id = $1::uuid RETURNING standard_json(s)"},
    .erase = {"standard_erase", "DELETE FROM standards WHERE id = $1::uuid"},
    .dependents = {"standard_dependents", "SELECT standard_dependents($1::uuid)"},
    .check = standard_check,
    .refusals = STANDARD_REFUSALS,
};

/* --------------------------------------------------------------- import */

/* The lines of an import, parsed: standards[i] came from line lines[i]. */
struct import_batch {
  json_t *standards; /* array */
  int *lines;
  size_t count;
  size_t cap;
};

static void batch_add(struct import_batch *b, json_t *standard, int line) {
  if (b->count == b->cap) {
    b->cap = b->cap ? b->cap * 2 : 64;
    b->lines = realloc(b->lines, b->cap * sizeof *b->lines);
  }
  b->lines[b->count++] = line;
  json_array_append_new(b->standards, standard);
}

/* Parses and checks every line of body; reports each bad line under "/<line number>" and a
 * number repeated within the file at its later line. Returns the number of errors. */
static int import_parse(struct req *r, const char *body, size_t len, struct import_batch *b) {
  int errs = 0, line = 0;
  json_t *seen = json_object(); /* program|version|number -> first line */
  char ptr[64], key[128];
  for (size_t pos = 0; pos < len;) {
    const char *start = body + pos;
    const char *nl = memchr(start, '\n', len - pos);
    size_t n = nl ? (size_t)(nl - start) : len - pos;
    pos += n + (nl ? 1 : 0);
    line++;
    if (n > 0 && start[n - 1] == '\r')
      n--;
    size_t blank = 0;
    while (blank < n && (start[blank] == ' ' || start[blank] == '\t'))
      blank++;
    if (blank == n)
      continue;
    snprintf(ptr, sizeof ptr, "/%d", line);
    if (n > IMPORT_MAX_LINE_BYTES) {
      req_field_error(r, ptr, "too_long", "65536");
      errs++;
      continue;
    }
    json_t *obj = json_loadb(start, n, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(obj)) {
      req_field_error_text(r, ptr, "invalid_type", "a JSON object on one line",
                           "un objeto JSON en una línea");
      json_decref(obj);
      errs++;
      continue;
    }
    int line_errs = standard_check_line(r, obj, ptr);
    const char *program = json_string_value(json_object_get(obj, "program"));
    const char *version = json_string_value(json_object_get(obj, "manual_version"));
    const char *number = json_string_value(json_object_get(obj, "number"));
    if (line_errs == 0 && program && version && number) {
      snprintf(key, sizeof key, "%s|%s|%s", program, version, number);
      if (json_object_get(seen, key) != NULL) {
        snprintf(ptr, sizeof ptr, "/%d/number", line);
        req_field_error(r, ptr, "taken", NULL);
        line_errs++;
      } else {
        json_object_set_new(seen, key, json_integer(line));
      }
    }
    errs += line_errs;
    batch_add(b, obj, line);
  }
  json_decref(seen);
  return errs;
}

static size_t count_lines(const char *body, size_t len) {
  size_t lines = 0;
  for (size_t i = 0; i < len; i++)
    lines += body[i] == '\n';
  return lines + (len > 0 && body[len - 1] != '\n');
}

static enum problem standard_import(struct req *r) {
  const char *body = r->in->binary_body;
  size_t len = r->in->binary_body_length;
  struct import_batch b = {json_array(), NULL, 0, 0};
  PGresult *res = NULL;
  char *text = NULL;
  enum problem rc = P_NONE;
  if (!req_content_type_is(r, "application/x-ndjson")) {
    rc = req_fail(r, P_UNSUPPORTED_MEDIA, "Send the standards as application/x-ndjson.",
                  "Envíe los estándares como application/x-ndjson.");
    goto out;
  }
  if (len > IMPORT_MAX_BYTES || count_lines(body, len) > IMPORT_MAX_LINES) {
    rc = req_fail(r, P_PAYLOAD_TOO_LARGE, "An import holds at most %d lines and %d bytes.",
                  "Una importación admite como máximo %d líneas y %d bytes.", IMPORT_MAX_LINES,
                  IMPORT_MAX_BYTES);
    goto out;
  }
  if (!utf8_valid(body ? body : "", len)) {
    rc =
        req_fail(r, P_BAD_REQUEST, "The body is not valid UTF-8.", "El cuerpo no es UTF-8 válido.");
    goto out;
  }
  if (import_parse(r, body ? body : "", len, &b) > 0) {
    rc = req_fail(r, P_VALIDATION,
                  "Some lines are invalid; nothing was imported. Each error's field is "
                  "/<line number>/<field>.",
                  "Algunas líneas son inválidas; no se importó nada. El campo de cada error es "
                  "/<número de línea>/<campo>.");
    goto out;
  }
  if (b.count == 0) {
    rc = req_fail(r, P_RULE, "The file holds no standards.", "El archivo no contiene estándares.");
    goto out;
  }
  text = json_dumps(b.standards, JSON_COMPACT);
  const char *p[] = {text};
  res = req_exec(r, &STANDARD_IMPORT_TAKEN, 1, p);
  if (res == NULL) {
    rc = r->problem;
    goto out;
  }
  for (int i = 0; i < PQntuples(res); i++) {
    char ptr[64];
    long n = strtol(PQgetvalue(res, i, 0), NULL, 10);
    snprintf(ptr, sizeof ptr, "/%d/number", b.lines[n - 1]);
    req_field_error(r, ptr, "taken", NULL);
  }
  if (PQntuples(res) > 0) {
    rc = req_fail(r, P_VALIDATION,
                  "Some standards exist already; nothing was imported. Each error's field is "
                  "/<line number>/<field>.",
                  "Algunos estándares ya existen; no se importó nada. El campo de cada error es "
                  "/<número de línea>/<campo>.");
    goto out;
  }
  PQclear(res);
  res = req_exec(r, &STANDARD_IMPORT, 1, p);
  if (res == NULL) {
    rc = req_refused(r, STANDARD_REFUSALS);
    goto out;
  }
  for (int i = 0; i < PQntuples(res) && rc == P_NONE; i++)
    rc = req_audit(r, "created", "standard", PQgetvalue(res, i, 1), NULL, PQgetvalue(res, i, 0));
  if (rc == P_NONE) {
    char summary[64];
    snprintf(summary, sizeof summary, "{\"created\":%d}", PQntuples(res));
    reply_json(r, 200, summary);
  }
out:
  PQclear(res);
  free(text);
  json_decref(b.standards);
  free(b.lines);
  return rc;
}
