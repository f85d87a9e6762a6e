/*
 * calendar.c — iCalendar feeds with libical (see calendar.h).
 *
 * libical's built-in time zones come from the system's zoneinfo, loaded into a process-wide
 * cache on first use; one mutex keeps renderers from filling it at the same time. The
 * VTIMEZONE libical makes names itself "/freeassociation.sourceforge.net/<zone>": the copy in
 * a feed is renamed to the plain IANA name, which is what DTSTART's TZID says.
 */
#include "calendar/calendar.h"

#include <jansson.h>
#include <libical/ical.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ZONES 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* A zone the feed uses. */
struct zone_use {
  const char *tzid;
  icaltimezone *tz;
};

struct zones {
  struct zone_use z[MAX_ZONES];
  int n;
};

/* The zone named tzid, added to the feed's list; NULL when libical does not know it. */
static struct zone_use *zone_use(struct zones *zs, const char *tzid) {
  for (int i = 0; i < zs->n; i++)
    if (strcmp(zs->z[i].tzid, tzid) == 0)
      return &zs->z[i];
  icaltimezone *tz = icaltimezone_get_builtin_timezone(tzid);
  if (tz == NULL || zs->n == MAX_ZONES)
    return NULL;
  zs->z[zs->n] = (struct zone_use){tzid, tz};
  return &zs->z[zs->n++];
}

/* "2020-04-24T15:00:00Z" (a UTC instant) or "2019-03-13" (a date); the null time otherwise. */
static struct icaltimetype parse_time(const char *s) {
  char basic[32];
  size_t k = 0;
  for (const char *p = s; p != NULL && *p != '\0' && k < sizeof basic - 1; p++)
    if (*p != '-' && *p != ':')
      basic[k++] = *p;
  basic[k] = '\0';
  return k == 8 || (k == 16 && basic[15] == 'Z') ? icaltime_from_string(basic)
                                                 : icaltime_null_time();
}

static const char *member(const json_t *o, const char *name) {
  return json_string_value(json_object_get(o, name));
}

/* A text property in lang, when the document has the text. */
static void add_text(icalcomponent *c, icalproperty *p, const char *lang) {
  icalproperty_add_parameter(p, icalparameter_new_language(lang));
  icalcomponent_add_property(c, p);
}

static void add_x(icalcomponent *c, const char *name, const char *value) {
  icalproperty *p = icalproperty_new_x(value);
  icalproperty_set_x_name(p, name);
  icalcomponent_add_property(c, p);
}

/* DTSTART or DTEND (kind) of a timed event at instant utc, in zone u's wall-clock time. */
static icalproperty *timed(icalproperty_kind kind, struct icaltimetype utc, struct zone_use *u) {
  struct icaltimetype t = utc;
  if (u != NULL) {
    t = icaltime_convert_to_zone(utc, u->tz);
    icaltime_set_timezone(&t, NULL);
  }
  icalproperty *p =
      kind == ICAL_DTSTART_PROPERTY ? icalproperty_new_dtstart(t) : icalproperty_new_dtend(t);
  if (u != NULL)
    icalproperty_add_parameter(p, icalparameter_new_tzid(u->tzid));
  return p;
}

/* One VEVENT; false when the event lacks what it needs. */
static bool add_event(icalcomponent *cal, const json_t *e, const char *lang, struct zones *zs) {
  const char *uid = member(e, "uid"), *summary = member(e, "summary");
  struct icaltimetype stamp = parse_time(member(e, "stamp"));
  if (uid == NULL || summary == NULL || icaltime_is_null_time(stamp))
    return false;
  icalcomponent *ev = icalcomponent_new_vevent();
  icalcomponent_add_property(ev, icalproperty_new_uid(uid));
  icalcomponent_add_property(ev, icalproperty_new_dtstamp(stamp));
  add_text(ev, icalproperty_new_summary(summary), lang);
  if (member(e, "description") != NULL)
    add_text(ev, icalproperty_new_description(member(e, "description")), lang);
  if (member(e, "location") != NULL)
    add_text(ev, icalproperty_new_location(member(e, "location")), lang);
  const char *status = member(e, "status");
  if (status != NULL)
    icalcomponent_add_property(ev, icalproperty_new_status(strcmp(status, "CANCELLED") == 0
                                                               ? ICAL_STATUS_CANCELLED
                                                               : ICAL_STATUS_CONFIRMED));
  size_t i;
  const json_t *c;
  json_array_foreach(json_object_get(e, "categories"), i, c) {
    if (json_is_string(c))
      icalcomponent_add_property(ev, icalproperty_new_categories(json_string_value(c)));
  }

  bool ok;
  if (member(e, "date") != NULL) {
    struct icaltimetype start = parse_time(member(e, "date")),
                        end = parse_time(member(e, "end_date"));
    ok = start.is_date && end.is_date;
    if (ok) {
      icalcomponent_add_property(ev, icalproperty_new_dtstart(start));
      icalcomponent_add_property(ev, icalproperty_new_dtend(end));
    }
  } else {
    struct icaltimetype start = parse_time(member(e, "start")), end = parse_time(member(e, "end"));
    struct zone_use *u = member(e, "tzid") != NULL ? zone_use(zs, member(e, "tzid")) : NULL;
    ok = !icaltime_is_null_time(start) && !start.is_date && !icaltime_is_null_time(end);
    if (ok) {
      icalcomponent_add_property(ev, timed(ICAL_DTSTART_PROPERTY, start, u));
      icalcomponent_add_property(ev, timed(ICAL_DTEND_PROPERTY, end, u));
    }
  }
  if (ok)
    icalcomponent_add_component(cal, ev);
  else
    icalcomponent_free(ev);
  return ok;
}

/* Notes the zone of a timed event. */
static void note_zone(struct zones *zs, const json_t *e) {
  if (member(e, "tzid") != NULL)
    zone_use(zs, member(e, "tzid"));
}

/* The VTIMEZONE of u, named by its IANA name. Whole: libical can cut it to the years the
 * events need (icaltimezone_truncate_vtimezone), but the cut version starts daylight time
 * with DTSTART and RDATE, which ical.js 2 misreads (an hour off in April 2021). */
static icalcomponent *vtimezone(const struct zone_use *u) {
  icalcomponent *vtz = icalcomponent_new_clone(icaltimezone_get_component(u->tz));
  icalproperty *id = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
  if (id != NULL)
    icalproperty_set_tzid(id, u->tzid);
  return vtz;
}

/* A copy of text whose lines end in CRLF, as RFC 5545 wants (libical writes LF). */
static char *crlf_lines(const char *text) {
  size_t n = 0, lf = 0;
  for (const char *p = text; *p != '\0'; p++, n++)
    lf += *p == '\n' && (p == text || p[-1] != '\r');
  char *out = malloc(n + lf + 1), *o = out;
  for (const char *p = text; out != NULL && *p != '\0'; p++) {
    if (*p == '\n' && (p == text || p[-1] != '\r'))
      *o++ = '\r';
    *o++ = *p;
  }
  if (out != NULL)
    *o = '\0';
  return out;
}

char *calendar_render(const char *feed_json, const char *lang) {
  json_t *feed = json_loads(feed_json, 0, NULL);
  json_t *events = json_object_get(feed, "events");
  const char *name = member(feed, "name");
  if (!json_is_array(events) || name == NULL) {
    json_decref(feed);
    return NULL;
  }
  pthread_mutex_lock(&lock);
  struct zones zs = {.n = 0};
  zone_use(&zs, CALENDAR_HOME_ZONE);
  icalcomponent *cal = icalcomponent_new_vcalendar();
  icalcomponent_add_property(
      cal, icalproperty_new_prodid("-//Acredita//Acredita API " ACREDITA_VERSION "//ES"));
  icalcomponent_add_property(cal, icalproperty_new_version("2.0"));
  icalcomponent_add_property(cal, icalproperty_new_calscale("GREGORIAN"));
  icalcomponent_add_property(cal, icalproperty_new_name(name));
  add_x(cal, "X-WR-CALNAME", name);
  if (member(feed, "description") != NULL)
    add_x(cal, "X-WR-CALDESC", member(feed, "description"));
  add_x(cal, "X-WR-TIMEZONE", CALENDAR_HOME_ZONE);
  icalcomponent_add_property(cal,
                             icalproperty_new_refreshinterval(icaldurationtype_from_int(3600)));
  add_x(cal, "X-PUBLISHED-TTL", "PT1H");

  /* The time zones first, then the events that name them. */
  size_t i;
  const json_t *e;
  json_array_foreach(events, i, e) {
    note_zone(&zs, e);
  }
  for (int z = 0; z < zs.n; z++)
    icalcomponent_add_component(cal, vtimezone(&zs.z[z]));
  bool ok = true;
  json_array_foreach(events, i, e) {
    ok = ok && add_event(cal, e, lang, &zs);
  }
  char *out = NULL;
  if (ok) {
    char *text = icalcomponent_as_ical_string_r(cal);
    out = text != NULL ? crlf_lines(text) : NULL;
    icalmemory_free_buffer(text);
  }
  icalcomponent_free(cal);
  pthread_mutex_unlock(&lock);
  json_decref(feed);
  return out;
}

void calendar_shutdown(void) {
  pthread_mutex_lock(&lock);
  icaltimezone_free_builtin_timezones();
  pthread_mutex_unlock(&lock);
}
