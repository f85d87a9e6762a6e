-- Demo compliance records and tasks for the demo agencies (whatever their ids), consistent
-- with each one's stage, in the manual version each works against: an accredited agency has
-- nearly every standard done and found compliant, with proofs for the years of its current
-- cycle (a few of this year's still missing); an agency in self-assessment is partway; one
-- awaiting its hearing is nearly through; one that withdrew stopped partway. Agencies in process, and accredited ones, get tasks, some overdue.
-- Choices are a deterministic hash of agency and standard, so the data looks varied but loads
-- the same every time; ids are derived, so loading twice changes nothing.

-- Per stage: the share (in %) of standards done, in review, in progress (the rest not
-- started, with no record), and of those assessed, the share compliant and not applicable.
CREATE TEMPORARY TABLE demo_compliance_stages (
  status text, done int, in_review int, in_progress int, assessed boolean, compliant int,
  not_applicable int
) ON COMMIT DROP;
INSERT INTO demo_compliance_stages VALUES
  ('enrolled', 8, 3, 15, false, 0, 0),
  ('self_assessment', 40, 10, 20, false, 0, 0),
  ('pre_assessment', 65, 15, 10, true, 75, 4),
  ('site_assessment', 85, 8, 5, true, 85, 5),
  ('awaiting_hearing', 95, 4, 1, true, 92, 5),
  ('accredited', 100, 0, 0, true, 93, 5),
  ('conditionally_accredited', 100, 0, 0, true, 80, 5),
  ('reaccreditation', 97, 3, 0, true, 93, 5),
  ('probation', 100, 0, 0, true, 78, 5),
  ('suspended', 100, 0, 0, true, 70, 5),
  ('withdrawn', 25, 5, 15, false, 0, 0);

INSERT INTO compliance (agency_id, standard_id, progress, result, due_on, note, reviewed_by,
                        reviewed_at, proofs)
SELECT x.agency_id, x.standard_id, x.progress, x.result,
  CASE WHEN x.progress <> 'done' AND x.status NOT IN ('withdrawn')
       THEN mx_today() + 15 + x.h % 120 END,
  CASE WHEN x.result = 'partially_compliant'
       THEN 'Observación de demostración: falta evidencia de uno de los incisos.' END,
  CASE WHEN x.result <> 'not_assessed' THEN x.reviewer END,
  CASE WHEN x.result <> 'not_assessed'
       THEN (coalesce(x.accredited_on, x.enrolled_on + 700, mx_today() - 30) - 20 + x.h % 15)
            + time '16:00' END,
  CASE WHEN x.progress IN ('done', 'in_review') THEN (
    SELECT coalesce(jsonb_agg(jsonb_build_object('cycle', x.cycle, 'cycle_year', y,
             'bullets', (SELECT coalesce(jsonb_agg(b -> 'key'), '[]') FROM jsonb_array_elements(x.bullets) b),
             'title', format('Prueba del año %s, estándar %s (demo)', y, x.number),
             'url', format('https://documentos.demo.acredita.mx/%s/%s/anio-%s', x.agency_id, x.number, y),
             'kind', (ARRAY['directive', 'record', 'document', 'photo', 'record'])[1 + (x.h + y) % 5])
           ORDER BY y), '[]')
    FROM generate_series(1, coalesce(x.cycle_year, 1)) y
    WHERE (x.time_sensitive IS NULL AND y = 1)
       OR (proof_due_in_cycle_year(x.time_sensitive, y)
           AND NOT (y = x.cycle_year AND x.h % 6 = 0)))
  ELSE '[]' END
FROM (
  SELECT a.id AS agency_id, s.id AS standard_id, s.number, s.bullets, s.time_sensitive,
    a.status, a.accredited_on, a.enrolled_on, a.cycle,
    -- The years of the cycle so far (all four once it ran its course).
    least(4, extract(year FROM age(mx_today(), coalesce(a.accredited_on, a.enrolled_on)))::int + 1)
      AS cycle_year,
    a.advisor_ids[1] AS reviewer, r.h,
    CASE WHEN r.h < st.done THEN 'done' WHEN r.h < st.done + st.in_review THEN 'in_review'
         WHEN r.h < st.done + st.in_review + st.in_progress THEN 'in_progress' END AS progress,
    CASE WHEN NOT st.assessed OR r.h >= st.done + st.in_review THEN 'not_assessed'
         WHEN r.g < st.compliant THEN 'compliant'
         WHEN r.g < st.compliant + st.not_applicable THEN 'not_applicable'
         WHEN r.g < 97 THEN 'partially_compliant' ELSE 'non_compliant' END AS result
  FROM agencies a
  JOIN demo_compliance_stages st ON st.status = a.status
  JOIN standards s ON standard_applies(s, a) AND s.manual_version = agency_manual(a)
  CROSS JOIN LATERAL (SELECT abs(hashtext(a.id::text || s.id::text)) % 100 AS h,
                             abs(hashtext(s.id::text || a.id::text)) % 100 AS g) r
  WHERE a.demo
) x
WHERE x.progress IS NOT NULL
ON CONFLICT (agency_id, standard_id) DO NOTHING;

-- Tasks: what an accreditation manager's plan holds at each stage. due is in days from the
-- day the demo was loaded (negative: already late); NULL has no due date.
CREATE TEMPORARY TABLE demo_task_templates (
  stage text, k int, kind text, title text, description text, due int, status text,
  priority text, on_standard boolean
) ON COMMIT DROP;
INSERT INTO demo_task_templates VALUES
  ('in_process', 1, 'written_directive', 'Actualizar la directiva de uso de la fuerza (demo)',
   'Incorporar las observaciones de los asesores a la directiva vigente.', -20, 'open', 'high', true),
  ('in_process', 2, 'proof_of_compliance', 'Reunir las pruebas del capítulo de operaciones (demo)',
   'Digitalizar los registros y enlazarlos en el sistema documental.', 15, 'in_progress', 'normal', true),
  ('in_process', 3, 'training', 'Capacitar al personal en el procedimiento de quejas (demo)',
   'Dos sesiones por turno; conservar listas de asistencia.', 40, 'open', 'normal', false),
  ('in_process', 4, 'pre_assessment', 'Preparar la evaluación simulada con los asesores (demo)',
   'Confirmar fechas y reunir los expedientes solicitados.', 60, 'open', 'high', false),
  ('in_process', 5, 'progress_report', 'Enviar el informe mensual de avance (demo)',
   'Informe para el equipo de asesoría técnica.', -3, 'open', 'normal', false),
  ('in_process', 6, 'review', 'Revisar los expedientes del último trimestre (demo)',
   NULL, -45, 'done', 'normal', false),
  ('in_process', 7, 'corrective_action', 'Corregir los hallazgos de la revisión documental (demo)',
   'En espera de la firma del titular.', 5, 'blocked', 'high', true),
  ('in_process', 8, 'other', 'Designar a la persona suplente del gerente de acreditación (demo)',
   'Para que el trabajo no dependa de una sola persona.', NULL, 'open', 'low', false),
  ('accredited', 1, 'review', 'Preparar la revisión anual de CALEA (demo)',
   'Reunir las pruebas del año en curso.', 25, 'in_progress', 'high', false),
  ('accredited', 2, 'proof_of_compliance', 'Cargar las pruebas anuales de los estándares con vigencia (demo)',
   NULL, -10, 'open', 'high', true),
  ('accredited', 3, 'corrective_action', 'Atender la observación de la revisión anual (demo)',
   'Observación sobre el resguardo de registros.', -30, 'open', 'normal', true),
  ('accredited', 4, 'progress_report', 'Enviar el informe trimestral de seguimiento (demo)',
   NULL, 12, 'open', 'normal', false),
  ('accredited', 5, 'training', 'Actualización anual en derechos humanos (demo)',
   NULL, -60, 'done', 'normal', false),
  ('accredited', 6, 'written_directive', 'Revisar las directivas próximas a vencer (demo)',
   NULL, 75, 'open', 'low', false);

INSERT INTO tasks (id, agency_id, standard_id, kind, title, description, assignee_id, due_on,
                   status, priority)
SELECT md5('demo-task:' || a.id || ':' || t.stage || ':' || t.k)::uuid, a.id,
  CASE WHEN t.on_standard THEN (
    SELECT s.id FROM standards s
    WHERE standard_applies(s, a) AND s.manual_version = agency_manual(a)
      AND (t.kind <> 'proof_of_compliance' OR s.time_sensitive IS NOT NULL)
    ORDER BY md5(a.id::text || s.id::text || t.k) LIMIT 1) END,
  t.kind, t.title, t.description,
  -- The demo agency account works on its own agency's tasks; elsewhere the advisors do.
  CASE WHEN t.k % 2 = 0 THEN coalesce(
    (SELECT u.id FROM users u WHERE u.agency_id = a.id AND u.role = 'agency' ORDER BY u.id LIMIT 1),
    a.advisor_ids[1]) ELSE a.advisor_ids[1] END,
  mx_today() + t.due, t.status, t.priority
FROM agencies a
JOIN demo_task_templates t ON t.stage = CASE
  WHEN a.status IN ('enrolled', 'self_assessment', 'pre_assessment', 'site_assessment',
                    'awaiting_hearing') THEN 'in_process'
  WHEN a.status IN ('accredited', 'conditionally_accredited', 'reaccreditation', 'probation')
    THEN 'accredited' END
WHERE a.demo
  -- Every in-process agency has its plan; accredited ones some of these (all of them for the
  -- agency with the demo account).
  AND (t.stage = 'in_process' OR abs(hashtext(a.id::text || t.k)) % 3 > 0
       OR EXISTS (SELECT 1 FROM users u WHERE u.agency_id = a.id))
ON CONFLICT (id) DO NOTHING;
