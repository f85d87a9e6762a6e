-- 05_compliance: Per-agency compliance with the standards.

CREATE OR REPLACE TRIGGER compliance_touch BEFORE UPDATE ON compliance
  FOR EACH ROW EXECUTE FUNCTION touch_row();

-- The proofs' bullets that the standard does not have, as JSON Pointers into the record
-- (/proofs/0/bullets/1); empty when all exist.
CREATE OR REPLACE FUNCTION compliance_unknown_bullets(standard uuid, proofs jsonb) RETURNS SETOF text
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
CREATE OR REPLACE FUNCTION compliance_check_proofs() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE TRIGGER compliance_proofs BEFORE INSERT OR UPDATE OF proofs, standard_id ON compliance
  FOR EACH ROW EXECUTE FUNCTION compliance_check_proofs();

-- Who may be given an agency's work (a compliance record or a task): a user of the agency,
-- or one of its advisors (advisor_ids, or its regional manager).
CREATE OR REPLACE FUNCTION assignee_allowed(agency uuid, assignee uuid) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM users u WHERE u.id = assignee AND u.agency_id = agency)
           OR agency_advised_by(agency, assignee::text) $$;

-- Refuses an assignee who may not be given the row's agency's work. It runs before the
-- foreign key is checked, so an unknown user and a user of another agency are refused alike
-- (constraint <table>_assignee_allowed): the answer tells nothing about who exists.
CREATE OR REPLACE FUNCTION check_assignee() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.assignee_id IS NOT NULL AND NOT assignee_allowed(NEW.agency_id, NEW.assignee_id) THEN
    RAISE EXCEPTION 'the assignee is neither a user of the agency nor one of its advisors'
      USING ERRCODE = 'check_violation', CONSTRAINT = TG_TABLE_NAME || '_assignee_allowed';
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER compliance_assignee BEFORE INSERT OR UPDATE OF assignee_id ON compliance
  FOR EACH ROW EXECUTE FUNCTION check_assignee();

CREATE OR REPLACE FUNCTION compliance_proofs_json(proofs jsonb) RETURNS json LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(json_agg(json_build_object('cycle_year', (p ->> 'cycle_year')::int,
    'bullets', coalesce(p -> 'bullets', '[]'), 'title', p ->> 'title', 'url', p ->> 'url',
    'kind', p ->> 'kind') ORDER BY n), '[]')
  FROM jsonb_array_elements(proofs) WITH ORDINALITY x(p, n)
$$;

-- Proofs as stored, from a request's (validated) array: every member present, kind
-- defaulting to document.
CREATE OR REPLACE FUNCTION compliance_proofs_in(proofs jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('cycle_year', (p ->> 'cycle_year')::int,
    'bullets', coalesce(p -> 'bullets', '[]'), 'title', p ->> 'title', 'url', p ->> 'url',
    'kind', coalesce(p ->> 'kind', 'document')) ORDER BY n), '[]')
  FROM jsonb_array_elements(coalesce(proofs, '[]')) WITH ORDINALITY x(p, n)
$$;

-- One standard as it stands for one agency: its record, or the defaults when c is null.
-- id, created_at, updated_at and version are those of the record (null without one).
CREATE OR REPLACE FUNCTION compliance_item_json(s standards, c compliance, agency uuid) RETURNS text
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
CREATE OR REPLACE FUNCTION agency_compliance_items(agency uuid, manual text)
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
CREATE OR REPLACE FUNCTION compliance_item_locked(agency uuid, standard uuid) RETURNS text
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

-- PUT /v1/agencies/{id}/compliance/{standard}: a merge patch of the item (the record, or the
-- defaults before the first write), written as a new record or onto the existing one. A result
-- that changes stamps reviewed_by (the caller, when it is a user) and reviewed_at (now)
-- unless the patch sets them. The caller holds the pair's lock (compliance_item_locked).
CREATE OR REPLACE FUNCTION compliance_write(agency uuid, standard uuid, patch jsonb, caller text,
                                            OUT item text, OUT record uuid, OUT created boolean)
  LANGUAGE plpgsql AS $$
DECLARE
  s standards;
  was compliance;
  c compliance;
  d jsonb;
BEGIN
  SELECT * INTO s FROM standards x WHERE x.id = standard;
  SELECT * INTO was FROM compliance x WHERE x.agency_id = agency AND x.standard_id = standard;
  created := was.id IS NULL;
  d := jsonb_merge_patch(compliance_item_json(s, was, agency)::jsonb, patch);
  c := CASE WHEN created THEN new_row(NULL::compliance) ELSE was END;
  c.agency_id := agency;
  c.standard_id := standard;
  c.progress := d ->> 'progress';
  c.result := d ->> 'result';
  c.assignee_id := (d ->> 'assignee_id')::uuid;
  c.due_on := (d ->> 'due_on')::date;
  c.note := d ->> 'note';
  c.reviewed_by := (d ->> 'reviewed_by')::uuid;
  c.reviewed_at := (d ->> 'reviewed_at')::timestamptz;
  IF c.result IS DISTINCT FROM coalesce(was.result, 'not_assessed') THEN
    IF NOT patch ? 'reviewed_by' THEN
      c.reviewed_by := (SELECT u.id FROM users u WHERE u.id::text = caller);
    END IF;
    IF NOT patch ? 'reviewed_at' THEN
      c.reviewed_at := now();
    END IF;
  END IF;
  c.proofs := compliance_proofs_in(d -> 'proofs');
  IF created THEN
    INSERT INTO compliance SELECT c.* RETURNING * INTO c;
  ELSE
    UPDATE compliance x SET (progress, result, assignee_id, due_on, note, reviewed_by,
        reviewed_at, proofs)
      = (c.progress, c.result, c.assignee_id, c.due_on, c.note, c.reviewed_by, c.reviewed_at,
         c.proofs)
    WHERE x.id = c.id RETURNING * INTO c;
  END IF;
  item := compliance_item_json(s, c, agency);
  record := c.id;
END $$;

-- Counts per progress and result, and the percent compliant of applicable standards (those
-- not found not_applicable), one decimal; null when none is applicable.
CREATE OR REPLACE FUNCTION agency_compliance_summary(agency uuid, manual text) RETURNS text
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
