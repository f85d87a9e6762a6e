/* test_webhook_sign.c — Standard Webhooks signatures, secrets and the receiving-URL rule. */
#include "webhooks/webhooks.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define BODY "{\"test\": 2432232314}"

/* The specification's own example (standardwebhooks, its libraries' tests). */
Test(webhook_sign, the_specifications_example) {
  char *sig =
      webhook_signature(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, BODY, strlen(BODY));
  cr_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  free(sig);
}

Test(webhook_sign, one_signature_per_secret) {
  char *sig = webhook_signature(SECRET " " SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, BODY,
                                strlen(BODY));
  cr_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= "
                        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  free(sig);
  cr_assert_null(webhook_signature("whsec_short", "msg", 1, BODY, strlen(BODY)));
  cr_assert_null(webhook_signature("nope_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg", 1, BODY, 4));
}

Test(webhook_sign, secrets) {
  char s[WEBHOOK_SECRET_MAX], t[WEBHOOK_SECRET_MAX];
  cr_assert_eq(webhook_secret_new(s), A_OK);
  cr_assert_eq(webhook_secret_new(t), A_OK);
  cr_assert_str_neq(s, t);
  cr_assert(webhook_secret_valid(s));
  cr_assert(webhook_secret_valid(SECRET));
  cr_assert_not(webhook_secret_valid("whsec_AAAA"), "3 bytes: under 24");
  cr_assert_not(webhook_secret_valid("whsec_not base64!!"));
  cr_assert_not(webhook_secret_valid("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
}

Test(webhook_sign, receiving_urls) {
  cr_assert(webhook_url_allowed("https://partner.example/hooks", false));
  cr_assert_not(webhook_url_allowed("http://partner.example/hooks", false), "https only");
  cr_assert_not(webhook_url_allowed("https://127.0.0.1/hooks", false), "no loopback in production");
  cr_assert_not(webhook_url_allowed("https://localhost/hooks", false));
  cr_assert_not(webhook_url_allowed("https://[::1]/hooks", false));
  cr_assert(webhook_url_allowed("http://127.0.0.1:8000/hooks", true), "development");
  cr_assert(webhook_url_allowed("http://localhost:8000/hooks", true));
  cr_assert_not(webhook_url_allowed("http://partner.example/hooks", true), "still https elsewhere");
  cr_assert_not(webhook_url_allowed("https://partner.example/hooks#frag", false));
  cr_assert_not(webhook_url_allowed("ftp://partner.example/", false));
  cr_assert_not(webhook_url_allowed("partner.example/hooks", false));
}
