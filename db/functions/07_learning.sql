-- 07_learning: Webinars, workshops and registrations.

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
  SELECT '{"id":' || j(w.id) || ',"title":' || j(text_es_en(w.title))
    || ',"description":' || j(text_es_en(w.description))
    || ',"starts_at":' || j(rfc3339(w.starts_at))
    || ',"starts_at_local":' || j(local_rfc3339(w.starts_at, w.timezone))
    || ',"duration_minutes":' || j(w.duration_minutes) || ',"timezone":' || j(w.timezone)
    || ',"presenters":[' || coalesce((SELECT string_agg('{"name":' || j(p ->> 'name')
                                                     || ',"organization":' || j(p ->> 'organization')
                                                     || '}', ',' ORDER BY n)
                                     FROM jsonb_array_elements(w.presenters) WITH ORDINALITY x(p, n)), '')
    || '],"topics":' || j(w.topics) || ',"audience":' || j(w.audience) || ',"status":' || j(w.status)
    || ',"recording_url":' || j(CASE WHEN webinar_recording_visible(w, caller_role, caller_agency)
                                     THEN w.recording_url END)
    || ',"has_recording":' || j(w.recording_url IS NOT NULL) || ',"attendance":' || j(w.attendance)
    || ',"created_at":' || j(rfc3339(w.created_at)) || ',"updated_at":' || j(rfc3339(w.updated_at))
    || ',"version":' || j(w.version) || '}'
$$;

-- The columns a whole document (d) gives webinar x.
CREATE OR REPLACE FUNCTION webinar_from_doc(x webinars, d jsonb) RETURNS webinars
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  x.title := d -> 'title';
  x.description := nullif(d -> 'description', 'null');
  x.timezone := coalesce(d ->> 'timezone', 'America/Mexico_City');
  -- A local date-time is read in the webinar's zone; an instant with an offset stays itself.
  x.starts_at := instant_in_zone(d ->> 'starts_at', x.timezone);
  x.duration_minutes := coalesce((d ->> 'duration_minutes')::int, 60);
  x.presenters := coalesce(nullif(d -> 'presenters', 'null'), '[]');
  x.topics := ARRAY(SELECT jsonb_array_elements_text(coalesce(nullif(d -> 'topics', 'null'), '[]')));
  x.audience := coalesce(d ->> 'audience', 'public');
  x.status := coalesce(d ->> 'status', 'scheduled');
  x.recording_url := d ->> 'recording_url';
  x.attendance := (d ->> 'attendance')::int;
  RETURN x;
END $$;

CREATE OR REPLACE FUNCTION webinar_create(d jsonb) RETURNS webinars LANGUAGE sql AS $$
  INSERT INTO webinars SELECT (webinar_from_doc(new_row(NULL::webinars), d)).* RETURNING * $$;

-- Applies a merge patch to the webinar's representation (as its writers see it).
CREATE OR REPLACE FUNCTION webinar_update(id uuid, patch jsonb) RETURNS webinars
  LANGUAGE sql AS $$
  UPDATE webinars w SET (title, description, timezone, starts_at, duration_minutes, presenters,
      topics, audience, status, recording_url, attendance)
    = (SELECT n.title, n.description, n.timezone, n.starts_at, n.duration_minutes, n.presenters,
              n.topics, n.audience, n.status, n.recording_url, n.attendance
       FROM webinar_from_doc(w, jsonb_merge_patch(webinar_json(w, 'admin', NULL)::jsonb, patch)) n)
  WHERE w.id = webinar_update.id RETURNING w.* $$;

CREATE OR REPLACE TRIGGER workshops_touch BEFORE UPDATE ON workshops FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE OR REPLACE TRIGGER workshops_timezone_insert BEFORE INSERT ON workshops FOR EACH ROW
  WHEN (NEW.timezone <> 'America/Mexico_City') EXECUTE FUNCTION check_timezone_column();

CREATE OR REPLACE TRIGGER workshops_timezone_update BEFORE UPDATE OF timezone ON workshops FOR EACH ROW
  WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone) EXECUTE FUNCTION check_timezone_column();

-- Drafts are the organizers' work: only admin and coalition see them. An archived workshop
-- only admin sees.
CREATE OR REPLACE FUNCTION workshop_visible(w workshops, caller_role text) RETURNS boolean
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE WHEN w.archived_at IS NOT NULL THEN caller_role = 'admin'
                    ELSE w.status <> 'draft' OR caller_role IN ('admin', 'coalition') END $$;

CREATE OR REPLACE FUNCTION workshop_registration_closes(w workshops) RETURNS timestamptz
  LANGUAGE sql STABLE
  AS $$ SELECT coalesce(w.registration_closes_at,
                        (w.ends_on + 1)::timestamp AT TIME ZONE w.timezone) $$;

-- Registration is possible while the workshop is open and now is inside its window.
CREATE OR REPLACE FUNCTION workshop_registration_open(w workshops) RETURNS boolean
  LANGUAGE sql STABLE
  AS $$ SELECT w.status = 'open' AND w.archived_at IS NULL
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
  RETURN '{"id":' || j(r.id) || ',"workshop_id":' || j(r.workshop_id)
    || ',"person":{"name":' || j(r.person_name) || ',"email":' || j(r.person_email)
    || ',"position":' || j(r.person_position)
    || '},"agency_id":' || j(r.agency_id) || ',"attendance_mode":' || j(r.attendance_mode)
    || ',"status":' || j(r.status) || ',"waitlist_position":' || j(r.waitlist_position)
    || ',"checked_in_on":' || j(ARRAY(SELECT c.day::text FROM workshop_check_ins c
                                      WHERE c.registration_id = r.id ORDER BY c.day))
    || ',"cancelled_at":' || j(rfc3339(r.cancelled_at))
    || ',"created_at":' || j(rfc3339(r.created_at)) || ',"updated_at":' || j(rfc3339(r.updated_at))
    || ',"version":' || j(r.version) || '}';
END $$;

CREATE OR REPLACE FUNCTION workshop_json(w workshops) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT '{"id":' || j(w.id) || ',"title":' || j(text_es_en(w.title)) || ',"kind":' || j(w.kind)
    || ',"mode":' || j(w.mode) || ',"city":' || j(w.city) || ',"state":' || j(w.state)
    || ',"venue":' || j(w.venue) || ',"starts_on":' || j(w.starts_on) || ',"ends_on":' || j(w.ends_on)
    || ',"timezone":' || j(w.timezone)
    || ',"capacity":{"in_person":' || j(w.capacity_in_person)
    || ',"virtual":' || j(w.capacity_virtual)
    || '},"registration_opens_at":' || j(rfc3339(w.registration_opens_at))
    || ',"registration_closes_at":' || j(rfc3339(w.registration_closes_at))
    || ',"registration_open":' || j(workshop_registration_open(w))
    || ',"registrations":' || (
      SELECT '{"in_person":{"confirmed":'
        || count(*) FILTER (WHERE attendance_mode = 'in_person' AND status = 'confirmed')
        || ',"waitlisted":'
        || count(*) FILTER (WHERE attendance_mode = 'in_person' AND status = 'waitlisted')
        || '},"virtual":{"confirmed":'
        || count(*) FILTER (WHERE attendance_mode = 'virtual' AND status = 'confirmed')
        || ',"waitlisted":'
        || count(*) FILTER (WHERE attendance_mode = 'virtual' AND status = 'waitlisted') || '}}'
      FROM workshop_registrations r WHERE r.workshop_id = w.id AND r.status <> 'cancelled')
    || ',"status":' || j(w.status) || ',"organizer":' || j(w.organizer)
    || ',"archived_at":' || j(rfc3339(w.archived_at))
    || ',"created_at":' || j(rfc3339(w.created_at)) || ',"updated_at":' || j(rfc3339(w.updated_at))
    || ',"version":' || j(w.version) || '}'
$$;

-- Counts per day of the workshop (every day, zeros included) and mode, and the registrations
-- per mode and status, with how many of them checked in at least once.
CREATE OR REPLACE FUNCTION workshop_attendance_json(w workshops) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_compact(json_build_object(
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
        GROUP BY m) per_mode)))
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

-- The columns a whole document (d) gives workshop x.
CREATE OR REPLACE FUNCTION workshop_from_doc(x workshops, d jsonb) RETURNS workshops
  LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  x.title := d -> 'title';
  x.kind := coalesce(d ->> 'kind', 'amws');
  x.mode := d ->> 'mode';
  x.city := d ->> 'city';
  x.state := d ->> 'state';
  x.venue := d ->> 'venue';
  x.starts_on := (d ->> 'starts_on')::date;
  x.ends_on := (d ->> 'ends_on')::date;
  x.timezone := coalesce(d ->> 'timezone', 'America/Mexico_City');
  x.capacity_in_person := (d #>> '{capacity,in_person}')::int;
  x.capacity_virtual := (d #>> '{capacity,virtual}')::int;
  x.registration_opens_at := (d ->> 'registration_opens_at')::timestamptz;
  x.registration_closes_at := (d ->> 'registration_closes_at')::timestamptz;
  x.status := coalesce(d ->> 'status', 'draft');
  x.organizer := d ->> 'organizer';
  RETURN x;
END $$;

CREATE OR REPLACE FUNCTION workshop_create(d jsonb) RETURNS workshops LANGUAGE sql AS $$
  INSERT INTO workshops SELECT (workshop_from_doc(new_row(NULL::workshops), d)).* RETURNING * $$;

-- A larger capacity takes people off the waitlist (the caller reseats: workshop_reseat); a
-- smaller one never unseats anybody confirmed.
CREATE OR REPLACE FUNCTION workshop_update(id uuid, patch jsonb) RETURNS workshops
  LANGUAGE sql AS $$
  UPDATE workshops w SET (title, kind, mode, city, state, venue, starts_on, ends_on, timezone,
      capacity_in_person, capacity_virtual, registration_opens_at, registration_closes_at, status,
      organizer)
    = (SELECT n.title, n.kind, n.mode, n.city, n.state, n.venue, n.starts_on, n.ends_on,
              n.timezone, n.capacity_in_person, n.capacity_virtual, n.registration_opens_at,
              n.registration_closes_at, n.status, n.organizer
       FROM workshop_from_doc(w, jsonb_merge_patch(workshop_json(w)::jsonb, patch)) n)
  WHERE w.id = workshop_update.id RETURNING w.* $$;

-- A merge patch of a registration: the person, or its cancellation (which frees its seat or
-- waitlist place: the caller holds the workshop's seat lock and reseats).
CREATE OR REPLACE FUNCTION registration_update(id uuid, patch jsonb)
  RETURNS workshop_registrations LANGUAGE plpgsql AS $$
DECLARE
  x workshop_registrations;
  d jsonb;
BEGIN
  SELECT * INTO x FROM workshop_registrations r WHERE r.id = registration_update.id;
  d := jsonb_merge_patch(registration_json(x)::jsonb, patch);
  x.person_name := d #>> '{person,name}';
  x.person_email := d #>> '{person,email}';
  x.person_position := d #>> '{person,position}';
  IF d ->> 'status' = 'cancelled' AND x.status <> 'cancelled' THEN
    x.status := 'cancelled';
    x.waitlist_position := NULL;
    x.cancelled_at := now();
  END IF;
  UPDATE workshop_registrations r SET (person_name, person_email, person_position, status,
      waitlist_position, cancelled_at)
    = (x.person_name, x.person_email, x.person_position, x.status, x.waitlist_position,
       x.cancelled_at)
  WHERE r.id = x.id RETURNING * INTO x;
  RETURN x;
END $$;

-- What holds a workshop's history: its registrations (cancelled ones included). The counts
-- that are not zero, as a JSON object; {} when it may be erased.
CREATE OR REPLACE FUNCTION workshop_dependents(workshop uuid) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'registrations', nullif((SELECT count(*) FROM workshop_registrations r
                             WHERE r.workshop_id = workshop), 0))) $$;
