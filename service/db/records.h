/* records.h — idempotency keys and the audit trail (see records.c). */
#ifndef ACREDITA_DB_RECORDS_H
#define ACREDITA_DB_RECORDS_H

#include "db/db.h"

struct idem_record {
  char request_hash[65];
  long status;
  char location[512];
  char *body; /* malloc'd; the caller frees it */
};

/* Takes the transaction-scoped lock of (principal, key): 1 taken, 0 held by another
 * transaction (the same key is still running), -1 on error. */
int db_idem_lock(struct db_conn *c, const char *principal, const char *key);
/* Finds the stored response of a key younger than 24 hours: 1 found, 0 none, -1 error. */
int db_idem_find(struct db_conn *c, const char *principal, const char *key,
                 struct idem_record *out);
/* Stores the response of a key (replacing an expired one). */
int db_idem_store(struct db_conn *c, const char *principal, const char *key, const char *method,
                  const char *path, const char *request_hash, long status, const char *location,
                  const char *body);
/* Appends an audit entry whose changes are the fields differing between before and after,
 * with note (why, or NULL), and, for a domain resource (change_journaled() in
 * db/functions/08_feed.sql: not users, clients, webhooks nor calendar tokens), a change-feed
 * row whose id goes to *change_id. Returns the number of feed rows written (0 or 1), or
 * A_ERR. */
int db_audit(struct db_conn *c, const struct caller *who, const char *request_id,
             const char *action, const char *resource, const char *id, const char *before,
             const char *after, const char *note, long long *change_id);

/* Stamps this transaction's feed rows (ids: a PostgreSQL array text "{1,2}") with the next
 * commit number. Called last before COMMIT: the clock's row lock, held until the commit,
 * orders commit numbers by commit. */
int db_feed_stamp(struct db_conn *c, const char *ids);

#endif
