-- 06_tasks: Tasks, and what falls due for an agency.

-- An assignee is a user of the task's agency or one of its advisors (check_assignee()).
CREATE OR REPLACE TRIGGER tasks_assignee BEFORE INSERT OR UPDATE OF assignee_id ON tasks
  FOR EACH ROW EXECUTE FUNCTION check_assignee();

-- Overdue: due before today (Mexico City's date) and neither done nor cancelled.
CREATE OR REPLACE FUNCTION task_is_overdue(due_on date, status text, today date) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(due_on < today, false) AND status NOT IN ('done', 'cancelled') $$;

CREATE OR REPLACE FUNCTION task_json(t tasks) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT '{"id":' || j(t.id) || ',"agency_id":' || j(t.agency_id) || ',"standard_id":' || j(t.standard_id)
    || ',"kind":' || j(t.kind) || ',"title":' || j(t.title) || ',"description":' || j(t.description)
    || ',"assignee_id":' || j(t.assignee_id) || ',"due_on":' || j(t.due_on)
    || ',"status":' || j(t.status) || ',"priority":' || j(t.priority)
    || ',"overdue":' || j(task_is_overdue(t.due_on, t.status, mx_today()))
    || ',"completed_at":' || j(rfc3339(t.completed_at)) || ',"created_at":' || j(rfc3339(t.created_at))
    || ',"updated_at":' || j(rfc3339(t.updated_at)) || ',"version":' || j(t.version) || '}'
$$;

-- The first date on which a task's document could read differently without a write: the day
-- after its due date, while it is open (it becomes overdue). NULL: never.
CREATE OR REPLACE FUNCTION task_fresh_until(t tasks, today date) RETURNS date
  LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN t.status NOT IN ('done', 'cancelled') AND t.due_on >= today
              THEN t.due_on + 1 END $$;

-- A task as stored when the document is current, else rendered now.
CREATE OR REPLACE FUNCTION task_document(t tasks) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN t.rendered_on <= mx_today() AND (t.fresh_until IS NULL OR mx_today() < t.fresh_until)
              THEN t.document ELSE task_json(t) END $$;

-- Every write of a task, in one BEFORE trigger: a change bumps version and updated_at;
-- completed_at is the moment the task became done, and only a done task has one; a task's
-- standard belongs to the agency's program; the document is rendered from the row as it will
-- be stored. An update that only stores a re-rendered document (rendering_only()) is no
-- change.
CREATE OR REPLACE FUNCTION task_before_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF rendering_only() THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    NEW.updated_at := now();
    NEW.version := OLD.version + 1;
  END IF;
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
  NEW.document := task_json(NEW);
  NEW.rendered_on := mx_today();
  NEW.fresh_until := task_fresh_until(NEW, NEW.rendered_on);
  RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER tasks_write BEFORE INSERT OR UPDATE ON tasks
  FOR EACH ROW EXECUTE FUNCTION task_before_write();

-- The columns a whole document (d) gives task x. A task stays with its agency.
CREATE OR REPLACE FUNCTION task_from_doc(x tasks, d jsonb) RETURNS tasks
  LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  x.agency_id := coalesce(x.agency_id, (d ->> 'agency_id')::uuid);
  x.standard_id := (d ->> 'standard_id')::uuid;
  x.kind := d ->> 'kind';
  x.title := d ->> 'title';
  x.description := d ->> 'description';
  x.assignee_id := (d ->> 'assignee_id')::uuid;
  x.due_on := (d ->> 'due_on')::date;
  x.status := coalesce(d ->> 'status', 'open');
  x.priority := coalesce(d ->> 'priority', 'normal');
  RETURN x;
END $$;

CREATE OR REPLACE FUNCTION task_create(d jsonb) RETURNS tasks LANGUAGE sql AS $$
  INSERT INTO tasks SELECT (task_from_doc(new_row(NULL::tasks), d)).* RETURNING * $$;

CREATE OR REPLACE FUNCTION task_update(id uuid, patch jsonb) RETURNS tasks LANGUAGE sql AS $$
  UPDATE tasks t SET (standard_id, kind, title, description, assignee_id, due_on, status,
      priority)
    = (SELECT n.standard_id, n.kind, n.title, n.description, n.assignee_id, n.due_on, n.status,
              n.priority
       FROM task_from_doc(t, jsonb_merge_patch(task_json(t)::jsonb, patch)) n)
  WHERE t.id = task_update.id RETURNING t.* $$;

CREATE OR REPLACE FUNCTION task_csv_header() RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT 'id,agency_id,agency_name,standard_id,standard_number,kind,title,description,'
      || 'assignee_id,due_on,status,priority,overdue,completed_at,created_at,updated_at'
$$;

-- concat_ws skips nulls: every empty cell is an explicit ''.
CREATE OR REPLACE FUNCTION task_csv_row(t tasks) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT concat_ws(',', t.id, t.agency_id,
    csv_cell((SELECT a.name FROM agencies a WHERE a.id = t.agency_id)),
    coalesce(t.standard_id::text, ''),
    coalesce((SELECT s.number FROM standards s WHERE s.id = t.standard_id), ''), t.kind,
    csv_cell(t.title), csv_cell(t.description), coalesce(t.assignee_id::text, ''),
    coalesce(t.due_on::text, ''), t.status, t.priority,
    task_is_overdue(t.due_on, t.status, mx_today())::text, coalesce(rfc3339(t.completed_at), ''),
    rfc3339(t.created_at), rfc3339(t.updated_at))
$$;

-- Does a time-sensitive standard need a proof in cycle year y? Every year for anything at
-- least annual; biennial in years 2 and 4; triennial in year 3; quadrennial in year 4.
CREATE OR REPLACE FUNCTION proof_due_in_cycle_year(frequency text, y integer) RETURNS boolean
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE frequency
      WHEN 'biennial' THEN y IN (2, 4)
      WHEN 'triennial' THEN y = 3
      WHEN 'quadrennial' THEN y = 4
      ELSE frequency IS NOT NULL END $$;

CREATE OR REPLACE FUNCTION frequency_text(frequency text, lang text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN lang = 'es' THEN CASE frequency
        WHEN 'per_occurrence' THEN 'por ocurrencia' WHEN 'monthly' THEN 'mensual'
        WHEN 'quarterly' THEN 'trimestral' WHEN 'semiannual' THEN 'semestral'
        WHEN 'annual' THEN 'anual' WHEN 'biennial' THEN 'bienal'
        WHEN 'triennial' THEN 'trienal' WHEN 'quadrennial' THEN 'cuatrienal' END
      ELSE replace(frequency, '_', ' ') END $$;

-- What falls due for one agency up to today + days, overdue items included (open tasks,
-- proofs of the current cycle year, the self-assessment deadline while still in it, the
-- implementation plan until its submission is recorded, the next progress report, the annual
-- review, the continuation fees and the accreditation's expiry). The JSON answer
-- (GET /v1/agencies/{id}/due) and the calendar (due.ics) both render it. Rendered as
-- {agency_id, today, until, days, data: [{kind, date, overdue, reason, task_id, standard_id}]}
-- sorted by date.
CREATE OR REPLACE FUNCTION agency_due_json(agency uuid, today date, days integer) RETURNS text
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
      AND s.manual_version = agency_manual(a)
      AND proof_due_in_cycle_year(s.time_sensitive, cycle.y)
      AND coalesce(c.result, '') <> 'not_applicable'
      AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(c.proofs, '[]')) p
                      WHERE (p ->> 'cycle')::int = a.cycle AND (p ->> 'cycle_year')::int = cycle.y)
      AND (cycle.start + make_interval(years => cycle.y) - interval '1 day')::date <= today + days
    UNION ALL
    SELECT agency_implementation_plan_due(a), 'implementation_plan', NULL, NULL,
           json_build_object('es', 'Entrega del Plan de Implementación (tres meses después de la solicitud).',
                             'en', 'Implementation Plan due (three months after the application).')
    FROM a WHERE agency_implementation_plan_outstanding(a)
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
    SELECT agency_next_report_due(a), 'report', NULL, NULL,
           json_build_object('es', 'Informe de avance al programa.',
                             'en', 'Progress report to the program.')
    FROM a WHERE agency_next_report_due(a) <= today + days
    UNION ALL
    SELECT a.accreditation_expires_on, 'accreditation_expiry', NULL, NULL,
           json_build_object('es', 'Vence la acreditación (salvo una nueva concesión antes).',
                             'en', 'The accreditation expires (unless a new award comes first).')
    FROM a WHERE a.status NOT IN ('withdrawn', 'removed', 'revoked')
      AND a.accreditation_expires_on <= today + days
    UNION ALL
    SELECT f.d, 'continuation_fee', NULL, NULL,
           json_build_object('es', format('Cuota de continuación %s de 4.', f.n),
                             'en', format('Continuation fee %s of 4.', f.n))
    FROM a, unnest(agency_continuation_fees_due(a)) WITH ORDINALITY f(d, n)
    WHERE a.status NOT IN ('withdrawn', 'removed', 'revoked')
      AND f.d BETWEEN today AND today + days)
  SELECT json_compact(json_build_object('agency_id', agency, 'today', today::text,
    'until', (today + days)::text, 'days', days,
    'data', coalesce((SELECT json_agg(json_build_object('kind', i.kind, 'date', i.date::text,
        'overdue', i.date < today, 'reason', i.reason, 'task_id', i.task_id,
        'standard_id', i.standard_id)
      ORDER BY i.date, i.kind, (SELECT s.sort_key FROM standards s WHERE s.id = i.standard_id),
               i.task_id) FROM items i), '[]')))
$$;
