-- 03_agencies: Agencies: derived dates, status, who sees and writes them, representations, writes and the lifecycle state machine.


-- Derived dates. PostgreSQL's date + interval keeps month ends and leap days sane
-- (2020-01-31 + 1 month = 2020-02-29; 2024-02-29 + 1 year = 2025-02-28).

-- The Implementation Plan is due three months after the CEO signed the application.
CREATE OR REPLACE FUNCTION agency_implementation_plan_due(a agencies) RETURNS date
  LANGUAGE sql IMMUTABLE AS $$ SELECT (a.applied_on + interval '3 months')::date $$;

-- The Implementation Plan is outstanding until its submission is recorded, for an agency of
-- the program on its road to accreditation (probation included).
CREATE OR REPLACE FUNCTION agency_implementation_plan_outstanding(a agencies) RETURNS boolean
  LANGUAGE sql IMMUTABLE AS $$
    SELECT a.implementation_plan_submitted_on IS NULL AND a.in_program AND a.archived_at IS NULL
       AND a.status IN ('applied', 'approved', 'enrolled', 'self_assessment', 'pre_assessment',
                        'site_assessment', 'awaiting_hearing', 'probation') $$;

-- Self-assessment: 36 months from the CALEA agreement for law enforcement, 24 for the rest.
CREATE OR REPLACE FUNCTION agency_self_assessment_due(a agencies) RETURNS date
  LANGUAGE sql IMMUTABLE AS $$
    SELECT (a.enrolled_on + CASE WHEN a.type = 'law_enforcement' THEN interval '36 months'
                                 ELSE interval '24 months' END)::date $$;

-- Accreditation lasts four years from the award.
CREATE OR REPLACE FUNCTION accreditation_expiry(awarded_on date) RETURNS date
  LANGUAGE sql IMMUTABLE AS $$ SELECT (awarded_on + interval '4 years')::date $$;

-- The next anniversary of the award on or after today, while the accreditation runs. One
-- expression rather than min() over generate_series(1, 4), so that PostgreSQL inlines it (a
-- function it cannot inline is parsed and planned again in every statement that calls it).
-- Anniversaries only grow, so the first one on or after today is the minimum, and when it is
-- past the expiry so are the later ones.
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

-- Continuation fees: four, the first 30 days after the award, then each anniversary.
CREATE OR REPLACE FUNCTION agency_continuation_fees_due(a agencies) RETURNS date[]
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN a.accredited_on IS NULL THEN NULL ELSE ARRAY[
      a.accredited_on + 30,
      (a.accredited_on + interval '1 year')::date,
      (a.accredited_on + interval '2 years')::date,
      (a.accredited_on + interval '3 years')::date] END $$;

-- The year of the four-year cycle an agency is in (1-4): counted from the award, or before
-- it from the CALEA agreement. Null before either, once the agency left the program, and
-- after the cycle's fourth year: proofs carry their cycle (agencies.cycle) and its year, so a
-- new cycle starts with the next award (which moves accredited_on), not by counting on.
CREATE OR REPLACE FUNCTION agency_cycle_start(a agencies) RETURNS date LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN a.status IN ('applied', 'approved', 'withdrawn', 'removed', 'revoked') THEN NULL
              ELSE coalesce(a.accredited_on, a.enrolled_on) END $$;

-- One expression of immutable parts (age() of timestamps, not of the time-zoned ones dates
-- would otherwise become), so that agency_json() keeps inlining it.
CREATE OR REPLACE FUNCTION agency_cycle_year(a agencies, today date) RETURNS integer
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN today >= agency_cycle_start(a)
                     AND extract(year FROM age(today::timestamp, agency_cycle_start(a)::timestamp))
                         BETWEEN 0 AND 3
                THEN extract(year FROM age(today::timestamp,
                                           agency_cycle_start(a)::timestamp))::int + 1 END $$;

-- Reporting (the final report's protocol): monthly from the CALEA agreement, quarterly from
-- the first award, monthly again while an approved request runs. The next report is due one
-- period after the last one filed, or after the protocol began; none is due before the
-- agency enrolled, once it left the program, or for an agency kept for context only.
CREATE OR REPLACE FUNCTION agency_next_report_due(a agencies) RETURNS date
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN a.reporting_since IS NOT NULL AND a.in_program AND a.archived_at IS NULL
                     AND a.status NOT IN ('withdrawn', 'removed', 'revoked')
           THEN (greatest(a.last_report_on, a.reporting_since)
                 + CASE a.reporting_frequency WHEN 'monthly' THEN interval '1 month'
                        ELSE interval '3 months' END)::date END $$;

-- The states an agency may move to from (status, the state probation remembers).
CREATE OR REPLACE FUNCTION agency_allowed_targets(status text, before_probation text) RETURNS text[]
  LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(t ORDER BY p), '{}') FROM (
      SELECT before_probation AS t, 0 AS p WHERE status = 'probation'
      UNION ALL
      SELECT to_status, position FROM agency_transition_rules WHERE from_status = status) x $$;

-- An accreditation past its expiry without a new award reads as expired.
CREATE OR REPLACE FUNCTION agency_status(a agencies) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN a.status IN ('accredited', 'conditionally_accredited')
                   AND a.accreditation_expires_on < mx_today() THEN 'expired'
              ELSE a.status END $$;

-- A report is overdue when its due date (agency_next_report_due(): none once the agency
-- left the program) has passed: the list filter report_overdue, and the dashboard's attention
-- list by the same comparison.
CREATE OR REPLACE FUNCTION agency_report_overdue(a agencies, today date) RETURNS boolean
  LANGUAGE sql IMMUTABLE AS $$ SELECT coalesce(agency_next_report_due(a) < today, false) $$;

-- An Implementation Plan is overdue when it is outstanding past its due date: the dashboard's
-- attention list and the list filter implementation_plan_overdue.
CREATE OR REPLACE FUNCTION agency_implementation_plan_overdue(a agencies, today date)
  RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT agency_implementation_plan_outstanding(a) AND agency_implementation_plan_due(a) < today $$;

-- Whether an agency has a task past its due date and still open (task_is_overdue), by the
-- partial index tasks_open_due.
CREATE OR REPLACE FUNCTION agency_tasks_overdue(agency uuid, today date) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM tasks t WHERE t.agency_id = agency AND t.due_on < today
                     AND t.status IN ('open', 'in_progress', 'blocked')) $$;

-- Who sees an agency at all: anonymous callers only the public directory (agencies that hold
-- or held an accreditation); every signed-in caller all of them (an agency user its own in
-- full and the others' public view, agency_json_for()). An archived agency only admin sees.
CREATE OR REPLACE FUNCTION agency_visible_to(a agencies, role text, caller_agency text) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN a.archived_at IS NOT NULL THEN role = 'admin'
                WHEN role = 'anonymous' THEN a.accredited_on IS NOT NULL
                ELSE true END $$;

-- Who sees an agency's history (its moves carry the reasons): as agency_visible_to(), but an
-- agency user only its own agency's.
CREATE OR REPLACE FUNCTION agency_history_visible_to(a agencies, role text, caller_agency text)
  RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT agency_visible_to(a, role, caller_agency)
       AND (role <> 'agency' OR a.id::text = caller_agency) $$;

-- Who may write an agency (which fields is the handler's business): admin and coalition any;
-- an advisor only an agency it advises or manages.
CREATE OR REPLACE FUNCTION agency_writable_by(a agencies, role text, sub text) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT CASE role WHEN 'admin' THEN true
                     WHEN 'coalition' THEN true
                     WHEN 'advisor' THEN coalesce(sub = ANY (a.advisor_ids::text[])
                                                  OR sub = a.regional_manager_id::text, false)
                     ELSE false END $$;

-- Who may move an agency: admin anything; inl only approve an application; an assigned
-- advisor anything but the approval, which is INL's.
CREATE OR REPLACE FUNCTION agency_may_transition(a agencies, target text, role text, sub text)
  RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE role WHEN 'admin' THEN true
                     WHEN 'inl' THEN target = 'approved'
                     WHEN 'advisor' THEN target <> 'approved' AND agency_writable_by(a, role, sub)
                     ELSE false END $$;

-- external_ids holds free keys whose values are strings (or null).
CREATE OR REPLACE FUNCTION agency_external_ids_json(ids jsonb) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN ids IS NULL OR ids = '{}' THEN '{}'
         ELSE (SELECT '{' || string_agg(j(e.key) || ':' || j(e.value), ',') || '}'
               FROM jsonb_each_text(ids) e) END $$;

CREATE OR REPLACE FUNCTION agency_json(a agencies) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT '{"id":' || j(a.id) || ',"name":' || j(a.name) || ',"acronym":' || j(a.acronym)
    || ',"type":' || j(a.type) || ',"level":' || j(a.level) || ',"state":' || j(a.state)
    || ',"municipality":' || j(a.municipality) || ',"website":' || j(a.website)
    || ',"ceo":' || CASE WHEN a.ceo IS NULL THEN 'null'
                    ELSE '{"name":' || j(a.ceo ->> 'name') || ',"title":' || j(a.ceo ->> 'title')
                         || '}' END
    || ',"accreditation_manager":'
    || CASE WHEN a.accreditation_manager IS NULL THEN 'null'
       ELSE '{"name":' || j(a.accreditation_manager ->> 'name')
            || ',"email":' || j(a.accreditation_manager ->> 'email')
            || ',"phone":' || j(a.accreditation_manager ->> 'phone') || '}' END
    || ',"regional_manager_id":' || j(a.regional_manager_id)
    || ',"advisor_ids":' || j(a.advisor_ids) || ',"tier":' || j(a.tier)
    || ',"status":' || j(agency_status(a)) || ',"status_reason":' || j(a.status_reason)
    || ',"status_before_probation":' || j(a.status_before_probation)
    || ',"applied_on":' || j(a.applied_on) || ',"approved_on":' || j(a.approved_on)
    || ',"enrolled_on":' || j(a.enrolled_on) || ',"accredited_on":' || j(a.accredited_on)
    || ',"accreditation_expires_on":' || j(a.accreditation_expires_on)
    || ',"withdrawn_on":' || j(a.withdrawn_on) || ',"removed_on":' || j(a.removed_on)
    || ',"implementation_plan_due":' || j(agency_implementation_plan_due(a))
    || ',"self_assessment_due":' || j(agency_self_assessment_due(a))
    || ',"next_annual_review_due":' || j(agency_next_annual_review_due(a, mx_today()))
    || ',"continuation_fees_due":' || coalesce(to_json(agency_continuation_fees_due(a))::text, '[]')
    || ',"implementation_plan_submitted_on":' || j(a.implementation_plan_submitted_on)
    || ',"manual_version":' || j(a.manual_version) || ',"cycle":' || j(a.cycle)
    || ',"cycle_year":' || j(agency_cycle_year(a, mx_today()))
    || ',"reporting":{"frequency":' || j(a.reporting_frequency)
    || ',"last_report_on":' || j(a.last_report_on)
    || ',"next_report_due":' || j(agency_next_report_due(a))
    || ',"since":' || j(a.reporting_since) || ',"monthly_until":' || j(a.reporting_monthly_until)
    || '},"membership":{"member":' || j(a.member) || ',"member_since":' || j(a.member_since)
    || ',"dues_paid_through":' || j(a.dues_paid_through)
    || ',"external_id":' || j(a.membership_external_id)
    || '},"external_ids":' || agency_external_ids_json(a.external_ids)
    || ',"in_program":' || j(a.in_program) || ',"demo":' || j(a.demo)
    || ',"archived_at":' || j(rfc3339(a.archived_at))
    || ',"created_at":' || j(rfc3339(a.created_at)) || ',"updated_at":' || j(rfc3339(a.updated_at))
    || ',"version":' || j(a.version) || '}'
$$;

-- What anonymous callers and partner systems see.
CREATE OR REPLACE FUNCTION agency_public_json(a agencies) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT '{"id":' || j(a.id) || ',"name":' || j(a.name) || ',"type":' || j(a.type)
    || ',"level":' || j(a.level) || ',"state":' || j(a.state) || ',"status":' || j(agency_status(a))
    || ',"accredited_on":' || j(a.accredited_on)
    || ',"accreditation_expires_on":' || j(a.accreditation_expires_on) || '}'
$$;

-- True when the caller gets the public view of the agency: anonymous callers and partner
-- systems always, an agency user for any agency but its own.
CREATE OR REPLACE FUNCTION agency_public_for(a agencies, role text, caller_agency text)
  RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT role IN ('anonymous', 'partner')
        OR (role = 'agency' AND a.id::text IS DISTINCT FROM caller_agency) $$;

-- The representation a caller gets.
CREATE OR REPLACE FUNCTION agency_json_for(a agencies, role text, caller_agency text DEFAULT NULL)
  RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN agency_public_for(a, role, caller_agency) THEN agency_public_json(a)
              ELSE agency_json(a) END $$;

CREATE OR REPLACE FUNCTION agency_transition_json(t agency_transitions) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT '{"id":' || j(t.id) || ',"agency_id":' || j(t.agency_id) || ',"from":' || j(t.from_status)
    || ',"to":' || j(t.to_status) || ',"on":' || j(t.occurred_on) || ',"note":' || j(t.note)
    || ',"actor":' || j(t.actor) || ',"role":' || j(t.actor_role)
    || ',"award_id":' || j((SELECT w.id FROM awards w WHERE w.transition_id = t.id))
    || ',"created_at":' || j(rfc3339(t.created_at)) || '}'
$$;

CREATE OR REPLACE FUNCTION award_json(w awards) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT '{"id":' || j(w.id) || ',"agency_id":' || j(w.agency_id) || ',"program":' || j(w.program)
    || ',"tier":' || j(w.tier) || ',"awarded_on":' || j(w.awarded_on)
    || ',"expires_on":' || j(w.expires_on) || ',"conditional":' || j(w.conditional)
    || ',"conditions_met_on":' || j(w.conditions_met_on)
    || ',"created_at":' || j(rfc3339(w.created_at)) || '}'
$$;

-- One audit entry as GET /v1/audit shows it.
CREATE OR REPLACE FUNCTION audit_json(e audit) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT '{"at":' || j(rfc3339(e.at)) || ',"actor":' || j(e.actor) || ',"role":' || j(e.role)
    || ',"request_id":' || j(e.request_id) || ',"action":' || j(e.action)
    || ',"resource":' || j(e.resource) || ',"id":' || j(e.resource_id)
    || ',"changes":' || json_compact(e.changes::json) || ',"note":' || j(e.note)
    || ',"before":' || coalesce(json_compact(e.before_image::json), 'null') || '}'
$$;

-- The field errors of an agency document that need the data to find: the state must be one
-- of Mexico's entities, the regional manager and the advisors active advisor users, the
-- application not signed in the future, a tier only for law enforcement. Only the members
-- named in keys are checked (NULL: all), so that a PATCH is judged on what it sends. arg_es is
-- the argument in Spanish when it is prose (NULL: arg is the same in both languages).
CREATE OR REPLACE FUNCTION agency_problems(d jsonb, keys text[])
  RETURNS TABLE (field text, code text, arg text, arg_es text)
  LANGUAGE sql STABLE AS $$
    SELECT '/state', 'invalid_enum', (SELECT string_agg(s.code, ', ' ORDER BY s.code) FROM mx_states s),
           NULL
    WHERE (keys IS NULL OR 'state' = ANY (keys)) AND jsonb_typeof(d -> 'state') = 'string'
      AND NOT EXISTS (SELECT 1 FROM mx_states s WHERE s.code = d ->> 'state')
    UNION ALL
    SELECT '/regional_manager_id', 'not_found', NULL, NULL
    WHERE (keys IS NULL OR 'regional_manager_id' = ANY (keys))
      AND jsonb_typeof(d -> 'regional_manager_id') = 'string'
      AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id::text = lower(d ->> 'regional_manager_id')
                      AND u.role IN ('advisor', 'admin') AND u.active)
    UNION ALL
    SELECT '/advisor_ids/' || (x.n - 1), 'not_found', NULL, NULL
    FROM jsonb_array_elements_text(CASE WHEN (keys IS NULL OR 'advisor_ids' = ANY (keys))
           AND jsonb_typeof(d -> 'advisor_ids') = 'array' THEN d -> 'advisor_ids' ELSE '[]' END)
         WITH ORDINALITY x (v, n)
    WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id::text = lower(x.v)
                      AND u.role = 'advisor' AND u.active)
    UNION ALL
    SELECT '/applied_on', 'out_of_range', '..' || mx_today(), NULL
    WHERE (keys IS NULL OR 'applied_on' = ANY (keys)) AND jsonb_typeof(d -> 'applied_on') = 'string'
      AND (d ->> 'applied_on')::date > mx_today()
    UNION ALL
    SELECT '/tier', 'invalid', 'only law-enforcement agencies have a tier',
           'solo las agencias policiales tienen nivel'
    WHERE (keys IS NULL OR 'tier' = ANY (keys) OR 'type' = ANY (keys))
      AND jsonb_typeof(d -> 'tier') = 'string' AND d ->> 'type' <> 'law_enforcement'
    UNION ALL
    SELECT '/reporting/last_report_on', 'out_of_range', '..' || mx_today(), NULL
    WHERE (keys IS NULL OR 'reporting' = ANY (keys))
      AND jsonb_typeof(d #> '{reporting,last_report_on}') = 'string'
      AND (d #>> '{reporting,last_report_on}')::date > mx_today()
    UNION ALL
    SELECT '/implementation_plan_submitted_on', 'out_of_range',
           coalesce(d ->> 'applied_on', '') || '..' || mx_today(), NULL
    WHERE (keys IS NULL OR 'implementation_plan_submitted_on' = ANY (keys))
      AND jsonb_typeof(d -> 'implementation_plan_submitted_on') = 'string'
      AND ((d ->> 'implementation_plan_submitted_on')::date > mx_today()
           OR (d ->> 'implementation_plan_submitted_on')::date < (d ->> 'applied_on')::date)
$$;

-- advisor_ids of a document, without duplicates, in the order given (first occurrence first):
-- reordering them would make every write of an agency "change" advisor_ids in the audit and
-- the change feed.
CREATE OR REPLACE FUNCTION agency_advisors(d jsonb) RETURNS uuid[] LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(ARRAY(
    SELECT x.v::uuid FROM jsonb_array_elements_text(
      CASE WHEN jsonb_typeof(d -> 'advisor_ids') = 'array' THEN d -> 'advisor_ids' ELSE '[]' END)
      WITH ORDINALITY x (v, n)
    GROUP BY x.v::uuid ORDER BY min(x.n)), '{}') $$;

-- Creates an agency from a document; its history starts with the application.
CREATE OR REPLACE FUNCTION agency_create(d jsonb, actor text, actor_role text, request_id text)
  RETURNS agencies LANGUAGE plpgsql AS $$
DECLARE
  a agencies := agency_from_doc(new_row(NULL::agencies), d);
BEGIN
  a.status := 'applied';
  a.cycle := 0;
  a.reporting_frequency := 'monthly';
  INSERT INTO agencies SELECT a.* RETURNING * INTO a;
  INSERT INTO agency_transitions (agency_id, from_status, to_status, occurred_on, note, actor,
    actor_role, request_id)
  VALUES (a.id, NULL, 'applied', a.applied_on, NULL, actor, actor_role, request_id);
  RETURN a;
END $$;

-- What holds an agency's history (its creation aside): the counts that are not zero, as a
-- JSON object; {} when it has none and may be erased.
CREATE OR REPLACE FUNCTION agency_dependents(agency uuid) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'transitions', nullif((SELECT count(*) FROM agency_transitions t
                           WHERE t.agency_id = agency AND t.from_status IS NOT NULL), 0),
    'awards', nullif((SELECT count(*) FROM awards w WHERE w.agency_id = agency), 0),
    'tasks', nullif((SELECT count(*) FROM tasks t WHERE t.agency_id = agency), 0),
    'compliance', nullif((SELECT count(*) FROM compliance c WHERE c.agency_id = agency), 0),
    'registrations', nullif((SELECT count(*) FROM workshop_registrations r
                             WHERE r.agency_id = agency), 0),
    'users', nullif((SELECT count(*) FROM users u WHERE u.agency_id = agency), 0))) $$;

-- Erases an agency without history (agency_dependents() is {}). Its users' link to it is
-- checked at commit; check it now, so that a refusal is this statement's.
CREATE OR REPLACE FUNCTION agency_erase(agency uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  SET CONSTRAINTS users_agency_fk IMMEDIATE;
  DELETE FROM agencies WHERE id = agency;
END $$;

-- The agency, locked for a write (FOR UPDATE), when it exists and is not archived; otherwise
-- RAISEs P0001 with the HINT not_found.
CREATE OR REPLACE FUNCTION agency_lock_live(agency uuid) RETURNS agencies LANGUAGE plpgsql AS $$
DECLARE
  a agencies;
BEGIN
  SELECT * INTO a FROM agencies x WHERE x.id = agency FOR UPDATE;
  IF NOT FOUND OR a.archived_at IS NOT NULL THEN
    RAISE EXCEPTION 'No agency has this id.' USING HINT = 'not_found';
  END IF;
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
CREATE OR REPLACE FUNCTION agency_transition(agency uuid, target text, on_date date, reason text,
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
  was := agency_lock_live(agency);
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
      USING HINT = 'rule|/tier|required';
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
    removed_on = CASE WHEN target = 'removed' THEN occurred ELSE removed_on END,
    -- Enrolling adopts the program's manual version of the day and starts monthly reports;
    -- each award starts a new cycle of proofs, and the first one quarterly reports.
    manual_version = CASE WHEN target = 'enrolled'
                          THEN coalesce(manual_version, program_current_manual(type))
                          ELSE manual_version END,
    cycle = CASE WHEN awarding THEN cycle + 1 ELSE cycle END,
    reporting_frequency = CASE WHEN awarding AND was.cycle = 0 THEN 'quarterly'
                               WHEN target = 'enrolled' THEN 'monthly'
                               ELSE reporting_frequency END,
    reporting_since = CASE WHEN (awarding AND was.cycle = 0) OR target = 'enrolled' THEN occurred
                           ELSE reporting_since END
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

-- The columns a whole document (d) gives agency a: the one place that maps an agency
-- document onto the table. The lifecycle (status and its dates, the cycle, the manual version,
-- the reporting protocol) is not a document's: only agency_transition(),
-- agency_move_manual() and the monthly-reporting requests move it.
CREATE OR REPLACE FUNCTION agency_from_doc(a agencies, d jsonb) RETURNS agencies
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  a.name := d ->> 'name';
  a.acronym := d ->> 'acronym';
  a.type := d ->> 'type';
  a.level := d ->> 'level';
  a.state := d ->> 'state';
  a.municipality := d ->> 'municipality';
  a.website := d ->> 'website';
  a.ceo := nullif(d -> 'ceo', 'null');
  a.accreditation_manager := nullif(d -> 'accreditation_manager', 'null');
  a.regional_manager_id := (d ->> 'regional_manager_id')::uuid;
  a.advisor_ids := agency_advisors(d);
  a.tier := d ->> 'tier';
  a.applied_on := coalesce((d ->> 'applied_on')::date, a.applied_on, mx_today());
  a.implementation_plan_submitted_on := (d ->> 'implementation_plan_submitted_on')::date;
  a.last_report_on := (d #>> '{reporting,last_report_on}')::date;
  a.member := coalesce((d #>> '{membership,member}')::boolean, false);
  a.member_since := (d #>> '{membership,member_since}')::date;
  a.dues_paid_through := (d #>> '{membership,dues_paid_through}')::date;
  a.membership_external_id := d #>> '{membership,external_id}';
  a.external_ids := coalesce(nullif(d -> 'external_ids', 'null'), '{}');
  a.in_program := coalesce((d ->> 'in_program')::boolean, true);
  RETURN a;
END $$;

-- The row an agency becomes with a merge patch of its representation applied, not written.
CREATE OR REPLACE FUNCTION agency_patched(x agencies, patch jsonb) RETURNS agencies
  LANGUAGE sql STABLE AS $$
  SELECT agency_from_doc(x, jsonb_merge_patch(agency_json(x)::jsonb, patch)) $$;

-- Applies a merge patch to an agency's writable fields (agency_patched()); returns the new row.
-- The caller holds the row lock.
CREATE OR REPLACE FUNCTION agency_update(agency uuid, patch jsonb) RETURNS agencies
  LANGUAGE plpgsql AS $$
DECLARE
  a agencies;
BEGIN
  SELECT * INTO a FROM agencies x WHERE x.id = agency;
  a := agency_patched(a, patch);
  UPDATE agencies SET name = a.name, acronym = a.acronym, type = a.type, level = a.level,
    state = a.state, municipality = a.municipality, website = a.website, ceo = a.ceo,
    accreditation_manager = a.accreditation_manager, regional_manager_id = a.regional_manager_id,
    advisor_ids = a.advisor_ids, tier = a.tier, applied_on = a.applied_on,
    implementation_plan_submitted_on = a.implementation_plan_submitted_on,
    last_report_on = a.last_report_on, member = a.member, member_since = a.member_since,
    dues_paid_through = a.dues_paid_through, membership_external_id = a.membership_external_id,
    external_ids = a.external_ids, in_program = a.in_program
  WHERE id = agency RETURNING * INTO a;
  RETURN a;
END $$;

-- Scoping of compliance and tasks, evaluated for every row a task list reads: the advisor's
-- lookup (a subquery, which prevents inlining) moves to its own function, called only for
-- advisors; the rest inlines into the list's plan.
CREATE OR REPLACE FUNCTION agency_advised_by(agency uuid, sub text) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM agencies a WHERE a.id = agency AND a.archived_at IS NULL
                   AND (sub = ANY (a.advisor_ids::text[]) OR a.regional_manager_id::text = sub)) $$;

-- Who may see and work on an agency's compliance and tasks: admin and INL any agency, an
-- advisor the agencies it is assigned to (in advisor_ids, or as regional manager), an agency
-- user its own. Role and subject come from the verified token, as text. An archived agency's
-- work is admin's only: the nested paths refuse the agency (agencies.c, agency_access), and
-- the task lists leave it out with an anti-join (tasks.c), which costs nothing per row.
CREATE OR REPLACE FUNCTION agency_scope_allows(agency uuid, role text, sub text, caller_agency text)
  RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE role
      WHEN 'admin' THEN true
      WHEN 'inl' THEN true
      WHEN 'advisor' THEN agency_advised_by(agency, sub)
      WHEN 'agency' THEN agency::text = caller_agency
      ELSE false END $$;

-- ?status= filters on the status as shown (agency_status(): "expired" is derived from the
-- date), which no index can hold. The stored statuses that can show as the requested ones
-- are a condition an index can use (agencies_status): a rare status no longer reads every
-- agency. "expired" shows from accredited and conditionally_accredited.
CREATE OR REPLACE FUNCTION agency_stored_statuses(shown jsonb) RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY(SELECT s FROM jsonb_array_elements_text(shown) s
                 UNION SELECT unnest(ARRAY['accredited', 'conditionally_accredited'])
                 WHERE shown ? 'expired') $$;

-- An agency as a list shows it: agency_json_for() in plpgsql. A list statement has optional
-- filters, so PostgreSQL plans it for each request's values, and with agency_json_for()
-- inlined (35 members, a dozen helpers) that planning cost more than rendering the 50 rows.
-- The plpgsql twin is planned once per connection; GET /v1/agencies/{id} keeps the inlined
-- one, whose plan is made once.
CREATE OR REPLACE FUNCTION agency_list_json(a agencies, role text, caller_agency text DEFAULT NULL)
  RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN agency_json_for(a, role, caller_agency);
END $$;

-- ------------------------------------------------------------ stored documents

-- The first date on which an agency's documents, rendered on today, could read differently
-- without a write: the day after an accreditation expires (status "expired"), the day after
-- the next annual review (the next one is then due), the day the year of the cycle turns.
-- Always after today (an anniversary of a 29 February falls a day later than it counts);
-- NULL: never. One expression without FROM, so that PostgreSQL inlines it: as a subquery it
-- ran through the SQL-function executor for each row, 8 times slower (35 µs a row), which
-- the midnight sweep and every write paid. "infinity" stands for "never" inside, so that the
-- date is written once.
CREATE OR REPLACE FUNCTION agency_fresh_until(a agencies, today date) RETURNS date
  LANGUAGE sql STABLE AS $$
  SELECT nullif(greatest(coalesce(least(
           CASE WHEN a.status IN ('accredited', 'conditionally_accredited')
                     AND a.accreditation_expires_on >= today
                THEN a.accreditation_expires_on + 1 END,
           agency_next_annual_review_due(a, today) + 1,
           CASE WHEN today < agency_cycle_start(a) THEN agency_cycle_start(a)
                WHEN agency_cycle_year(a, today) IS NOT NULL
                THEN (agency_cycle_start(a)
                      + make_interval(years => agency_cycle_year(a, today)))::date END),
           'infinity'::date), today + 1), 'infinity'::date) $$;

-- The representation a caller gets (agency_json_for()), as stored when it is current, else
-- rendered now (a row the midnight sweep has not reached yet). The rendering goes through
-- the plpgsql agency_list_json(), whose plan is kept: a list is planned again for each
-- request, and planning the inlined representation cost more than rendering the page.
CREATE OR REPLACE FUNCTION agency_document(a agencies, role text, caller_agency text)
  RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN a.rendered_on <= mx_today() AND (a.fresh_until IS NULL OR mx_today() < a.fresh_until)
              THEN CASE WHEN agency_public_for(a, role, caller_agency) THEN a.public_document
                        ELSE a.document END
              ELSE agency_list_json(a, role, caller_agency) END $$;

-- Every write of an agency, in one BEFORE trigger: a change bumps version and updated_at, and
-- the documents are rendered from the row as it will be stored. An update that only stores
-- re-rendered documents (rendering_only()) is no change.
CREATE OR REPLACE FUNCTION agency_before_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF rendering_only() THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    NEW.updated_at := now();
    NEW.version := OLD.version + 1;
  END IF;
  NEW.document := agency_json(NEW);
  NEW.public_document := agency_public_json(NEW);
  NEW.rendered_on := mx_today();
  NEW.fresh_until := agency_fresh_until(NEW, NEW.rendered_on);
  RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER agencies_write BEFORE INSERT OR UPDATE ON agencies
  FOR EACH ROW EXECUTE FUNCTION agency_before_write();
