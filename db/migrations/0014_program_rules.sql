-- 0014_program_rules: the program's own rules (issue 15; DOMAIN.md and the final report).
--   - Each agency works against the standards manual version it adopted when it enrolled,
--     until it is moved to another one (an explicit, audited action).
--   - Proofs belong to an accreditation cycle: cycle 0 runs from the CALEA agreement to the
--     first award, and each award starts the next. A proof keeps the cycle it was filed in.
--   - Reporting is monthly until the first award and quarterly after it, unless INL approved
--     a regional manager's request for monthly reporting; the next report falls due one
--     period after the last one filed (or after the current protocol began).
--   - The implementation plan's submission is recorded.

ALTER TABLE agencies
  ADD COLUMN manual_version text CHECK (manual_version ~ '^[0-9]{1,4}(\.[0-9]{1,4}){0,3}$'),
  ADD COLUMN cycle integer NOT NULL DEFAULT 0 CHECK (cycle >= 0),
  ADD COLUMN implementation_plan_submitted_on date,
  -- The day the current reporting protocol (reporting_frequency) began; NULL before the
  -- agency enrolled.
  ADD COLUMN reporting_since date,
  -- While an approved request for monthly reporting runs: the day it expects to return to
  -- quarterly reporting.
  ADD COLUMN reporting_monthly_until date;

-- next_report_due follows from the protocol and the last report: it is derived
-- (agency_next_report_due()), never stored.
ALTER TABLE agencies DROP COLUMN next_report_due;

-- The agencies of a database migrated from before: the version their program works with now,
-- the cycle their awards make, the plan as submitted when their self-assessment began, and
-- the protocol their awards imply.
UPDATE agencies a SET
  manual_version = CASE WHEN a.enrolled_on IS NOT NULL THEN (
    SELECT s.manual_version FROM standards s WHERE s.program = a.type AND s.active
      AND s.archived_at IS NULL
    ORDER BY string_to_array(s.manual_version, '.')::int[] DESC LIMIT 1) END,
  cycle = (SELECT count(*) FROM awards w WHERE w.agency_id = a.id),
  implementation_plan_submitted_on = (SELECT min(t.occurred_on) FROM agency_transitions t
    WHERE t.agency_id = a.id AND t.to_status = 'self_assessment'),
  reporting_frequency = CASE WHEN EXISTS (SELECT 1 FROM awards w WHERE w.agency_id = a.id)
                             THEN 'quarterly' ELSE 'monthly' END,
  reporting_since = coalesce((SELECT min(w.awarded_on) FROM awards w WHERE w.agency_id = a.id),
                             a.enrolled_on);

-- Proofs filed before carry the cycle their agency is in.
UPDATE compliance c SET proofs = (
  SELECT coalesce(jsonb_agg(p || jsonb_build_object('cycle', a.cycle) ORDER BY n), '[]')
  FROM jsonb_array_elements(c.proofs) WITH ORDINALITY x (p, n))
FROM agencies a WHERE a.id = c.agency_id AND jsonb_array_length(c.proofs) > 0;

-- A regional manager's request that an accredited agency report monthly again, with its
-- rationale and the day it expects the agency back on quarterly reports; INL approves or
-- rejects it, and it ends when the agency returns to quarterly reporting. One open
-- (requested or approved) request per agency.
CREATE TABLE reporting_requests (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agency_id uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
  rationale text NOT NULL CHECK (length(rationale) BETWEEN 1 AND 4000),
  expected_return_on date NOT NULL,
  status text NOT NULL DEFAULT 'requested'
    CHECK (status IN ('requested', 'approved', 'rejected', 'withdrawn', 'ended')),
  requested_by text NOT NULL,
  decided_by text,
  decided_at timestamptz,
  decision_note text CHECK (length(decision_note) <= 2000),
  ended_on date,
  ended_by text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX reporting_requests_open ON reporting_requests (agency_id)
  WHERE status IN ('requested', 'approved');
CREATE INDEX reporting_requests_agency_created ON reporting_requests (agency_id, created_at, id);
CREATE INDEX reporting_requests_agency_updated ON reporting_requests (agency_id, updated_at, id);

-- Proofs are now stored with the cycle they belong to.
-- (IF EXISTS: on a new database the functions come after the migrations.)
SET LOCAL client_min_messages = warning;
DROP FUNCTION IF EXISTS compliance_proofs_in(jsonb);
