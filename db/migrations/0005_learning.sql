-- 0005_learning: the program's webinars, its workshops and the registrations for them.
--
-- Instants are stored as timestamptz (UTC) together with the IANA zone they were planned in;
-- PostgreSQL's time-zone data converts them (Mexico dropped daylight saving time in October
-- 2022, so a fixed -06:00 would be wrong for 2020-2022). Every seat rule of a workshop is
-- enforced here: a registering transaction locks the workshop's row, so registrations for one
-- workshop are decided one at a time, and the indexes below make a second live registration
-- for an email, or two waitlisted people at one position, impossible whatever the code does.

-- ------------------------------------------------------------------ helpers

-- True when tz names a zone of PostgreSQL's time-zone database (America/Mexico_City), not an
-- abbreviation or a POSIX rule. Reads pg_timezone_names, which costs tens of milliseconds:
-- call it on writes that set a zone, never per row of a read.
CREATE FUNCTION timezone_known(tz text) RETURNS boolean
  LANGUAGE sql STABLE STRICT
  AS $$ SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz) $$;

-- Refuses rows whose timezone column names no known zone (backs the check the API does).
CREATE FUNCTION check_timezone_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT timezone_known(NEW.timezone) THEN
    RAISE EXCEPTION 'unknown time zone %', NEW.timezone
      USING ERRCODE = 'check_violation', CONSTRAINT = TG_TABLE_NAME || '_timezone';
  END IF;
  RETURN NEW;
END $$;

-- An instant from API input: RFC 3339 with Z or an offset is taken as is; a local date-time
-- without one ("2021-06-10T10:00:00") is read as wall-clock time in tz.
CREATE FUNCTION instant_in_zone(t text, tz text) RETURNS timestamptz
  LANGUAGE sql STABLE STRICT
  AS $$ SELECT CASE WHEN t ~ '([zZ]|[+-]\d\d:\d\d)$' THEN t::timestamptz
                    ELSE t::timestamp AT TIME ZONE tz END $$;

-- RFC 3339 wall-clock time in tz with that moment's offset: 2021-06-10T10:00:00-05:00.
CREATE FUNCTION local_rfc3339(t timestamptz, tz text) RETURNS text
  LANGUAGE sql STABLE STRICT
  AS $$
    SELECT to_char(local, 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN off < interval '0' THEN '-' ELSE '+' END
           || to_char(CASE WHEN off < interval '0' THEN -off ELSE off END, 'HH24:MI')
    FROM (SELECT t AT TIME ZONE tz AS local, (t AT TIME ZONE tz) - (t AT TIME ZONE 'UTC') AS off) x
  $$;

-- A bilingual text as the API shows it: Spanish first, English null when absent.
CREATE FUNCTION learning_text(t jsonb) RETURNS json
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE WHEN t IS NULL THEN NULL
                    ELSE json_build_object('es', t ->> 'es', 'en', t ->> 'en') END $$;

-- ----------------------------------------------------------------- webinars

CREATE TABLE webinars (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  title jsonb NOT NULL CHECK (jsonb_typeof(title) = 'object' AND title ? 'es'),
  description jsonb CHECK (description IS NULL OR (jsonb_typeof(description) = 'object' AND description ? 'es')),
  starts_at timestamptz NOT NULL,
  duration_minutes integer NOT NULL DEFAULT 60 CHECK (duration_minutes BETWEEN 1 AND 1440),
  timezone text NOT NULL DEFAULT 'America/Mexico_City',
  presenters jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(presenters) = 'array'),
  topics text[] NOT NULL DEFAULT '{}',
  audience text NOT NULL DEFAULT 'public' CHECK (audience IN ('public', 'members', 'program')),
  status text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'held', 'cancelled')),
  recording_url text CHECK (length(recording_url) <= 1000),
  attendance integer CHECK (attendance >= 0),
  demo boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1
);
CREATE INDEX webinars_starts_at ON webinars (starts_at, id);
CREATE INDEX webinars_created_at ON webinars (created_at, id);
CREATE INDEX webinars_updated_at ON webinars (updated_at, id);
CREATE TRIGGER webinars_touch BEFORE UPDATE ON webinars FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE TRIGGER webinars_timezone_insert BEFORE INSERT ON webinars FOR EACH ROW
  WHEN (NEW.timezone <> 'America/Mexico_City') EXECUTE FUNCTION check_timezone_column();
CREATE TRIGGER webinars_timezone_update BEFORE UPDATE OF timezone ON webinars FOR EACH ROW
  WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone) EXECUTE FUNCTION check_timezone_column();

-- Who sees a webinar at all: anonymous callers and partner systems only public ones; the
-- people of the program (every other role) all of them.
CREATE FUNCTION webinar_visible(w webinars, caller_role text) RETURNS boolean
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT w.audience = 'public'
               OR caller_role IN ('admin', 'inl', 'advisor', 'agency', 'coalition') $$;

-- A members webinar's recording is a CAISPMEX member benefit: admin, coalition, or an agency
-- user whose agency's dues are paid through today (Mexico City) or later.
CREATE FUNCTION webinar_recording_visible(w webinars, caller_role text, caller_agency uuid)
  RETURNS boolean LANGUAGE sql STABLE
  AS $$
    SELECT w.audience <> 'members' OR caller_role IN ('admin', 'coalition')
           OR (caller_role = 'agency' AND EXISTS (
                 SELECT 1 FROM agencies a
                 WHERE a.id = caller_agency AND a.dues_paid_through >= mx_today()))
  $$;

CREATE FUNCTION webinar_json(w webinars, caller_role text, caller_agency uuid) RETURNS text
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

-- ---------------------------------------------------------------- workshops

CREATE TABLE workshops (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  title jsonb NOT NULL CHECK (jsonb_typeof(title) = 'object' AND title ? 'es'),
  kind text NOT NULL DEFAULT 'amws' CHECK (kind IN ('amws', 'other')),
  mode text NOT NULL CHECK (mode IN ('in_person', 'virtual', 'hybrid')),
  city text CHECK (length(city) BETWEEN 1 AND 200),
  state text REFERENCES mx_states (code),
  venue text CHECK (length(venue) BETWEEN 1 AND 300),
  starts_on date NOT NULL,
  ends_on date NOT NULL,
  timezone text NOT NULL DEFAULT 'America/Mexico_City',
  -- NULL: unlimited.
  capacity_in_person integer CHECK (capacity_in_person >= 0),
  capacity_virtual integer CHECK (capacity_virtual >= 0),
  registration_opens_at timestamptz,
  -- NULL: registration closes when the workshop's last day ends (workshop_registration_closes).
  registration_closes_at timestamptz,
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'closed', 'held', 'cancelled')),
  organizer text NOT NULL DEFAULT 'inl' CHECK (organizer IN ('npi', 'inl', 'caispmex')),
  demo boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT workshops_dates CHECK (ends_on >= starts_on),
  CONSTRAINT workshops_window CHECK (registration_closes_at > registration_opens_at)
);
CREATE INDEX workshops_starts_on ON workshops (starts_on, id);
CREATE INDEX workshops_created_at ON workshops (created_at, id);
CREATE INDEX workshops_updated_at ON workshops (updated_at, id);
CREATE TRIGGER workshops_touch BEFORE UPDATE ON workshops FOR EACH ROW EXECUTE FUNCTION touch_row();
CREATE TRIGGER workshops_timezone_insert BEFORE INSERT ON workshops FOR EACH ROW
  WHEN (NEW.timezone <> 'America/Mexico_City') EXECUTE FUNCTION check_timezone_column();
CREATE TRIGGER workshops_timezone_update BEFORE UPDATE OF timezone ON workshops FOR EACH ROW
  WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone) EXECUTE FUNCTION check_timezone_column();

-- Drafts are the organizers' work: only admin and coalition see them.
CREATE FUNCTION workshop_visible(w workshops, caller_role text) RETURNS boolean
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT w.status <> 'draft' OR caller_role IN ('admin', 'coalition') $$;

CREATE FUNCTION workshop_registration_closes(w workshops) RETURNS timestamptz
  LANGUAGE sql STABLE
  AS $$ SELECT coalesce(w.registration_closes_at,
                        (w.ends_on + 1)::timestamp AT TIME ZONE w.timezone) $$;

-- Registration is possible while the workshop is open and now is inside its window.
CREATE FUNCTION workshop_registration_open(w workshops) RETURNS boolean
  LANGUAGE sql STABLE
  AS $$ SELECT w.status = 'open'
               AND now() >= coalesce(w.registration_opens_at, '-infinity')
               AND now() <= workshop_registration_closes(w) $$;

-- ------------------------------------------------------------ registrations

CREATE TABLE workshop_registrations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  workshop_id uuid NOT NULL REFERENCES workshops (id),
  person_name text NOT NULL CHECK (length(person_name) BETWEEN 1 AND 200),
  person_email text NOT NULL CHECK (person_email ~ '^[^@\s]+@[^@\s]+$' AND length(person_email) <= 254),
  person_position text CHECK (length(person_position) BETWEEN 1 AND 200),
  agency_id uuid REFERENCES agencies (id),
  attendance_mode text NOT NULL CHECK (attendance_mode IN ('in_person', 'virtual')),
  status text NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
  waitlist_position integer CHECK (waitlist_position >= 1),
  cancelled_at timestamptz,
  demo boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT workshop_registrations_position CHECK ((status = 'waitlisted') = (waitlist_position IS NOT NULL)),
  CONSTRAINT workshop_registrations_cancelled CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
  -- One person per waitlist place and mode. Deferred: renumbering a waitlist moves every
  -- place by one inside a single statement.
  CONSTRAINT workshop_registrations_waitlist_place EXCLUDE USING btree
    (workshop_id WITH =, attendance_mode WITH =, waitlist_position WITH =)
    WHERE (status = 'waitlisted') DEFERRABLE INITIALLY DEFERRED
);
-- One live (not cancelled) registration per email and workshop; emails compare
-- case-insensitively.
CREATE UNIQUE INDEX workshop_registrations_live_email
  ON workshop_registrations (workshop_id, lower(person_email)) WHERE status <> 'cancelled';
CREATE INDEX workshop_registrations_seats ON workshop_registrations (workshop_id, attendance_mode, status);
CREATE INDEX workshop_registrations_created_at ON workshop_registrations (workshop_id, created_at, id);
CREATE INDEX workshop_registrations_agency ON workshop_registrations (agency_id);
CREATE TRIGGER workshop_registrations_touch BEFORE UPDATE ON workshop_registrations
  FOR EACH ROW EXECUTE FUNCTION touch_row();

-- Attendance: one row per registration and day attended (idempotent by its key).
CREATE TABLE workshop_check_ins (
  registration_id uuid NOT NULL REFERENCES workshop_registrations (id) ON DELETE CASCADE,
  day date NOT NULL,
  checked_in_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (registration_id, day)
);
CREATE INDEX workshop_check_ins_day ON workshop_check_ins (day);

CREATE FUNCTION registration_json(r workshop_registrations) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'id', r.id, 'workshop_id', r.workshop_id,
    'person', json_build_object('name', r.person_name, 'email', r.person_email,
                                'position', r.person_position),
    'agency_id', r.agency_id, 'attendance_mode', r.attendance_mode, 'status', r.status,
    'waitlist_position', r.waitlist_position,
    'checked_in_on', coalesce((SELECT json_agg(c.day::text ORDER BY c.day)
                               FROM workshop_check_ins c WHERE c.registration_id = r.id), '[]'),
    'cancelled_at', rfc3339(r.cancelled_at),
    'created_at', rfc3339(r.created_at), 'updated_at', rfc3339(r.updated_at),
    'version', r.version)::text
$$;

CREATE FUNCTION workshop_json(w workshops) RETURNS text
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
CREATE FUNCTION workshop_attendance_json(w workshops) RETURNS text
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
CREATE FUNCTION workshop_reseat(wid uuid) RETURNS TABLE (id uuid, before text, after text)
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
