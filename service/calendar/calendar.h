/*
 * calendar.h — iCalendar (RFC 5545) feeds rendered with libical. The events come from
 * PostgreSQL as one JSON document (db/functions/13_calendars.sql); this layer knows neither
 * HTTP nor SQL.
 */
#ifndef ACREDITA_CALENDAR_H
#define ACREDITA_CALENDAR_H

#include "acredita.h"

/* The zone every feed describes with a VTIMEZONE, and names as the calendar's own. */
#define CALENDAR_HOME_ZONE "America/Mexico_City"

/*
 * Renders a feed document {"name", "description", "events": [...]} as a VCALENDAR: a
 * VTIMEZONE for CALENDAR_HOME_ZONE and for every other zone a timed event uses (TZID the
 * plain IANA name), and one VEVENT per event, its texts marked with lang ("es", "en").
 * Timed events are written in their zone's wall-clock time (in UTC when libical does not know
 * the zone); all-day events as dates. Returns malloc'd text with CRLF line ends, or NULL when
 * the document is malformed.
 */
char *calendar_render(const char *feed_json, const char *lang);
/* Frees libical's time-zone cache (at shutdown, for leak checkers). */
void calendar_shutdown(void);

#endif
