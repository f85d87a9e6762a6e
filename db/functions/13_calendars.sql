-- 13_calendars: the iCalendar feeds' events and the calendar tokens (issue 16).
--
-- Each feed is one JSON document that service/calendar/calendar.c renders with libical:
--   {"name": "...", "events": [{"uid", "summary", "description", "location", "status",
--     "stamp", "categories", and either "tzid", "start", "end" (instants, RFC 3339 UTC,
--     shown in tzid) or "date", "end_date" (an all-day event; end_date is exclusive)}]}
-- Texts are in the language asked for (es or en; Spanish when there is no English text).

CREATE OR REPLACE FUNCTION ical_text(t jsonb, lang text) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT coalesce(CASE WHEN lang = 'en' THEN t ->> 'en' END, t ->> 'es') $$;

-- Every webinar the role sees (anonymous callers: the public ones), at its time in its zone.
CREATE OR REPLACE FUNCTION webinars_calendar(role text, lang text) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'name', 'Acredita: webinars',
    'description', CASE WHEN lang = 'en'
                        THEN 'Webinars of the public-safety accreditation program in Mexico.'
                        ELSE 'Webinars del programa de acreditación de seguridad pública en México.' END,
    'events', coalesce(json_agg(json_build_object(
      'uid', 'webinar-' || w.id || '@acredita.mx',
      'summary', ical_text(w.title, lang),
      'description', ical_text(w.description, lang),
      'status', CASE w.status WHEN 'cancelled' THEN 'CANCELLED' ELSE 'CONFIRMED' END,
      'stamp', rfc3339(w.updated_at),
      'categories', to_json(w.topics),
      'tzid', w.timezone,
      'start', rfc3339(w.starts_at),
      'end', rfc3339(w.starts_at + make_interval(mins => w.duration_minutes)))
      ORDER BY w.starts_at, w.id), '[]'))::text
  FROM webinars w WHERE webinar_visible(w, role)
$$;

CREATE OR REPLACE FUNCTION workshop_mode_text(mode text, lang text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN lang = 'en' THEN replace(mode, '_', ' ')
                ELSE CASE mode WHEN 'in_person' THEN 'presencial' WHEN 'virtual' THEN 'virtual'
                               WHEN 'hybrid' THEN 'híbrido' END END $$;

-- Every workshop the role sees (anonymous callers: all but drafts), as all-day events.
CREATE OR REPLACE FUNCTION workshops_calendar(role text, lang text) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'name', CASE WHEN lang = 'en' THEN 'Acredita: workshops' ELSE 'Acredita: talleres' END,
    'description', CASE WHEN lang = 'en'
                        THEN 'Workshops of the public-safety accreditation program in Mexico.'
                        ELSE 'Talleres del programa de acreditación de seguridad pública en México.' END,
    'events', coalesce(json_agg(json_build_object(
      'uid', 'workshop-' || w.id || '@acredita.mx',
      'summary', ical_text(w.title, lang),
      'description', CASE WHEN lang = 'en'
                          THEN format('Mode: %s. Organizer: %s.', workshop_mode_text(w.mode, lang),
                                      upper(w.organizer))
                          ELSE format('Modalidad: %s. Organiza: %s.', workshop_mode_text(w.mode, lang),
                                      upper(w.organizer)) END,
      'location', nullif(concat_ws(', ', w.venue, w.city,
                                   (SELECT m.name FROM mx_states m WHERE m.code = w.state)), ''),
      'status', CASE w.status WHEN 'cancelled' THEN 'CANCELLED' ELSE 'CONFIRMED' END,
      'stamp', rfc3339(w.updated_at),
      'categories', json_build_array(w.kind),
      'date', w.starts_on::text,
      'end_date', (w.ends_on + 1)::text)
      ORDER BY w.starts_on, w.id), '[]'))::text
  FROM workshops w WHERE workshop_visible(w, role)
$$;

-- One agency's deadlines, a year ahead and what is late: the items of agency_due_json()
-- (GET /v1/agencies/{id}/due), each an all-day event. A UID names what the item is about
-- (the task, the standard's proof of a cycle year, the fee of a date), so that a calendar
-- app updates an event whose date moves instead of adding another.
CREATE OR REPLACE FUNCTION agency_due_calendar(agency uuid, lang text) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'name', (CASE WHEN lang = 'en' THEN 'Deadlines: ' ELSE 'Plazos: ' END)
            || (SELECT a.name FROM agencies a WHERE a.id = agency),
    'description', CASE WHEN lang = 'en'
                        THEN 'What falls due for this agency in the accreditation program.'
                        ELSE 'Lo que vence para esta agencia en el programa de acreditación.' END,
    'events', coalesce(json_agg(json_build_object(
      'uid', concat_ws('-', 'due', i ->> 'kind', agency, coalesce(i ->> 'task_id', i ->> 'standard_id'),
                       CASE WHEN i ->> 'kind' IN ('proof', 'report', 'annual_review',
                                                  'continuation_fee', 'accreditation_expiry')
                            THEN i ->> 'date' END) || '@acredita.mx',
      'summary', ical_text((i -> 'reason')::jsonb, lang)
                 || CASE WHEN (i ->> 'overdue')::boolean
                         THEN CASE WHEN lang = 'en' THEN ' (overdue)' ELSE ' (vencido)' END
                         ELSE '' END,
      'stamp', rfc3339(mx_today()::timestamp AT TIME ZONE 'America/Mexico_City'),
      'categories', json_build_array(i ->> 'kind'),
      'date', i ->> 'date',
      'end_date', ((i ->> 'date')::date + 1)::text)
      ORDER BY n), '[]'))::text
  FROM json_array_elements((agency_due_json(agency, mx_today(), 366)::json) -> 'data')
       WITH ORDINALITY x(i, n)
$$;

-- ------------------------------------------------------------------ calendar tokens

CREATE OR REPLACE FUNCTION calendar_token_hash(token text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT
  AS $$ SELECT encode(sha256(convert_to(token, 'UTF8')), 'hex') $$;

CREATE OR REPLACE FUNCTION calendar_token_json(t calendar_tokens) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_compact(json_build_object(
    'id', t.id, 'agency_id', t.agency_id, 'name', t.name,
    'feed_path', '/v1/agencies/' || t.agency_id || '/due.ics',
    'last_used_at', rfc3339(t.last_used_at),
    'created_at', rfc3339(t.created_at), 'updated_at', rfc3339(t.updated_at),
    'version', t.version))
$$;

-- A token for the user sub (no row when sub names no active user: tokens are for people).
-- d holds agency_id, name and the token itself, of which only the hash is kept.
CREATE OR REPLACE FUNCTION calendar_token_create(d jsonb, sub text) RETURNS SETOF calendar_tokens
  LANGUAGE sql AS $$
  INSERT INTO calendar_tokens (owner_sub, agency_id, name, token_hash)
  SELECT sub, (d ->> 'agency_id')::uuid, d ->> 'name', calendar_token_hash(d ->> 'token')
  WHERE EXISTS (SELECT 1 FROM users u WHERE u.id::text = sub AND u.active)
  RETURNING * $$;

-- Does token open agency's feed? Only while its owner is an active user who may still read
-- that agency. Notes when it was last used (at most once a minute; not on a read-only
-- standby).
CREATE OR REPLACE FUNCTION calendar_token_opens(token text, agency uuid) RETURNS boolean
  LANGUAGE plpgsql AS $$
DECLARE
  t calendar_tokens;
BEGIN
  SELECT c.* INTO t FROM calendar_tokens c
  JOIN users u ON u.id::text = c.owner_sub AND u.active
  WHERE c.token_hash = calendar_token_hash(token) AND c.agency_id = agency
    AND agency_scope_allows(agency, u.role, u.id::text, u.agency_id::text);
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute' THEN
    BEGIN
      UPDATE calendar_tokens SET last_used_at = now() WHERE id = t.id;
    EXCEPTION WHEN read_only_sql_transaction THEN
      NULL;
    END;
  END IF;
  RETURN true;
END $$;
