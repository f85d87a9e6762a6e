/*
 * fuzz_import_agencies.c — the member-data import (POST /v1/agencies/import): CSV and NDJSON
 * bodies through the same steps the handler takes before it touches the database: splitting
 * into records (quoted CSV cells may span lines), the CSV header, each line read into an agency
 * document, and the line's checks (read-only fields, the role's fields, the agency's shape).
 *
 * The parser is static in service/resources/agency_import.c, so that file is included here.
 * The first byte chooses the format (even: NDJSON, odd: CSV); the rest is the body, which the
 * handler accepts only as valid UTF-8. Invariants: no crash, no leak, never more records than
 * the body has lines.
 */
#include "resources/agency_import.c"

#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  validate_format_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  enum format f = data[0] % 2 ? FORMAT_CSV : FORMAT_NDJSON;
  const char *body = (const char *)data + 1;
  size_t len = size - 1;
  if (!utf8_valid(body, len))
    return 0;
  struct req r;
  memset(&r, 0, sizeof r);
  r.caller.role = data[0] & 2 ? ROLE_COALITION : ROLE_ADMIN;
  struct import imp;
  memset(&imp, 0, sizeof imp);
  imp.format = f;
  imp.records = split_records(body, len, f, IMPORT_MAX_LINES + 1, &imp.nrecords);
  if (imp.records == NULL)
    return 0;
  size_t lines = 1;
  for (size_t i = 0; i < len; i++)
    lines += body[i] == '\n';
  if (imp.nrecords > lines)
    abort();
  size_t first = 0;
  if (f == FORMAT_CSV && imp.nrecords > 0) {
    if (csv_header(&r, &imp, &imp.records[0]) != 0)
      goto out;
    first = 1;
  }
  for (size_t i = first; i < imp.nrecords; i++) {
    struct line l;
    memset(&l, 0, sizeof l);
    l.no = imp.records[i].line;
    l.doc = f == FORMAT_CSV ? csv_doc(&r, &imp, &l, &imp.records[i])
                            : ndjson_doc(&r, &l, &imp.records[i]);
    if (l.doc != NULL)
      check_line(&r, &l);
    json_decref(l.doc);
    json_decref(l.errors);
  }
out:
  free(imp.columns);
  free(imp.records);
  json_decref(r.errors);
  return 0;
}
