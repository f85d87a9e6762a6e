/*
 * fuzz_import_ndjson.c — NDJSON import lines: the standards import parser (POST
 * /v1/standards/import), which splits the body into lines and checks each one.
 *
 * import_parse() is static in service/resources/standards.c, so that file is included here
 * (the archive's own copy of it is then never linked). The body goes through the same gate
 * the handler puts first: valid UTF-8 only. Invariants: no crash, no leak, and never more
 * parsed standards than lines.
 */
#include "resources/standards.c"

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
  const char *body = (const char *)data;
  if (size > IMPORT_MAX_BYTES || !utf8_valid(size ? body : "", size))
    return 0;
  struct req r;
  memset(&r, 0, sizeof r);
  struct import_batch b = {json_array(), NULL, 0, 0};
  (void)import_parse(&r, size ? body : "", size, &b);
  if (b.count > count_lines(body, size))
    abort();
  json_decref(b.standards);
  free(b.lines);
  json_decref(r.errors);
  return 0;
}
