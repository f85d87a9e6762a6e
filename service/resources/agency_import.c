/*
 * agency_import.c — POST /v1/agencies/import: CAISPMEX's member data in bulk (API.md §8).
 *
 * The body is NDJSON (one agency document per line, shaped like GET /v1/agencies/{id}) or CSV
 * (the columns of the CSV export, header first). Each line upserts one agency: it names the
 * agency by `id`, or else by `membership.external_id`; a line that names no existing agency
 * creates one.
 *
 * A line is first reduced to what it changes: members equal to the agency's current values
 * are dropped, so that an export sent back as it is answers `unchanged` on every line.
 * Read-only members must equal the current value (status and its dates move only through
 * transitions); the derived and bookkeeping ones are ignored, so that yesterday's export
 * still imports. What remains is checked like a PATCH (like a POST for a new agency), and for
 * the coalition role it must be membership only.
 *
 * Lines are handled in chunks of IMPORT_CHUNK, to keep memory flat whatever the upload's
 * size. Per chunk: one statement finds and locks the agencies the lines name, one applies
 * the chunk (agency_import_apply(): the checks that need the data and the writes, each line
 * in its own subtransaction), and each agency created or updated is audited (req_audit: the
 * audit trail and the change feed).
 *
 * mode=atomic (the default): one bad line and nothing is written, 422 with every line's
 * result. mode=partial: the good lines are kept, 200 with every line's result. dry_run=true
 * answers what the same request would and writes nothing. The dispatcher runs the whole
 * request in one transaction with its Idempotency-Key, so a retried upload is safe.
 */
#include "resources/agencies.h"
#include "resources/resources.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Limits (413 beyond): lines that hold data (blank lines and the CSV header do not count);
 * the bytes are the server's HTTP_MAX_IMPORT_BYTES (R_LARGE_BODY). */
#define IMPORT_MAX_LINES 10000
#define IMPORT_MAX_LINE_BYTES (64 * 1024)
/* Lines per round of statements. */
#define IMPORT_CHUNK 500

static const char *const MODES[] = {"atomic", "partial", NULL};

static enum problem agency_import(struct req *r);

static const struct qparam IMPORT_QUERY[] = {
    {"dry_run", Q_BOOL}, {"mode", Q_ENUM, false, MODES}, {NULL}};

static const struct route ROUTES[] = {{"POST", "/v1/agencies/import", ROLE_ADMIN | ROLE_COALITION,
                                       agency_import, R_BODY_RAW | R_LARGE_BODY | R_IDEMPOTENT,
                                       IMPORT_QUERY},
                                      {NULL}};

/* Named like the agencies' table: the route needs the scope agencies:write. */
const struct route_table IMPORT_ROUTES = {"agencies", ROUTES};

enum format { FORMAT_NDJSON, FORMAT_CSV };
enum status { S_CREATED, S_UPDATED, S_UNCHANGED, S_ERROR, S__COUNT };
static const char *const STATUS_NAMES[S__COUNT] = {"created", "updated", "unchanged", "error"};

/* Read-only members that follow from others or from the clock, or are bookkeeping: not
 * compared, so that an export made yesterday still imports today. */
static const char *const DERIVED[] = {"implementation_plan_due",
                                      "self_assessment_due",
                                      "next_annual_review_due",
                                      "continuation_fees_due",
                                      "cycle_year",
                                      "demo",
                                      "created_at",
                                      "updated_at",
                                      "version",
                                      NULL};

/* -------------------------------------------------------------- CSV columns */

enum ckind { C_TEXT, C_BOOL, C_LIST };

/* A CSV column: the member (and sub-member) of the agency document it fills. */
struct csv_column {
  char *name;
  char *member;
  char *sub; /* NULL: a top-level member */
  enum ckind kind;
};

/* The export's columns and the members they hold: agency_csv_columns() in SQL, the one
 * definition the export writes and the import reads. */
static struct db_stmt EXPORT_COLUMNS = {"agency_import_columns",
                                        "SELECT name, member, sub, kind FROM agency_csv_columns()"};

/* Objects that are null as a whole when every one of their columns is empty. */
static const char *const NULLABLE_GROUPS[] = {"ceo", "accreditation_manager", NULL};

/* ----------------------------------------------------------------- state */

/* A line of the body: where its text is and its number (from 1; for CSV the header is 1). */
struct record {
  const char *text;
  size_t len;
  int line;
};

struct line {
  int no;
  json_t *doc;     /* the document; after the checks, what the line changes; owned */
  json_t *errors;  /* field errors (array) or NULL; owned */
  json_t *current; /* the named agency as it is (agency_json), or NULL; owned */
  char id[37];     /* the named agency's id, or the created one's; "" for none */
  bool id_given;   /* the line gave an id (not only an external_id) */
  bool check_only; /* has errors already: look for those that need the data, write nothing */
  enum status status;
};

/* A line's result: kept compact, since an upload has up to IMPORT_MAX_LINES of them. */
struct result {
  int line;
  enum status status;
  char id[37];    /* "" for none */
  json_t *errors; /* NULL for none; owned */
};

struct import {
  enum format format;
  bool dry_run;
  bool partial;
  struct record *records;     /* the lines that hold something, in order; owned */
  size_t skip;                /* records before the first line to import (the CSV header) */
  size_t nrecords;            /* lines to import: records after skip */
  struct csv_column *columns; /* CSV: each header cell's column; strings owned */
  size_t ncolumns;
  json_t *seen;           /* agencies named so far: keys are ids or "external_id:…" */
  struct result *results; /* every line's result, in order: nrecords of them at most */
  size_t nresults;
  int counts[S__COUNT];
};

/* ------------------------------------------------------------------- SQL */

/* The agencies the lines of a chunk name, locked until the request ends, in id order (so that
 * concurrent imports take them in the same order). $1: [{"n", "id", "external_id"}]; a line
 * names its agency by id, or else by membership.external_id. Rows: (n, id, agency_json). */
static struct db_stmt IMPORT_MATCH = {
    "agency_import_match",
    "WITH k AS (SELECT (e->>'n')::int AS n, (e->>'id')::uuid AS id, e->>'external_id' AS ext"
    "  FROM jsonb_array_elements($1::jsonb) e),"
    " m AS MATERIALIZED (SELECT a.id, a.membership_external_id AS ext, agency_json(a) AS json"
    "  FROM agencies a WHERE a.id = ANY (ARRAY(SELECT id FROM k WHERE id IS NOT NULL))"
    "  OR a.membership_external_id = ANY (ARRAY(SELECT ext FROM k WHERE id IS NULL))"
    "  ORDER BY a.id FOR UPDATE)"
    " SELECT k.n, m.id, m.json FROM k JOIN m ON m.id = k.id OR (k.id IS NULL AND m.ext = k.ext)"
    " ORDER BY k.n"};
/* The chunk's checks that need the data, and its writes: agency_import_apply() in
 * db/functions/09_import.sql; $5 guarded runs each line in a subtransaction. */
static struct db_stmt IMPORT_APPLY = {
    "agency_import_apply",
    "SELECT line_no, line_status, agency, line_errors, before_json, after_json"
    " FROM agency_import_apply($1::jsonb, $2, $3, $4, $5::boolean)"};

/* ------------------------------------------------------------ line errors */

/* The errors of one line are gathered apart from the request's: req_field_error() and
 * validate_body() write to r->errors, so a line's checks run between these two calls. */
static json_t *errors_begin(struct req *r, struct line *l) {
  json_t *saved = r->errors;
  r->errors = l->errors;
  return saved;
}
static void errors_end(struct req *r, struct line *l, json_t *saved) {
  l->errors = r->errors;
  r->errors = saved;
}

/* A line's field error; its argument in both languages (es NULL: en is a value, the same
 * in both). */
static void line_error(struct req *r, struct line *l, const char *pointer, const char *code,
                       const char *en, const char *es) {
  json_t *saved = errors_begin(r, l);
  req_field_error_text(r, pointer, code, en, es != NULL ? es : en);
  errors_end(r, l, saved);
}

static bool listed(const char *const *names, const char *name) {
  for (size_t i = 0; names[i] != NULL; i++)
    if (strcmp(names[i], name) == 0)
      return true;
  return false;
}

/* -------------------------------------------------------------- splitting */

/* True when a line holds nothing: blanks only or, in CSV, only empty cells. */
static bool blank(const char *s, size_t len, enum format f) {
  for (size_t i = 0; i < len; i++)
    if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || (f == FORMAT_CSV && s[i] == ',')))
      return false;
  return true;
}

/* Splits body into lines: at each LF (a CRLF's CR goes too), except, in CSV, inside a quoted
 * cell. Keeps the lines that hold something (*n of them), numbered as counted from the first.
 * Returns the records (malloc'd), or NULL when more than max hold something (or memory ran
 * out). */
static struct record *split_records(const char *body, size_t len, enum format f, size_t max,
                                    size_t *n) {
  size_t cap = 64;
  struct record *out = malloc(cap * sizeof *out);
  *n = 0;
  int line = 0;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && f == FORMAT_CSV && body[i] == '"')
      quoted = !quoted; /* a doubled quote toggles twice */
    if (i < len && (body[i] != '\n' || quoted))
      continue;
    size_t end = i;
    if (end > start && body[end - 1] == '\r')
      end--;
    line++;
    if (!(i == len && start == len) && !blank(body + start, end - start, f)) {
      if (*n == max) {
        free(out);
        return NULL;
      }
      if (*n == cap) {
        cap *= 2;
        struct record *grown = realloc(out, cap * sizeof *out);
        if (grown == NULL) {
          free(out);
          return NULL;
        }
        out = grown;
      }
      out[(*n)++] = (struct record){body + start, end - start, line};
    }
    start = i + 1;
  }
  return out;
}

/* Splits one CSV record into cells (RFC 4180: a quoted cell may hold commas, line breaks and
 * doubled quotes). Returns the cells as a JSON array of strings, or NULL when a quote is not
 * closed or text follows a closing quote. */
static json_t *csv_cells(const char *s, size_t len) {
  json_t *cells = json_array();
  char *cell = malloc(len + 1);
  size_t i = 0;
  for (;;) {
    size_t n = 0;
    if (i < len && s[i] == '"') {
      bool closed = false;
      for (i++; i < len; i++) {
        if (s[i] == '"' && i + 1 < len && s[i + 1] == '"') {
          cell[n++] = '"';
          i++;
        } else if (s[i] == '"') {
          closed = true;
          i++;
          break;
        } else {
          cell[n++] = s[i];
        }
      }
      if (!closed || (i < len && s[i] != ',')) {
        free(cell);
        json_decref(cells);
        return NULL;
      }
    } else {
      while (i < len && s[i] != ',')
        cell[n++] = s[i++];
    }
    json_array_append_new(cells, json_stringn(cell, n));
    if (i >= len)
      break;
    i++; /* the comma */
  }
  free(cell);
  return cells;
}

/* ---------------------------------------------------------------- parsing */

/* The export's column called name (any case), from known (EXPORT_COLUMNS' rows), into out
 * (its strings malloc'd); false when the export has none. */
static bool export_column(const PGresult *known, const char *name, struct csv_column *out) {
  for (int i = 0; i < PQntuples(known); i++) {
    if (strcasecmp(PQgetvalue(known, i, 0), name) != 0)
      continue;
    const char *kind = PQgetvalue(known, i, 3);
    *out = (struct csv_column){strdup(PQgetvalue(known, i, 0)), strdup(PQgetvalue(known, i, 1)),
                               PQgetisnull(known, i, 2) ? NULL : strdup(PQgetvalue(known, i, 2)),
                               strcmp(kind, "bool") == 0   ? C_BOOL
                               : strcmp(kind, "list") == 0 ? C_LIST
                                                           : C_TEXT};
    return true;
  }
  return false;
}

/* Reads the CSV header (the first line) into imp->columns. Unknown and repeated columns are
 * request errors (field "/1/<column>"). Returns the number of errors, or -1 when the header
 * itself cannot be read (or the export's columns cannot: the problem is set). */
static int csv_header(struct req *r, struct import *imp, const struct record *rec) {
  PGresult *known = req_exec(r, &EXPORT_COLUMNS, 0, NULL);
  if (known == NULL)
    return -1;
  json_t *cells = csv_cells(rec->text, rec->len);
  if (cells == NULL) {
    PQclear(known);
    return -1;
  }
  int errs = 0;
  imp->ncolumns = json_array_size(cells);
  imp->columns = calloc(imp->ncolumns, sizeof *imp->columns);
  char ptr[160];
  for (size_t i = 0; i < imp->ncolumns; i++) {
    char name[128];
    const char *cell = json_string_value(json_array_get(cells, i));
    /* Spreadsheets may pad or upper-case a header; a name is compared trimmed, any case. */
    while (*cell == ' ')
      cell++;
    snprintf(name, sizeof name, "%s", cell);
    for (size_t k = strlen(name); k > 0 && name[k - 1] == ' '; k--)
      name[k - 1] = '\0';
    snprintf(ptr, sizeof ptr, "/%d/%s", rec->line, name);
    if (name[0] == '\0' || !export_column(known, name, &imp->columns[i])) {
      req_field_error(r, ptr, "unknown_field", NULL);
      errs++;
      continue;
    }
    for (size_t k = 0; k < i; k++)
      if (imp->columns[k].name != NULL && strcmp(imp->columns[k].name, imp->columns[i].name) == 0) {
        req_field_error(r, ptr, "repeated", NULL);
        errs++;
      }
  }
  json_decref(cells);
  PQclear(known);
  return errs;
}

/* The JSON value of one CSV cell, or NULL (with a line error) when it cannot be one. An empty
 * cell is null ([] for a list). The export puts an apostrophe before a text that a spreadsheet
 * would run as a formula (=, +, -, @, tab, CR): it is taken off again. */
static json_t *cell_value(struct req *r, struct line *l, const struct csv_column *c,
                          const char *v) {
  if (v[0] == '\'' && v[1] != '\0' && strchr("=+-@\t\r", v[1]) != NULL)
    v++;
  char ptr[128];
  snprintf(ptr, sizeof ptr, "/%s%s%s", c->member, c->sub ? "/" : "", c->sub ? c->sub : "");
  switch (c->kind) {
  case C_BOOL:
    if (v[0] == '\0')
      return json_null();
    if (strcasecmp(v, "true") == 0 || strcasecmp(v, "false") == 0)
      return json_boolean(strcasecmp(v, "true") == 0);
    line_error(r, l, ptr, "invalid_type", VALIDATE_PHRASES[PH_BOOL].en,
               VALIDATE_PHRASES[PH_BOOL].es);
    return NULL;
  case C_LIST: {
    /* The export separates the ids with spaces. */
    json_t *list = json_array();
    for (const char *p = v; *p;) {
      size_t skip = strspn(p, " ,;\t");
      p += skip;
      size_t n = strcspn(p, " ,;\t");
      if (n > 0)
        json_array_append_new(list, json_stringn(p, n));
      p += n;
    }
    return list;
  }
  case C_TEXT:
  default:
    return v[0] == '\0' ? json_null() : json_string(v);
  }
}

/* A CSV line as an agency document (NULL with a line error when it cannot be read). */
static json_t *csv_doc(struct req *r, const struct import *imp, struct line *l,
                       const struct record *rec) {
  json_t *cells = csv_cells(rec->text, rec->len);
  if (cells == NULL) {
    line_error(r, l, "", "invalid", "a quoted cell is not closed, or text follows its quote",
               "una celda entre comillas no se cierra, o sigue texto tras su comilla");
    return NULL;
  }
  if (json_array_size(cells) != imp->ncolumns) {
    char en[96], es[96];
    snprintf(en, sizeof en, "the line has %zu cells, the header %zu", json_array_size(cells),
             imp->ncolumns);
    snprintf(es, sizeof es, "la línea tiene %zu celdas, el encabezado %zu", json_array_size(cells),
             imp->ncolumns);
    line_error(r, l, "", "invalid", en, es);
    json_decref(cells);
    return NULL;
  }
  json_t *doc = json_object();
  for (size_t i = 0; i < imp->ncolumns; i++) {
    const struct csv_column *c = &imp->columns[i];
    json_t *v = cell_value(r, l, c, json_string_value(json_array_get(cells, i)));
    if (v == NULL)
      continue;
    if (c->sub == NULL) {
      json_object_set_new(doc, c->member, v);
      continue;
    }
    json_t *group = json_object_get(doc, c->member);
    if (group == NULL) {
      group = json_object();
      json_object_set_new(doc, c->member, group);
    }
    json_object_set_new(group, c->sub, v);
  }
  /* A CEO or manager whose cells are all empty is no CEO or manager. */
  for (size_t g = 0; NULLABLE_GROUPS[g] != NULL; g++) {
    json_t *group = json_object_get(doc, NULLABLE_GROUPS[g]);
    const char *key;
    json_t *v;
    bool empty = group != NULL;
    json_object_foreach(group, key, v) empty &= json_is_null(v);
    if (empty)
      json_object_set_new(doc, NULLABLE_GROUPS[g], json_null());
  }
  json_decref(cells);
  return doc;
}

/* An NDJSON line as an agency document (NULL with a line error when it is not one). */
static json_t *ndjson_doc(struct req *r, struct line *l, const struct record *rec) {
  if (rec->len > IMPORT_MAX_LINE_BYTES) {
    line_error(r, l, "", "invalid", "longer than 65536 bytes", "más de 65536 bytes");
    return NULL;
  }
  json_t *doc = json_loadb(rec->text, rec->len, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(doc)) {
    json_decref(doc);
    line_error(r, l, "", "invalid_type", "a JSON object on one line",
               "un objeto JSON en una línea");
    return NULL;
  }
  return doc;
}

/* ----------------------------------------------------------------- checks */

/* Equal, taking a null member and an absent one as the same (at any depth). */
static bool same_value(const json_t *a, const json_t *b) {
  if (a == NULL || json_is_null(a))
    return b == NULL || json_is_null(b);
  if (b == NULL || json_is_null(b))
    return false;
  if (!json_is_object(a) || !json_is_object(b))
    return json_equal(a, b);
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)a, key, v) {
    if (!same_value(v, json_object_get(b, key)))
      return false;
  }
  json_object_foreach((json_t *)b, key, v) {
    if (!same_value(json_object_get(a, key), v))
      return false;
  }
  return true;
}

/* Removes from doc what equals current, member by member inside objects (a merge patch
 * changes nothing else). */
static void drop_unchanged(json_t *doc, const json_t *current) {
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(doc, tmp, key, v) {
    const json_t *c = json_object_get(current, key);
    if (json_is_object(v) && json_is_object(c)) {
      drop_unchanged(v, c);
      if (json_object_size(v) == 0)
        json_object_del(doc, key);
    } else if (same_value(v, c)) {
      json_object_del(doc, key);
    }
  }
}

/* Removes null members at any depth: in a new agency, null is the default. */
static void strip_nulls(json_t *doc) {
  const char *key;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(doc, tmp, key, v) {
    if (json_is_null(v))
      json_object_del(doc, key);
    else if (json_is_object(v))
      strip_nulls(v);
  }
}

/* The read-only members: compared with the agency's current value (for a new agency, with
 * nothing), reported when they differ, then removed; the derived ones are just removed. */
static void check_read_only(struct req *r, json_t *doc, const json_t *current) {
  const char *key;
  json_t *v;
  void *tmp;
  char ptr[160];
  json_object_foreach_safe(doc, tmp, key, v) {
    if (listed(DERIVED, key)) {
      json_object_del(doc, key);
    } else if (agency_read_only(key)) {
      if (!same_value(v, json_object_get(current, key))) {
        snprintf(ptr, sizeof ptr, "/%s", key);
        req_field_error(r, ptr, "read_only", NULL);
      }
      json_object_del(doc, key);
    }
  }
}

/* What the coalition role may not change: anything but the membership. Reported at each
 * leaf and removed, so that the rest is still checked. */
static void check_role(struct req *r, json_t *doc) {
  const char *key;
  json_t *v;
  void *tmp;
  char ptr[320];
  json_object_foreach_safe(doc, tmp, key, v) {
    if (agency_role_may_write(r->caller.role, key))
      continue;
    if (json_is_object(v) && json_object_size(v) > 0) {
      const char *sub;
      json_t *sv;
      json_object_foreach(v, sub, sv) {
        snprintf(ptr, sizeof ptr, "/%.100s/%.100s", key, sub);
        req_field_error(r, ptr, "not_allowed", NULL);
      }
    } else {
      snprintf(ptr, sizeof ptr, "/%.100s", key);
      req_field_error(r, ptr, "not_allowed", NULL);
    }
    json_object_del(doc, key);
  }
}

/* The checks of one line that need no more than the agency it names (l->current): reduces
 * l->doc to what the line changes and sets the line's status as far as it is known here
 * (error, unchanged, or created / updated pending the database's word). */
static void check_line(struct req *r, struct line *l) {
  json_t *saved = errors_begin(r, l);
  bool exists = l->current != NULL;
  l->status = exists ? S_UPDATED : S_CREATED;
  check_read_only(r, l->doc, l->current);
  if (exists)
    drop_unchanged(l->doc, l->current);
  else
    strip_nulls(l->doc);
  if (!exists && r->caller.role == ROLE_COALITION) {
    /* The coalition keeps the membership of agencies that exist; it does not create them. */
    const json_t *ext = json_object_get(json_object_get(l->doc, "membership"), "external_id");
    req_field_error(r, "/membership/external_id", json_is_string(ext) ? "not_found" : "required",
                    NULL);
    json_object_clear(l->doc);
  } else {
    check_role(r, l->doc);
    if (!exists || json_object_size(l->doc) > 0)
      agency_shape_errors(r, l->doc, exists);
  }
  errors_end(r, l, saved);

  if (l->errors != NULL) {
    l->status = S_ERROR;
    json_drop_erroneous(l->doc, l->errors);
    l->check_only = json_object_size(l->doc) > 0;
  } else if (exists && json_object_size(l->doc) == 0) {
    l->status = S_UNCHANGED;
  }
}

/* The agency a line names: its id, or else its membership.external_id. Adds the line's entry
 * to keys (for IMPORT_MATCH) when it names one. */
static void name_agency(struct req *r, struct line *l, size_t n, json_t *keys) {
  const json_t *id = json_object_get(l->doc, "id");
  const json_t *ext = json_object_get(json_object_get(l->doc, "membership"), "external_id");
  json_t *key = json_pack("{s:I}", "n", (json_int_t)n);
  if (id != NULL && !json_is_null(id)) {
    if (!json_is_string(id) || !uuid_valid(json_string_value(id))) {
      line_error(r, l, "/id", "invalid_format", VALIDATE_PHRASES[PH_UUID].en,
                 VALIDATE_PHRASES[PH_UUID].es);
      json_decref(key);
      return;
    }
    l->id_given = true;
    json_object_set(key, "id", (json_t *)id);
  } else if (json_is_string(ext)) {
    json_object_set(key, "external_id", (json_t *)ext);
  } else {
    json_decref(key);
    return;
  }
  json_array_append_new(keys, key);
}

/* After matching: a given id must name an agency, and no two lines the same one (by its id,
 * or by its external_id, which a line earlier in the upload may have just created). Returns
 * false when the line cannot be checked further (its id is wrong). */
static bool check_naming(struct req *r, struct import *imp, struct line *l) {
  const json_t *id = json_object_get(l->doc, "id");
  const json_t *ext = json_object_get(json_object_get(l->doc, "membership"), "external_id");
  if (id != NULL && !json_is_null(id) && !l->id_given)
    return false; /* not a UUID: reported by name_agency() */
  if (l->id_given && l->current == NULL) {
    line_error(r, l, "/id", "not_found", NULL, NULL);
    return false;
  }
  if (l->current != NULL)
    ext = json_object_get(json_object_get(l->current, "membership"), "external_id");
  char keys[2][160];
  int n = 0;
  if (l->current != NULL)
    snprintf(keys[n++], sizeof keys[0], "id:%s", l->id);
  if (json_is_string(ext))
    snprintf(keys[n++], sizeof keys[0], "external_id:%.120s", json_string_value(ext));
  bool repeated = false;
  for (int i = 0; i < n; i++)
    repeated |= json_object_get(imp->seen, keys[i]) != NULL;
  if (repeated)
    line_error(r, l, l->id_given ? "/id" : "/membership/external_id", "repeated", NULL, NULL);
  for (int i = 0; i < n; i++)
    json_object_set_new(imp->seen, keys[i], json_null());
  return true;
}

/* ------------------------------------------------------------------ chunks */

/* Finds and locks the agencies the chunk's lines name; fills l->id and l->current. */
static enum problem match_chunk(struct req *r, struct line *lines, json_t *keys) {
  if (json_array_size(keys) == 0)
    return P_NONE;
  char *text = json_dumps(keys, JSON_COMPACT);
  const char *p[] = {text};
  PGresult *res = req_exec(r, &IMPORT_MATCH, 1, p);
  free(text);
  if (res == NULL)
    return r->problem;
  for (int i = 0; i < PQntuples(res); i++) {
    struct line *l = &lines[strtol(PQgetvalue(res, i, 0), NULL, 10)];
    snprintf(l->id, sizeof l->id, "%s", PQgetvalue(res, i, 1));
    l->current = json_loads(PQgetvalue(res, i, 2), 0, NULL);
  }
  PQclear(res);
  return P_NONE;
}

/* Runs IMPORT_APPLY on the lines (JSON text): unguarded first, inside a savepoint; when the
 * database refuses a line, again from the savepoint, guarded, so that the refusal becomes that
 * line's error (see 0007_import.sql). Returns the result, or NULL with the problem set. */
static PGresult *apply_lines(struct req *r, const char *lines) {
  const char *p[] = {lines, r->caller.sub[0] ? r->caller.sub : "anonymous",
                     role_name(r->caller.role), r->request_id, "false"};
  if (db_command(r->db, "SAVEPOINT agency_import_chunk") != A_OK) {
    problem_from_db(r, r->db);
    return NULL;
  }
  PGresult *res = db_exec(r->db, &IMPORT_APPLY, 5, p);
  enum db_status st = r->db->status;
  bool refused = res == NULL && (st == DB_UNIQUE || st == DB_CHECK || st == DB_FOREIGN_KEY ||
                                 st == DB_INVALID_INPUT);
  if (res == NULL && !refused) {
    problem_from_db(r, r->db);
    return NULL;
  }
  if (refused) {
    if (db_command(r->db, "ROLLBACK TO SAVEPOINT agency_import_chunk") != A_OK) {
      problem_from_db(r, r->db);
      return NULL;
    }
    p[4] = "true";
    res = req_exec(r, &IMPORT_APPLY, 5, p);
    if (res == NULL)
      return NULL;
  }
  if (db_command(r->db, "RELEASE SAVEPOINT agency_import_chunk") != A_OK) {
    problem_from_db(r, r->db);
    PQclear(res);
    return NULL;
  }
  return res;
}

/* Applies the chunk's lines that write (or need the data's checks), and audits each agency
 * created or updated (not in a dry run). */
static enum problem apply_chunk(struct req *r, const struct import *imp, struct line *lines,
                                size_t n) {
  json_t *batch = json_array();
  for (size_t i = 0; i < n; i++) {
    struct line *l = &lines[i];
    bool writes =
        l->doc != NULL && (l->status == S_ERROR ? l->check_only : l->status != S_UNCHANGED);
    if (!writes)
      continue;
    json_array_append_new(batch, json_pack("{s:I,s:s?,s:O,s:b}", "n", (json_int_t)i, "id",
                                           l->current ? l->id : NULL, "doc", l->doc, "check",
                                           l->check_only));
  }
  if (json_array_size(batch) == 0) {
    json_decref(batch);
    return P_NONE;
  }
  char *text = json_dumps(batch, JSON_COMPACT);
  json_decref(batch);
  PGresult *res = apply_lines(r, text);
  free(text);
  if (res == NULL)
    return r->problem;
  enum problem rc = P_NONE;
  for (int i = 0; i < PQntuples(res) && rc == P_NONE; i++) {
    struct line *l = &lines[strtol(PQgetvalue(res, i, 0), NULL, 10)];
    const char *status = PQgetvalue(res, i, 1);
    for (int s = 0; s < S__COUNT; s++)
      if (strcmp(STATUS_NAMES[s], status) == 0)
        l->status = (enum status)s;
    if (!PQgetisnull(res, i, 2))
      snprintf(l->id, sizeof l->id, "%s", PQgetvalue(res, i, 2));
    json_t *errors = json_loads(PQgetvalue(res, i, 3), 0, NULL);
    size_t k;
    const json_t *e;
    json_array_foreach(errors, k, e) {
      line_error(r, l, json_string_value(json_object_get(e, "field")),
                 json_string_value(json_object_get(e, "code")),
                 json_string_value(json_object_get(e, "arg")),
                 json_string_value(json_object_get(e, "arg_es")));
    }
    json_decref(errors);
    if (!imp->dry_run && (l->status == S_CREATED || l->status == S_UPDATED))
      rc = req_audit(r, l->status == S_CREATED ? "created" : "updated", "agency", l->id,
                     PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
  }
  PQclear(res);
  return rc;
}

/* Imports records [from, to): parses, names, matches, checks, applies, and appends every
 * line's result. */
static enum problem import_chunk(struct req *r, struct import *imp, size_t from, size_t to) {
  size_t n = to - from;
  struct line *lines = calloc(n, sizeof *lines);
  json_t *keys = json_array();
  for (size_t i = 0; i < n; i++) {
    struct line *l = &lines[i];
    const struct record *rec = &imp->records[imp->skip + from + i];
    l->no = rec->line;
    l->status = S_ERROR;
    l->doc = imp->format == FORMAT_CSV ? csv_doc(r, imp, l, rec) : ndjson_doc(r, l, rec);
    if (l->doc != NULL)
      name_agency(r, l, i, keys);
  }
  enum problem rc = match_chunk(r, lines, keys);
  for (size_t i = 0; i < n && rc == P_NONE; i++) {
    struct line *l = &lines[i];
    if (l->doc == NULL)
      continue;
    bool checkable = check_naming(r, imp, l);
    json_object_del(l->doc, "id");
    if (checkable)
      check_line(r, l);
  }
  if (rc == P_NONE)
    rc = apply_chunk(r, imp, lines, n);
  for (size_t i = 0; i < n; i++) {
    struct line *l = &lines[i];
    if (rc == P_NONE) {
      imp->counts[l->status]++;
      struct result *res = &imp->results[imp->nresults++];
      res->line = l->no;
      res->status = l->status;
      snprintf(res->id, sizeof res->id, "%s", l->id);
      res->errors = l->errors;
      l->errors = NULL;
    }
    json_decref(l->doc);
    json_decref(l->errors);
    json_decref(l->current);
  }
  json_decref(keys);
  free(lines);
  return rc;
}

/* ------------------------------------------------------------------ handler */

/* Reads the body's format, checks its encoding and size, and splits it into imp->records
 * (reading the CSV header). */
static enum problem import_read(struct req *r, struct import *imp) {
  if (req_content_type_is(r, "application/x-ndjson"))
    imp->format = FORMAT_NDJSON;
  else if (req_content_type_is(r, "text/csv"))
    imp->format = FORMAT_CSV;
  else
    return req_fail(r, P_UNSUPPORTED_MEDIA, "Send the lines as application/x-ndjson or text/csv.",
                    "Envíe las líneas como application/x-ndjson o text/csv.");
  const char *body = r->in->binary_body;
  size_t len = r->in->binary_body_length;
  if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
    body += 3;
    len -= 3;
  }
  if (body == NULL || len == 0)
    return req_fail(r, P_BAD_REQUEST, "A request body is required.",
                    "Se requiere un cuerpo en la solicitud.");
  if (!utf8_valid(body, len))
    return req_fail(r, P_BAD_REQUEST,
                    "The body is not valid UTF-8 (in a spreadsheet, save as \"CSV UTF-8\").",
                    "El cuerpo no es UTF-8 válido (en una hoja de cálculo, guarde como \"CSV "
                    "UTF-8\").");
  size_t max = IMPORT_MAX_LINES + (imp->format == FORMAT_CSV);
  imp->records = split_records(body, len, imp->format, max, &imp->nrecords);
  if (imp->records == NULL)
    return req_fail(r, P_PAYLOAD_TOO_LARGE,
                    "An import holds at most %d lines (and %d bytes); split the file.",
                    "Una importación admite como máximo %d líneas (y %d bytes); divida el archivo.",
                    IMPORT_MAX_LINES, HTTP_MAX_IMPORT_BYTES);
  if (imp->format != FORMAT_CSV)
    return P_NONE;
  if (imp->nrecords == 0 || imp->records[0].line != 1)
    return req_fail(r, P_BAD_REQUEST, "The first line must be the header.",
                    "La primera línea debe ser el encabezado.");
  int errs = csv_header(r, imp, &imp->records[0]);
  if (errs < 0 && r->problem != P_NONE)
    return r->problem;
  if (errs < 0)
    return req_fail(r, P_BAD_REQUEST, "The header line is not valid CSV.",
                    "La línea de encabezado no es CSV válido.");
  if (errs > 0)
    return req_fail(r, P_VALIDATION,
                    "The header names columns the import does not know; see the columns of the "
                    "CSV export.",
                    "El encabezado nombra columnas que la importación no conoce; vea las columnas "
                    "de la exportación CSV.");
  /* The header is not a line to import. */
  imp->skip = 1;
  imp->nrecords--;
  return P_NONE;
}

/* Writes one line's result as JSON to f. */
static void result_write(FILE *f, const struct result *res) {
  fprintf(f, "{\"line\":%d,\"status\":\"%s\",\"id\":", res->line, STATUS_NAMES[res->status]);
  fprintf(f, res->id[0] ? "\"%s\"" : "null", res->id);
  fputs(",\"errors\":", f);
  if (res->errors != NULL)
    json_dumpf(res->errors, f, JSON_COMPACT);
  else
    fputs("[]", f);
  fputc('}', f);
}

/* The counts as a JSON object text (static buffer). */
static const char *counts_text(const struct import *imp) {
  static _Thread_local char text[128];
  snprintf(text, sizeof text, "{\"created\":%d,\"updated\":%d,\"unchanged\":%d,\"error\":%d}",
           imp->counts[S_CREATED], imp->counts[S_UPDATED], imp->counts[S_UNCHANGED],
           imp->counts[S_ERROR]);
  return text;
}

/* The 200 answer: the mode, the counts and every line's result. Written as text rather than
 * built as a JSON tree, which for 10,000 lines would take several times the memory. */
static enum problem reply_summary(struct req *r, const struct import *imp) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (f == NULL)
    return req_fail(r, P_INTERNAL, NULL, NULL);
  fprintf(f, "{\"mode\":\"%s\",\"dry_run\":%s,\"counts\":%s,\"lines\":[",
          imp->partial ? "partial" : "atomic", imp->dry_run ? "true" : "false", counts_text(imp));
  for (size_t i = 0; i < imp->nresults; i++) {
    if (i > 0)
      fputc(',', f);
    result_write(f, &imp->results[i]);
  }
  fputs("]}", f);
  fclose(f);
  enum problem rc = reply_json(r, 200, text);
  free(text);
  return rc;
}

/* Nothing was kept (a dry run, or an atomic import with bad lines): no created id exists. */
static void forget_created_ids(struct import *imp) {
  for (size_t i = 0; i < imp->nresults; i++)
    if (imp->results[i].status == S_CREATED)
      imp->results[i].id[0] = '\0';
}

/* An atomic import with bad lines: 422, every error as /<line><pointer> (as in the standards
 * import), and the lines' results as in a 200. */
static enum problem import_failed(struct req *r, struct import *imp) {
  json_t *lines = json_array();
  char ptr[600];
  r->errors = json_array();
  r->errors_omitted = 0; /* lines' own, beyond a line's first HTTP_MAX_FIELD_ERRORS */
  for (size_t i = 0; i < imp->nresults; i++) {
    const struct result *res = &imp->results[i];
    size_t k;
    json_t *e;
    json_array_foreach(res->errors, k, e) {
      snprintf(ptr, sizeof ptr, "/%d%s", res->line, json_string_value(json_object_get(e, "field")));
      json_array_append_new(r->errors, json_pack("{s:s,s:O,s:O}", "field", ptr, "code",
                                                 json_object_get(e, "code"), "message",
                                                 json_object_get(e, "message")));
    }
    json_t *errors = res->errors ? json_incref(res->errors) : json_array();
    json_array_append_new(lines, json_pack("{s:i,s:s,s:s?,s:o}", "line", res->line, "status",
                                           STATUS_NAMES[res->status], "id",
                                           res->id[0] ? res->id : NULL, "errors", errors));
  }
  r->problem_members = json_pack("{s:b,s:o,s:o}", "dry_run", imp->dry_run, "counts",
                                 json_loads(counts_text(imp), 0, NULL), "lines", lines);
  return req_fail(r, P_VALIDATION,
                  "%d of %zu lines have errors; nothing was imported. Each error's field is "
                  "/<line number><field>; lines gives every line's result.",
                  "%d de %zu líneas tienen errores; no se importó nada. El campo de cada error es "
                  "/<número de línea><campo>; lines da el resultado de cada línea.",
                  imp->counts[S_ERROR], imp->nresults);
}

static enum problem agency_import(struct req *r) {
  struct import imp = {0};
  enum problem rc = P_NONE;
  const char *dry = req_query_value(r, "dry_run");
  const char *mode = req_query_value(r, "mode");
  imp.dry_run = dry != NULL && strcmp(dry, "true") == 0;
  imp.partial = mode != NULL && strcmp(mode, "partial") == 0;
  imp.seen = json_object();

  rc = import_read(r, &imp);
  if (rc != P_NONE)
    goto out;
  imp.results = calloc(imp.nrecords + 1, sizeof *imp.results);
  /* A dry run writes, to learn what the database says, then undoes it; the Idempotency-Key's
   * lock and record stay outside the savepoint. */
  if (req_db(r) == NULL) {
    rc = r->problem;
    goto out;
  }
  if (imp.dry_run && db_command(r->db, "SAVEPOINT agency_import") != A_OK) {
    rc = problem_from_db(r, r->db);
    goto out;
  }
  for (size_t from = 0; from < imp.nrecords && rc == P_NONE; from += IMPORT_CHUNK) {
    size_t to = from + IMPORT_CHUNK < imp.nrecords ? from + IMPORT_CHUNK : imp.nrecords;
    rc = import_chunk(r, &imp, from, to);
  }
  if (rc != P_NONE)
    goto out;
  bool failed = !imp.partial && imp.counts[S_ERROR] > 0;
  if (imp.dry_run && db_command(r->db, "ROLLBACK TO SAVEPOINT agency_import") != A_OK) {
    rc = problem_from_db(r, r->db);
    goto out;
  }
  if (imp.dry_run || failed)
    forget_created_ids(&imp);
  if (failed)
    rc = import_failed(r, &imp);
  else
    rc = reply_summary(r, &imp);
out:
  for (size_t i = 0; i < imp.nresults; i++)
    json_decref(imp.results[i].errors);
  free(imp.results);
  free(imp.records);
  for (size_t i = 0; i < imp.ncolumns; i++) {
    free(imp.columns[i].name);
    free(imp.columns[i].member);
    free(imp.columns[i].sub);
  }
  free(imp.columns);
  json_decref(imp.seen);
  /* An import's peak is several megabytes. glibc keeps what is freed in the thread's arena,
   * and every thread of the pool has one: without this, each would hold its largest import. */
  malloc_trim(0);
  return rc;
}
