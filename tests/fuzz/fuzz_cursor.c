/*
 * fuzz_cursor.c — list cursors, which clients echo back to us: cursor_decode() on arbitrary
 * text against a binding, and the round trip cursor_encode() → cursor_decode().
 *
 * Input: "<cursor>\n<binding>". Invariants: a cursor decodes only with the binding it was
 * made for (a forged or edited one is refused), and a round trip gives back key and id.
 */
#include "http/http.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SOME_ID "0b7e4c1e-3c1a-4f6e-9d2b-5a8f0c6d7e21"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  /* auth_init() derives it from the JWT key; any fixed key will do here. */
  for (size_t i = 0; i < sizeof g_config.cursor_key; i++)
    g_config.cursor_key[i] = (unsigned char)(i * 7 + 3);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = strndup((const char *)data, size);
  if (text == NULL)
    return 0;
  char *nl = strchr(text, '\n');
  const char *binding = "/v1/users?sort=email";
  if (nl != NULL) {
    *nl = '\0';
    binding = nl + 1;
  }

  char *key = NULL, *id = NULL;
  if (cursor_decode(text, binding, &key, &id) == A_OK) {
    if (key == NULL || id == NULL || !uuid_valid(id))
      abort();
    free(key);
    free(id);
  }

  /* Round trip: the text as a sort key (keys come from PostgreSQL, always valid UTF-8). */
  if (utf8_valid(text, strlen(text))) {
    char *cursor = cursor_encode(text, SOME_ID, binding);
    if (cursor == NULL)
      abort();
    key = id = NULL;
    int rc = cursor_decode(cursor, binding, &key, &id);
    /* Cursors longer than 2048 bytes are refused by design (a key of ~1,500 bytes of
     * control characters, escaped in the cursor's JSON, gets there). */
    if (strlen(cursor) > 2048 ? rc == A_OK
                              : rc != A_OK || strcmp(key, text) != 0 || strcmp(id, SOME_ID) != 0)
      abort();
    free(key);
    free(id);
    /* The same cursor under another binding must be refused. */
    char *other = NULL;
    if (asprintf(&other, "%s&x", binding) >= 0) {
      key = id = NULL;
      if (cursor_decode(cursor, other, &key, &id) == A_OK)
        abort();
      free(other);
    }
    free(cursor);
  }
  free(text);
  return 0;
}
