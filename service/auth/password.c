/*
 * password.c — password and client-secret hashes: yescrypt from libxcrypt, in its own "$y$"
 * format, so the salt and the cost travel inside the stored hash.
 */
#include <crypt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

#define YESCRYPT_PREFIX "$y$"

/* A hash of nothing anyone knows, made with the same default cost as real hashes, so that
 * checking against it takes as long as checking a real one. */
static char s_dummy_hash[CRYPT_OUTPUT_SIZE];
static pthread_once_t s_dummy_once = PTHREAD_ONCE_INIT;

/* Hashes password with setting (a salt, or a whole hash to verify against) into out[size].
 * struct crypt_data is ~32 KiB: it goes on the heap, not on a server thread's stack, and is
 * wiped because it holds password-derived state. */
static int hash_with_setting(const char *password, const char *setting, char *out, size_t size) {
  struct crypt_data *data = calloc(1, sizeof *data);
  int status = A_ERR;
  if (data == NULL)
    return A_ERR;
  const char *hash = crypt_rn(password, setting, data, (int)sizeof *data);
  /* libxcrypt reports some failures as a string starting with '*' rather than NULL. */
  if (hash != NULL && hash[0] != '*' && strlen(hash) < size) {
    strcpy(out, hash);
    status = A_OK;
  }
  explicit_bzero(data, sizeof *data);
  free(data);
  return status;
}

int auth_password_hash(const char *password, char out[256]) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (password == NULL)
    return A_ERR;
  /* count 0: libxcrypt's default cost; NULL random bytes: it reads the OS's random source. */
  if (crypt_gensalt_rn(YESCRYPT_PREFIX, 0, NULL, 0, salt, sizeof salt) == NULL)
    return A_ERR;
  return hash_with_setting(password, salt, out, 256);
}

static void make_dummy_hash(void) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(YESCRYPT_PREFIX, 0, NULL, 0, salt, sizeof salt) == NULL ||
      hash_with_setting("acredita-dummy-password", salt, s_dummy_hash, sizeof s_dummy_hash) != A_OK)
    s_dummy_hash[0] = '\0';
}

/* Anything but a yescrypt hash (NULL, "", "!" for a locked account, DES or MD5 crypt) is not
 * verified at all: old formats are weak, and a short one would answer faster. */
static bool hash_usable(const char *hash) {
  return hash != NULL && strncmp(hash, YESCRYPT_PREFIX, strlen(YESCRYPT_PREFIX)) == 0 &&
         strlen(hash) < CRYPT_OUTPUT_SIZE;
}

bool auth_password_verify(const char *password, const char *hash) {
  char computed[CRYPT_OUTPUT_SIZE];
  bool usable = hash_usable(hash);
  if (password == NULL)
    password = "";
  if (!usable) {
    pthread_once(&s_dummy_once, make_dummy_hash);
    hash = s_dummy_hash;
  }
  if (hash[0] == '\0' || hash_with_setting(password, hash, computed, sizeof computed) != A_OK)
    return false;
  size_t len = strlen(hash);
  bool equal = strlen(computed) == len && bytes_equal_ct(computed, hash, len);
  explicit_bzero(computed, sizeof computed);
  return usable && equal;
}
