-- 11_reporting: requests for monthly reporting (the final report's protocol: after its first
-- award an agency reports quarterly; a regional manager may ask for monthly reports, with a
-- rationale and an expected return date, and the director approves).

CREATE OR REPLACE TRIGGER reporting_requests_touch BEFORE UPDATE ON reporting_requests
  FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE OR REPLACE FUNCTION reporting_request_json(q reporting_requests) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT '{"id":' || j(q.id) || ',"agency_id":' || j(q.agency_id) || ',"rationale":' || j(q.rationale)
    || ',"expected_return_on":' || j(q.expected_return_on) || ',"status":' || j(q.status)
    || ',"requested_by":' || j(q.requested_by) || ',"decided_by":' || j(q.decided_by)
    || ',"decided_at":' || j(rfc3339(q.decided_at)) || ',"decision_note":' || j(q.decision_note)
    || ',"ended_on":' || j(q.ended_on) || ',"ended_by":' || j(q.ended_by)
    || ',"created_at":' || j(rfc3339(q.created_at)) || ',"updated_at":' || j(rfc3339(q.updated_at))
    || ',"version":' || j(q.version) || '}'
$$;

/*
 * A request (d: {rationale, expected_return_on}) by the agency's regional manager (or admin)
 * for an agency that has been accredited and is still in the program. A second open request
 * is refused by the index reporting_requests_open. Refusals are RAISEd as P0001 with a HINT:
 * not_found | forbidden | not_accredited | return_date.
 */
CREATE OR REPLACE FUNCTION reporting_request_create(agency uuid, d jsonb, actor text,
                                                    actor_role text)
  RETURNS reporting_requests LANGUAGE plpgsql AS $$
DECLARE
  a agencies;
  q reporting_requests;
BEGIN
  a := agency_lock_live(agency);
  IF NOT (actor_role = 'admin'
          OR (actor_role = 'advisor' AND a.regional_manager_id::text = actor)) THEN
    RAISE EXCEPTION 'Only the agency''s regional manager asks.' USING HINT = 'forbidden';
  END IF;
  IF a.cycle = 0 OR a.status IN ('withdrawn', 'removed', 'revoked') THEN
    RAISE EXCEPTION 'The agency reports monthly until its first award.'
      USING HINT = 'not_accredited';
  END IF;
  IF (d ->> 'expected_return_on')::date <= mx_today() THEN
    RAISE EXCEPTION 'The expected return date is after today.' USING HINT = 'return_date';
  END IF;
  INSERT INTO reporting_requests (agency_id, rationale, expected_return_on, requested_by)
  VALUES (agency, d ->> 'rationale', (d ->> 'expected_return_on')::date, actor)
  RETURNING * INTO q;
  RETURN q;
END $$;

-- Who may make a move of a request: INL (its director's approval) or admin decide; the
-- requester or admin withdraws; INL, admin or the agency's regional manager ends one.
CREATE OR REPLACE FUNCTION reporting_request_may_move(q reporting_requests, a agencies,
                                                      target text, actor text, actor_role text)
  RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT actor_role = 'admin' OR CASE target
      WHEN 'approved' THEN actor_role = 'inl'
      WHEN 'rejected' THEN actor_role = 'inl'
      WHEN 'withdrawn' THEN q.requested_by = actor
      WHEN 'ended' THEN actor_role = 'inl'
                     OR (actor_role = 'advisor' AND a.regional_manager_id::text = actor)
      ELSE false END $$;

/*
 * Moves a request, the caller holding its row lock: requested → approved | rejected (with a
 * note) | withdrawn; approved → ended. Approval puts the agency on monthly reports from today
 * until the request ends; its end puts the agency back on quarterly reports from today.
 * Returns the request and the agency before and after. Refusals are RAISEd as P0001 with a
 * HINT: not_found | forbidden | request_conflict | note_required.
 */
CREATE OR REPLACE FUNCTION reporting_request_move(request uuid, agency uuid, target text,
                                                  reason text, actor text, actor_role text)
  RETURNS TABLE (request_before text, request_after text, agency_before text, agency_after text)
  LANGUAGE plpgsql AS $$
DECLARE
  a agencies;
  was agencies;
  q reporting_requests;
  p reporting_requests;
  note text := nullif(btrim(reason), '');
BEGIN
  was := agency_lock_live(agency);
  SELECT * INTO p FROM reporting_requests x WHERE x.id = request AND x.agency_id = agency;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'This agency has no such request.' USING HINT = 'not_found';
  END IF;
  IF NOT reporting_request_may_move(p, was, target, actor, actor_role) THEN
    RAISE EXCEPTION 'The role % may not make this request %.', actor_role, target
      USING HINT = 'forbidden';
  END IF;
  IF NOT (p.status = 'requested' AND target IN ('approved', 'rejected', 'withdrawn')
          OR p.status = 'approved' AND target = 'ended') THEN
    RAISE EXCEPTION 'A request % cannot become %.', p.status, target
      USING HINT = 'request_conflict';
  END IF;
  IF target = 'rejected' AND note IS NULL THEN
    RAISE EXCEPTION 'A rejection needs a note with the reason.' USING HINT = 'note_required';
  END IF;
  UPDATE reporting_requests x SET status = target,
    decided_by = CASE WHEN target = 'ended' THEN x.decided_by ELSE actor END,
    decided_at = CASE WHEN target = 'ended' THEN x.decided_at ELSE now() END,
    decision_note = CASE WHEN target = 'ended' THEN x.decision_note ELSE note END,
    ended_on = CASE WHEN target = 'ended' THEN mx_today() END,
    ended_by = CASE WHEN target = 'ended' THEN actor END
  WHERE x.id = request RETURNING * INTO q;
  a := was;
  IF target IN ('approved', 'ended') THEN
    UPDATE agencies x SET
      reporting_frequency = CASE target WHEN 'approved' THEN 'monthly' ELSE 'quarterly' END,
      reporting_since = mx_today(),
      reporting_monthly_until = CASE target WHEN 'approved' THEN q.expected_return_on END
    WHERE x.id = agency RETURNING * INTO a;
  END IF;
  RETURN QUERY SELECT reporting_request_json(p), reporting_request_json(q), agency_json(was),
                      agency_json(a);
END $$;
