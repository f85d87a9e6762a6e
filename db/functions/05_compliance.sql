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

CREATE OR REPLACE FUNCTION compliance_proofs_json(proofs jsonb) RETURNS json LANGUAGE sql STABLE AS $$
  SELECT ('[' || coalesce(string_agg('{"cycle":' || j((p ->> 'cycle')::int)
      || ',"cycle_year":' || j((p ->> 'cycle_year')::int)
      || ',"bullets":' || json_compact(coalesce(p -> 'bullets', '[]')::json)
      || ',"title":' || j(p ->> 'title') || ',"url":' || j(p ->> 'url')
      || ',"kind":' || j(p ->> 'kind') || '}', ',' ORDER BY n), '') || ']')::json
  FROM jsonb_array_elements(proofs) WITH ORDINALITY x(p, n)
$$;

-- The stored proofs of one accreditation cycle (same), or of the others (NOT same).
CREATE OR REPLACE FUNCTION compliance_proofs_of_cycle(proofs jsonb, cycle integer, same boolean)
  RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_agg(p ORDER BY n), '[]')
  FROM jsonb_array_elements(coalesce(proofs, '[]')) WITH ORDINALITY x(p, n)
  WHERE ((p ->> 'cycle')::int = cycle) = same
$$;

-- Proofs as stored, from a request's (validated) array: every member present, kind
-- defaulting to document, filed in the agency's current cycle.
CREATE OR REPLACE FUNCTION compliance_proofs_in(proofs jsonb, cycle integer) RETURNS jsonb
  LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('cycle', cycle,
    'cycle_year', (p ->> 'cycle_year')::int,
    'bullets', coalesce(p -> 'bullets', '[]'), 'title', p ->> 'title', 'url', p ->> 'url',
    'kind', coalesce(p ->> 'kind', 'document')) ORDER BY n), '[]')
  FROM jsonb_array_elements(coalesce(proofs, '[]')) WITH ORDINALITY x(p, n)
$$;

-- The accreditation cycle an agency is in (agencies.cycle): its proofs are filed in it.
CREATE OR REPLACE FUNCTION agency_current_cycle(agency uuid) RETURNS integer
  LANGUAGE sql STABLE AS $$ SELECT a.cycle FROM agencies a WHERE a.id = agency $$;

-- The field errors of a request's proofs that need the data: bullets the standard does not
-- have, and a cycle other than the agency's current one. Rows of (JSON Pointer, code, arg).
CREATE OR REPLACE FUNCTION compliance_proof_problems(agency uuid, standard uuid, proofs jsonb)
  RETURNS TABLE (field text, code text, arg text, arg_es text) LANGUAGE sql STABLE AS $$
  SELECT ptr, 'invalid_enum', (SELECT coalesce(string_agg(b ->> 'key', ', '), '-')
                               FROM standards s, jsonb_array_elements(s.bullets) b
                               WHERE s.id = standard), NULL
  FROM compliance_unknown_bullets(standard, proofs) ptr
  UNION ALL
  SELECT format('/proofs/%s/cycle', x.n - 1), 'invalid',
         'proofs are filed in the agency''s current cycle, ' || agency_current_cycle(agency),
         'las pruebas se registran en el ciclo actual de la agencia, ' || agency_current_cycle(agency)
  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(proofs) = 'array' THEN proofs ELSE '[]' END)
       WITH ORDINALITY x (p, n)
  WHERE jsonb_typeof(x.p -> 'cycle') = 'number'
    AND (x.p ->> 'cycle')::numeric <> agency_current_cycle(agency)
$$;

-- One standard as it stands for one agency: its record, or the defaults when c is null.
-- id, created_at, updated_at and version are those of the record (null without one). proofs
-- are those of the agency's current cycle (what a PUT replaces); earlier_proofs, those of the
-- cycles before, are kept and read only.
CREATE OR REPLACE FUNCTION compliance_item_json(s standards, c compliance, agency uuid) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT '{"id":' || j(c.id) || ',"agency_id":' || j(agency) || ',"standard_id":' || j(s.id)
    || ',"standard":{"number":' || j(s.number) || ',"manual_version":' || j(s.manual_version)
    || ',"chapter":{"number":' || j(s.chapter_number) || ',"title":' || j(text_es_en(s.chapter_title))
    || '},"title":' || j(text_es_en(s.title)) || ',"tiers":' || j(s.tiers)
    || ',"time_sensitive":' || j(s.time_sensitive)
    || ',"bullets":' || j(ARRAY(SELECT b ->> 'key' FROM jsonb_array_elements(s.bullets)
                                 WITH ORDINALITY x(b, n) ORDER BY n))
    || '},"progress":' || j(coalesce(c.progress, 'not_started'))
    || ',"result":' || j(coalesce(c.result, 'not_assessed'))
    || ',"assignee_id":' || j(c.assignee_id) || ',"due_on":' || j(c.due_on) || ',"note":' || j(c.note)
    || ',"reviewed_by":' || j(c.reviewed_by) || ',"reviewed_at":' || j(rfc3339(c.reviewed_at))
    || ',"cycle":' || j(agency_current_cycle(agency))
    || ',"proofs":' || compliance_proofs_json(
         compliance_proofs_of_cycle(c.proofs, agency_current_cycle(agency), true))
    || ',"earlier_proofs":' || compliance_proofs_json(
         compliance_proofs_of_cycle(c.proofs, agency_current_cycle(agency), false))
    || ',"created_at":' || j(rfc3339(c.created_at)) || ',"updated_at":' || j(rfc3339(c.updated_at))
    || ',"version":' || j(c.version) || '}'
$$;

-- Every standard of the agency's catalog (its program and tier, in manual version `manual`
-- or the one the agency works against), with its record or the defaults. id is the standard's.
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
                    AND s.manual_version = coalesce(manual, agency_manual(a))
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
  -- The proofs of earlier cycles are kept as they are; the patch files those of this one.
  c.proofs := compliance_proofs_of_cycle(was.proofs, agency_current_cycle(agency), false)
              || compliance_proofs_in(d -> 'proofs', agency_current_cycle(agency));
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
  SELECT json_compact(json_build_object('agency_id', a.id, 'program', a.type, 'tier', a.tier,
    'manual_version', coalesce(manual, agency_manual(a)),
    'overall', coalesce((SELECT counts FROM groups WHERE overall),
      json_build_object('standards', 0, 'applicable', 0, 'compliant', 0, 'percent_compliant', NULL,
        'progress', json_build_object('not_started', 0, 'in_progress', 0, 'in_review', 0, 'done', 0),
        'result', json_build_object('not_assessed', 0, 'compliant', 0, 'partially_compliant', 0,
          'non_compliant', 0, 'not_applicable', 0))),
    'chapters', coalesce((SELECT json_agg(json_build_object('number', g.chapter,
        'title', text_es_en(g.chapter_title), 'counts', g.counts) ORDER BY g.chapter)
      FROM groups g WHERE NOT g.overall), '[]')))
  FROM agencies a WHERE a.id = agency
$$;
