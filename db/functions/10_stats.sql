-- 10_stats: INL's dashboard.

-- An attention list of the dashboard, bounded: how many there are, the first 20 of them
-- (the caller filters its aggregate to rank <= 20), and the list that holds them all.
CREATE OR REPLACE FUNCTION stats_bounded(n bigint, first json, link text) RETURNS json
LANGUAGE sql IMMUTABLE AS $$
  SELECT json_build_object('count', n, 'data', coalesce(first, '[]'), 'link', link)
$$;

-- Agencies with overdue tasks, for the dashboard, most overdue tasks first. It names the open
-- statuses, which the partial index tasks_open_due covers (the same tasks as "not done or
-- cancelled": the column's CHECK allows no other status), instead of reading every task.
CREATE OR REPLACE FUNCTION stats_overdue_tasks(today date) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT stats_bounded(count(*), json_agg(json_build_object(
      'id', x.id, 'name', x.name, 'overdue_tasks', x.n) ORDER BY x.rank) FILTER (WHERE x.rank <= 20),
      '/v1/agencies?in_program=true&tasks_overdue=true')
  FROM (SELECT a.id, a.name, t.n, row_number() OVER (ORDER BY t.n DESC, a.name, a.id) AS rank
        FROM (SELECT agency_id, count(*) AS n FROM tasks
              WHERE due_on < today AND status IN ('open', 'in_progress', 'blocked')
              GROUP BY agency_id) t
        JOIN agencies a ON a.id = t.agency_id AND a.in_program) x
$$;

-- Webinar attendance as recorded on each webinar; workshop attendance as the people
-- (registrations) checked in on at least one day.
CREATE OR REPLACE FUNCTION stats_attendance() RETURNS json LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'webinars', (SELECT coalesce(sum(attendance), 0)::bigint FROM webinars),
    'workshops', (SELECT count(DISTINCT registration_id) FROM workshop_check_ins))
$$;

/*
 * GET /v1/stats/overview in one query.
 *
 * How the numbers reconcile (DOMAIN.md, API.md §10). The final report's "82 agencies
 * enrolled" counts every agency INL accepted into the program, including the one removed
 * because it never signed the CALEA agreement (it has approved_on but no enrolled_on). So:
 *   enrolled            = program agencies INL approved (approved_on set)       82 on the demo
 *   calea_agreements    = of those, the ones that signed with CALEA             81
 *   accredited_agencies = program agencies ever awarded                          70
 *   awards              = awards of program agencies                             71
 *   withdrawn 5 + in_process 5 (the report's "10 withdrew or were still in process"),
 *   removed 2 (one before signing, one for non-compliance).
 * Agencies with in_program = false (Guanajuato's state police, accredited before the
 * program) count only for Tri-Arc recognition. "Current status" (expired included) is
 * reported separately, by type.
 *
 * Each figure comes from one GROUP BY, joined to the lists of types, statuses and states so
 * that empty groups still read 0 (a correlated subquery per type, status and state took
 * seconds at 100,000 agencies). The service caches the result per change-feed position and
 * day (service/resources/stats.c), so this runs once per change, not once per request.
 */
CREATE OR REPLACE FUNCTION stats_overview(today date) RETURNS text LANGUAGE sql STABLE AS $$
  WITH awarded AS (SELECT DISTINCT agency_id FROM awards),
  prog AS MATERIALIZED (
    SELECT a.id, a.name, a.type, a.level, a.state, a.status, a.approved_on, a.enrolled_on,
           agency_next_report_due(a) AS next_report_due, a.accreditation_expires_on,
           agency_status(a) AS shown, w.agency_id IS NOT NULL AS awarded
    FROM agencies a LEFT JOIN awarded w ON w.agency_id = a.id
    WHERE a.in_program AND a.archived_at IS NULL),
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
  SELECT json_compact(json_build_object(
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
      'overdue_reports', (SELECT stats_bounded(count(*), json_agg(json_build_object(
          'id', x.id, 'name', x.name, 'next_report_due', x.next_report_due)
          ORDER BY x.rank) FILTER (WHERE x.rank <= 20),
          '/v1/agencies?in_program=true&report_overdue=true')
        FROM (SELECT p.*, row_number() OVER (ORDER BY p.next_report_due, p.name, p.id) AS rank
              FROM prog p WHERE p.next_report_due < today) x),
      'overdue_implementation_plans', (SELECT stats_bounded(count(*), json_agg(json_build_object(
          'id', x.id, 'name', x.name, 'implementation_plan_due', x.due)
          ORDER BY x.rank) FILTER (WHERE x.rank <= 20),
          '/v1/agencies?in_program=true&implementation_plan_overdue=true')
        FROM (SELECT a.id, a.name, agency_implementation_plan_due(a) AS due,
                     row_number() OVER (ORDER BY agency_implementation_plan_due(a), a.name, a.id)
                       AS rank
              FROM agencies a WHERE agency_implementation_plan_overdue(a, today)) x),
      'overdue_tasks', stats_overdue_tasks(today),
      'expiring_within_180_days', (SELECT stats_bounded(count(*), json_agg(json_build_object(
          'id', x.id, 'name', x.name, 'accreditation_expires_on', x.accreditation_expires_on)
          ORDER BY x.rank) FILTER (WHERE x.rank <= 20),
          '/v1/agencies?in_program=true&status=accredited&status=conditionally_accredited'
          || '&status=reaccreditation&expires_from=' || today || '&expires_to=' || today + 180)
        FROM (SELECT p.*, row_number() OVER (ORDER BY p.accreditation_expires_on, p.name, p.id)
                     AS rank
              FROM prog p
              WHERE p.shown IN ('accredited', 'conditionally_accredited', 'reaccreditation')
                AND p.accreditation_expires_on BETWEEN today AND today + 180) x)),
    'attendance', stats_attendance()))
$$;

-- The service keeps the rendered overview in memory (stats.c) and must learn when it goes
-- stale without asking on every request: any write to a table the overview reads notifies
-- the channel acredita_stats, once per statement, delivered when the transaction commits
-- (identical notifications of one transaction arrive once). Writes that bypass the API
-- (seed-demo, SQL by hand, bulk loads) notify too. Storing re-rendered documents
-- (rendering_only(): the midnight sweep) changes no figure and does not.
CREATE OR REPLACE FUNCTION stats_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT rendering_only() THEN
    PERFORM pg_notify('acredita_stats', '');
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER agencies_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON agencies
  FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();

CREATE OR REPLACE TRIGGER awards_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON awards
  FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();

CREATE OR REPLACE TRIGGER tasks_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();

CREATE OR REPLACE TRIGGER webinars_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON webinars
  FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();

CREATE OR REPLACE TRIGGER workshop_check_ins_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON workshop_check_ins FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();

CREATE OR REPLACE TRIGGER mx_states_stats AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mx_states
  FOR EACH STATEMENT EXECUTE FUNCTION stats_notify();
