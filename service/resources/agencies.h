/*
 * agencies.h — what agencies.c shares with the agency import (agency_import.c): the checks
 * of an agency document that need no data, and which members a role may write.
 */
#ifndef ACREDITA_AGENCIES_H
#define ACREDITA_AGENCIES_H

#include "http/http.h"

/* Adds the field errors of an agency document found without the database (unknown members,
 * types, formats, lengths, external_ids): a new agency's (patch false, required members
 * required) or a merge patch's. Returns the number of errors added. */
int agency_shape_errors(struct req *r, const json_t *doc, bool patch);
/* True when name is a member of the representation no request sets (status, the lifecycle
 * dates, the derived dates, id, created_at, …). */
bool agency_read_only(const char *name);
/* True when role may write the top-level member name (coalition: membership only). */
bool agency_role_may_write(enum role role, const char *name);

#endif
