-- Demo standards catalog: one manual version per program, INVENTED for the demo. Real CALEA
-- standards are proprietary and none of their text is here: the chapters take the names of the
-- program's initial evaluation areas (DOMAIN.md), and every title carries "(demo)" and every
-- summary says it is invented. Numbers are chapter.subchapter.standard; some subchapters run
-- past nine standards so that numeric order (4.1.9 before 4.1.10) shows.
--
--   law enforcement        "6.15"  6 chapters, Tier 1 (about two in five) and Advanced
--   training academies     "2.4"   9 chapters
--   communications centers "3.7"   7 chapters
--
-- Ids derive from program, version and number, so loading twice changes nothing.

CREATE TEMPORARY TABLE demo_std_chapters (
  program text, version text, chapter int, es text, en text, subs int, base int
) ON COMMIT DROP;
INSERT INTO demo_std_chapters VALUES
  ('law_enforcement', '6.15', 1, 'Funciones, responsabilidades y relaciones con otras instituciones',
   'Roles, responsibilities and relationships with other agencies', 3, 4),
  ('law_enforcement', '6.15', 2, 'Organización, dirección y administración',
   'Organization, management and administration', 4, 5),
  ('law_enforcement', '6.15', 3, 'Administración de personal', 'Personnel administration', 4, 5),
  ('law_enforcement', '6.15', 4, 'Operaciones policiales, apoyo operativo y tránsito',
   'Law enforcement operations, operational support and traffic', 3, 9),
  ('law_enforcement', '6.15', 5, 'Servicios a detenidos y relacionados con tribunales',
   'Detainee and court-related services', 2, 5),
  ('law_enforcement', '6.15', 6, 'Servicios auxiliares y técnicos', 'Auxiliary and technical services',
   3, 4),
  ('training_academy', '2.4', 1, 'Acreditaciones', 'Credentialing', 1, 4),
  ('training_academy', '2.4', 2, 'Organización', 'Organization', 2, 3),
  ('training_academy', '2.4', 3, 'Dirección y autoridad', 'Direction and authority', 2, 3),
  ('training_academy', '2.4', 4, 'Recursos humanos', 'Human resources', 2, 4),
  ('training_academy', '2.4', 5, 'Reclutamiento, selección, contratación y promoción',
   'Recruitment, selection, employment and promotion', 2, 3),
  ('training_academy', '2.4', 6, 'Sistemas de instrucción', 'Instructional systems', 2, 8),
  ('training_academy', '2.4', 7, 'Administración de la capacitación', 'Training administration', 2, 4),
  ('training_academy', '2.4', 8, 'Instructores', 'Instructors', 2, 4),
  ('training_academy', '2.4', 9, 'Estudiantes', 'Students', 2, 4),
  ('communications_center', '3.7', 1, 'Organización', 'Organization', 2, 4),
  ('communications_center', '3.7', 2, 'Dirección y supervisión', 'Direction and supervision', 2, 4),
  ('communications_center', '3.7', 3, 'Recursos humanos', 'Human resources', 2, 4),
  ('communications_center', '3.7', 4, 'Reclutamiento, selección y promoción',
   'Recruitment, selection and promotion', 2, 3),
  ('communications_center', '3.7', 5, 'Capacitación', 'Training', 2, 5),
  ('communications_center', '3.7', 6, 'Operaciones', 'Operations', 3, 8),
  ('communications_center', '3.7', 7,
   'Incidentes críticos, operaciones especiales y seguridad nacional',
   'Critical incidents, special operations and homeland security', 2, 4);

-- Invented topics per chapter; standards take them in turn.
CREATE TEMPORARY TABLE demo_std_topics (program text, chapter int, k int, es text, en text)
  ON COMMIT DROP;
INSERT INTO demo_std_topics
SELECT program, chapter, (row_number() OVER (PARTITION BY program, chapter ORDER BY ord))::int - 1,
       es, en
FROM (VALUES
  ('law_enforcement', 1, 1, 'Jurisdicción y límites territoriales', 'Jurisdiction and territorial limits'),
  ('law_enforcement', 1, 2, 'Convenios de colaboración con otras corporaciones', 'Cooperation agreements with other agencies'),
  ('law_enforcement', 1, 3, 'Coordinación con la fiscalía', 'Coordination with the prosecutor''s office'),
  ('law_enforcement', 1, 4, 'Principios del uso de la fuerza', 'Use of force principles'),
  ('law_enforcement', 1, 5, 'Informe y revisión del uso de la fuerza', 'Use of force reporting and review'),
  ('law_enforcement', 1, 6, 'Código de ética institucional', 'Institutional code of ethics'),
  ('law_enforcement', 2, 1, 'Estructura organizacional', 'Organizational structure'),
  ('law_enforcement', 2, 2, 'Cadena de mando', 'Chain of command'),
  ('law_enforcement', 2, 3, 'Sistema de directivas escritas', 'Written directive system'),
  ('law_enforcement', 2, 4, 'Planeación y metas anuales', 'Planning and annual goals'),
  ('law_enforcement', 2, 5, 'Análisis de la incidencia delictiva', 'Crime analysis'),
  ('law_enforcement', 2, 6, 'Asignación de personal', 'Allocation of personnel'),
  ('law_enforcement', 2, 7, 'Gestión financiera y presupuesto', 'Fiscal management and budget'),
  ('law_enforcement', 2, 8, 'Inspecciones de personal', 'Staff inspections'),
  ('law_enforcement', 3, 1, 'Reclutamiento', 'Recruitment'),
  ('law_enforcement', 3, 2, 'Proceso de selección', 'Selection process'),
  ('law_enforcement', 3, 3, 'Capacitación inicial', 'Basic training'),
  ('law_enforcement', 3, 4, 'Evaluación del desempeño', 'Performance evaluation'),
  ('law_enforcement', 3, 5, 'Promociones', 'Promotions'),
  ('law_enforcement', 3, 6, 'Sistema disciplinario', 'Disciplinary system'),
  ('law_enforcement', 3, 7, 'Atención de quejas ciudadanas', 'Handling of citizen complaints'),
  ('law_enforcement', 3, 8, 'Sistema de intervención temprana', 'Early intervention system'),
  ('law_enforcement', 3, 9, 'Programa de apoyo al empleado', 'Employee support program'),
  ('law_enforcement', 4, 1, 'Patrullaje preventivo', 'Preventive patrol'),
  ('law_enforcement', 4, 2, 'Respuesta a llamadas de emergencia', 'Response to emergency calls'),
  ('law_enforcement', 4, 3, 'Persecuciones vehiculares', 'Vehicle pursuits'),
  ('law_enforcement', 4, 4, 'Investigación criminal', 'Criminal investigation'),
  ('law_enforcement', 4, 5, 'Atención a víctimas y testigos', 'Victim and witness assistance'),
  ('law_enforcement', 4, 6, 'Atención a personas menores de edad', 'Juvenile operations'),
  ('law_enforcement', 4, 7, 'Control de tránsito', 'Traffic control'),
  ('law_enforcement', 4, 8, 'Hechos de tránsito', 'Traffic crash investigation'),
  ('law_enforcement', 4, 9, 'Incidentes críticos', 'Critical incidents'),
  ('law_enforcement', 4, 10, 'Proximidad con la comunidad', 'Community involvement'),
  ('law_enforcement', 4, 11, 'Prevención del delito', 'Crime prevention'),
  ('law_enforcement', 5, 1, 'Traslado de personas detenidas', 'Detainee transportation'),
  ('law_enforcement', 5, 2, 'Área de detención temporal', 'Temporary holding facility'),
  ('law_enforcement', 5, 3, 'Registro de personas detenidas', 'Detainee processing'),
  ('law_enforcement', 5, 4, 'Seguridad en salas de audiencia', 'Courtroom security'),
  ('law_enforcement', 5, 5, 'Notificaciones y mandamientos judiciales', 'Legal process and court orders'),
  ('law_enforcement', 6, 1, 'Sistema de comunicaciones', 'Communications system'),
  ('law_enforcement', 6, 2, 'Archivo central de registros', 'Central records'),
  ('law_enforcement', 6, 3, 'Cadena de custodia de evidencias', 'Evidence chain of custody'),
  ('law_enforcement', 6, 4, 'Bienes asegurados', 'Seized property'),
  ('law_enforcement', 6, 5, 'Sistemas de información', 'Information systems'),
  ('law_enforcement', 6, 6, 'Mantenimiento del parque vehicular', 'Fleet maintenance'),
  ('law_enforcement', 6, 7, 'Equipo de protección personal', 'Personal protective equipment'),
  ('training_academy', 1, 1, 'Registro ante la autoridad educativa', 'Registration with the education authority'),
  ('training_academy', 1, 2, 'Certificación de programas', 'Program certification'),
  ('training_academy', 1, 3, 'Convenios con instituciones de seguridad', 'Agreements with public safety agencies'),
  ('training_academy', 2, 1, 'Misión y valores de la academia', 'Academy mission and values'),
  ('training_academy', 2, 2, 'Organigrama y funciones', 'Organization chart and functions'),
  ('training_academy', 2, 3, 'Comités académicos', 'Academic committees'),
  ('training_academy', 3, 1, 'Autoridad de la dirección', 'Authority of the director'),
  ('training_academy', 3, 2, 'Directivas escritas de la academia', 'Academy written directives'),
  ('training_academy', 3, 3, 'Planeación estratégica', 'Strategic planning'),
  ('training_academy', 4, 1, 'Descripciones de puesto', 'Job descriptions'),
  ('training_academy', 4, 2, 'Evaluación del personal', 'Staff evaluation'),
  ('training_academy', 4, 3, 'Prestaciones y bienestar', 'Benefits and wellness'),
  ('training_academy', 5, 1, 'Convocatorias de ingreso', 'Calls for applicants'),
  ('training_academy', 5, 2, 'Exámenes de selección', 'Selection examinations'),
  ('training_academy', 5, 3, 'Procesos de promoción', 'Promotion processes'),
  ('training_academy', 6, 1, 'Diseño curricular', 'Curriculum design'),
  ('training_academy', 6, 2, 'Planes de lección', 'Lesson plans'),
  ('training_academy', 6, 3, 'Evaluación del aprendizaje', 'Assessment of learning'),
  ('training_academy', 6, 4, 'Prácticas de tiro', 'Firearms training'),
  ('training_academy', 6, 5, 'Prácticas de manejo', 'Driver training'),
  ('training_academy', 6, 6, 'Formación en derechos humanos', 'Human rights training'),
  ('training_academy', 7, 1, 'Expedientes de formación', 'Training records'),
  ('training_academy', 7, 2, 'Calendario académico', 'Academic calendar'),
  ('training_academy', 7, 3, 'Instalaciones y seguridad', 'Facilities and safety'),
  ('training_academy', 8, 1, 'Selección de instructores', 'Instructor selection'),
  ('training_academy', 8, 2, 'Certificación de instructores', 'Instructor certification'),
  ('training_academy', 8, 3, 'Evaluación de instructores', 'Instructor evaluation'),
  ('training_academy', 9, 1, 'Admisión de estudiantes', 'Student admission'),
  ('training_academy', 9, 2, 'Reglamento estudiantil', 'Student code of conduct'),
  ('training_academy', 9, 3, 'Salud y seguridad de estudiantes', 'Student health and safety'),
  ('communications_center', 1, 1, 'Misión del centro', 'Center mission'),
  ('communications_center', 1, 2, 'Estructura y funciones', 'Structure and functions'),
  ('communications_center', 1, 3, 'Convenios con instituciones atendidas', 'Agreements with served agencies'),
  ('communications_center', 2, 1, 'Supervisión por turno', 'Shift supervision'),
  ('communications_center', 2, 2, 'Directivas escritas del centro', 'Center written directives'),
  ('communications_center', 2, 3, 'Indicadores de calidad', 'Quality indicators'),
  ('communications_center', 3, 1, 'Descripciones de puesto', 'Job descriptions'),
  ('communications_center', 3, 2, 'Manejo del estrés del personal', 'Staff stress management'),
  ('communications_center', 3, 3, 'Evaluación del desempeño', 'Performance evaluation'),
  ('communications_center', 4, 1, 'Reclutamiento de telecomunicadores', 'Telecommunicator recruitment'),
  ('communications_center', 4, 2, 'Pruebas de selección', 'Selection testing'),
  ('communications_center', 5, 1, 'Formación inicial de telecomunicadores', 'Telecommunicator basic training'),
  ('communications_center', 5, 2, 'Capacitación continua', 'In-service training'),
  ('communications_center', 5, 3, 'Capacitación de supervisores', 'Supervisor training'),
  ('communications_center', 6, 1, 'Recepción de llamadas de emergencia', 'Emergency call taking'),
  ('communications_center', 6, 2, 'Despacho de unidades', 'Unit dispatch'),
  ('communications_center', 6, 3, 'Protocolos de atención', 'Call-handling protocols'),
  ('communications_center', 6, 4, 'Grabación y resguardo de llamadas', 'Call recording and retention'),
  ('communications_center', 6, 5, 'Continuidad de operaciones', 'Continuity of operations'),
  ('communications_center', 6, 6, 'Equipo y sistemas de radio', 'Radio equipment and systems'),
  ('communications_center', 7, 1, 'Plan de incidentes críticos', 'Critical incident plan'),
  ('communications_center', 7, 2, 'Operaciones especiales', 'Special operations'),
  ('communications_center', 7, 3, 'Coordinación en emergencias mayores', 'Major emergency coordination')
) t (program, chapter, ord, es, en);

-- Generic, invented bullet texts; a standard has up to four.
CREATE TEMPORARY TABLE demo_std_bullets (k int, es text, en text) ON COMMIT DROP;
INSERT INTO demo_std_bullets VALUES
  (1, 'Una directiva escrita define el procedimiento y a los responsables.',
      'A written directive defines the procedure and who is responsible.'),
  (2, 'El personal involucrado recibe capacitación documentada.',
      'The personnel involved receive documented training.'),
  (3, 'Se conservan registros que muestran la práctica.',
      'Records are kept that show the practice.'),
  (4, 'La dirección revisa el procedimiento y sus resultados.',
      'Management reviews the procedure and its results.');

INSERT INTO standards (id, program, manual_version, number, chapter_number, chapter_title, title,
                       summary, bullets, tiers, time_sensitive, active)
SELECT md5('demo-standard:' || g.program || ':' || g.version || ':' || g.number)::uuid,
  g.program, g.version, g.number, g.chapter,
  jsonb_build_object('es', g.ch_es, 'en', g.ch_en),
  jsonb_build_object('es', t.es || ' (demo)', 'en', t.en || ' (demo)'),
  jsonb_build_object(
    'es', 'Texto inventado para la demostración; no es texto de CALEA. La institución mantiene '
          || 'una directiva escrita sobre ' || lower(t.es) || ' y demuestra su cumplimiento con '
          || 'registros verificables.',
    'en', 'Invented demo text, not CALEA text. The agency keeps a written directive on '
          || lower(t.en) || ' and shows compliance with verifiable records.'),
  (SELECT coalesce(jsonb_agg(jsonb_build_object('key', chr(96 + b.k),
            'summary', jsonb_build_object('es', b.es, 'en', b.en)) ORDER BY b.k), '[]')
   FROM demo_std_bullets b WHERE b.k <= g.h % 5),
  CASE WHEN g.program <> 'law_enforcement' THEN '{}'::text[]
       WHEN (g.chapter * 13 + g.sub * 5 + g.std * 3) % 5 < 2 THEN '{tier1,advanced}'
       ELSE '{advanced}' END,
  CASE WHEN (g.chapter * 31 + g.sub * 7 + g.std) % 7 = 0 THEN (ARRAY['annual', 'per_occurrence',
    'quarterly', 'monthly', 'triennial', 'semiannual', 'biennial', 'quadrennial'])[1 + g.h % 8] END,
  true
FROM (
  SELECT c.program, c.version, c.chapter, c.es AS ch_es, c.en AS ch_en, s.sub, n.std,
         c.chapter || '.' || s.sub || '.' || n.std AS number,
         abs(hashtext(c.program || c.chapter || '.' || s.sub || '.' || n.std)) AS h,
         ((s.sub - 1) * 5 + n.std - 1) AS turn
  FROM demo_std_chapters c
  CROSS JOIN LATERAL generate_series(1, c.subs) s (sub)
  CROSS JOIN LATERAL generate_series(1, c.base + (c.chapter * 7 + s.sub * 3) % 5) n (std)
) g
JOIN demo_std_topics t ON t.program = g.program AND t.chapter = g.chapter
 AND t.k = g.turn % (SELECT count(*) FROM demo_std_topics x
                     WHERE x.program = g.program AND x.chapter = g.chapter)
ON CONFLICT DO NOTHING;
