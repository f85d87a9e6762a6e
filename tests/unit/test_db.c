/* test_db.c — the database layer's pure parts: WAL positions, and the standby settings. */
#include "db/db.h"

#include <criterion/criterion.h>
#include <stdlib.h>

Test(lsn, reads_postgresql_text) {
  db_lsn v = 0;
  cr_assert_eq(db_lsn_parse("0/0", &v), A_OK);
  cr_assert_eq(v, 0);
  cr_assert_eq(db_lsn_parse("16/B374D848", &v), A_OK);
  cr_assert_eq(v, 0x16B374D848ULL);
  cr_assert_eq(db_lsn_parse("FFFFFFFF/FFFFFFFF", &v), A_OK);
  cr_assert_eq(v, 0xFFFFFFFFFFFFFFFFULL);
  cr_assert_eq(db_lsn_parse("0/3a2b1c8", &v), A_OK);
  cr_assert_eq(v, 0x3A2B1C8ULL);
}

Test(lsn, refuses_anything_else) {
  db_lsn v = 42;
  const char *const bad[] = {"",     "0",    "/1",   "1/",   "1/2/3",       "x/1",         "1/ 2",
                             " 1/2", "1/2 ", "-1/2", "+1/2", "100000000/0", "0/100000000", "0x1/2",
                             "1//2", "1/2\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(db_lsn_parse(bad[i], &v), A_ERR, "accepted \"%s\"", bad[i]);
  cr_assert_eq(db_lsn_parse(NULL, &v), A_ERR);
  cr_assert_eq(v, 42, "left untouched");
}

static void clean_env(void) {
  unsetenv("DATABASE_REPLICA_URLS");
  unsetenv("REPLICA_MAX_LAG");
  unsetenv("DB_STATEMENTS");
}

TestSuite(replica_settings, .init = clean_env);

static size_t count(char **urls) {
  size_t n = 0;
  while (urls[n] != NULL)
    n++;
  return n;
}

Test(replica_settings, defaults) {
  cr_assert_eq(config_load(false, false), A_OK);
  cr_assert_eq(count(g_config.replica_urls), 0);
  cr_assert_eq(g_config.replica_max_lag_ms, 5000);
  cr_assert_eq(g_config.db_statements, DB_STATEMENTS_AUTO);
  config_free();
}

Test(replica_settings, a_comma_separated_list_of_uris_and_connection_strings) {
  setenv("DATABASE_REPLICA_URLS",
         "postgresql://a@s1:5432/acredita, postgres://a@s2/acredita?sslmode=require,"
         "host=s3 port=5433 dbname=acredita,postgresql://a@s4,s5:5434/acredita",
         1);
  setenv("REPLICA_MAX_LAG", "0.5", 1);
  setenv("DB_STATEMENTS", "pooled", 1);
  cr_assert_eq(config_load(false, false), A_OK);
  cr_assert_eq(count(g_config.replica_urls), 4);
  cr_assert_str_eq(g_config.replica_urls[0], "postgresql://a@s1:5432/acredita");
  cr_assert_str_eq(g_config.replica_urls[1], "postgres://a@s2/acredita?sslmode=require");
  cr_assert_str_eq(g_config.replica_urls[2], "host=s3 port=5433 dbname=acredita");
  /* A comma inside a URI's host list belongs to that URI. */
  cr_assert_str_eq(g_config.replica_urls[3], "postgresql://a@s4,s5:5434/acredita");
  cr_assert_eq(g_config.replica_max_lag_ms, 500);
  cr_assert_eq(g_config.db_statements, DB_STATEMENTS_POOLED);
  config_free();
}

Test(replica_settings, a_wrong_setting_stops_start_up) {
  setenv("REPLICA_MAX_LAG", "soon", 1);
  cr_assert_eq(config_load(false, false), A_ERR);
  config_free();
  setenv("REPLICA_MAX_LAG", "0", 1);
  cr_assert_eq(config_load(false, false), A_ERR);
  config_free();
  clean_env();
  setenv("DB_STATEMENTS", "sometimes", 1);
  cr_assert_eq(config_load(false, false), A_ERR);
  config_free();
  clean_env();
  setenv("DATABASE_REPLICA_URLS", "postgresql://a@s1/x,postgresql://[::1/x", 1);
  cr_assert_eq(config_load(false, false), A_ERR);
  config_free();
}
