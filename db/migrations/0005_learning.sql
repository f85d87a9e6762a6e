-- 0005_learning: the program's webinars, its workshops and the registrations for them.
--
-- Instants are stored as timestamptz (UTC) together with the IANA zone they were planned in;
-- PostgreSQL's time-zone data converts them (Mexico dropped daylight saving time in October
-- 2022, so a fixed -06:00 would be wrong for 2020-2022). Every seat rule of a workshop is
-- enforced here: a registering transaction locks the workshop's row, so registrations for one
-- workshop are decided one at a time, and the indexes below make a second live registration
-- for an email, or two waitlisted people at one position, impossible whatever the code does.

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

-- Attendance: one row per registration and day attended (idempotent by its key).
CREATE TABLE workshop_check_ins (
  registration_id uuid NOT NULL REFERENCES workshop_registrations (id) ON DELETE CASCADE,
  day date NOT NULL,
  checked_in_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (registration_id, day)
);
CREATE INDEX workshop_check_ins_day ON workshop_check_ins (day);
