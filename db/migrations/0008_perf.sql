-- 0008_perf: what the benchmark (bench/, issue 8) found, fixed in the schema. Functions keep
-- their names, signatures and results; only how PostgreSQL can run them changes.
--
-- PostgreSQL inlines a LANGUAGE sql function into the query that calls it when its body is a
-- single expression (no FROM, no subquery) and it is not declared more stable than that
-- expression. A function it cannot inline runs through the SQL-function executor, which
-- parses and plans the body again in every statement that calls it: with a profile of
-- GET /v1/agencies/{id}, most of PostgreSQL's time went to base_yyparse and the planner
-- under fmgr_sql, for two small date helpers.

-- to_char() is STABLE, so an IMMUTABLE rfc3339() could never be inlined. It is used in no
-- index, so STABLE costs nothing and lets every *_json() function inline it.
CREATE OR REPLACE FUNCTION rfc3339(t timestamptz) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE STRICT
  AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

-- The next anniversary of the award on or after today, while the accreditation runs: the
-- same result as 0003's min() over generate_series(1, 4), as one expression. Anniversaries
-- only grow, so the first one on or after today is the minimum, and when it is past the
-- expiry so are the later ones.
CREATE OR REPLACE FUNCTION agency_next_annual_review_due(a agencies, today date) RETURNS date
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
      WHEN (a.accredited_on + interval '1 year')::date >= today THEN
        CASE WHEN (a.accredited_on + interval '1 year')::date
                  <= coalesce(a.accreditation_expires_on, accreditation_expiry(a.accredited_on))
             THEN (a.accredited_on + interval '1 year')::date END
      WHEN (a.accredited_on + interval '2 years')::date >= today THEN
        CASE WHEN (a.accredited_on + interval '2 years')::date
                  <= coalesce(a.accreditation_expires_on, accreditation_expiry(a.accredited_on))
             THEN (a.accredited_on + interval '2 years')::date END
      WHEN (a.accredited_on + interval '3 years')::date >= today THEN
        CASE WHEN (a.accredited_on + interval '3 years')::date
                  <= coalesce(a.accreditation_expires_on, accreditation_expiry(a.accredited_on))
             THEN (a.accredited_on + interval '3 years')::date END
      WHEN (a.accredited_on + interval '4 years')::date >= today THEN
        CASE WHEN (a.accredited_on + interval '4 years')::date
                  <= coalesce(a.accreditation_expires_on, accreditation_expiry(a.accredited_on))
             THEN (a.accredited_on + interval '4 years')::date END
    END $$;

-- Scoping of compliance and tasks, evaluated for every row a task list reads: the advisor's
-- lookup (a subquery, which prevents inlining) moves to its own function, called only for
-- advisors; the rest inlines into the list's plan.
CREATE FUNCTION agency_advised_by(agency uuid, sub text) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM agencies a WHERE a.id = agency
                   AND (sub = ANY (a.advisor_ids::text[]) OR a.regional_manager_id::text = sub)) $$;

CREATE OR REPLACE FUNCTION agency_scope_allows(agency uuid, role text, sub text, caller_agency text)
  RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE role
      WHEN 'admin' THEN true
      WHEN 'inl' THEN true
      WHEN 'advisor' THEN agency_advised_by(agency, sub)
      WHEN 'agency' THEN agency::text = caller_agency
      ELSE false END $$;

-- ------------------------------------------------------------------ lists

-- Lists page by keyset in name order; with a filter on type or state the page is read in
-- index order from the first row that matches (a state is 1/32 of the agencies: through
-- agencies_name a page read some 1,600 rows to keep 50).
CREATE INDEX agencies_type_name ON agencies (type, name, id);
CREATE INDEX agencies_state_name ON agencies (state, name, id);

-- ?status= filters on the status as shown (agency_status(): "expired" is derived from the
-- date), which no index can hold. The stored statuses that can show as the requested ones
-- are a condition an index can use (agencies_status): a rare status no longer reads every
-- agency. "expired" shows from accredited and conditionally_accredited.
CREATE FUNCTION agency_stored_statuses(shown jsonb) RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY(SELECT s FROM jsonb_array_elements_text(shown) s
                 UNION SELECT unnest(ARRAY['accredited', 'conditionally_accredited'])
                 WHERE shown ? 'expired') $$;

-- An agency as a list shows it: agency_json_for() in plpgsql. A list statement has optional
-- filters, so PostgreSQL plans it for each request's values, and with agency_json_for()
-- inlined (35 members, a dozen helpers) that planning cost more than rendering the 50 rows.
-- The plpgsql twin is planned once per connection; GET /v1/agencies/{id} keeps the inlined
-- one, whose plan is made once.
CREATE FUNCTION agency_list_json(a agencies, role text) RETURNS text
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN agency_json_for(a, role);
END $$;

-- A task list of one agency, in due order (the default sort), reads the agency's tasks in
-- that order and stops at the page's end, instead of reading them all to sort them.
CREATE INDEX tasks_agency_due_order ON tasks (agency_id, (coalesce(due_on, 'infinity'::date)), id);

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

-- The audit trail's diff, computed for every write.
CREATE OR REPLACE FUNCTION json_changes(before jsonb, after jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN (
    SELECT coalesce(jsonb_object_agg(k, jsonb_build_array(before -> k, after -> k)), '{}')
    FROM (SELECT jsonb_object_keys(coalesce(before, '{}')) AS k
          UNION SELECT jsonb_object_keys(coalesce(after, '{}'))) keys
    WHERE (before -> k) IS DISTINCT FROM (after -> k)
      AND k NOT IN ('updated_at', 'version'));
END $$;

-- ------------------------------------------------------------------ stats

-- Agencies with overdue tasks, for the dashboard. 0003 had to reach tasks (created in 0004)
-- by dynamic SQL; now it is plain SQL, and it names the open statuses, which the partial
-- index tasks_open_due covers (the same tasks as "not done or cancelled": the column's CHECK
-- allows no other status), instead of reading every task.
CREATE OR REPLACE FUNCTION stats_overdue_tasks(today date) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT coalesce(json_agg(json_build_object('id', a.id, 'name', a.name, 'overdue_tasks', t.n)
                           ORDER BY t.n DESC, a.name), '[]')
  FROM (SELECT agency_id, count(*) AS n FROM tasks
        WHERE due_on < today AND status IN ('open', 'in_progress', 'blocked')
        GROUP BY agency_id) t
  JOIN agencies a ON a.id = t.agency_id AND a.in_program
$$;

-- GET /v1/stats/overview, the same document as 0003's (same members, order and numbers; how
-- they reconcile with the final report is explained there), computed in a few passes: 0003
-- counted with a correlated subquery per type, status and state over the program's agencies,
-- some 150 scans of the table, which took seconds with 100,000 agencies. Here each figure
-- comes from one GROUP BY, joined to the lists of types, statuses and states so that empty
-- groups still read 0. The service caches the result per change-feed position and day
-- (service/resources/stats.c), so this runs once per change, not once per request.
CREATE OR REPLACE FUNCTION stats_overview(today date) RETURNS text LANGUAGE sql STABLE AS $$
  WITH awarded AS (SELECT DISTINCT agency_id FROM awards),
  prog AS MATERIALIZED (
    SELECT a.id, a.name, a.type, a.level, a.state, a.status, a.approved_on, a.enrolled_on,
           a.next_report_due, a.accreditation_expires_on, agency_status(a) AS shown,
           w.agency_id IS NOT NULL AS awarded
    FROM agencies a LEFT JOIN awarded w ON w.agency_id = a.id WHERE a.in_program),
  enrolled AS MATERIALIZED (SELECT * FROM prog WHERE approved_on IS NOT NULL),
  aw AS MATERIALIZED (
    SELECT w.program, w.awarded_on
    FROM awards w JOIN agencies a ON a.id = w.agency_id AND a.in_program),
  types (type) AS (VALUES ('communications_center'), ('law_enforcement'), ('training_academy')),
  statuses (status, n) AS (SELECT s, n FROM unnest(ARRAY['applied', 'approved', 'enrolled',
    'self_assessment', 'pre_assessment', 'site_assessment', 'awaiting_hearing', 'accredited',
    'conditionally_accredited', 'reaccreditation', 'probation', 'suspended', 'expired',
    'withdrawn', 'removed', 'revoked']) WITH ORDINALITY x (s, n)),
  per_type AS (
    SELECT type, count(*) AS enrolled, count(*) FILTER (WHERE awarded) AS accredited,
           count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn,
           count(*) FILTER (WHERE status = 'removed') AS removed
    FROM enrolled GROUP BY type),
  awards_per_type AS (SELECT program, count(*) AS n FROM aw GROUP BY program),
  per_type_status AS (SELECT type, shown, count(*) AS n FROM prog GROUP BY type, shown),
  per_state AS (
    SELECT state, count(*) AS agencies, count(*) FILTER (WHERE awarded) AS accredited
    FROM enrolled GROUP BY state),
  first_awards AS (
    SELECT e.id, e.type, e.enrolled_on, min(w.awarded_on) AS awarded_on
    FROM enrolled e JOIN awards w ON w.agency_id = e.id WHERE e.enrolled_on IS NOT NULL
    GROUP BY e.id, e.type, e.enrolled_on),
  programs_held AS (
    SELECT a.state, a.level, a.type, min(w.awarded_on) AS first_award,
           bool_or(a.accreditation_expires_on >= today
                   AND a.status NOT IN ('suspended', 'revoked', 'withdrawn', 'removed')) AS current
    FROM agencies a JOIN awards w ON w.agency_id = a.id
    GROUP BY a.state, a.level, a.type)
  SELECT json_build_object(
    'as_of', today,
    'totals', (SELECT json_build_object(
        'applications', (SELECT count(*) FROM prog WHERE status = 'applied'),
        'enrolled', count(*),
        'calea_agreements', count(*) FILTER (WHERE enrolled_on IS NOT NULL),
        'accredited_agencies', count(*) FILTER (WHERE awarded),
        'awards', (SELECT count(*) FROM aw),
        'withdrawn', count(*) FILTER (WHERE status = 'withdrawn'),
        'removed', count(*) FILTER (WHERE status = 'removed'),
        'revoked', count(*) FILTER (WHERE status = 'revoked'),
        'in_process', count(*) FILTER (WHERE NOT awarded
                                         AND status NOT IN ('withdrawn', 'removed', 'revoked')),
        'states', count(DISTINCT state),
        'by_level', json_build_object(
          'municipal', count(*) FILTER (WHERE level = 'municipal'),
          'state', count(*) FILTER (WHERE level = 'state'),
          'federal', count(*) FILTER (WHERE level = 'federal')))
      FROM enrolled),
    'by_type', (SELECT json_agg(json_build_object(
        'type', t.type,
        'enrolled', coalesce(p.enrolled, 0),
        'accredited_agencies', coalesce(p.accredited, 0),
        'awards', coalesce(k.n, 0),
        'withdrawn', coalesce(p.withdrawn, 0),
        'removed', coalesce(p.removed, 0),
        'by_status', (SELECT json_object_agg(s.status, coalesce(ps.n, 0) ORDER BY s.n)
                      FROM statuses s LEFT JOIN per_type_status ps
                        ON ps.type = t.type AND ps.shown = s.status)) ORDER BY t.type)
      FROM types t LEFT JOIN per_type p ON p.type = t.type
      LEFT JOIN awards_per_type k ON k.program = t.type),
    'by_state', (SELECT json_agg(json_build_object(
        'state', m.code, 'name', m.name,
        'agencies', coalesce(e.agencies, 0),
        'accredited_agencies', coalesce(e.accredited, 0))
        ORDER BY m.code) FROM mx_states m LEFT JOIN per_state e ON e.state = m.code),
    'awards_by_year', (SELECT coalesce(json_agg(json_build_object(
        'year', y.year, 'awards', y.n, 'communications_center', y.cc,
        'law_enforcement', y.le, 'training_academy', y.ta) ORDER BY y.year), '[]')
      FROM (SELECT extract(year FROM awarded_on)::int AS year, count(*) AS n,
                   count(*) FILTER (WHERE program = 'communications_center') AS cc,
                   count(*) FILTER (WHERE program = 'law_enforcement') AS le,
                   count(*) FILTER (WHERE program = 'training_academy') AS ta
            FROM aw GROUP BY 1) y),
    'median_months_enrolled_to_accredited', (SELECT json_agg(json_build_object(
        'type', t.type,
        'median_months', (SELECT round(percentile_cont(0.5) WITHIN GROUP (
                             ORDER BY (f.awarded_on - f.enrolled_on) / 30.4375)::numeric, 1)
                           FROM first_awards f WHERE f.type = t.type),
        'agencies', (SELECT count(*) FROM first_awards f WHERE f.type = t.type))
        ORDER BY t.type) FROM types t),
    'tri_arc', (SELECT coalesce(json_agg(json_build_object(
        'state', h.state, 'level', h.level, 'since', h.since, 'current', h.current)
        ORDER BY h.since, h.state), '[]')
      FROM (SELECT state, level, max(first_award) AS since, bool_and(current) AS current
            FROM programs_held GROUP BY state, level HAVING count(*) = 3) h),
    'attention', json_build_object(
      'overdue_reports', (SELECT coalesce(json_agg(json_build_object(
          'id', p.id, 'name', p.name, 'next_report_due', p.next_report_due)
          ORDER BY p.next_report_due, p.name), '[]')
        FROM prog p WHERE p.next_report_due < today
          AND p.status NOT IN ('withdrawn', 'removed', 'revoked')),
      'overdue_tasks', stats_overdue_tasks(today),
      'expiring_within_180_days', (SELECT coalesce(json_agg(json_build_object(
          'id', p.id, 'name', p.name, 'accreditation_expires_on', p.accreditation_expires_on)
          ORDER BY p.accreditation_expires_on, p.name), '[]')
        FROM prog p WHERE p.shown IN ('accredited', 'conditionally_accredited', 'reaccreditation')
          AND p.accreditation_expires_on BETWEEN today AND today + 180)),
    'attendance', stats_attendance())::text
$$;

-- The service keeps the rendered overview in memory (stats.c) and must learn when it goes
-- stale without asking on every request: any write to a table the overview reads notifies
-- the channel acredita_stats, once per statement, delivered when the transaction commits
-- (identical notifications of one transaction arrive once). Writes that bypass the API
-- (seed-demo, SQL by hand, bulk loads) notify too.
CREATE FUNCTION stats_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('acredita_stats', '');
  RETURN NULL;
END $$;
CREATE TRIGGER agencies_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON agencies
  FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();
CREATE TRIGGER awards_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON awards
  FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();
CREATE TRIGGER tasks_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();
CREATE TRIGGER webinars_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON webinars
  FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();
CREATE TRIGGER workshop_check_ins_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON workshop_check_ins FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();
CREATE TRIGGER mx_states_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mx_states
  FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();
