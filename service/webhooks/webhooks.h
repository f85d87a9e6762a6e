/*
 * webhooks.h — webhooks as the Standard Webhooks specification has them
 * (https://www.standardwebhooks.com): secrets, signatures, which URLs may receive them
 * (sign.c), and the worker that delivers them (worker.c).
 *
 * The subscriptions and their SQL are resources/webhooks.c and db/functions/12_webhooks.sql;
 * this layer knows no HTTP request of ours, only the database and libcurl.
 */
#ifndef ACREDITA_WEBHOOKS_H
#define ACREDITA_WEBHOOKS_H

#include "acredita.h"

#include <stddef.h>

/* Room for a secret: "whsec_" and the base64 of at most 64 bytes. */
#define WEBHOOK_SECRET_MAX 100

/* A new secret: "whsec_" and the base64 of 32 random bytes. A_OK or A_ERR. */
int webhook_secret_new(char out[WEBHOOK_SECRET_MAX]);
/* True when s is "whsec_" and standard base64 of 24 to 64 bytes (the specification's range). */
bool webhook_secret_valid(const char *s);
/*
 * The webhook-signature header's value for one message: "v1,<signature>" for each secret in
 * secrets (space-separated), separated by spaces, where the signature is the base64 of
 * HMAC-SHA256 with the secret's decoded key over "<msg_id>.<timestamp>.<body>". Returns a
 * malloc'd string the caller frees, or NULL when a secret is malformed.
 */
char *webhook_signature(const char *secrets, const char *msg_id, long long timestamp,
                        const char *body, size_t len);
/* True when url may receive webhooks: https to a host that is not loopback, or, when
 * allow_loopback (development), http or https to localhost, 127.0.0.0/8 or [::1]. */
bool webhook_url_allowed(const char *url, bool allow_loopback);
/* True when a resolved address is loopback (the worker refuses to connect to one unless
 * loopback is allowed, whatever name led there). */
bool webhook_address_loopback(const void *sockaddr);

/* Starts and stops the delivery thread of `acredita serve`. A_OK or A_ERR. */
int webhook_worker_start(void);
void webhook_worker_stop(void);

#endif
