/*
 * test_password.c — auth/password.c: yescrypt hashes and their verification.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "auth/auth.h"

Test(password, hash_then_verify) {
  char hash[256];
  cr_assert_eq(auth_password_hash("correct horse battery staple", hash), A_OK);
  cr_assert(auth_password_verify("correct horse battery staple", hash));
}

Test(password, hash_is_yescrypt) {
  char hash[256];
  cr_assert_eq(auth_password_hash("contraseña", hash), A_OK);
  cr_assert_eq(strncmp(hash, "$y$", 3), 0, "got %s", hash);
}

Test(password, wrong_password_is_refused) {
  char hash[256];
  cr_assert_eq(auth_password_hash("contraseña", hash), A_OK);
  cr_assert_not(auth_password_verify("contrasena", hash));
  cr_assert_not(auth_password_verify("contraseña ", hash));
  cr_assert_not(auth_password_verify("", hash));
  cr_assert_not(auth_password_verify(NULL, hash));
}

Test(password, same_password_hashes_differently) {
  char a[256], b[256];
  cr_assert_eq(auth_password_hash("same", a), A_OK);
  cr_assert_eq(auth_password_hash("same", b), A_OK);
  cr_assert_str_neq(a, b);
  cr_assert(auth_password_verify("same", a));
  cr_assert(auth_password_verify("same", b));
}

Test(password, null_hash_is_refused) {
  cr_assert_not(auth_password_verify("anything", NULL));
  cr_assert_not(auth_password_verify("", NULL));
}

Test(password, unusable_hashes_are_refused) {
  /* A locked account, an empty field, a truncated hash, and crypt formats we do not accept
   * (the MD5 one is "password" hashed with salt "salt"). */
  static const char *const hashes[] = {
      "", "!", "*", "$y$", "$y$j9T$", "$1$salt$qJH7.N4xYta3aEG/dfqo/0", "saltpassword"};
  for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
    cr_expect_not(auth_password_verify("password", hashes[i]), "accepted \"%s\"", hashes[i]);
}

Test(password, hash_of_another_password_is_refused) {
  char hash[256];
  cr_assert_eq(auth_password_hash("first", hash), A_OK);
  hash[strlen(hash) - 1] ^= 1; /* same salt and cost, another digest */
  cr_assert_not(auth_password_verify("first", hash));
}

Test(password, null_password_is_not_hashed) {
  char hash[256];
  cr_assert_eq(auth_password_hash(NULL, hash), A_ERR);
}
