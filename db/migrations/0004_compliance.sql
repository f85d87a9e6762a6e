-- 0004_compliance: the standards catalog, each agency's compliance with it (progress, result
-- and proofs per year of the four-year cycle), the tasks of implementation plans, and what
-- falls due for an agency. Scoping by caller (agency users, assigned advisors) is here too, so
-- that lists filter in SQL and writes cannot reach past it.

-- ---------------------------------------------------------------- helpers

-- A bilingual text as the API renders it: Spanish first, English null when absent.
CREATE FUNCTION text_es_en(t jsonb) RETURNS json
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t IS NULL OR jsonb_typeof(t) <> 'object' THEN NULL
                ELSE json_build_object('es', t ->> 'es', 'en', t ->> 'en') END $$;

-- A bilingual text as stored: an object with a non-empty Spanish text.
CREATE FUNCTION is_bilingual(t jsonb) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_typeof(t) = 'object' AND jsonb_typeof(t -> 'es') = 'string'
       AND length(t ->> 'es') > 0
       AND (NOT t ? 'en' OR jsonb_typeof(t -> 'en') IN ('string', 'null')) $$;

-- Who may see and work on an agency's compliance and tasks: admin and INL any agency, an
-- advisor the agencies it is assigned to (in advisor_ids, or as regional manager), an agency
-- user its own. Role and subject come from the verified token, as text.
CREATE FUNCTION agency_scope_allows(agency uuid, role text, sub text, caller_agency text)
  RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE role
      WHEN 'admin' THEN true
      WHEN 'inl' THEN true
      WHEN 'advisor' THEN EXISTS (
        SELECT 1 FROM agencies a WHERE a.id = agency
          AND (sub = ANY (a.advisor_ids::text[]) OR a.regional_manager_id::text = sub))
      WHEN 'agency' THEN agency::text = caller_agency
      ELSE false END $$;

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
CREATE TRIGGER standards_touch BEFORE UPDATE ON standards
  FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE FUNCTION standard_bullets_json(bullets jsonb) RETURNS json
  LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(json_agg(json_build_object('key', b ->> 'key', 'summary', text_es_en(b -> 'summary'))
                             ORDER BY n), '[]')
    FROM jsonb_array_elements(bullets) WITH ORDINALITY x(b, n) $$;

CREATE FUNCTION standard_json(s standards) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', s.id, 'program', s.program, 'manual_version', s.manual_version,
    'number', s.number,
    'chapter', json_build_object('number', s.chapter_number, 'title', text_es_en(s.chapter_title)),
    'title', text_es_en(s.title), 'summary', text_es_en(s.summary),
    'bullets', standard_bullets_json(s.bullets), 'tiers', to_json(s.tiers),
    'time_sensitive', s.time_sensitive, 'active', s.active,
    'created_at', rfc3339(s.created_at), 'updated_at', rfc3339(s.updated_at),
    'version', s.version)::text
$$;

-- The manual version a program works with now: its highest version with active standards,
-- compared part by part as numbers.
CREATE FUNCTION program_current_manual(p text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT manual_version FROM standards WHERE program = p AND active
  ORDER BY string_to_array(manual_version, '.')::int[] DESC LIMIT 1
$$;

-- A standard applies to an agency of its program; for law enforcement, to the agency's tier
-- (a Tier 1 agency does not answer advanced-only standards; an agency without a tier yet
-- sees them all).
CREATE FUNCTION standard_applies(s standards, a agencies) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT s.active AND s.program = a.type
       AND (s.program <> 'law_enforcement' OR a.tier IS NULL OR a.tier = ANY (s.tiers)) $$;

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
CREATE TRIGGER compliance_touch BEFORE UPDATE ON compliance
  FOR EACH ROW EXECUTE FUNCTION touch_row();

-- The proofs' bullets that the standard does not have, as JSON Pointers into the record
-- (/proofs/0/bullets/1); empty when all exist.
CREATE FUNCTION compliance_unknown_bullets(standard uuid, proofs jsonb) RETURNS SETOF text
  LANGUAGE sql STABLE AS $$
    SELECT format('/proofs/%s/bullets/%s', p.i - 1, b.j - 1)
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(proofs) = 'array' THEN proofs ELSE '[]' END)
           WITH ORDINALITY p(proof, i),
         jsonb_array_elements_text(CASE WHEN jsonb_typeof(p.proof -> 'bullets') = 'array'
                                        THEN p.proof -> 'bullets' ELSE '[]' END)
           WITH ORDINALITY b(key, j)
    WHERE NOT EXISTS (SELECT 1 FROM standards s, jsonb_array_elements(s.bullets) sb
                      WHERE s.id = standard AND sb ->> 'key' = b.key)
    ORDER BY p.i, b.j $$;

-- Proofs cover bullets of their standard, and only those.
CREATE FUNCTION compliance_check_proofs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad text;
BEGIN
  SELECT string_agg(ptr, ',') INTO bad FROM compliance_unknown_bullets(NEW.standard_id, NEW.proofs) ptr;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'proofs name bullets the standard does not have'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'compliance_proof_bullets', HINT = bad;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER compliance_proofs BEFORE INSERT OR UPDATE OF proofs, standard_id ON compliance
  FOR EACH ROW EXECUTE FUNCTION compliance_check_proofs();

CREATE FUNCTION compliance_proofs_json(proofs jsonb) RETURNS json LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(json_agg(json_build_object('cycle_year', (p ->> 'cycle_year')::int,
    'bullets', coalesce(p -> 'bullets', '[]'), 'title', p ->> 'title', 'url', p ->> 'url',
    'kind', p ->> 'kind') ORDER BY n), '[]')
  FROM jsonb_array_elements(proofs) WITH ORDINALITY x(p, n)
$$;

-- Proofs as stored, from a request's (validated) array: every member present, kind
-- defaulting to document.
CREATE FUNCTION compliance_proofs_in(proofs jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('cycle_year', (p ->> 'cycle_year')::int,
    'bullets', coalesce(p -> 'bullets', '[]'), 'title', p ->> 'title', 'url', p ->> 'url',
    'kind', coalesce(p ->> 'kind', 'document')) ORDER BY n), '[]')
  FROM jsonb_array_elements(coalesce(proofs, '[]')) WITH ORDINALITY x(p, n)
$$;

-- One standard as it stands for one agency: its record, or the defaults when c is null.
-- id, created_at, updated_at and version are those of the record (null without one).
CREATE FUNCTION compliance_item_json(s standards, c compliance, agency uuid) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', c.id, 'agency_id', agency, 'standard_id', s.id,
    'standard', json_build_object('number', s.number, 'manual_version', s.manual_version,
      'chapter', json_build_object('number', s.chapter_number, 'title', text_es_en(s.chapter_title)),
      'title', text_es_en(s.title), 'tiers', to_json(s.tiers), 'time_sensitive', s.time_sensitive,
      'bullets', (SELECT coalesce(json_agg(b ->> 'key' ORDER BY n), '[]')
                  FROM jsonb_array_elements(s.bullets) WITH ORDINALITY x(b, n))),
    'progress', coalesce(c.progress, 'not_started'), 'result', coalesce(c.result, 'not_assessed'),
    'assignee_id', c.assignee_id, 'due_on', c.due_on::text, 'note', c.note,
    'reviewed_by', c.reviewed_by, 'reviewed_at', rfc3339(c.reviewed_at),
    'proofs', compliance_proofs_json(coalesce(c.proofs, '[]')),
    'created_at', rfc3339(c.created_at), 'updated_at', rfc3339(c.updated_at),
    'version', c.version)::text
$$;

-- Every standard of the agency's catalog (its program and tier, in manual version `manual`
-- or the program's current one), with its record or the defaults. id is the standard's.
CREATE FUNCTION agency_compliance_items(agency uuid, manual text)
  RETURNS TABLE (id uuid, sort_key int[], chapter integer, chapter_title jsonb,
                 time_sensitive text, progress text, result text, assignee_id uuid,
                 record_updated_at timestamptz, item text)
  LANGUAGE sql STABLE AS $$
    SELECT s.id, s.sort_key, s.chapter_number, s.chapter_title, s.time_sensitive,
           coalesce(c.progress, 'not_started'), coalesce(c.result, 'not_assessed'),
           c.assignee_id, c.updated_at, compliance_item_json(s, c, a.id)
    FROM agencies a
    JOIN standards s ON standard_applies(s, a)
                    AND s.manual_version = coalesce(manual, program_current_manual(a.type))
    LEFT JOIN compliance c ON c.agency_id = a.id AND c.standard_id = s.id
    WHERE a.id = agency $$;

-- The item of one standard for one agency, after taking the transaction's lock on the pair:
-- writers of the same pair go one at a time even before the pair has a row to lock.
CREATE FUNCTION compliance_item_locked(agency uuid, standard uuid) RETURNS text
  LANGUAGE plpgsql AS $$
DECLARE
  item text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('compliance:' || agency || ':' || standard, 0));
  SELECT compliance_item_json(s, c, agency) INTO item
  FROM standards s LEFT JOIN compliance c ON c.agency_id = agency AND c.standard_id = s.id
  WHERE s.id = standard;
  RETURN item;
END $$;

-- Counts per progress and result, and the percent compliant of applicable standards (those
-- not found not_applicable), one decimal; null when none is applicable.
CREATE FUNCTION agency_compliance_summary(agency uuid, manual text) RETURNS text
  LANGUAGE sql STABLE AS $$
  WITH groups AS (
    SELECT grouping(i.chapter) = 1 AS overall, i.chapter,
      (array_agg(i.chapter_title))[1] AS chapter_title,
      json_build_object(
        'standards', count(*),
        'applicable', count(*) FILTER (WHERE i.result <> 'not_applicable'),
        'compliant', count(*) FILTER (WHERE i.result = 'compliant'),
        'percent_compliant', round(100.0 * count(*) FILTER (WHERE i.result = 'compliant')
          / nullif(count(*) FILTER (WHERE i.result <> 'not_applicable'), 0), 1),
        'progress', json_build_object(
          'not_started', count(*) FILTER (WHERE i.progress = 'not_started'),
          'in_progress', count(*) FILTER (WHERE i.progress = 'in_progress'),
          'in_review', count(*) FILTER (WHERE i.progress = 'in_review'),
          'done', count(*) FILTER (WHERE i.progress = 'done')),
        'result', json_build_object(
          'not_assessed', count(*) FILTER (WHERE i.result = 'not_assessed'),
          'compliant', count(*) FILTER (WHERE i.result = 'compliant'),
          'partially_compliant', count(*) FILTER (WHERE i.result = 'partially_compliant'),
          'non_compliant', count(*) FILTER (WHERE i.result = 'non_compliant'),
          'not_applicable', count(*) FILTER (WHERE i.result = 'not_applicable'))) AS counts
    FROM agency_compliance_items(agency, manual) i
    GROUP BY GROUPING SETS ((i.chapter), ()))
  SELECT json_build_object('agency_id', a.id, 'program', a.type, 'tier', a.tier,
    'manual_version', coalesce(manual, program_current_manual(a.type)),
    'overall', coalesce((SELECT counts FROM groups WHERE overall),
      json_build_object('standards', 0, 'applicable', 0, 'compliant', 0, 'percent_compliant', NULL,
        'progress', json_build_object('not_started', 0, 'in_progress', 0, 'in_review', 0, 'done', 0),
        'result', json_build_object('not_assessed', 0, 'compliant', 0, 'partially_compliant', 0,
          'non_compliant', 0, 'not_applicable', 0))),
    'chapters', coalesce((SELECT json_agg(json_build_object('number', g.chapter,
        'title', text_es_en(g.chapter_title), 'counts', g.counts) ORDER BY g.chapter)
      FROM groups g WHERE NOT g.overall), '[]'))::text
  FROM agencies a WHERE a.id = agency
$$;

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
CREATE TRIGGER tasks_touch BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION touch_row();

-- completed_at is the moment a task became done, and only a done task has one. A task's
-- standard belongs to the agency's program.
CREATE FUNCTION tasks_before_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status <> 'done' THEN
    NEW.completed_at := NULL;
  ELSIF TG_OP = 'INSERT' OR OLD.status <> 'done' THEN
    NEW.completed_at := now();
  ELSE
    NEW.completed_at := OLD.completed_at;
  END IF;
  IF NEW.standard_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.standard_id IS DISTINCT FROM OLD.standard_id)
     AND NOT EXISTS (SELECT 1 FROM standards s JOIN agencies a ON a.type = s.program
                     WHERE s.id = NEW.standard_id AND a.id = NEW.agency_id) THEN
    RAISE EXCEPTION 'the standard is not one of the agency''s program'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'tasks_standard_program';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tasks_before_write BEFORE INSERT OR UPDATE ON tasks
  FOR EACH ROW EXECUTE FUNCTION tasks_before_write();

-- Overdue: due before today (Mexico City's date) and neither done nor cancelled.
CREATE FUNCTION task_is_overdue(due_on date, status text, today date) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(due_on < today, false) AND status NOT IN ('done', 'cancelled') $$;

CREATE FUNCTION task_json(t tasks) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', t.id, 'agency_id', t.agency_id, 'standard_id', t.standard_id,
    'kind', t.kind, 'title', t.title, 'description', t.description,
    'assignee_id', t.assignee_id, 'due_on', t.due_on::text, 'status', t.status,
    'priority', t.priority, 'overdue', task_is_overdue(t.due_on, t.status, mx_today()),
    'completed_at', rfc3339(t.completed_at), 'created_at', rfc3339(t.created_at),
    'updated_at', rfc3339(t.updated_at), 'version', t.version)::text
$$;

-- One CSV cell (RFC 4180): quoted when needed; a text a spreadsheet would run as a formula
-- (= + - @ at the start) gets a leading apostrophe.
CREATE FUNCTION task_csv_cell(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN v IS NULL THEN ''
    ELSE '"' || replace(CASE WHEN v ~ '^[=+\-@\t\r]' THEN '''' || v ELSE v END, '"', '""') || '"'
  END $$;

CREATE FUNCTION task_csv_header() RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'id,agency_id,agency_name,standard_id,standard_number,kind,title,description,'
      || 'assignee_id,due_on,status,priority,overdue,completed_at,created_at,updated_at'
$$;

-- concat_ws skips nulls: every empty cell is an explicit ''.
CREATE FUNCTION task_csv_row(t tasks) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT concat_ws(',', t.id, t.agency_id,
    task_csv_cell((SELECT a.name FROM agencies a WHERE a.id = t.agency_id)),
    coalesce(t.standard_id::text, ''),
    coalesce((SELECT s.number FROM standards s WHERE s.id = t.standard_id), ''), t.kind,
    task_csv_cell(t.title), task_csv_cell(t.description), coalesce(t.assignee_id::text, ''),
    coalesce(t.due_on::text, ''), t.status, t.priority,
    task_is_overdue(t.due_on, t.status, mx_today())::text, coalesce(rfc3339(t.completed_at), ''),
    rfc3339(t.created_at), rfc3339(t.updated_at))
$$;

-- --------------------------------------------------------------------- due

-- The year of the four-year cycle an agency is in (1-4): counted from the award, or before
-- it from the CALEA agreement. Null before either, once the agency left the program, and
-- after the cycle's fourth year: proofs carry only the year of their cycle, so a new cycle
-- starts with the next award (which moves accredited_on), not by counting on.
CREATE FUNCTION agency_cycle_start(a agencies) RETURNS date LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN a.status IN ('applied', 'approved', 'withdrawn', 'removed', 'revoked') THEN NULL
              ELSE coalesce(a.accredited_on, a.enrolled_on) END $$;

CREATE FUNCTION agency_cycle_year(a agencies, today date) RETURNS integer
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN y BETWEEN 1 AND 4 THEN y END
    FROM (SELECT extract(year FROM age(today, agency_cycle_start(a)))::int + 1 AS y
          WHERE today >= agency_cycle_start(a)) x $$;

-- Does a time-sensitive standard need a proof in cycle year y? Every year for anything at
-- least annual; biennial in years 2 and 4; triennial in year 3; quadrennial in year 4.
CREATE FUNCTION proof_due_in_cycle_year(frequency text, y integer) RETURNS boolean
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE frequency
      WHEN 'biennial' THEN y IN (2, 4)
      WHEN 'triennial' THEN y = 3
      WHEN 'quadrennial' THEN y = 4
      ELSE frequency IS NOT NULL END $$;

CREATE FUNCTION frequency_text(frequency text, lang text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN lang = 'es' THEN CASE frequency
        WHEN 'per_occurrence' THEN 'por ocurrencia' WHEN 'monthly' THEN 'mensual'
        WHEN 'quarterly' THEN 'trimestral' WHEN 'semiannual' THEN 'semestral'
        WHEN 'annual' THEN 'anual' WHEN 'biennial' THEN 'bienal'
        WHEN 'triennial' THEN 'trienal' WHEN 'quadrennial' THEN 'cuatrienal' END
      ELSE replace(frequency, '_', ' ') END $$;

-- What falls due for one agency up to today + days, overdue items included (open tasks,
-- proofs of the current cycle year, the self-assessment deadline while still in it, and the
-- implementation plan while the agency has not started its self-assessment). Rendered as
-- {agency_id, today, until, days, data: [{kind, date, overdue, reason, task_id, standard_id}]}
-- sorted by date.
CREATE FUNCTION agency_due_json(agency uuid, today date, days integer) RETURNS text
  LANGUAGE sql STABLE AS $$
  WITH a AS (SELECT * FROM agencies WHERE id = agency),
  cycle AS (SELECT agency_cycle_year(a, today) AS y, agency_cycle_start(a) AS start FROM a),
  items AS (
    SELECT t.due_on AS date, 'task' AS kind, t.id AS task_id, t.standard_id,
           json_build_object('es', 'Tarea: ' || t.title, 'en', 'Task: ' || t.title) AS reason
    FROM tasks t
    WHERE t.agency_id = agency AND t.status IN ('open', 'in_progress', 'blocked')
      AND t.due_on <= today + days
    UNION ALL
    SELECT (cycle.start + make_interval(years => cycle.y) - interval '1 day')::date, 'proof',
           NULL, s.id,
           json_build_object(
             'es', format('Falta la prueba del año %s del ciclo del estándar %s (%s).',
                          cycle.y, s.number, frequency_text(s.time_sensitive, 'es')),
             'en', format('The proof for year %s of the cycle of standard %s (%s) is missing.',
                          cycle.y, s.number, frequency_text(s.time_sensitive, 'en')))
    FROM a, cycle, standards s
    LEFT JOIN compliance c ON c.agency_id = agency AND c.standard_id = s.id
    WHERE cycle.y IS NOT NULL AND standard_applies(s, a)
      AND s.manual_version = program_current_manual(a.type)
      AND proof_due_in_cycle_year(s.time_sensitive, cycle.y)
      AND coalesce(c.result, '') <> 'not_applicable'
      AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(c.proofs, '[]')) p
                      WHERE (p ->> 'cycle_year')::int = cycle.y)
      AND (cycle.start + make_interval(years => cycle.y) - interval '1 day')::date <= today + days
    UNION ALL
    SELECT agency_implementation_plan_due(a), 'implementation_plan', NULL, NULL,
           json_build_object('es', 'Entrega del Plan de Implementación (tres meses después de la solicitud).',
                             'en', 'Implementation Plan due (three months after the application).')
    FROM a WHERE a.status IN ('applied', 'approved', 'enrolled')
      AND agency_implementation_plan_due(a) <= today + days
    UNION ALL
    SELECT agency_self_assessment_due(a), 'self_assessment', NULL, NULL,
           json_build_object('es', 'Fin del plazo de autoevaluación.',
                             'en', 'End of the self-assessment period.')
    FROM a WHERE a.status IN ('enrolled', 'self_assessment', 'pre_assessment')
      AND agency_self_assessment_due(a) <= today + days
    UNION ALL
    SELECT agency_next_annual_review_due(a, today), 'annual_review', NULL, NULL,
           json_build_object('es', 'Revisión anual de CALEA.', 'en', 'CALEA annual review.')
    FROM a WHERE a.status NOT IN ('withdrawn', 'removed', 'revoked')
      AND agency_next_annual_review_due(a, today) <= today + days
    UNION ALL
    SELECT f.d, 'continuation_fee', NULL, NULL,
           json_build_object('es', format('Cuota de continuación %s de 4.', f.n),
                             'en', format('Continuation fee %s of 4.', f.n))
    FROM a, unnest(agency_continuation_fees_due(a)) WITH ORDINALITY f(d, n)
    WHERE a.status NOT IN ('withdrawn', 'removed', 'revoked')
      AND f.d BETWEEN today AND today + days)
  SELECT json_build_object('agency_id', agency, 'today', today::text,
    'until', (today + days)::text, 'days', days,
    'data', coalesce((SELECT json_agg(json_build_object('kind', i.kind, 'date', i.date::text,
        'overdue', i.date < today, 'reason', i.reason, 'task_id', i.task_id,
        'standard_id', i.standard_id)
      ORDER BY i.date, i.kind, (SELECT s.sort_key FROM standards s WHERE s.id = i.standard_id),
               i.task_id) FROM items i), '[]'))::text
$$;
