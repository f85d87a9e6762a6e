-- 0004_compliance: the standards catalog, each agency's compliance with it (progress, result
-- and proofs per year of the four-year cycle), the tasks of implementation plans, and what
-- falls due for an agency. Scoping by caller (agency users, assigned advisors) is here too, so
-- that lists filter in SQL and writes cannot reach past it.

-- ---------------------------------------------------------------- helpers

-- A bilingual text as stored: an object with a non-empty Spanish text.
CREATE FUNCTION is_bilingual(t jsonb) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_typeof(t) = 'object' AND jsonb_typeof(t -> 'es') = 'string'
       AND length(t ->> 'es') > 0
       AND (NOT t ? 'en' OR jsonb_typeof(t -> 'en') IN ('string', 'null')) $$;

-- --------------------------------------------------------------- standards

CREATE TABLE standards (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  program text NOT NULL
    CHECK (program IN ('law_enforcement', 'training_academy', 'communications_center')),
  manual_version text NOT NULL CHECK (manual_version ~ '^[0-9]{1,4}(\.[0-9]{1,4}){0,3}$'),
  -- chapter.subchapter.standard, no leading zeros, so that equal numbers are equal texts.
  number text NOT NULL
    CHECK (number ~ '^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$'),
  -- The number as integers: the database sorts 9.1.2 before 9.1.10 with it, for lists and
  -- for cursors alike.
  sort_key int[] GENERATED ALWAYS AS (string_to_array(number, '.')::int[]) STORED,
  chapter_number integer NOT NULL,
  chapter_title jsonb NOT NULL CHECK (is_bilingual(chapter_title)),
  title jsonb NOT NULL CHECK (is_bilingual(title)),
  summary jsonb CHECK (summary IS NULL OR is_bilingual(summary)),
  bullets jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(bullets) = 'array'),
  tiers text[] NOT NULL DEFAULT '{}',
  time_sensitive text CHECK (time_sensitive IN ('per_occurrence', 'monthly', 'quarterly',
    'semiannual', 'annual', 'biennial', 'triennial', 'quadrennial')),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT standards_number_key UNIQUE (program, manual_version, number),
  CONSTRAINT standards_chapter_number CHECK (chapter_number = sort_key[1]),
  -- Tiers are a law-enforcement notion: there at least one applies; elsewhere none.
  CONSTRAINT standards_tiers CHECK (tiers <@ '{tier1,advanced}'::text[]
    AND (program = 'law_enforcement') = (cardinality(tiers) > 0))
);
CREATE INDEX standards_number ON standards (sort_key, id);
CREATE INDEX standards_catalog ON standards (program, manual_version, sort_key);
CREATE INDEX standards_created_at ON standards (created_at, id);
CREATE INDEX standards_updated_at ON standards (updated_at, id);

-- -------------------------------------------------------------- compliance

-- One row per agency and standard once anyone has written to it; standards without a row
-- read as not_started / not_assessed. proofs is [{cycle_year, bullets, title, url, kind}]:
-- links into the agency's document system, per year of the four-year cycle.
CREATE TABLE compliance (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agency_id uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
  standard_id uuid NOT NULL REFERENCES standards (id) ON DELETE RESTRICT,
  progress text NOT NULL DEFAULT 'not_started'
    CHECK (progress IN ('not_started', 'in_progress', 'in_review', 'done')),
  result text NOT NULL DEFAULT 'not_assessed' CHECK (result IN ('not_assessed', 'compliant',
    'partially_compliant', 'non_compliant', 'not_applicable')),
  assignee_id uuid REFERENCES users (id) ON DELETE SET NULL,
  due_on date,
  note text CHECK (length(note) <= 4000),
  reviewed_by uuid REFERENCES users (id) ON DELETE SET NULL,
  reviewed_at timestamptz,
  proofs jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(proofs) = 'array'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT compliance_agency_standard_key UNIQUE (agency_id, standard_id)
);
CREATE INDEX compliance_standard ON compliance (standard_id);
CREATE INDEX compliance_assignee ON compliance (assignee_id) WHERE assignee_id IS NOT NULL;
CREATE INDEX compliance_updated_at ON compliance (updated_at, id);

-- ------------------------------------------------------------------- tasks

CREATE TABLE tasks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  agency_id uuid NOT NULL REFERENCES agencies (id) ON DELETE CASCADE,
  standard_id uuid REFERENCES standards (id) ON DELETE SET NULL,
  kind text NOT NULL CHECK (kind IN ('written_directive', 'proof_of_compliance', 'training',
    'pre_assessment', 'review', 'corrective_action', 'progress_report', 'other')),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  description text CHECK (length(description) <= 10000),
  assignee_id uuid REFERENCES users (id) ON DELETE SET NULL,
  due_on date,
  status text NOT NULL DEFAULT 'open'
    CHECK (status IN ('open', 'in_progress', 'blocked', 'done', 'cancelled')),
  priority text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high')),
  completed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT tasks_completed_when_done CHECK ((status = 'done') = (completed_at IS NOT NULL))
);
CREATE INDEX tasks_agency_due ON tasks (agency_id, due_on);
CREATE INDEX tasks_due ON tasks ((coalesce(due_on, 'infinity'::date)), id);
CREATE INDEX tasks_open_due ON tasks (due_on) WHERE status IN ('open', 'in_progress', 'blocked');
CREATE INDEX tasks_created_at ON tasks (created_at, id);
CREATE INDEX tasks_updated_at ON tasks (updated_at, id);
CREATE INDEX tasks_assignee ON tasks (assignee_id) WHERE assignee_id IS NOT NULL;
CREATE INDEX tasks_standard ON tasks (standard_id) WHERE standard_id IS NOT NULL;
