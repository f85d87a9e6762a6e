-- 04_standards: The standards catalog.

CREATE OR REPLACE TRIGGER standards_touch BEFORE UPDATE ON standards
  FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE OR REPLACE FUNCTION standard_bullets_json(bullets jsonb) RETURNS json
  LANGUAGE sql STABLE AS $$
    SELECT ('[' || coalesce(string_agg('{"key":' || j(b ->> 'key') || ',"summary":'
                                       || coalesce(text_es_en(b -> 'summary')::text, 'null') || '}',
                                       ',' ORDER BY n), '') || ']')::json
    FROM jsonb_array_elements(bullets) WITH ORDINALITY x(b, n) $$;

CREATE OR REPLACE FUNCTION standard_json(s standards) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT '{"id":' || j(s.id) || ',"program":' || j(s.program)
    || ',"manual_version":' || j(s.manual_version) || ',"number":' || j(s.number)
    || ',"chapter":{"number":' || j(s.chapter_number) || ',"title":' || j(text_es_en(s.chapter_title))
    || '},"title":' || j(text_es_en(s.title)) || ',"summary":' || j(text_es_en(s.summary))
    || ',"bullets":' || standard_bullets_json(s.bullets) || ',"tiers":' || j(s.tiers)
    || ',"time_sensitive":' || j(s.time_sensitive) || ',"active":' || j(s.active)
    || ',"archived_at":' || j(rfc3339(s.archived_at))
    || ',"created_at":' || j(rfc3339(s.created_at)) || ',"updated_at":' || j(rfc3339(s.updated_at))
    || ',"version":' || j(s.version) || '}'
$$;

-- The manual version a program works with now: its highest version with active standards,
-- compared part by part as numbers.
CREATE OR REPLACE FUNCTION program_current_manual(p text) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT manual_version FROM standards WHERE program = p AND active AND archived_at IS NULL
  ORDER BY string_to_array(manual_version, '.')::int[] DESC LIMIT 1
$$;

-- The manual version an agency works against: the one it adopted when it enrolled (or was
-- moved to since), and before it enrolled the program's current one.
CREATE OR REPLACE FUNCTION agency_manual(a agencies) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(a.manual_version, program_current_manual(a.type)) $$;

/*
 * Moves an agency to another manual version of its program (admin, or an advisor assigned to
 * it): a newer one, usually at reaccreditation. Nothing else moves it; a version published
 * later changes nothing until then. The records kept for the old version stay. Returns the
 * agency before and after (the same when it works against that version already). Refusals
 * are RAISEd as P0001 with a HINT: not_found | forbidden | manual_unknown | manual_older.
 */
CREATE OR REPLACE FUNCTION agency_move_manual(agency uuid, target_version text, actor text,
                                              actor_role text)
  RETURNS TABLE (before_json text, after_json text) LANGUAGE plpgsql AS $$
DECLARE
  was agencies;
  a agencies;
  adopted text;
BEGIN
  was := agency_lock_live(agency);
  IF actor_role NOT IN ('admin', 'advisor') OR NOT agency_writable_by(was, actor_role, actor) THEN
    RAISE EXCEPTION 'Only admin and the agency''s advisors move its manual.' USING HINT = 'forbidden';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM standards s WHERE s.program = was.type
                 AND s.manual_version = target_version AND s.active AND s.archived_at IS NULL) THEN
    RAISE EXCEPTION 'The program has no manual version %.', target_version USING HINT = 'manual_unknown';
  END IF;
  adopted := agency_manual(was);
  IF string_to_array(target_version, '.')::int[] < string_to_array(adopted, '.')::int[] THEN
    RAISE EXCEPTION 'Manual % is older than %.', target_version, adopted USING HINT = 'manual_older';
  END IF;
  IF target_version IS NOT DISTINCT FROM was.manual_version THEN
    RETURN QUERY SELECT agency_json(was), agency_json(was);
    RETURN;
  END IF;
  UPDATE agencies x SET manual_version = target_version WHERE x.id = agency RETURNING * INTO a;
  RETURN QUERY SELECT agency_json(was), agency_json(a);
END $$;

-- A standard applies to an agency of its program; for law enforcement, to the agency's tier
-- (a Tier 1 agency does not answer advanced-only standards; an agency without a tier yet
-- sees them all). An archived standard applies to none.
CREATE OR REPLACE FUNCTION standard_applies(s standards, a agencies) RETURNS boolean
  LANGUAGE sql STABLE AS $$
    SELECT s.active AND s.archived_at IS NULL AND s.program = a.type
       AND (s.program <> 'law_enforcement' OR a.tier IS NULL OR a.tier = ANY (s.tiers)) $$;

-- The columns a whole document (d) gives standard x.
CREATE OR REPLACE FUNCTION standard_from_doc(x standards, d jsonb) RETURNS standards
  LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  x.program := d ->> 'program';
  x.manual_version := d ->> 'manual_version';
  x.number := d ->> 'number';
  x.chapter_number := (d #>> '{chapter,number}')::int;
  x.chapter_title := d #> '{chapter,title}';
  x.title := d -> 'title';
  x.summary := nullif(d -> 'summary', 'null');
  x.bullets := coalesce(nullif(d -> 'bullets', 'null'), '[]');
  x.tiers := ARRAY(SELECT jsonb_array_elements_text(coalesce(nullif(d -> 'tiers', 'null'), '[]')));
  x.time_sensitive := d ->> 'time_sensitive';
  x.active := coalesce((d ->> 'active')::boolean, true);
  RETURN x;
END $$;

-- New standards from an array of documents, in its order (sort_key is generated: the columns
-- are named).
CREATE OR REPLACE FUNCTION standards_create(docs jsonb) RETURNS SETOF standards
  LANGUAGE sql AS $$
  INSERT INTO standards (program, manual_version, number, chapter_number, chapter_title, title,
    summary, bullets, tiers, time_sensitive, active)
  SELECT n.program, n.manual_version, n.number, n.chapter_number, n.chapter_title, n.title,
         n.summary, n.bullets, n.tiers, n.time_sensitive, n.active
  FROM jsonb_array_elements(docs) WITH ORDINALITY x (d, i),
       LATERAL standard_from_doc(NULL::standards, x.d) n
  ORDER BY x.i
  RETURNING * $$;

CREATE OR REPLACE FUNCTION standard_update(id uuid, patch jsonb) RETURNS standards
  LANGUAGE sql AS $$
  UPDATE standards s SET (program, manual_version, number, chapter_number, chapter_title, title,
      summary, bullets, tiers, time_sensitive, active)
    = (SELECT n.program, n.manual_version, n.number, n.chapter_number, n.chapter_title, n.title,
              n.summary, n.bullets, n.tiers, n.time_sensitive, n.active
       FROM standard_from_doc(s, jsonb_merge_patch(standard_json(s)::jsonb, patch)) n)
  WHERE s.id = standard_update.id RETURNING s.* $$;

-- What uses a standard: agencies' compliance records and tasks. The counts that are not zero,
-- as a JSON object; {} when it may be erased.
CREATE OR REPLACE FUNCTION standard_dependents(standard uuid) RETURNS jsonb
  LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'compliance', nullif((SELECT count(*) FROM compliance c WHERE c.standard_id = standard), 0),
    'tasks', nullif((SELECT count(*) FROM tasks t WHERE t.standard_id = standard), 0))) $$;
