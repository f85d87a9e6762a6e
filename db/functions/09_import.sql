-- 09_import: CAISPMEX's member-data import and the agency CSV record.

-- The columns of the agency CSV export, in order: the member (and sub-member) of the
-- representation each holds, how its cell reads (text, bool, or a space-separated list), and
-- whether the public view has it. agency_csv_record() writes the cells in this order; the
-- member-data import reads a header against this table.
CREATE OR REPLACE FUNCTION agency_csv_columns()
  RETURNS TABLE (name text, member text, sub text, kind text, public boolean)
  LANGUAGE sql IMMUTABLE AS $$
  SELECT * FROM (VALUES
    ('id', 'id', NULL, 'text', true),
    ('name', 'name', NULL, 'text', true),
    ('acronym', 'acronym', NULL, 'text', false),
    ('type', 'type', NULL, 'text', true),
    ('level', 'level', NULL, 'text', true),
    ('state', 'state', NULL, 'text', true),
    ('municipality', 'municipality', NULL, 'text', false),
    ('website', 'website', NULL, 'text', false),
    ('ceo_name', 'ceo', 'name', 'text', false),
    ('ceo_title', 'ceo', 'title', 'text', false),
    ('accreditation_manager_name', 'accreditation_manager', 'name', 'text', false),
    ('accreditation_manager_email', 'accreditation_manager', 'email', 'text', false),
    ('accreditation_manager_phone', 'accreditation_manager', 'phone', 'text', false),
    ('regional_manager_id', 'regional_manager_id', NULL, 'text', false),
    ('advisor_ids', 'advisor_ids', NULL, 'list', false),
    ('tier', 'tier', NULL, 'text', false),
    ('status', 'status', NULL, 'text', true),
    ('status_reason', 'status_reason', NULL, 'text', false),
    ('applied_on', 'applied_on', NULL, 'text', false),
    ('approved_on', 'approved_on', NULL, 'text', false),
    ('enrolled_on', 'enrolled_on', NULL, 'text', false),
    ('accredited_on', 'accredited_on', NULL, 'text', true),
    ('accreditation_expires_on', 'accreditation_expires_on', NULL, 'text', true),
    ('withdrawn_on', 'withdrawn_on', NULL, 'text', false),
    ('removed_on', 'removed_on', NULL, 'text', false),
    ('implementation_plan_due', 'implementation_plan_due', NULL, 'text', false),
    ('self_assessment_due', 'self_assessment_due', NULL, 'text', false),
    ('next_annual_review_due', 'next_annual_review_due', NULL, 'text', false),
    ('reporting_frequency', 'reporting', 'frequency', 'text', false),
    ('last_report_on', 'reporting', 'last_report_on', 'text', false),
    ('next_report_due', 'reporting', 'next_report_due', 'text', false),
    ('member', 'membership', 'member', 'bool', false),
    ('member_since', 'membership', 'member_since', 'text', false),
    ('dues_paid_through', 'membership', 'dues_paid_through', 'text', false),
    ('membership_external_id', 'membership', 'external_id', 'text', false),
    ('in_program', 'in_program', NULL, 'bool', false),
    ('created_at', 'created_at', NULL, 'text', false),
    ('updated_at', 'updated_at', NULL, 'text', false)) c $$;

CREATE OR REPLACE FUNCTION agency_csv_header(role text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(c.name, ',' ORDER BY c.n) || E'\r\n'
  FROM agency_csv_columns() WITH ORDINALITY c (name, member, sub, kind, public, n)
  WHERE c.public OR role NOT IN ('anonymous', 'partner') $$;

-- Two representations of one agency that differ only in bookkeeping (updated_at, version), or
-- in a null member against an absent one, show the same agency.
CREATE OR REPLACE FUNCTION agency_import_same(a text, b text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_strip_nulls(a::jsonb) - 'updated_at' - 'version'
       = jsonb_strip_nulls(b::jsonb) - 'updated_at' - 'version' $$;

/*
 * One import line: {"id": uuid | null, "doc": {…}, "check": bool}. With an id, doc is a merge
 * patch of that agency, which the caller has locked; without one, doc is a new agency. With
 * check, the line has errors already: only those that need the data are looked for, and
 * nothing is written. Returns the line's status (created | updated | unchanged | error), the
 * agency's id, the errors as [{field, code, arg}] (codes of problem.c), and the representation
 * before and after for the audit (NULL unless created or updated). A refusal by the database
 * is raised, for the caller to handle.
 */
CREATE OR REPLACE FUNCTION agency_import_line(l jsonb, actor text, actor_role text, request_id text,
                                   OUT line_status text, OUT agency uuid, OUT line_errors jsonb,
                                   OUT before_json text, OUT after_json text)
  LANGUAGE plpgsql AS $$
DECLARE
  x agencies;
  a agencies;
  doc jsonb := l -> 'doc';
BEGIN
  line_status := 'error';
  agency := (l ->> 'id')::uuid;
  IF agency IS NOT NULL THEN
    SELECT * INTO x FROM agencies WHERE id = agency;
    IF x.archived_at IS NOT NULL THEN
      line_errors := jsonb_build_array(jsonb_build_object('field', '', 'code', 'invalid',
        'arg', 'the agency is archived; an admin restores it first'));
      RETURN;
    END IF;
    before_json := agency_json(x);
    doc := jsonb_merge_patch(before_json::jsonb, doc);
  END IF;
  SELECT coalesce(jsonb_agg(jsonb_build_object('field', p.field, 'code', p.code, 'arg', p.arg,
                                               'arg_es', p.arg_es)), '[]')
    INTO line_errors
    FROM agency_problems(doc, CASE WHEN agency IS NULL THEN NULL
                                   ELSE ARRAY(SELECT jsonb_object_keys(l -> 'doc')) END) p;
  IF jsonb_array_length(line_errors) > 0 OR coalesce((l ->> 'check')::boolean, false) THEN
    before_json := NULL;
    RETURN;
  END IF;
  IF agency IS NULL THEN
    a := agency_create(l -> 'doc', actor, actor_role, request_id);
    agency := a.id;
    line_status := 'created';
  ELSIF agency_import_same(before_json, agency_json(agency_patched(x, l -> 'doc'))) THEN
    line_status := 'unchanged';
    before_json := NULL;
    RETURN;
  ELSE
    a := agency_update(agency, l -> 'doc');
    line_status := 'updated';
  END IF;
  after_json := agency_json(a);
END $$;

/*
 * Applies import lines in order: lines is [{"n": …, "id", "doc", "check"}]. One row per line,
 * with its n. Unguarded, a line the database refuses fails the whole call (the caller rolls
 * back to its savepoint and calls again guarded); guarded, each line runs in a subtransaction
 * and such a refusal becomes the line's error.
 */
CREATE OR REPLACE FUNCTION agency_import_apply(lines jsonb, actor text, actor_role text, request_id text,
                                    guarded boolean)
  RETURNS TABLE (line_no integer, line_status text, agency uuid, line_errors jsonb,
                 before_json text, after_json text)
  LANGUAGE plpgsql AS $$
DECLARE
  l jsonb;
  found_constraint text;
  found_column text;
BEGIN
  FOR l IN SELECT e FROM jsonb_array_elements(lines) e LOOP
    line_no := (l ->> 'n')::int;
    IF NOT guarded THEN
      SELECT * INTO line_status, agency, line_errors, before_json, after_json
        FROM agency_import_line(l, actor, actor_role, request_id);
      RETURN NEXT;
      CONTINUE;
    END IF;
    BEGIN
      SELECT * INTO line_status, agency, line_errors, before_json, after_json
        FROM agency_import_line(l, actor, actor_role, request_id);
    EXCEPTION
      WHEN unique_violation THEN
        line_errors := '[{"field": "/membership/external_id", "code": "taken", "arg": null}]';
      WHEN check_violation OR not_null_violation OR foreign_key_violation THEN
        GET STACKED DIAGNOSTICS found_constraint = CONSTRAINT_NAME, found_column = COLUMN_NAME;
        line_errors := jsonb_build_array(CASE found_constraint
          WHEN 'agencies_ceo_shape' THEN
            jsonb_build_object('field', '/ceo/name', 'code', 'required', 'arg', NULL)
          WHEN 'agencies_manager_shape' THEN
            jsonb_build_object('field', '/accreditation_manager/name', 'code', 'required', 'arg', NULL)
          WHEN 'agencies_tier_law_enforcement' THEN
            jsonb_build_object('field', '/tier', 'code', 'invalid',
                               'arg', 'only law-enforcement agencies have a tier',
                               'arg_es', 'solo las agencias policiales tienen nivel')
          -- Constraint and column names are the database's own: they stay in it.
          ELSE jsonb_build_object('field', '', 'code', 'invalid',
                                  'arg', 'the line breaks a rule of the data',
                                  'arg_es', 'la línea infringe una regla de los datos')
          END);
      WHEN invalid_text_representation OR invalid_datetime_format OR datetime_field_overflow
           OR string_data_right_truncation OR numeric_value_out_of_range THEN
        line_errors := jsonb_build_array(jsonb_build_object('field', '', 'code', 'invalid',
          'arg', 'a value of the line could not be read',
          'arg_es', 'un valor de la línea no pudo leerse'));
    END;
    IF jsonb_array_length(line_errors) > 0 THEN
      line_status := 'error';
      agency := (l ->> 'id')::uuid; -- a creation that failed has none
      before_json := NULL;
      after_json := NULL;
    END IF;
    RETURN NEXT;
  END LOOP;
END $$;

-- The public columns of an agency (agency_csv_header() of a public caller).
CREATE OR REPLACE FUNCTION agency_csv_public_record(a agencies) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT concat_ws(',',
      csv_cell(a.id::text), csv_cell(a.name), csv_cell(a.type), csv_cell(a.level),
      csv_cell(a.state), csv_cell(agency_status(a)), csv_cell(a.accredited_on::text),
      csv_cell(a.accreditation_expires_on::text)) $$;

-- Every column of an agency (agency_csv_header() of any other caller).
CREATE OR REPLACE FUNCTION agency_csv_full_record(a agencies) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT concat_ws(',',
      csv_cell(a.id::text), csv_cell(a.name), csv_cell(a.acronym), csv_cell(a.type),
      csv_cell(a.level), csv_cell(a.state), csv_cell(a.municipality), csv_cell(a.website),
      csv_cell(a.ceo ->> 'name'), csv_cell(a.ceo ->> 'title'),
      csv_cell(a.accreditation_manager ->> 'name'), csv_cell(a.accreditation_manager ->> 'email'),
      csv_cell(a.accreditation_manager ->> 'phone'), csv_cell(a.regional_manager_id::text),
      csv_cell(array_to_string(a.advisor_ids, ' ')), csv_cell(a.tier), csv_cell(agency_status(a)),
      csv_cell(a.status_reason), csv_cell(a.applied_on::text), csv_cell(a.approved_on::text),
      csv_cell(a.enrolled_on::text), csv_cell(a.accredited_on::text),
      csv_cell(a.accreditation_expires_on::text), csv_cell(a.withdrawn_on::text),
      csv_cell(a.removed_on::text), csv_cell(agency_implementation_plan_due(a)::text),
      csv_cell(agency_self_assessment_due(a)::text),
      csv_cell(agency_next_annual_review_due(a, mx_today())::text),
      csv_cell(a.reporting_frequency), csv_cell(a.last_report_on::text),
      csv_cell(agency_next_report_due(a)::text), csv_cell(a.member::text), csv_cell(a.member_since::text),
      csv_cell(a.dues_paid_through::text), csv_cell(a.membership_external_id),
      csv_cell(a.in_program::text), csv_cell(rfc3339(a.created_at)),
      csv_cell(rfc3339(a.updated_at))) $$;

-- An agency with only its public members (the others null): what an agency user may know of
-- another agency, laid out as a whole row.
CREATE OR REPLACE FUNCTION agency_public_only(a agencies) RETURNS agencies LANGUAGE sql STABLE AS $$
  SELECT jsonb_populate_record(NULL::agencies, jsonb_build_object('id', a.id, 'name', a.name,
    'type', a.type, 'level', a.level, 'state', a.state, 'status', a.status,
    'accredited_on', a.accredited_on, 'accreditation_expires_on', a.accreditation_expires_on)) $$;

-- Another agency's row for an agency user: every column, only the public cells filled. In
-- plpgsql, so that the public-only row is built once per agency: passed to the inlined
-- agency_csv_full_record() as an expression, it was copied into each of its 40 uses (23 s for
-- 30,000 agencies instead of 0.9 s).
CREATE OR REPLACE FUNCTION agency_csv_public_full_record(a agencies) RETURNS text
  LANGUAGE plpgsql STABLE AS $$
DECLARE
  x agencies := agency_public_only(a);
BEGIN
  RETURN agency_csv_full_record(x);
END $$;

-- One agency as a CSV record without its line end, for the streamed export
-- (reply_csv_stream). Built with concat_ws rather than a sorted unnest per row: about ten times
-- faster, which matters at 100,000 agencies. csv_cell() never returns NULL, so every cell keeps
-- its place. Anonymous callers and partners get the public columns; an agency user the full
-- columns, with only the public cells of other agencies filled.
CREATE OR REPLACE FUNCTION agency_csv_record(a agencies, role text, caller_agency text DEFAULT NULL)
  RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN role IN ('anonymous', 'partner') THEN agency_csv_public_record(a)
              WHEN agency_public_for(a, role, caller_agency) THEN agency_csv_public_full_record(a)
              ELSE agency_csv_full_record(a) END $$;
