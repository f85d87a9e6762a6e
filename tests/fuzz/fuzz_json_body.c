/*
 * fuzz_json_body.c — request bodies as dispatch reads them (jansson, duplicate keys refused)
 * and then validate_body() against a field table that uses every field type, as a create and
 * as a patch.
 *
 * Besides crashes it checks what the problem body relies on: validate_body() returns as many
 * errors as it adds, and each error renders as JSON (its field pointer is valid UTF-8).
 */
#include "http/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const COLORS[] = {"red", "green", "azul", NULL};

static const struct field ADDRESS[] = {
    {"street", F_STRING, F_REQUIRED, 1, 100, NULL, NULL},
    {"zip", F_INT, F_NULLABLE, 0, 99999, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

static const struct field FIELDS[] = {
    {"name", F_STRING, F_REQUIRED, 1, 200, NULL, NULL},
    {"email", F_EMAIL, 0, 0, 254, NULL, NULL},
    {"id", F_UUID, F_NULLABLE, 0, 0, NULL, NULL},
    {"active", F_BOOL, 0, 0, 0, NULL, NULL},
    {"count", F_INT, 0, 0, 1000, NULL, NULL},
    {"score", F_NUMBER, 0, -5, 100, NULL, NULL},
    {"day", F_DATE, F_NULLABLE, 0, 0, NULL, NULL},
    {"at", F_DATETIME, 0, 0, 0, NULL, NULL},
    {"color", F_ENUM, 0, 0, 0, COLORS, NULL},
    {"site", F_URL, F_NULLABLE, 0, 500, NULL, NULL},
    {"title", F_BILINGUAL, F_REQUIRED, 0, 0, NULL, NULL},
    {"tags", F_STRING_ARRAY, 0, 0, 5, COLORS, NULL},
    {"words", F_STRING_ARRAY, 0, 0, 10, NULL, NULL},
    {"address", F_OBJECT, F_NULLABLE, 0, 0, NULL, ADDRESS},
    {"items", F_ARRAY_OF, 0, 0, 10, NULL, ADDRESS},
    {"extra", F_JSON, F_NULLABLE, 0, 0, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL},
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  validate_format_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_error_t err;
  json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
  if (json_is_object(body)) {
    for (int patch = 0; patch < 2; patch++) {
      struct req r;
      memset(&r, 0, sizeof r);
      r.lang = patch ? LANG_ES : LANG_EN;
      int errs = validate_body(&r, body, FIELDS, patch);
      if (errs < 0 || json_array_size(r.errors) != (size_t)errs)
        abort(); /* an error was lost: the 422 would not list every invalid field */
      char *text = json_dumps(r.errors, JSON_COMPACT);
      if (errs > 0 && text == NULL)
        abort();
      free(text);
      json_decref(r.errors);
    }
  }
  json_decref(body);
  return 0;
}
