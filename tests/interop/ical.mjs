#!/usr/bin/env node
// ical.mjs — parses an iCalendar file the way a calendar app would, with ical.js, and prints
// what it understood as JSON, for tests/integration/test_calendars.c to compare with the API:
//
//   node tests/interop/ical.mjs FILE.ics
//   {"name", "timezones": ["America/Mexico_City"], "events": [{"uid", "summary", "language",
//     "status", "categories", "all_day", "start", "end", "tzid", "stamped"}]}
//
// Timed events give start and end as UTC instants (ISO 8601, the zone's VTIMEZONE applied);
// all-day events as dates (end exclusive). Exits 1, saying why, when the file does not parse,
// an event lacks UID or DTSTAMP, or an event names a TZID the file does not define.
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';

function fail(why) {
  console.error(`ical: ${why}`);
  process.exit(1);
}

const text = readFileSync(process.argv[2], 'utf8');
if (!text.startsWith('BEGIN:VCALENDAR\r\n')) fail('not a VCALENDAR with CRLF line ends');
let root;
try {
  root = new ICAL.Component(ICAL.parse(text));
} catch (e) {
  fail(`does not parse: ${e.message}`);
}
if (root.getFirstPropertyValue('version') !== '2.0') fail('VERSION is not 2.0');
if (!root.getFirstPropertyValue('prodid')) fail('no PRODID');

const timezones = [];
for (const vtz of root.getAllSubcomponents('vtimezone')) {
  const tz = new ICAL.Timezone(vtz);
  ICAL.TimezoneService.register(tz, tz.tzid);
  timezones.push(tz.tzid);
}

const iso = (t) => (t.isDate ? t.toString() : t.toJSDate().toISOString().replace('.000Z', 'Z'));
const events = root.getAllSubcomponents('vevent').map((c) => {
  const ev = new ICAL.Event(c);
  const dtstart = c.getFirstProperty('dtstart');
  const tzid = dtstart.getParameter('tzid') || null;
  if (!ev.uid) fail('an event has no UID');
  if (!c.getFirstPropertyValue('dtstamp')) fail(`${ev.uid}: no DTSTAMP`);
  if (tzid && !timezones.includes(tzid)) fail(`${ev.uid}: TZID ${tzid} has no VTIMEZONE`);
  return {
    uid: ev.uid,
    summary: ev.summary,
    language: c.getFirstProperty('summary').getParameter('language') || null,
    status: c.getFirstPropertyValue('status') || null,
    categories: c.getAllProperties('categories').flatMap((p) => p.getValues()),
    all_day: ev.startDate.isDate,
    start: iso(ev.startDate),
    end: iso(ev.endDate),
    tzid,
  };
});
console.log(JSON.stringify({ name: root.getFirstPropertyValue('name'), timezones, events }));
