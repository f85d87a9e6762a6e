/*
 * zones.c — time zones as PostgreSQL knows them (webinars and workshops are planned in one).
 */
#include "resources/resources.h"

#include <string.h>

static struct db_stmt TIMEZONE_KNOWN = {"timezone_known", "SELECT timezone_known($1::text)"};

int check_timezone(struct req *r, const json_t *body) {
  const char *tz = json_string_value(json_object_get(body, "timezone"));
  if (tz == NULL)
    return A_OK;
  const char *p[] = {tz};
  PGresult *res = req_exec(r, &TIMEZONE_KNOWN, 1, p);
  if (res == NULL)
    return A_ERR;
  if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
    req_field_error_text(r, "/timezone", "invalid", "not an IANA time zone (America/Mexico_City)",
                         "no es una zona horaria IANA (America/Mexico_City)");
  PQclear(res);
  return A_OK;
}
