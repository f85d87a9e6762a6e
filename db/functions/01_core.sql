-- 01_core: Helpers every resource uses: text folding for search, timestamps, the audit diff, merge patches, CSV cells, time zones, "today".

-- unaccent() is only STABLE (it depends on the dictionary search path); this wrapper names
-- the dictionary so it can be IMMUTABLE and used in indexes. Lower-cased too: it is the
-- form every case- and accent-insensitive search compares.
CREATE OR REPLACE FUNCTION fold(t text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, t)) $$;

-- to_char() is STABLE, so an IMMUTABLE rfc3339() could never be inlined. It is used in no
-- index, so STABLE costs nothing and lets every *_json() function inline it.
CREATE OR REPLACE FUNCTION rfc3339(t timestamptz) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE STRICT
  AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

-- The audit trail's diff, computed for every write.
CREATE OR REPLACE FUNCTION json_changes(before jsonb, after jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN (
    SELECT coalesce(jsonb_object_agg(k, jsonb_build_array(before -> k, after -> k)), '{}')
    FROM (SELECT jsonb_object_keys(coalesce(before, '{}')) AS k
          UNION SELECT jsonb_object_keys(coalesce(after, '{}'))) keys
    WHERE (before -> k) IS DISTINCT FROM (after -> k)
      AND k NOT IN ('updated_at', 'version'));
END $$;

-- True inside documents_refresh(): an update that only stores re-rendered documents, which
-- is no change of the record (no new version, no audit entry).
CREATE OR REPLACE FUNCTION rendering_only() RETURNS boolean LANGUAGE sql STABLE
  AS $$ SELECT coalesce(current_setting('acredita.rendering', true), '') = 'on' $$;

-- Every stored resource bumps version and updated_at on each change.
CREATE OR REPLACE FUNCTION touch_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  NEW.version := OLD.version + 1;
  RETURN NEW;
END $$;

-- A LIKE pattern that finds q anywhere, accent- and case-insensitively, with q's own % and _
-- taken literally.
CREATE OR REPLACE FUNCTION contains_pattern(q text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT '%' || replace(replace(replace(fold(q), '\', '\\'), '%', '\%'), '_', '\_') || '%' $$;

-- "Today" is Mexico City's date (API.md §10). Where a database sets acredita.today (ALTER
-- DATABASE … SET acredita.today = '2031-01-01'), that date stands in for it in the sessions
-- that start afterwards: the tests move "today" across due dates and expiries with it.
CREATE OR REPLACE FUNCTION mx_today() RETURNS date LANGUAGE sql STABLE
  AS $$ SELECT coalesce(nullif(current_setting('acredita.today', true), '')::date,
                        (now() AT TIME ZONE 'America/Mexico_City')::date) $$;

-- CSV: every cell quoted (RFC 4180); a cell that a spreadsheet would run as a formula gets a
-- leading apostrophe.
CREATE OR REPLACE FUNCTION csv_cell(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN v IS NULL THEN ''
              ELSE '"' || replace(CASE WHEN v ~ '^[=+@\t\r-]' THEN '''' || v ELSE v END,
                                  '"', '""') || '"' END $$;

-- RFC 7396 JSON Merge Patch: members of patch replace those of target, objects merge
-- recursively, null removes. Every PATCH applies it to the record's representation, and the
-- resource's X_from_doc() maps the result onto the columns: one way to merge, in one place.
CREATE OR REPLACE FUNCTION jsonb_merge_patch(target jsonb, patch jsonb) RETURNS jsonb
  LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  k text;
  v jsonb;
  result jsonb;
BEGIN
  IF patch IS NULL OR jsonb_typeof(patch) <> 'object' THEN
    RETURN patch;
  END IF;
  result := CASE WHEN jsonb_typeof(target) = 'object' THEN target ELSE '{}'::jsonb END;
  FOR k, v IN SELECT * FROM jsonb_each(patch) LOOP
    IF jsonb_typeof(v) = 'null' THEN
      result := result - k;
    ELSE
      result := jsonb_set(result, ARRAY[k], jsonb_merge_patch(result -> k, v));
    END IF;
  END LOOP;
  RETURN result;
END $$;

-- Compact JSON (no spaces outside strings), the one style of every answer: representations
-- are built of j() pieces, '{"key":' || j(value) || ...; PostgreSQL's json_build_object()
-- would write "key" : value. j() of a value is its JSON text, null for NULL.
CREATE OR REPLACE FUNCTION j(v anyelement) RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(to_json(v)::text, 'null') $$;

-- A JSON value re-written compactly, order and nulls kept: for free-form jsonb members
-- (json_compact(x::json)) and for documents assembled from many aggregates.
CREATE OR REPLACE FUNCTION json_compact(v json) RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  CASE json_typeof(v)
    WHEN 'object' THEN
      RETURN '{' || coalesce((SELECT string_agg(to_json(e.k)::text || ':' || json_compact(e.v), ','
                                                ORDER BY e.n)
                              FROM json_each(v) WITH ORDINALITY e (k, v, n)), '') || '}';
    WHEN 'array' THEN
      RETURN '[' || coalesce((SELECT string_agg(json_compact(e.v), ',' ORDER BY e.n)
                              FROM json_array_elements(v) WITH ORDINALITY e (v, n)), '') || ']';
    ELSE
      RETURN coalesce(v::text, 'null');
  END CASE;
END $$;

-- A new row of empty's table as an insert begins it: a fresh id, now, version 1, not demo
-- data. The resource's X_from_doc() fills in the rest.
CREATE OR REPLACE FUNCTION new_row(empty anyelement) RETURNS anyelement LANGUAGE sql VOLATILE AS $$
  SELECT jsonb_populate_record(empty, jsonb_build_object('id', gen_random_uuid(),
    'created_at', now(), 'updated_at', now(), 'version', 1, 'demo', false)) $$;

-- A bilingual text as the API renders it: Spanish first, English null when absent.
CREATE OR REPLACE FUNCTION text_es_en(t jsonb) RETURNS json
  LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN t IS NULL OR jsonb_typeof(t) <> 'object' THEN NULL
                ELSE ('{"es":' || j(t ->> 'es') || ',"en":' || j(t ->> 'en') || '}')::json END $$;

-- True when tz names a zone of PostgreSQL's time-zone database (America/Mexico_City), not an
-- abbreviation or a POSIX rule. Reads pg_timezone_names, which costs tens of milliseconds:
-- call it on writes that set a zone, never per row of a read.
CREATE OR REPLACE FUNCTION timezone_known(tz text) RETURNS boolean
  LANGUAGE sql STABLE STRICT
  AS $$ SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz) $$;

-- Refuses rows whose timezone column names no known zone (backs the check the API does).
CREATE OR REPLACE FUNCTION check_timezone_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT timezone_known(NEW.timezone) THEN
    RAISE EXCEPTION 'unknown time zone %', NEW.timezone
      USING ERRCODE = 'check_violation', CONSTRAINT = TG_TABLE_NAME || '_timezone';
  END IF;
  RETURN NEW;
END $$;

-- An instant from API input: RFC 3339 with Z or an offset is taken as is; a local date-time
-- without one ("2021-06-10T10:00:00") is read as wall-clock time in tz.
CREATE OR REPLACE FUNCTION instant_in_zone(t text, tz text) RETURNS timestamptz
  LANGUAGE sql STABLE STRICT
  AS $$ SELECT CASE WHEN t ~ '([zZ]|[+-]\d\d:\d\d)$' THEN t::timestamptz
                    ELSE t::timestamp AT TIME ZONE tz END $$;

-- RFC 3339 wall-clock time in tz with that moment's offset: 2021-06-10T10:00:00-05:00.
CREATE OR REPLACE FUNCTION local_rfc3339(t timestamptz, tz text) RETURNS text
  LANGUAGE sql STABLE STRICT
  AS $$
    SELECT to_char(local, 'YYYY-MM-DD"T"HH24:MI:SS')
           || CASE WHEN off < interval '0' THEN '-' ELSE '+' END
           || to_char(CASE WHEN off < interval '0' THEN -off ELSE off END, 'HH24:MI')
    FROM (SELECT t AT TIME ZONE tz AS local, (t AT TIME ZONE tz) - (t AT TIME ZONE 'UTC') AS off) x
  $$;
