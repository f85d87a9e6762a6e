-- 0003_agencies: the agencies of the program and the dates of their lifecycle.
-- Status moves only through agency transitions (see agency_transitions); the dates below are
-- set by those transitions, and the derived due dates are computed by the functions at the
-- end of this file: one place for every date rule.

CREATE TABLE agencies (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
  acronym text CHECK (length(acronym) <= 40),
  type text NOT NULL CHECK (type IN ('law_enforcement', 'training_academy', 'communications_center')),
  level text NOT NULL CHECK (level IN ('municipal', 'state', 'federal')),
  state text NOT NULL REFERENCES mx_states (code),
  municipality text CHECK (length(municipality) <= 200),
  website text CHECK (length(website) <= 500),
  ceo jsonb,                    -- {name, title}
  accreditation_manager jsonb,  -- {name, email, phone}
  regional_manager_id uuid REFERENCES users (id) ON DELETE SET NULL,
  advisor_ids uuid[] NOT NULL DEFAULT '{}',
  tier text CHECK (tier IN ('tier1', 'advanced')),
  status text NOT NULL DEFAULT 'applied' CHECK (status IN (
    'applied', 'approved', 'enrolled', 'self_assessment', 'pre_assessment', 'site_assessment',
    'awaiting_hearing', 'accredited', 'conditionally_accredited', 'reaccreditation',
    'probation', 'suspended', 'withdrawn', 'removed', 'revoked')),
  -- While on probation: the state to return to when it ends.
  status_before_probation text,
  status_reason text,
  applied_on date,
  approved_on date,
  enrolled_on date,
  accredited_on date,
  accreditation_expires_on date,
  withdrawn_on date,
  removed_on date,
  reporting_frequency text NOT NULL DEFAULT 'monthly' CHECK (reporting_frequency IN ('monthly', 'quarterly')),
  last_report_on date,
  next_report_due date,
  member boolean NOT NULL DEFAULT false,
  member_since date,
  dues_paid_through date,
  membership_external_id text UNIQUE CHECK (length(membership_external_id) <= 100),
  external_ids jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(external_ids) = 'object'),
  -- false for agencies kept for context only (accredited on their own, outside the INL
  -- program): they count for Tri-Arc recognition but not in the program's statistics.
  in_program boolean NOT NULL DEFAULT true,
  demo boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT agencies_tier_law_enforcement CHECK (tier IS NULL OR type = 'law_enforcement'),
  CONSTRAINT agencies_probation_memory CHECK ((status = 'probation') = (status_before_probation IS NOT NULL)),
  CONSTRAINT agencies_ceo_shape CHECK (ceo IS NULL OR (jsonb_typeof(ceo) = 'object' AND ceo ? 'name')),
  CONSTRAINT agencies_manager_shape CHECK (accreditation_manager IS NULL
    OR (jsonb_typeof(accreditation_manager) = 'object' AND accreditation_manager ? 'name'))
);
CREATE INDEX agencies_created_at ON agencies (created_at, id);
CREATE INDEX agencies_updated_at ON agencies (updated_at, id);
CREATE INDEX agencies_name ON agencies (name, id);
CREATE INDEX agencies_status ON agencies (status);
CREATE INDEX agencies_state ON agencies (state);
CREATE INDEX agencies_advisors ON agencies USING gin (advisor_ids);
CREATE TRIGGER agencies_touch BEFORE UPDATE ON agencies FOR EACH ROW EXECUTE FUNCTION touch_row();

-- Users of the agency role now point at a real agency.
ALTER TABLE users ADD CONSTRAINT users_agency_fk FOREIGN KEY (agency_id) REFERENCES agencies (id)
  DEFERRABLE INITIALLY DEFERRED;

-- "Today" is Mexico City's date (API.md §10).
CREATE FUNCTION mx_today() RETURNS date LANGUAGE sql STABLE
  AS $$ SELECT (now() AT TIME ZONE 'America/Mexico_City')::date $$;

-- Derived dates. PostgreSQL's date + interval keeps month ends and leap days sane
-- (2020-01-31 + 1 month = 2020-02-29; 2024-02-29 + 1 year = 2025-02-28).

-- The Implementation Plan is due three months after the CEO signed the application.
CREATE FUNCTION agency_implementation_plan_due(a agencies) RETURNS date
  LANGUAGE sql IMMUTABLE AS $$ SELECT (a.applied_on + interval '3 months')::date $$;

-- Self-assessment: 36 months from the CALEA agreement for law enforcement, 24 for the rest.
CREATE FUNCTION agency_self_assessment_due(a agencies) RETURNS date
  LANGUAGE sql IMMUTABLE AS $$
    SELECT (a.enrolled_on + CASE WHEN a.type = 'law_enforcement' THEN interval '36 months'
                                 ELSE interval '24 months' END)::date $$;

-- Accreditation lasts four years from the award.
CREATE FUNCTION accreditation_expiry(awarded_on date) RETURNS date
  LANGUAGE sql IMMUTABLE AS $$ SELECT (awarded_on + interval '4 years')::date $$;

-- The next anniversary of the award on or after today, while the accreditation runs.
CREATE FUNCTION agency_next_annual_review_due(a agencies, today date) RETURNS date
  LANGUAGE sql IMMUTABLE AS $$
    SELECT min(d) FROM (
      SELECT (a.accredited_on + make_interval(years => n))::date AS d
      FROM generate_series(1, 4) n) x
    WHERE a.accredited_on IS NOT NULL AND d >= today
      AND d <= coalesce(a.accreditation_expires_on, accreditation_expiry(a.accredited_on)) $$;

-- Continuation fees: four, the first 30 days after the award, then each anniversary.
CREATE FUNCTION agency_continuation_fees_due(a agencies) RETURNS date[]
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN a.accredited_on IS NULL THEN NULL ELSE ARRAY[
      a.accredited_on + 30,
      (a.accredited_on + interval '1 year')::date,
      (a.accredited_on + interval '2 years')::date,
      (a.accredited_on + interval '3 years')::date] END $$;

-- ------------------------------------------------------------ the lifecycle

-- Every move an agency made, with who, when and why. The first row of each agency is its
-- creation (from_status NULL, to 'applied').
CREATE TABLE agency_transitions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq bigserial NOT NULL UNIQUE, -- the order they happened in (dates can tie)
  agency_id uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
  from_status text,
  to_status text NOT NULL,
  occurred_on date NOT NULL,
  note text CHECK (length(note) <= 2000),
  actor text NOT NULL,
  actor_role text NOT NULL,
  request_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agency_transitions_agency ON agency_transitions (agency_id, seq);

-- Each accreditation CALEA granted: one per initial accreditation, per move up a tier and per
-- reaccreditation. program is the agency's type at the time of the award.
CREATE TABLE awards (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agency_id uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
  transition_id uuid REFERENCES agency_transitions (id) ON DELETE SET NULL,
  program text NOT NULL CHECK (program IN ('law_enforcement', 'training_academy', 'communications_center')),
  tier text CHECK (tier IN ('tier1', 'advanced')),
  awarded_on date NOT NULL,
  expires_on date NOT NULL,
  conditional boolean NOT NULL DEFAULT false,
  conditions_met_on date,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT awards_tier_law_enforcement CHECK ((tier IS NOT NULL) = (program = 'law_enforcement')),
  CONSTRAINT awards_conditions CHECK (conditions_met_on IS NULL OR conditional)
);
CREATE INDEX awards_agency ON awards (agency_id, awarded_on);
CREATE INDEX awards_awarded_on ON awards (awarded_on);

-- The graph of API.md §3, the only place it is written down. Probation is not listed as a
-- source: leaving it goes back to the state it remembers (agencies.status_before_probation),
-- or to withdrawn / removed. position orders the allowed targets in messages.
CREATE TABLE agency_transition_rules (
  from_status text NOT NULL,
  to_status text NOT NULL,
  note_required boolean NOT NULL,
  position integer NOT NULL,
  PRIMARY KEY (from_status, to_status)
);
INSERT INTO agency_transition_rules (from_status, to_status, note_required, position)
SELECT f, t, n, row_number() OVER () FROM (VALUES
  ('applied', 'approved', false),
  ('approved', 'enrolled', false),
  ('enrolled', 'self_assessment', false),
  ('self_assessment', 'pre_assessment', false),
  ('pre_assessment', 'self_assessment', false),      -- the mock found gaps
  ('pre_assessment', 'site_assessment', false),
  ('site_assessment', 'awaiting_hearing', false),
  ('awaiting_hearing', 'accredited', false),
  ('awaiting_hearing', 'conditionally_accredited', false),
  ('awaiting_hearing', 'self_assessment', true),     -- deferred hearing, with its reason
  ('awaiting_hearing', 'site_assessment', true),     -- deferred hearing, with its reason
  ('conditionally_accredited', 'accredited', false), -- the conditions were met
  ('accredited', 'reaccreditation', false),
  ('reaccreditation', 'accredited', false),          -- a new award
  ('accredited', 'suspended', true),
  ('suspended', 'accredited', false),
  ('suspended', 'revoked', true)) v (f, t, n)
UNION ALL
-- Probation is laid over any active state (not over a mere application).
SELECT s, 'probation', true, 100 FROM unnest(ARRAY['approved', 'enrolled', 'self_assessment',
  'pre_assessment', 'site_assessment', 'awaiting_hearing', 'conditionally_accredited',
  'accredited', 'reaccreditation']) s
UNION ALL
-- Any state that is not final may end in withdrawal or removal, with a reason.
SELECT s, t, true, CASE t WHEN 'withdrawn' THEN 101 ELSE 102 END
FROM unnest(ARRAY['applied', 'approved', 'enrolled', 'self_assessment', 'pre_assessment',
  'site_assessment', 'awaiting_hearing', 'conditionally_accredited', 'accredited',
  'reaccreditation', 'suspended', 'probation']) s, unnest(ARRAY['withdrawn', 'removed']) t;

-- The states an agency may move to from (status, the state probation remembers).
CREATE FUNCTION agency_allowed_targets(status text, before_probation text) RETURNS text[]
  LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(t ORDER BY p), '{}') FROM (
      SELECT before_probation AS t, 0 AS p WHERE status = 'probation'
      UNION ALL
      SELECT to_status, position FROM agency_transition_rules WHERE from_status = status) x $$;

-- An accreditation past its expiry without a new award reads as expired.
CREATE FUNCTION agency_status(a agencies) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN a.status IN ('accredited', 'conditionally_accredited')
                   AND a.accreditation_expires_on < mx_today() THEN 'expired'
              ELSE a.status END $$;

-- ------------------------------------------------------------------- access

-- Who sees an agency at all: an agency user only its own; anonymous callers only the public
-- directory (agencies that hold or held an accreditation); everyone else all of them.
CREATE FUNCTION agency_visible_to(a agencies, role text, caller_agency text) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT CASE role WHEN 'agency' THEN a.id::text = caller_agency
                     WHEN 'anonymous' THEN a.accredited_on IS NOT NULL
                     ELSE true END $$;

-- Who may write an agency (which fields is the handler's business): admin and coalition any;
-- an advisor only an agency it advises or manages.
CREATE FUNCTION agency_writable_by(a agencies, role text, sub text) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT CASE role WHEN 'admin' THEN true
                     WHEN 'coalition' THEN true
                     WHEN 'advisor' THEN coalesce(sub = ANY (a.advisor_ids::text[])
                                                  OR sub = a.regional_manager_id::text, false)
                     ELSE false END $$;

-- Who may move an agency: admin anything; inl only approve an application; an assigned
-- advisor anything but the approval, which is INL's.
CREATE FUNCTION agency_may_transition(a agencies, target text, role text, sub text)
  RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE role WHEN 'admin' THEN true
                     WHEN 'inl' THEN target = 'approved'
                     WHEN 'advisor' THEN target <> 'approved' AND agency_writable_by(a, role, sub)
                     ELSE false END $$;

-- ---------------------------------------------------------- representations

CREATE FUNCTION agency_json(a agencies) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_object(
    'id', a.id, 'name', a.name, 'acronym', a.acronym, 'type', a.type, 'level', a.level,
    'state', a.state, 'municipality', a.municipality, 'website', a.website, 'ceo', a.ceo,
    'accreditation_manager', a.accreditation_manager,
    'regional_manager_id', a.regional_manager_id, 'advisor_ids', to_json(a.advisor_ids),
    'tier', a.tier, 'status', agency_status(a), 'status_reason', a.status_reason,
    'status_before_probation', a.status_before_probation,
    'applied_on', a.applied_on, 'approved_on', a.approved_on, 'enrolled_on', a.enrolled_on,
    'accredited_on', a.accredited_on, 'accreditation_expires_on', a.accreditation_expires_on,
    'withdrawn_on', a.withdrawn_on, 'removed_on', a.removed_on,
    'implementation_plan_due', agency_implementation_plan_due(a),
    'self_assessment_due', agency_self_assessment_due(a),
    'next_annual_review_due', agency_next_annual_review_due(a, mx_today()),
    'continuation_fees_due', coalesce(to_json(agency_continuation_fees_due(a)), '[]'::json),
    'reporting', json_build_object('frequency', a.reporting_frequency,
      'last_report_on', a.last_report_on, 'next_report_due', a.next_report_due),
    'membership', json_build_object('member', a.member, 'member_since', a.member_since,
      'dues_paid_through', a.dues_paid_through, 'external_id', a.membership_external_id),
    'external_ids', a.external_ids, 'in_program', a.in_program, 'demo', a.demo,
    'created_at', rfc3339(a.created_at), 'updated_at', rfc3339(a.updated_at),
    'version', a.version)::text
$$;

-- What anonymous callers and partner systems see.
CREATE FUNCTION agency_public_json(a agencies) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', a.id, 'name', a.name, 'type', a.type, 'level', a.level,
    'state', a.state, 'status', agency_status(a), 'accredited_on', a.accredited_on,
    'accreditation_expires_on', a.accreditation_expires_on)::text
$$;

-- The representation a role gets.
CREATE FUNCTION agency_json_for(a agencies, role text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN role IN ('anonymous', 'partner') THEN agency_public_json(a)
              ELSE agency_json(a) END $$;

CREATE FUNCTION agency_transition_json(t agency_transitions) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', t.id, 'agency_id', t.agency_id, 'from', t.from_status,
    'to', t.to_status, 'on', t.occurred_on, 'note', t.note, 'actor', t.actor,
    'role', t.actor_role, 'award_id', (SELECT w.id FROM awards w WHERE w.transition_id = t.id),
    'created_at', rfc3339(t.created_at))::text
$$;

CREATE FUNCTION award_json(w awards) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', w.id, 'agency_id', w.agency_id, 'program', w.program,
    'tier', w.tier, 'awarded_on', w.awarded_on, 'expires_on', w.expires_on,
    'conditional', w.conditional, 'conditions_met_on', w.conditions_met_on,
    'created_at', rfc3339(w.created_at))::text
$$;

-- One audit entry as GET /v1/audit shows it.
CREATE FUNCTION audit_json(e audit) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_object('at', rfc3339(e.at), 'actor', e.actor, 'role', e.role,
    'request_id', e.request_id, 'action', e.action, 'resource', e.resource,
    'id', e.resource_id, 'changes', e.changes)::text
$$;

-- CSV: every cell quoted (RFC 4180); a cell that a spreadsheet would run as a formula gets a
-- leading apostrophe.
CREATE FUNCTION csv_cell(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v IS NULL THEN ''
              ELSE '"' || replace(CASE WHEN v ~ '^[=+@\t\r-]' THEN '''' || v ELSE v END,
                                  '"', '""') || '"' END $$;

CREATE FUNCTION agency_csv_header(role text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN role IN ('anonymous', 'partner') THEN
    'id,name,type,level,state,status,accredited_on,accreditation_expires_on'
  ELSE 'id,name,acronym,type,level,state,municipality,website,ceo_name,ceo_title,'
    'accreditation_manager_name,accreditation_manager_email,accreditation_manager_phone,'
    'regional_manager_id,advisor_ids,tier,status,status_reason,applied_on,approved_on,'
    'enrolled_on,accredited_on,accreditation_expires_on,withdrawn_on,removed_on,'
    'implementation_plan_due,self_assessment_due,next_annual_review_due,reporting_frequency,'
    'last_report_on,next_report_due,member,member_since,dues_paid_through,'
    'membership_external_id,in_program,created_at,updated_at' END || E'\r\n' $$;

CREATE FUNCTION agency_csv_row(a agencies, role text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT array_to_string(ARRAY(SELECT coalesce(csv_cell(c), '') FROM unnest(
    CASE WHEN role IN ('anonymous', 'partner') THEN ARRAY[a.id::text, a.name, a.type, a.level,
      a.state, agency_status(a), a.accredited_on::text, a.accreditation_expires_on::text]
    ELSE ARRAY[a.id::text, a.name, a.acronym, a.type, a.level, a.state, a.municipality,
      a.website, a.ceo ->> 'name', a.ceo ->> 'title', a.accreditation_manager ->> 'name',
      a.accreditation_manager ->> 'email', a.accreditation_manager ->> 'phone',
      a.regional_manager_id::text, array_to_string(a.advisor_ids, ' '), a.tier,
      agency_status(a), a.status_reason, a.applied_on::text, a.approved_on::text,
      a.enrolled_on::text, a.accredited_on::text, a.accreditation_expires_on::text,
      a.withdrawn_on::text, a.removed_on::text, agency_implementation_plan_due(a)::text,
      agency_self_assessment_due(a)::text,
      agency_next_annual_review_due(a, mx_today())::text, a.reporting_frequency,
      a.last_report_on::text, a.next_report_due::text, a.member::text, a.member_since::text,
      a.dues_paid_through::text, a.membership_external_id, a.in_program::text,
      rfc3339(a.created_at), rfc3339(a.updated_at)] END) WITH ORDINALITY AS x (c, n)
    ORDER BY n), ',') || E'\r\n' $$;

-- ------------------------------------------------------------------- writes

-- RFC 7396 JSON Merge Patch: members of patch replace those of target, objects merge
-- recursively, null removes. PATCH /v1/agencies/{id} applies it to the representation.
CREATE FUNCTION jsonb_merge_patch(target jsonb, patch jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  k text;
  v jsonb;
  result jsonb;
BEGIN
  IF patch IS NULL OR jsonb_typeof(patch) <> 'object' THEN
    RETURN patch;
  END IF;
  result := CASE WHEN jsonb_typeof(target) = 'object' THEN target ELSE '{}'::jsonb END;
  FOR k, v IN SELECT * FROM jsonb_each(patch) LOOP
    IF jsonb_typeof(v) = 'null' THEN
      result := result - k;
    ELSE
      result := jsonb_set(result, ARRAY[k], jsonb_merge_patch(result -> k, v));
    END IF;
  END LOOP;
  RETURN result;
END $$;

-- The field errors of an agency document that need the data to find: the state must be one
-- of Mexico's entities, the regional manager and the advisors active advisor users, the
-- application not signed in the future, a tier only for law enforcement. Only the members
-- named in keys are checked (NULL: all), so that a PATCH is judged on what it sends.
CREATE FUNCTION agency_problems(d jsonb, keys text[]) RETURNS TABLE (field text, code text, arg text)
  LANGUAGE sql STABLE AS $$
    SELECT '/state', 'invalid_enum', (SELECT string_agg(s.code, ', ' ORDER BY s.code) FROM mx_states s)
    WHERE (keys IS NULL OR 'state' = ANY (keys)) AND jsonb_typeof(d -> 'state') = 'string'
      AND NOT EXISTS (SELECT 1 FROM mx_states s WHERE s.code = d ->> 'state')
    UNION ALL
    SELECT '/regional_manager_id', 'not_found', NULL
    WHERE (keys IS NULL OR 'regional_manager_id' = ANY (keys))
      AND jsonb_typeof(d -> 'regional_manager_id') = 'string'
      AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id::text = lower(d ->> 'regional_manager_id')
                      AND u.role IN ('advisor', 'admin') AND u.active)
    UNION ALL
    SELECT '/advisor_ids/' || (x.n - 1), 'not_found', NULL
    FROM jsonb_array_elements_text(CASE WHEN (keys IS NULL OR 'advisor_ids' = ANY (keys))
           AND jsonb_typeof(d -> 'advisor_ids') = 'array' THEN d -> 'advisor_ids' ELSE '[]' END)
         WITH ORDINALITY x (v, n)
    WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id::text = lower(x.v)
                      AND u.role = 'advisor' AND u.active)
    UNION ALL
    SELECT '/applied_on', 'out_of_range', '..' || mx_today()
    WHERE (keys IS NULL OR 'applied_on' = ANY (keys)) AND jsonb_typeof(d -> 'applied_on') = 'string'
      AND (d ->> 'applied_on')::date > mx_today()
    UNION ALL
    SELECT '/tier', 'invalid', 'only law-enforcement agencies have a tier'
    WHERE (keys IS NULL OR 'tier' = ANY (keys) OR 'type' = ANY (keys))
      AND jsonb_typeof(d -> 'tier') = 'string' AND d ->> 'type' <> 'law_enforcement'
$$;

-- An agency document's writable members as column values (shared by insert and update).
CREATE FUNCTION agency_advisors(d jsonb) RETURNS uuid[] LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(ARRAY(SELECT DISTINCT x::uuid FROM jsonb_array_elements_text(
    CASE WHEN jsonb_typeof(d -> 'advisor_ids') = 'array' THEN d -> 'advisor_ids' ELSE '[]' END) x),
    '{}') $$;

-- Creates an agency from a document; its history starts with the application.
CREATE FUNCTION agency_create(d jsonb, actor text, actor_role text, request_id text)
  RETURNS agencies LANGUAGE plpgsql AS $$
DECLARE
  a agencies;
BEGIN
  INSERT INTO agencies (name, acronym, type, level, state, municipality, website, ceo,
    accreditation_manager, regional_manager_id, advisor_ids, tier, applied_on,
    reporting_frequency, last_report_on, next_report_due, member, member_since,
    dues_paid_through, membership_external_id, external_ids, in_program)
  VALUES (d ->> 'name', d ->> 'acronym', d ->> 'type', d ->> 'level', d ->> 'state',
    d ->> 'municipality', d ->> 'website', nullif(d -> 'ceo', 'null'),
    nullif(d -> 'accreditation_manager', 'null'), (d ->> 'regional_manager_id')::uuid,
    agency_advisors(d), d ->> 'tier', coalesce((d ->> 'applied_on')::date, mx_today()),
    coalesce(d #>> '{reporting,frequency}', 'monthly'), (d #>> '{reporting,last_report_on}')::date,
    (d #>> '{reporting,next_report_due}')::date,
    coalesce((d #>> '{membership,member}')::boolean, false),
    (d #>> '{membership,member_since}')::date, (d #>> '{membership,dues_paid_through}')::date,
    d #>> '{membership,external_id}', coalesce(nullif(d -> 'external_ids', 'null'), '{}'),
    coalesce((d ->> 'in_program')::boolean, true))
  RETURNING * INTO a;
  INSERT INTO agency_transitions (agency_id, from_status, to_status, occurred_on, note, actor,
    actor_role, request_id)
  VALUES (a.id, NULL, 'applied', a.applied_on, NULL, actor, actor_role, request_id);
  RETURN a;
END $$;

-- Applies a merge patch to an agency's writable fields; returns the new row. The caller
-- holds the row lock.
CREATE FUNCTION agency_update(agency uuid, patch jsonb) RETURNS agencies
  LANGUAGE plpgsql AS $$
DECLARE
  a agencies;
  d jsonb;
BEGIN
  SELECT jsonb_merge_patch(agency_json(x)::jsonb, patch) INTO d FROM agencies x WHERE x.id = agency;
  UPDATE agencies SET name = d ->> 'name', acronym = d ->> 'acronym', type = d ->> 'type',
    level = d ->> 'level', state = d ->> 'state', municipality = d ->> 'municipality',
    website = d ->> 'website', ceo = nullif(d -> 'ceo', 'null'),
    accreditation_manager = nullif(d -> 'accreditation_manager', 'null'),
    regional_manager_id = (d ->> 'regional_manager_id')::uuid, advisor_ids = agency_advisors(d),
    tier = d ->> 'tier', applied_on = (d ->> 'applied_on')::date,
    reporting_frequency = coalesce(d #>> '{reporting,frequency}', 'monthly'),
    last_report_on = (d #>> '{reporting,last_report_on}')::date,
    next_report_due = (d #>> '{reporting,next_report_due}')::date,
    member = coalesce((d #>> '{membership,member}')::boolean, false),
    member_since = (d #>> '{membership,member_since}')::date,
    dues_paid_through = (d #>> '{membership,dues_paid_through}')::date,
    membership_external_id = d #>> '{membership,external_id}',
    external_ids = coalesce(nullif(d -> 'external_ids', 'null'), '{}'),
    in_program = coalesce((d ->> 'in_program')::boolean, true)
  WHERE id = agency RETURNING * INTO a;
  RETURN a;
END $$;

/*
 * The state machine: the one place a status changes. It locks the agency, checks the caller
 * may make the move and that the graph allows it, sets the dates the move implies, records
 * the history and any award, and returns the transition with the agency before and after.
 *
 * Refusals are RAISEd as P0001 with a HINT the service turns into an answer:
 *   not_found | forbidden | conflict|<from>|<allowed,…> | field|<pointer>|<code>|<arg> | rule
 */
CREATE FUNCTION agency_transition(agency uuid, target text, on_date date, reason text,
                                  actor text, actor_role text, request_id text)
  RETURNS TABLE (transition_json text, before_json text, after_json text)
  LANGUAGE plpgsql AS $$
DECLARE
  a agencies;
  was agencies;
  allowed text[];
  rule agency_transition_rules;
  occurred date := coalesce(on_date, mx_today());
  last_on date;
  note text := nullif(btrim(reason), '');
  awarding boolean;
  tid uuid;
BEGIN
  SELECT * INTO was FROM agencies WHERE id = agency FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'No agency has this id.' USING HINT = 'not_found';
  END IF;
  IF NOT agency_may_transition(was, target, actor_role, actor) THEN
    RAISE EXCEPTION 'The role % may not move this agency to %.', actor_role, target
      USING HINT = 'forbidden';
  END IF;
  allowed := agency_allowed_targets(was.status, was.status_before_probation);
  IF NOT target = ANY (allowed) THEN
    RAISE EXCEPTION 'An agency in % cannot move to %; allowed: %.', was.status, target,
      coalesce(nullif(array_to_string(allowed, ', '), ''), 'none')
      USING HINT = 'conflict|' || was.status || '|' || array_to_string(allowed, ',');
  END IF;
  SELECT * INTO rule FROM agency_transition_rules r
  WHERE r.from_status = was.status AND r.to_status = target;
  IF coalesce(rule.note_required, false) AND note IS NULL THEN
    RAISE EXCEPTION 'Moving to % needs a note with the reason.', target
      USING HINT = 'field|/note|required|';
  END IF;
  -- A move happens on or after the agency's last one, and not after today.
  SELECT t.occurred_on INTO last_on FROM agency_transitions t WHERE t.agency_id = agency
  ORDER BY t.seq DESC LIMIT 1;
  IF occurred > mx_today() OR occurred < last_on THEN
    RAISE EXCEPTION 'The date must be between the last move and today.'
      USING HINT = 'field|/on|out_of_range|' || coalesce(last_on::text, '') || '..' || mx_today();
  END IF;
  awarding := target IN ('accredited', 'conditionally_accredited')
              AND was.status IN ('awaiting_hearing', 'reaccreditation');
  IF awarding AND was.type = 'law_enforcement' AND was.tier IS NULL THEN
    RAISE EXCEPTION 'A law-enforcement agency needs its tier (tier1 or advanced) before an award; set it with PATCH.'
      USING HINT = 'rule';
  END IF;

  UPDATE agencies SET
    status = target,
    status_before_probation = CASE WHEN target = 'probation' THEN was.status END,
    status_reason = CASE WHEN coalesce(rule.note_required, false) THEN note END,
    approved_on = CASE WHEN target = 'approved' THEN occurred ELSE approved_on END,
    enrolled_on = CASE WHEN target = 'enrolled' THEN occurred ELSE enrolled_on END,
    accredited_on = CASE WHEN awarding THEN occurred ELSE accredited_on END,
    accreditation_expires_on = CASE WHEN awarding THEN accreditation_expiry(occurred)
                                    ELSE accreditation_expires_on END,
    withdrawn_on = CASE WHEN target = 'withdrawn' THEN occurred ELSE withdrawn_on END,
    removed_on = CASE WHEN target = 'removed' THEN occurred ELSE removed_on END
  WHERE id = agency RETURNING * INTO a;

  INSERT INTO agency_transitions (agency_id, from_status, to_status, occurred_on, note, actor,
    actor_role, request_id)
  VALUES (agency, was.status, target, occurred, note, actor, actor_role, request_id)
  RETURNING id INTO tid;
  IF awarding THEN
    INSERT INTO awards (agency_id, transition_id, program, tier, awarded_on, expires_on, conditional)
    VALUES (agency, tid, a.type, CASE WHEN a.type = 'law_enforcement' THEN a.tier END, occurred,
            accreditation_expiry(occurred), target = 'conditionally_accredited');
  ELSIF was.status = 'conditionally_accredited' AND target = 'accredited' THEN
    UPDATE awards w SET conditions_met_on = occurred
    WHERE w.id = (SELECT l.id FROM awards l WHERE l.agency_id = agency AND l.conditional
                  ORDER BY l.awarded_on DESC LIMIT 1);
  END IF;
  RETURN QUERY SELECT agency_transition_json(t), agency_json(was), agency_json(a)
    FROM agency_transitions t WHERE t.id = tid;
END $$;

-- -------------------------------------------------------------------- stats

-- The dashboard's figures that belong to resources of later migrations (tasks 0004, webinars
-- and workshops 0005). A SQL function here could not name their tables, so these read them
-- by dynamic SQL when they exist; a later migration may replace them (same signature).
CREATE FUNCTION stats_overdue_tasks(today date) RETURNS json LANGUAGE plpgsql STABLE AS $$
DECLARE
  result json;
BEGIN
  IF to_regclass('tasks') IS NULL THEN
    RETURN '[]';
  END IF;
  EXECUTE $q$
    SELECT coalesce(json_agg(json_build_object('id', a.id, 'name', a.name, 'overdue_tasks', t.n)
                             ORDER BY t.n DESC, a.name), '[]')
    FROM (SELECT agency_id, count(*) AS n FROM tasks
          WHERE due_on < $1 AND status NOT IN ('done', 'cancelled') GROUP BY agency_id) t
    JOIN agencies a ON a.id = t.agency_id AND a.in_program$q$ INTO result USING today;
  RETURN result;
EXCEPTION WHEN undefined_column OR undefined_table OR datatype_mismatch THEN
  RETURN '[]';
END $$;

-- Webinar attendance as recorded on each webinar; workshop attendance as the people
-- (registrations) checked in on at least one day.
CREATE FUNCTION stats_attendance() RETURNS json LANGUAGE plpgsql STABLE AS $$
DECLARE
  webinars bigint := 0;
  workshops bigint := 0;
BEGIN
  IF to_regclass('webinars') IS NOT NULL THEN
    BEGIN
      EXECUTE 'SELECT coalesce(sum(attendance), 0)::bigint FROM webinars' INTO webinars;
    EXCEPTION WHEN undefined_column OR undefined_function OR datatype_mismatch THEN
      webinars := 0;
    END;
  END IF;
  IF to_regclass('workshop_check_ins') IS NOT NULL THEN
    BEGIN
      EXECUTE 'SELECT count(DISTINCT registration_id) FROM workshop_check_ins' INTO workshops;
    EXCEPTION WHEN undefined_column THEN
      workshops := 0;
    END;
  END IF;
  RETURN json_build_object('webinars', webinars, 'workshops', workshops);
END $$;

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
 */
CREATE FUNCTION stats_overview(today date) RETURNS text LANGUAGE sql STABLE AS $$
  WITH prog AS (
    SELECT a.*, agency_status(a) AS shown,
           EXISTS (SELECT 1 FROM awards w WHERE w.agency_id = a.id) AS awarded
    FROM agencies a WHERE a.in_program),
  enrolled AS (SELECT * FROM prog WHERE approved_on IS NOT NULL),
  aw AS (SELECT w.* FROM awards w JOIN agencies a ON a.id = w.agency_id AND a.in_program),
  types (type) AS (VALUES ('communications_center'), ('law_enforcement'), ('training_academy')),
  statuses (status, n) AS (SELECT s, n FROM unnest(ARRAY['applied', 'approved', 'enrolled',
    'self_assessment', 'pre_assessment', 'site_assessment', 'awaiting_hearing', 'accredited',
    'conditionally_accredited', 'reaccreditation', 'probation', 'suspended', 'expired',
    'withdrawn', 'removed', 'revoked']) WITH ORDINALITY x (s, n)),
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
        'enrolled', (SELECT count(*) FROM enrolled e WHERE e.type = t.type),
        'accredited_agencies', (SELECT count(*) FROM enrolled e WHERE e.type = t.type AND e.awarded),
        'awards', (SELECT count(*) FROM aw WHERE aw.program = t.type),
        'withdrawn', (SELECT count(*) FROM enrolled e WHERE e.type = t.type AND e.status = 'withdrawn'),
        'removed', (SELECT count(*) FROM enrolled e WHERE e.type = t.type AND e.status = 'removed'),
        'by_status', (SELECT json_object_agg(s.status, (SELECT count(*) FROM prog p
                        WHERE p.type = t.type AND p.shown = s.status) ORDER BY s.n)
                      FROM statuses s)) ORDER BY t.type) FROM types t),
    'by_state', (SELECT json_agg(json_build_object(
        'state', m.code, 'name', m.name,
        'agencies', (SELECT count(*) FROM enrolled e WHERE e.state = m.code),
        'accredited_agencies', (SELECT count(*) FROM enrolled e WHERE e.state = m.code AND e.awarded))
        ORDER BY m.code) FROM mx_states m),
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
