-- 07_learning: Webinars, workshops and registrations.

-- A bilingual text as the API shows it: Spanish first, English null when absent.
CREATE OR REPLACE FUNCTION learning_text(t jsonb) RETURNS json
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE WHEN t IS NULL THEN NULL
                    ELSE json_build_object('es', t ->> 'es', 'en', t ->> 'en') END $$;

CREATE OR REPLACE TRIGGER webinars_touch BEFORE UPDATE ON webinars FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE OR REPLACE TRIGGER webinars_timezone_insert BEFORE INSERT ON webinars FOR EACH ROW
  WHEN (NEW.timezone <> 'America/Mexico_City') EXECUTE FUNCTION check_timezone_column();

CREATE OR REPLACE TRIGGER webinars_timezone_update BEFORE UPDATE OF timezone ON webinars FOR EACH ROW
  WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone) EXECUTE FUNCTION check_timezone_column();

-- Who sees a webinar at all: anonymous callers and partner systems only public ones; the
-- people of the program (every other role) all of them.
CREATE OR REPLACE FUNCTION webinar_visible(w webinars, caller_role text) RETURNS boolean
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT w.audience = 'public'
               OR caller_role IN ('admin', 'inl', 'advisor', 'agency', 'coalition') $$;

-- A members webinar's recording is a CAISPMEX member benefit: admin, coalition, or an agency
-- user whose agency's dues are paid through today (Mexico City) or later.
CREATE OR REPLACE FUNCTION webinar_recording_visible(w webinars, caller_role text, caller_agency uuid)
  RETURNS boolean LANGUAGE sql STABLE
  AS $$
    SELECT w.audience <> 'members' OR caller_role IN ('admin', 'coalition')
           OR (caller_role = 'agency' AND EXISTS (
                 SELECT 1 FROM agencies a
                 WHERE a.id = caller_agency AND a.dues_paid_through >= mx_today()))
  $$;

CREATE OR REPLACE FUNCTION webinar_json(w webinars, caller_role text, caller_agency uuid) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'id', w.id, 'title', learning_text(w.title), 'description', learning_text(w.description),
    'starts_at', rfc3339(w.starts_at), 'starts_at_local', local_rfc3339(w.starts_at, w.timezone),
    'duration_minutes', w.duration_minutes, 'timezone', w.timezone,
    'presenters', coalesce((SELECT json_agg(json_build_object('name', p ->> 'name',
                                                              'organization', p ->> 'organization')
                                            ORDER BY n)
                            FROM jsonb_array_elements(w.presenters) WITH ORDINALITY x(p, n)), '[]'),
    'topics', to_json(w.topics), 'audience', w.audience, 'status', w.status,
    'recording_url', CASE WHEN webinar_recording_visible(w, caller_role, caller_agency)
                          THEN w.recording_url END,
    'has_recording', w.recording_url IS NOT NULL, 'attendance', w.attendance,
    'created_at', rfc3339(w.created_at), 'updated_at', rfc3339(w.updated_at),
    'version', w.version)::text
$$;

CREATE OR REPLACE TRIGGER workshops_touch BEFORE UPDATE ON workshops FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE OR REPLACE TRIGGER workshops_timezone_insert BEFORE INSERT ON workshops FOR EACH ROW
  WHEN (NEW.timezone <> 'America/Mexico_City') EXECUTE FUNCTION check_timezone_column();

CREATE OR REPLACE TRIGGER workshops_timezone_update BEFORE UPDATE OF timezone ON workshops FOR EACH ROW
  WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone) EXECUTE FUNCTION check_timezone_column();

-- Drafts are the organizers' work: only admin and coalition see them.
CREATE OR REPLACE FUNCTION workshop_visible(w workshops, caller_role text) RETURNS boolean
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT w.status <> 'draft' OR caller_role IN ('admin', 'coalition') $$;

CREATE OR REPLACE FUNCTION workshop_registration_closes(w workshops) RETURNS timestamptz
  LANGUAGE sql STABLE
  AS $$ SELECT coalesce(w.registration_closes_at,
                        (w.ends_on + 1)::timestamp AT TIME ZONE w.timezone) $$;

-- Registration is possible while the workshop is open and now is inside its window.
CREATE OR REPLACE FUNCTION workshop_registration_open(w workshops) RETURNS boolean
  LANGUAGE sql STABLE
  AS $$ SELECT w.status = 'open'
               AND now() >= coalesce(w.registration_opens_at, '-infinity')
               AND now() <= workshop_registration_closes(w) $$;

CREATE OR REPLACE TRIGGER workshop_registrations_touch BEFORE UPDATE ON workshop_registrations
  FOR EACH ROW EXECUTE FUNCTION touch_row();

-- Representations that need a subquery cannot be inlined. As LANGUAGE sql they were parsed
-- and planned again in each statement (about 0.2 ms for a registration's, as much as the
-- rest of its insert); as plpgsql the plan is made once per connection and kept. Same
-- bodies, same results.
CREATE OR REPLACE FUNCTION registration_json(r workshop_registrations) RETURNS text
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN json_build_object(
    'id', r.id, 'workshop_id', r.workshop_id,
    'person', json_build_object('name', r.person_name, 'email', r.person_email,
                                'position', r.person_position),
    'agency_id', r.agency_id, 'attendance_mode', r.attendance_mode, 'status', r.status,
    'waitlist_position', r.waitlist_position,
    'checked_in_on', coalesce((SELECT json_agg(c.day::text ORDER BY c.day)
                               FROM workshop_check_ins c WHERE c.registration_id = r.id), '[]'),
    'cancelled_at', rfc3339(r.cancelled_at),
    'created_at', rfc3339(r.created_at), 'updated_at', rfc3339(r.updated_at),
    'version', r.version)::text;
END $$;

CREATE OR REPLACE FUNCTION workshop_json(w workshops) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'id', w.id, 'title', learning_text(w.title), 'kind', w.kind, 'mode', w.mode,
    'city', w.city, 'state', w.state, 'venue', w.venue,
    'starts_on', w.starts_on::text, 'ends_on', w.ends_on::text, 'timezone', w.timezone,
    'capacity', json_build_object('in_person', w.capacity_in_person, 'virtual', w.capacity_virtual),
    'registration_opens_at', rfc3339(w.registration_opens_at),
    'registration_closes_at', rfc3339(w.registration_closes_at),
    'registration_open', workshop_registration_open(w),
    'registrations', (
      SELECT json_build_object(
        'in_person', json_build_object(
          'confirmed', count(*) FILTER (WHERE attendance_mode = 'in_person' AND status = 'confirmed'),
          'waitlisted', count(*) FILTER (WHERE attendance_mode = 'in_person' AND status = 'waitlisted')),
        'virtual', json_build_object(
          'confirmed', count(*) FILTER (WHERE attendance_mode = 'virtual' AND status = 'confirmed'),
          'waitlisted', count(*) FILTER (WHERE attendance_mode = 'virtual' AND status = 'waitlisted')))
      FROM workshop_registrations r WHERE r.workshop_id = w.id AND r.status <> 'cancelled'),
    'status', w.status, 'organizer', w.organizer,
    'created_at', rfc3339(w.created_at), 'updated_at', rfc3339(w.updated_at),
    'version', w.version)::text
$$;

-- Counts per day of the workshop (every day, zeros included) and mode, and the registrations
-- per mode and status, with how many of them checked in at least once.
CREATE OR REPLACE FUNCTION workshop_attendance_json(w workshops) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'workshop_id', w.id, 'starts_on', w.starts_on::text, 'ends_on', w.ends_on::text,
    'days', (
      SELECT json_agg(json_build_object('day', day::text, 'in_person', in_person,
                                        'virtual', virtual, 'total', in_person + virtual)
                      ORDER BY day)
      FROM (
        SELECT d::date AS day,
               count(r.id) FILTER (WHERE r.attendance_mode = 'in_person') AS in_person,
               count(r.id) FILTER (WHERE r.attendance_mode = 'virtual') AS virtual
        FROM generate_series(w.starts_on, w.ends_on, interval '1 day') d
        LEFT JOIN (workshop_check_ins c JOIN workshop_registrations r
                     ON r.id = c.registration_id AND r.workshop_id = w.id)
          ON c.day = d::date
        GROUP BY d) per_day),
    'registrations', (
      SELECT json_object_agg(mode, json_build_object('confirmed', confirmed,
                               'waitlisted', waitlisted, 'cancelled', cancelled,
                               'attended', attended))
      FROM (
        SELECT m AS mode,
               count(r.id) FILTER (WHERE r.status = 'confirmed') AS confirmed,
               count(r.id) FILTER (WHERE r.status = 'waitlisted') AS waitlisted,
               count(r.id) FILTER (WHERE r.status = 'cancelled') AS cancelled,
               count(r.id) FILTER (WHERE EXISTS (
                 SELECT 1 FROM workshop_check_ins c WHERE c.registration_id = r.id)) AS attended
        FROM unnest(ARRAY['in_person', 'virtual']) m
        LEFT JOIN workshop_registrations r ON r.workshop_id = w.id AND r.attendance_mode = m
        GROUP BY m) per_mode))::text
$$;

-- Fills free seats from the waitlists, first come first served, and renumbers each mode's
-- waitlist 1..n. The caller holds the workshop's row lock (SELECT … FOR UPDATE), so no other
-- transaction changes its seats meanwhile. Returns every registration it changed, with its
-- representation before and after, for the audit trail.
CREATE OR REPLACE FUNCTION workshop_reseat(wid uuid) RETURNS TABLE (id uuid, before text, after text)
  LANGUAGE plpgsql AS $$
DECLARE
  snap jsonb;
BEGIN
  SELECT jsonb_object_agg(r.id, registration_json(r)) INTO snap
  FROM workshop_registrations r WHERE r.workshop_id = wid AND r.status = 'waitlisted';
  IF snap IS NULL THEN
    RETURN;
  END IF;

  UPDATE workshop_registrations r SET status = 'confirmed', waitlist_position = NULL
  FROM (
    SELECT x.id, row_number() OVER (PARTITION BY x.attendance_mode
                                    ORDER BY x.waitlist_position, x.created_at, x.id) AS n,
           x.attendance_mode
    FROM workshop_registrations x WHERE x.workshop_id = wid AND x.status = 'waitlisted') q,
  LATERAL (
    SELECT CASE q.attendance_mode WHEN 'in_person' THEN w.capacity_in_person
                                  ELSE w.capacity_virtual END AS cap
    FROM workshops w WHERE w.id = wid) c,
  LATERAL (
    SELECT count(*) AS taken FROM workshop_registrations y
    WHERE y.workshop_id = wid AND y.attendance_mode = q.attendance_mode
      AND y.status = 'confirmed') k
  WHERE r.id = q.id AND (c.cap IS NULL OR q.n <= c.cap - k.taken);

  UPDATE workshop_registrations r SET waitlist_position = q.n
  FROM (
    SELECT x.id, row_number() OVER (PARTITION BY x.attendance_mode
                                    ORDER BY x.waitlist_position, x.created_at, x.id) AS n
    FROM workshop_registrations x WHERE x.workshop_id = wid AND x.status = 'waitlisted') q
  WHERE r.id = q.id AND r.waitlist_position IS DISTINCT FROM q.n;

  RETURN QUERY
    SELECT r.id, snap ->> r.id::text, registration_json(r)
    FROM workshop_registrations r
    WHERE r.workshop_id = wid AND snap ? r.id::text AND r.version > (
      (snap ->> r.id::text)::jsonb ->> 'version')::int;
END $$;
