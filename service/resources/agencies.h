/*
 * agencies.h — what agencies.c shares with the agency import (agency_import.c) and the
 * agencies' nested resources: the checks of an agency document that need no data, which
 * members a role may write, and who works on an agency.
 */
#ifndef ACREDITA_AGENCIES_H
#define ACREDITA_AGENCIES_H

#include "http/http.h"

/* The states an agency moves between (API.md §3), as transitions name them. A status as shown
 * may also read "expired" (derived from the date). */
#define AGENCY_STATES                                                                              \
  "applied", "approved", "enrolled", "self_assessment", "pre_assessment", "site_assessment",       \
      "awaiting_hearing", "accredited", "conditionally_accredited", "reaccreditation",             \
      "probation", "suspended", "withdrawn", "removed", "revoked"

/* Adds the field errors of an agency document found without the database (unknown members,
 * types, formats, lengths, external_ids): a new agency's (patch false, required members
 * required) or a merge patch's. Returns the number of errors added. */
int agency_shape_errors(struct req *r, const json_t *doc, bool patch);
/* True when name is a member of the representation no request sets (status, the lifecycle
 * dates, the derived dates, id, created_at, …). */
bool agency_read_only(const char *name);
/* True when role may write the top-level member name (coalition: membership only). */
bool agency_role_may_write(enum role role, const char *name);

/* Whether the caller works on the agency (admin, inl, its advisors, its own users): P_NONE;
 * 404 when it does not exist (or the id is no UUID) or the caller may not even see it (an
 * agency user, another agency); 403 when the caller sees it but does not work on it (an
 * advisor not assigned to it); or the database's failure. */
enum problem agency_access(struct req *r, const char *agency);
/* Answers 404: no agency has the id. */
enum problem agency_missing(struct req *r);
/* Audits a change of the agency made outside its PATCH (its manual version, its reporting
 * protocol): before and after are its representations; nothing is recorded when they are the
 * same. note says why, or is NULL. P_NONE or the database's failure. */
enum problem agency_audit_change(struct req *r, const char *agency, const char *before,
                                 const char *after, const char *note);

#endif
