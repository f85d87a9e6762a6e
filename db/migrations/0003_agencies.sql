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
  external_ids jsonb NOT NULL DEFAULT '{}',
  demo boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT agencies_tier_law_enforcement CHECK (tier IS NULL OR type = 'law_enforcement'),
  CONSTRAINT agencies_probation_memory CHECK ((status = 'probation') = (status_before_probation IS NOT NULL))
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
