-- The scale set for script/bench, generated inside PostgreSQL with set-based inserts:
-- 100,000 agencies, 1,000,000 tasks, 400 workshops and 200,000 registrations on top of the
-- demo data. Not records of the program: bench-only rows (demo = false, names starting
-- "Bench", emails on scale.example). Every row goes through the tables' constraints and
-- triggers like any other (no session_replication_role tricks), so the set is as consistent
-- as data written through the API: registrations fill each mode's seats in order and wait
-- in numbered places past them, done tasks carry completed_at (set by their trigger).
--
-- One workshop is the target of the registration scenario (BENCH_WORKSHOP in script/bench):
-- virtual, open now, 500 seats and nobody registered yet, so a run fills it and waitlists.
--
-- psql -v agencies=N scales it down (script/bench --quick): N agencies, 10 N tasks, 2 N
-- registrations.
\set ON_ERROR_STOP on
\if :{?agencies}
\else
  \set agencies 100000
\endif
BEGIN;

-- ---------------------------------------------------------------- agencies
-- Statuses and dates agree: an application has no approval date yet, enrolment dates only
-- from enrolled on. One agency in five is accredited (2019-2024, four years, so some have
-- expired by now): the public directory, which shows the agencies ever accredited, then has
-- 20,000 entries to page through.
INSERT INTO agencies (name, acronym, type, level, state, municipality, status, applied_on,
                      approved_on, enrolled_on, accredited_on, accreditation_expires_on, member,
                      dues_paid_through, reporting_frequency)
SELECT 'Bench agencia ' || lpad(g::text, 6, '0'),
       'BA' || g,
       (ARRAY['law_enforcement', 'training_academy', 'communications_center'])[1 + g % 3],
       (ARRAY['municipal', 'state', 'federal'])[1 + (g / 3) % 3],
       s.codes[1 + g % cardinality(s.codes)],
       'Municipio ' || (g % 500),
       (ARRAY['applied', 'approved', 'enrolled', 'self_assessment', 'accredited'])[1 + g % 5],
       DATE '2016-08-01' + (g % 1000),
       CASE WHEN g % 5 >= 1 THEN DATE '2016-09-01' + (g % 1000) END,
       CASE WHEN g % 5 >= 2 THEN DATE '2016-10-01' + (g % 1000) END,
       CASE WHEN g % 5 = 4 THEN DATE '2019-01-01' + (g % 2000) END,
       CASE WHEN g % 5 = 4 THEN accreditation_expiry(DATE '2019-01-01' + (g % 2000)) END,
       g % 5 = 0,
       CASE WHEN g % 5 = 0 THEN DATE '2027-12-31' END,
       'monthly'
FROM generate_series(1, :agencies) g,
     (SELECT array_agg(code ORDER BY code) AS codes FROM mx_states) s;

-- The scale agencies numbered 1..N, for the tasks and registrations below.
CREATE TEMPORARY TABLE bench_agencies ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY name)::int AS n, id, type
FROM agencies WHERE name LIKE 'Bench agencia %' AND NOT demo;
CREATE UNIQUE INDEX ON bench_agencies (n);
ANALYZE bench_agencies;

-- ------------------------------------------------------------------- tasks
-- Loading a million rows into seven secondary indexes one row at a time is most of the
-- cost; they are dropped here and rebuilt from their own definitions after the load
-- (sorted builds), inside the same transaction, so the schema ends exactly as migrated.
SET LOCAL maintenance_work_mem = '256MB';
CREATE TEMPORARY TABLE bench_task_indexes ON COMMIT DROP AS
SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def
FROM pg_index WHERE indrelid = 'tasks'::regclass AND NOT indisunique;
DO $$
DECLARE i record;
BEGIN
  FOR i IN SELECT name FROM bench_task_indexes LOOP
    EXECUTE 'DROP INDEX ' || i.name;
  END LOOP;
END $$;

-- 900,000 spread evenly (9 per agency) and 100,000 over 100 busy agencies (1,000 more each;
-- with N agencies, 9 N and N): the bench's overdue list reads the busiest. Due dates from 400
-- days ago to 400 days ahead (one in ten undated), statuses mixed. Overdue tasks are where
-- they would be, in the agencies behind schedule: the busy ones and one in a hundred of the
-- rest (about 1,100 agencies, 30,000 overdue tasks); elsewhere a task past its date is done.
-- One task in fifty names a standard of its agency's program (the trigger checks it).
WITH std AS (
  SELECT program, array_agg(id ORDER BY sort_key) AS ids FROM standards WHERE active
  GROUP BY program),
t AS (
  SELECT g, a.id AS agency_id, a.type, a.n <= 100 OR a.n % 100 = 0 AS behind,
         CASE WHEN g % 10 <> 0 THEN mx_today() - 400 + ((g * 7) % 801) END AS due_on,
         (ARRAY['open', 'open', 'open', 'open', 'open', 'open', 'open', 'in_progress',
                'in_progress', 'in_progress', 'in_progress', 'blocked', 'done', 'done', 'done',
                'done', 'done', 'done', 'done', 'cancelled'])[1 + (g / 7) % 20] AS status
  FROM generate_series(1, 10 * :agencies) g
  JOIN bench_agencies a
    ON a.n = CASE WHEN g <= 9 * :agencies THEN 1 + (g::bigint * 7919) % :agencies
                  ELSE 1 + g % 100 END)
INSERT INTO tasks (agency_id, standard_id, kind, title, description, due_on, status, priority,
                   created_at, updated_at)
SELECT t.agency_id,
       CASE WHEN t.g % 50 = 0 THEN std.ids[1 + t.g % cardinality(std.ids)] END,
       (ARRAY['written_directive', 'proof_of_compliance', 'training', 'pre_assessment',
              'review', 'corrective_action', 'progress_report', 'other'])[1 + t.g % 8],
       'Tarea de prueba ' || t.g,
       CASE WHEN t.g % 3 = 0
            THEN 'Descripción de la tarea ' || t.g || ' del plan de implementación.' END,
       t.due_on,
       CASE WHEN t.due_on < mx_today() AND NOT t.behind AND t.status NOT IN ('done', 'cancelled')
            THEN 'done' ELSE t.status END,
       (ARRAY['low', 'normal', 'normal', 'high'])[1 + t.g % 4],
       now() - make_interval(secs => t.g),
       now() - make_interval(secs => t.g)
FROM t LEFT JOIN std ON std.program = t.type;

DO $$
DECLARE i record;
BEGIN
  FOR i IN SELECT def FROM bench_task_indexes LOOP
    EXECUTE i.def;
  END LOOP;
END $$;

-- --------------------------------------------------------------- workshops
-- 400 workshops: two a fortnight from 2019 on, in person, virtual or hybrid, with capacities
-- from 40 to 400 seats per mode (one in eight unlimited); past ones held, future ones open.
INSERT INTO workshops (id, title, kind, mode, city, state, venue, starts_on, ends_on,
                       capacity_in_person, capacity_virtual, registration_opens_at,
                       registration_closes_at, status, organizer, created_at, updated_at)
SELECT md5('bench-workshop-' || g)::uuid,
       jsonb_build_object('es', 'Taller de prueba ' || g, 'en', 'Bench workshop ' || g),
       CASE WHEN g % 5 = 0 THEN 'other' ELSE 'amws' END,
       m.mode,
       CASE WHEN m.mode <> 'virtual' THEN 'Ciudad ' || (g % 40) END,
       CASE WHEN m.mode <> 'virtual' THEN 'MX-CMX' END,
       CASE WHEN m.mode <> 'virtual' THEN 'Sede ' || (g % 40) END,
       d.starts_on,
       d.starts_on + (g % 5),
       CASE WHEN m.mode = 'virtual' OR g % 8 = 1 THEN NULL ELSE 40 + (g * 37) % 361 END,
       CASE WHEN m.mode = 'in_person' OR g % 8 = 2 THEN NULL ELSE 40 + (g * 53) % 361 END,
       d.starts_on - 60,
       d.starts_on - 1,
       CASE WHEN d.starts_on < mx_today() THEN 'held' ELSE 'open' END,
       (ARRAY['inl', 'npi', 'caispmex'])[1 + g % 3],
       now() - make_interval(days => 400 - g),
       now() - make_interval(days => 400 - g)
FROM generate_series(1, 400) g,
     LATERAL (SELECT (ARRAY['in_person', 'virtual', 'hybrid'])[1 + g % 3] AS mode) m,
     LATERAL (SELECT DATE '2019-01-07' + (g * 15) / 2 AS starts_on) d;

-- The registration scenario's workshop: open now, virtual, 500 seats, empty.
INSERT INTO workshops (id, title, kind, mode, starts_on, ends_on, capacity_virtual,
                       registration_opens_at, registration_closes_at, status, organizer)
VALUES ('b0000000-0000-4000-8000-00000000beac',
        '{"es": "Taller de prueba de carga", "en": "Load test workshop"}', 'other', 'virtual',
        mx_today() + 60, mx_today() + 62, 500, now() - interval '1 day',
        now() + interval '30 days', 'open', 'inl');

-- ----------------------------------------------------------- registrations
-- 200,000 over the 400 workshops (500 each; 2 N in all). Per workshop and mode, in order
-- of arrival: confirmed while seats remain, then waitlisted at places 1, 2, …; one in forty
-- cancelled (no seat, no place). Half name one of the scale agencies.
WITH w AS (
  SELECT id, mode, capacity_in_person, capacity_virtual,
         row_number() OVER (ORDER BY id)::int - 1 AS k
  FROM workshops WHERE title ->> 'es' LIKE 'Taller de prueba %'
    AND id <> 'b0000000-0000-4000-8000-00000000beac'),
raw AS (
  SELECT w.id AS workshop_id, g,
         CASE w.mode WHEN 'hybrid' THEN CASE WHEN g % 3 = 0 THEN 'in_person' ELSE 'virtual' END
                     ELSE w.mode END AS attendance_mode,
         g % 40 = 0 AS cancelled,
         w.capacity_in_person, w.capacity_virtual
  FROM generate_series(0, 2 * :agencies - 1) g JOIN w ON w.k = g % 400),
ordered AS (
  SELECT raw.*, row_number() OVER (PARTITION BY workshop_id, attendance_mode, cancelled
                                   ORDER BY g) AS n,
         CASE attendance_mode WHEN 'in_person' THEN capacity_in_person
                              ELSE capacity_virtual END AS cap
  FROM raw)
INSERT INTO workshop_registrations (workshop_id, person_name, person_email, person_position,
                                    agency_id, attendance_mode, status, waitlist_position,
                                    cancelled_at, created_at, updated_at)
SELECT o.workshop_id,
       'Persona de prueba ' || o.g,
       'p' || o.g || '@scale.example',
       CASE WHEN o.g % 2 = 0 THEN 'Analista' END,
       a.id,
       o.attendance_mode,
       CASE WHEN o.cancelled THEN 'cancelled'
            WHEN o.cap IS NULL OR o.n <= o.cap THEN 'confirmed' ELSE 'waitlisted' END,
       CASE WHEN NOT o.cancelled AND o.n > o.cap THEN o.n - o.cap END,
       CASE WHEN o.cancelled THEN now() END,
       now() - make_interval(secs => 2 * :agencies - o.g),
       now() - make_interval(secs => 2 * :agencies - o.g)
FROM ordered o
LEFT JOIN bench_agencies a ON o.g % 2 = 0 AND a.n = 1 + (o.g * 31) % :agencies;

-- -------------------------------------------------------------- change feed
-- A running system's feed holds its last 100 days: here 100,000 committed changes, agency
-- updates one a minute (about 70 days), so that pollers page through a real feed and the
-- planner sees the table as the service will. (Left empty, each write's commit stamp read
-- the whole feed until autovacuum analyzed it: see bench/NOTES.md.)
INSERT INTO changes (commit_no, at, resource, resource_id, action, changed)
SELECT f.last + g,
       now() - make_interval(mins => 100000 - g),
       'agency',
       a.id::text,
       'updated',
       CASE WHEN g % 4 = 0 THEN '{name}'::text[] ELSE '{status}'::text[] END
FROM generate_series(1, 100000) g, feed_clock f, bench_agencies a
WHERE a.n = 1 + (g * 37) % :agencies;
UPDATE feed_clock SET last = (SELECT max(commit_no) FROM changes);

COMMIT;
