-- Demo data of the learning side: the program's webinars (final report, "Host Webinars"), the
-- Accreditation Managers Workshops 2019-2024 (final report, "Accreditation Managers
-- Workshop") with registrations and check-ins that reproduce the attendance the report gives,
-- and one upcoming workshop open for registration. Fixed ids (and ids derived with md5 from
-- fixed names) make the load safe to run twice.
--
-- What the sources do not say is invented and marked: start times (10:00 Mexico City time),
-- durations, audiences, topics, recording links (on the reserved .example domain), presenters,
-- the people registered, and the dates of the September 2020 workshop ("late September, a
-- week": 21-25 September here).

-- ----------------------------------------------------------------- webinars
INSERT INTO webinars (id, title, description, starts_at, duration_minutes, presenters, topics,
                      audience, status, recording_url, demo)
SELECT id::uuid,
       jsonb_build_object('es', es, 'en', en),
       CASE WHEN id = 'e5b00000-0000-4000-8000-000000000014' THEN jsonb_build_object(
         'es', 'Dos sesiones, el 10 y el 11 de diciembre de 2020.',
         'en', 'Two sessions, on 10 and 11 December 2020.') END,
       instant_in_zone(day || 'T10:00:00', 'America/Mexico_City'),
       CASE WHEN id = 'e5b00000-0000-4000-8000-000000000014' THEN 120 ELSE 90 END,
       jsonb_build_array(jsonb_build_object('name', presenter, 'organization', organization)),
       topics, audience, 'held',
       'https://caispmex.example/demo/webinars/' || day,
       true
FROM (VALUES
  ('e5b00000-0000-4000-8000-000000000001', '2023-11-16',
   'El Gerente de Acreditación: preocupaciones y estrategias para el futuro',
   'The Accreditation Manager: Challenges and Strategies for the Future',
   'members', ARRAY['accreditation_manager', 'sustainability'],
   'Gerentes de acreditación de agencias acreditadas (demo)', 'CAISPMEX'),
  ('e5b00000-0000-4000-8000-000000000002', '2023-06-14',
   'Desarrollo y Permanencia de la Cultura Institucional',
   'Development and Permanency of the Institutional Culture',
   'members', ARRAY['institutional_culture', 'sustainability'],
   'Asesores técnicos (demo)', 'National Policing Institute'),
  ('e5b00000-0000-4000-8000-000000000003', '2023-04-26',
   'Fortalecimiento de las instituciones a través de políticas y procedimientos, desarrollo profesional de los empleados y controles internos',
   'Strengthening Institutions Through Policies and Procedures, Employee Professional Development, and Internal Controls',
   'members', ARRAY['written_directives', 'professional_development', 'internal_controls'],
   'Asesores técnicos (demo)', 'National Policing Institute'),
  ('e5b00000-0000-4000-8000-000000000004', '2023-02-22',
   'El Modelo de Evaluación CALEA',
   'The CALEA Evaluations Model',
   'members', ARRAY['assessment', 'calea'],
   'Personal de CALEA (demo)', 'CALEA'),
  ('e5b00000-0000-4000-8000-000000000005', '2022-12-13',
   'Mesa Redonda con miembros del Comité de Revisión G de CALEA, el Gerente Regional de CALEA y National Policing Institute',
   'Roundtable Discussion with Members of CALEA''s Review Committee G, Regional Program Manager, and National Policing Institute',
   'public', ARRAY['calea', 'review_committee', 'roundtable'],
   'Comité de Revisión G (demo)', 'CALEA'),
  ('e5b00000-0000-4000-8000-000000000006', '2022-10-24',
   'Vinculación del Programa de Acreditación con CALEA en la Atención a Programas de Proximidad en la Comunidad',
   'The CALEA Accreditation Program and Community Involvement Programs',
   'members', ARRAY['community_involvement'],
   'Agencias participantes (demo)', 'CAISPMEX'),
  ('e5b00000-0000-4000-8000-000000000007', '2022-09-01',
   'Vinculación del Programa de Acreditación con CALEA en la atención a la Prevención del Delito y Programas con la Comunidad',
   'The CALEA Accreditation Program and Crime Prevention, and Community Involvement Programs',
   'members', ARRAY['crime_prevention', 'community_involvement'],
   'Agencias participantes (demo)', 'CAISPMEX'),
  ('e5b00000-0000-4000-8000-000000000008', '2022-06-02',
   'Importancia de las Investigaciones de Antecedentes y la Integridad de la Agencias de Aplicación de la Ley',
   'The Importance of Background Investigations in the Integrity of Law Enforcement Agencies',
   'members', ARRAY['background_investigations', 'integrity', 'law_enforcement'],
   'Asesores técnicos (demo)', 'National Policing Institute'),
  ('e5b00000-0000-4000-8000-000000000009', '2022-02-24',
   'Indicadores de Cambios Positivos Derivados del Proceso de Acreditación',
   'Indicators of Positive Changes Resulting from the Accreditation Process',
   'public', ARRAY['impact', 'indicators'],
   'Equipo del proyecto (demo)', 'National Policing Institute'),
  ('e5b00000-0000-4000-8000-000000000010', '2021-12-14',
   'Un Empleado Saludable, Una Organización Saludable',
   'Healthy Employee, Healthy Agency',
   'public', ARRAY['employee_wellness'],
   'Asesores técnicos (demo)', 'National Policing Institute'),
  ('e5b00000-0000-4000-8000-000000000011', '2021-10-27',
   'Inspecciones de Personal',
   'Staff Inspections',
   'program', ARRAY['inspections', 'standards'],
   'Asesores técnicos (demo)', 'National Policing Institute'),
  ('e5b00000-0000-4000-8000-000000000012', '2021-06-10',
   'Pruebas de Cumplimiento',
   'Proofs of Compliance',
   'program', ARRAY['proofs_of_compliance', 'standards'],
   'Asesores técnicos (demo)', 'National Policing Institute'),
  ('e5b00000-0000-4000-8000-000000000013', '2021-04-08',
   'Estrategias para una Reacreditación Exitosa',
   'Strategies for a Successful Reaccreditation',
   'public', ARRAY['reaccreditation'],
   'Gerentes de acreditación de agencias acreditadas (demo)', 'CAISPMEX'),
  ('e5b00000-0000-4000-8000-000000000014', '2020-12-10',
   'Temas de la acreditación CALEA',
   'CALEA Accreditation Topics',
   'public', ARRAY['calea', 'standards'],
   'Personal de CALEA (demo)', 'CALEA'),
  ('e5b00000-0000-4000-8000-000000000015', '2020-11-06',
   'Estándares Difíciles para Academias de Entrenamiento de Seguridad Pública',
   'Difficult Standards for Public Safety Training Academies',
   'program', ARRAY['standards', 'training_academy'],
   'Asesores técnicos (demo)', 'National Policing Institute'),
  ('e5b00000-0000-4000-8000-000000000016', '2020-11-03',
   'Estándares Difíciles para Centros de Comunicación',
   'Difficult Standards for Communications Centers',
   'program', ARRAY['standards', 'communications_center'],
   'Asesores técnicos (demo)', 'National Policing Institute'),
  ('e5b00000-0000-4000-8000-000000000017', '2020-10-30',
   'Estándares Difíciles para Agencias de Aplicación de la Ley',
   'Difficult Standards for Law Enforcement Agencies',
   'program', ARRAY['standards', 'law_enforcement'],
   'Asesores técnicos (demo)', 'National Policing Institute'),
  ('e5b00000-0000-4000-8000-000000000018', '2020-08-25',
   'Administrando Acreditaciones Múltiples',
   'Managing Multiple Accreditations',
   'public', ARRAY['multiple_accreditations'],
   'Gerentes de acreditación de agencias acreditadas (demo)', 'CAISPMEX'),
  ('e5b00000-0000-4000-8000-000000000019', '2020-06-25',
   'Retos Enfrentados por Centros de Comunicaciones en el Cumplimiento con los Estándares de CALEA',
   'Challenges Faced by Communication Centers to Comply with CALEA Standards',
   'public', ARRAY['communications_center', 'standards'],
   'Centros de comunicaciones participantes (demo)', 'CAISPMEX'),
  ('e5b00000-0000-4000-8000-000000000020', '2020-06-05',
   'Las Mejores Prácticas en Reclutamiento, Selección, y Contratación de Oficiales y Personal en Agencias de Seguridad Pública',
   'Best Practices in Recruitment, Selection, and Hiring of Officers and Personnel in Public Safety Agencies',
   'public', ARRAY['recruitment', 'personnel'],
   'Asesores técnicos (demo)', 'National Policing Institute'),
  ('e5b00000-0000-4000-8000-000000000021', '2020-04-24',
   'Integridad Policial',
   'Police Integrity',
   'public', ARRAY['integrity'],
   'Asesores técnicos (demo)', 'National Policing Institute')
) AS v (id, day, es, en, audience, topics, presenter, organization)
ON CONFLICT (id) DO NOTHING;

-- ---------------------------------------------------------------- workshops
-- The five AMWS of the final report, and one upcoming CAISPMEX workshop (demo) whose dates
-- and window are set relative to the day of the load, so that registration is open.
INSERT INTO workshops (id, title, kind, mode, city, state, venue, starts_on, ends_on,
                       capacity_in_person, capacity_virtual, registration_opens_at,
                       registration_closes_at, status, organizer, demo)
VALUES
  ('e5c00000-0000-4000-8000-000000000001',
   '{"es": "Taller Anual Inaugural para Gerentes de Acreditación", "en": "Inaugural Annual Accreditation Managers Workshop"}',
   'amws', 'in_person', 'Mérida', 'MX-YUC', NULL, '2019-03-13', '2019-03-14', NULL, NULL,
   NULL, '2019-03-01 00:00-06', 'held', 'inl', true),
  ('e5c00000-0000-4000-8000-000000000002',
   '{"es": "Taller Anual para Gerentes de Acreditación (virtual) 2020", "en": "(Virtual) Annual Accreditation Managers Workshop 2020"}',
   'amws', 'virtual', NULL, NULL, NULL, '2020-09-21', '2020-09-25', NULL, NULL,
   NULL, '2020-09-18 00:00-05', 'held', 'inl', true),
  ('e5c00000-0000-4000-8000-000000000003',
   '{"es": "Taller Anual para Gerentes de Acreditación 2021 (virtual)", "en": "Annual Accreditation Managers Workshop 2021 (virtual)"}',
   'amws', 'virtual', NULL, NULL, NULL, '2021-08-23', '2021-08-27', NULL, NULL,
   '2021-07-01 00:00-05', '2021-08-20 00:00-05', 'held', 'inl', true),
  ('e5c00000-0000-4000-8000-000000000004',
   '{"es": "Taller Anual para Gerentes de Acreditación 2022", "en": "Annual Accreditation Managers Workshop 2022"}',
   'amws', 'hybrid', 'Monterrey', 'MX-NLE', NULL, '2022-06-22', '2022-06-24', NULL, NULL,
   '2022-04-15 00:00-05', '2022-06-17 00:00-05', 'held', 'inl', true),
  ('e5c00000-0000-4000-8000-000000000005',
   '{"es": "Taller Anual para Gerentes de Acreditación 2024", "en": "Annual Accreditation Managers Workshop 2024"}',
   'amws', 'in_person', 'Ciudad de México', 'MX-CMX', NULL, '2024-01-25', '2024-01-26', NULL, NULL,
   '2023-11-15 00:00-06', '2024-01-19 00:00-06', 'held', 'npi', true),
  ('e5c00000-0000-4000-8000-000000000006',
   '{"es": "Taller de Gerentes de Acreditación CAISPMEX (demo)", "en": "CAISPMEX Accreditation Managers Workshop (demo)"}',
   'amws', 'hybrid', 'Querétaro', 'MX-QUE', 'Centro de Congresos (demo)',
   mx_today() + 45, mx_today() + 46, 40, NULL,
   now() - interval '7 days', ((mx_today() + 42)::timestamp AT TIME ZONE 'America/Mexico_City'),
   'open', 'caispmex', true)
ON CONFLICT (id) DO NOTHING;

-- ----------------------------------------------------- registrations, check-ins
-- People are generated: cohort tag, n → a fixed id md5(tag-n), a Spanish name, an email on
-- the demo domain, and one of the demo agencies in turn. The report gives attendance, not
-- registrations: each cohort has a few more registrations than its best day's attendance.
-- 2019 and 2020 have no numbers in the sources and get no registrations.
WITH cohorts (workshop_id, tag, mode, people, registered_on) AS (VALUES
    ('e5c00000-0000-4000-8000-000000000003'::uuid, 'amws-2021-virtual', 'virtual', 210, date '2021-08-01'),
    ('e5c00000-0000-4000-8000-000000000004'::uuid, 'amws-2022-in_person', 'in_person', 215, date '2022-05-20'),
    ('e5c00000-0000-4000-8000-000000000004'::uuid, 'amws-2022-virtual', 'virtual', 220, date '2022-05-20'),
    ('e5c00000-0000-4000-8000-000000000005'::uuid, 'amws-2024-in_person', 'in_person', 215, date '2023-12-15'),
    -- The upcoming workshop: 39 of its 40 seats in person are taken.
    ('e5c00000-0000-4000-8000-000000000006'::uuid, 'upcoming-in_person', 'in_person', 39, mx_today() - 5),
    ('e5c00000-0000-4000-8000-000000000006'::uuid, 'upcoming-virtual', 'virtual', 25, mx_today() - 5)),
  given (names) AS (SELECT ARRAY['María', 'José', 'Guadalupe', 'Juan', 'Ana', 'Luis', 'Rosa',
    'Carlos', 'Patricia', 'Jorge', 'Verónica', 'Miguel', 'Alejandra', 'Francisco', 'Claudia',
    'Ricardo', 'Sofía', 'Fernando', 'Gabriela', 'Roberto', 'Adriana', 'Héctor', 'Lucía']),
  family (names) AS (SELECT ARRAY['Hernández', 'García', 'Martínez', 'López', 'González',
    'Pérez', 'Rodríguez', 'Sánchez', 'Ramírez', 'Cruz', 'Flores', 'Gómez', 'Morales', 'Vázquez',
    'Reyes', 'Jiménez', 'Torres', 'Díaz', 'Gutiérrez', 'Ruiz', 'Mendoza', 'Aguilar', 'Ortiz',
    'Castillo', 'Núñez', 'Ibarra', 'Salazar', 'Zúñiga', 'Peña']),
  demo_agencies (ids) AS (SELECT array_agg(id ORDER BY id) FROM agencies WHERE demo)
INSERT INTO workshop_registrations (id, workshop_id, person_name, person_email, person_position,
                                    agency_id, attendance_mode, status, demo, created_at,
                                    updated_at)
SELECT md5(c.tag || '-' || n)::uuid, c.workshop_id,
       g.names[1 + n % cardinality(g.names)] || ' ' || f.names[1 + (n * 7) % cardinality(f.names)]
         || ' ' || f.names[1 + (n * 13 + 5) % cardinality(f.names)],
       replace(c.tag, '_', '-') || '.' || lpad(n::text, 3, '0') || '@demo.acredita.mx',
       CASE WHEN n % 3 = 0 THEN 'Gerente de acreditación' ELSE 'Equipo de acreditación' END,
       a.ids[1 + n % greatest(cardinality(a.ids), 1)],
       c.mode, 'confirmed', true,
       (c.registered_on::timestamp AT TIME ZONE 'America/Mexico_City') + n * interval '17 minutes',
       (c.registered_on::timestamp AT TIME ZONE 'America/Mexico_City') + n * interval '17 minutes'
FROM cohorts c CROSS JOIN given g CROSS JOIN family f CROSS JOIN demo_agencies a,
     generate_series(1, c.people) n
ON CONFLICT (id) DO NOTHING;

-- Attendance per day: the first `attended` people of the cohort checked in that day. The
-- report's figures: 180 online on day 2 of 2021; about 200 in person and 200 online in 2022;
-- about 200 in person in 2024 (the other days are invented, a little lower).
INSERT INTO workshop_check_ins (registration_id, day, checked_in_at)
SELECT md5(d.tag || '-' || n)::uuid, d.day,
       (d.day + time '08:30')::timestamp AT TIME ZONE 'America/Mexico_City' + n * interval '5 seconds'
FROM (VALUES
    ('amws-2021-virtual', date '2021-08-23', 172),
    ('amws-2021-virtual', date '2021-08-24', 180),
    ('amws-2021-virtual', date '2021-08-25', 168),
    ('amws-2021-virtual', date '2021-08-26', 161),
    ('amws-2021-virtual', date '2021-08-27', 154),
    ('amws-2022-in_person', date '2022-06-22', 200),
    ('amws-2022-in_person', date '2022-06-23', 197),
    ('amws-2022-in_person', date '2022-06-24', 186),
    ('amws-2022-virtual', date '2022-06-22', 200),
    ('amws-2022-virtual', date '2022-06-23', 191),
    ('amws-2022-virtual', date '2022-06-24', 178),
    ('amws-2024-in_person', date '2024-01-25', 200),
    ('amws-2024-in_person', date '2024-01-26', 193)) AS d (tag, day, attended),
  generate_series(1, d.attended) n
ON CONFLICT DO NOTHING;
