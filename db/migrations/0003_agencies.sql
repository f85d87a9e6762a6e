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

-- Users of the agency role now point at a real agency.
ALTER TABLE users ADD CONSTRAINT users_agency_fk FOREIGN KEY (agency_id) REFERENCES agencies (id)
  DEFERRABLE INITIALLY DEFERRED;

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
