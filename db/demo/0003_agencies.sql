-- Demo agencies: the program's 82 agencies as the final report counts them (DOMAIN.md), plus
-- Guanajuato's state police, accredited before the program and kept for context only
-- (in_program = false) because it made Guanajuato a Tri-Arc jurisdiction in November 2017.
-- Names are invented except where the sources name the agency, and all carry "(demo)".
--
-- How the counts reconcile (API.md §10, DOMAIN.md): the 82 "enrolled" are the 82 agencies INL
-- accepted into the program. One of them (n 58) was removed because it never signed the CALEA
-- agreement: it is a record with approved_on but no enrolled_on. By type: communications
-- centers 24 / 19 accredited / 19 awards, law enforcement 27 / 22 / 23 (n 17 holds Tier 1,
-- then Advanced), training academies 31 / 29 / 29. Not accredited: 2 removed (58, 66),
-- 5 withdrawn (48, 56, 60, 61, 68) and 5 still in process (53, 55, 70, 80, 81). Six municipal
-- agencies (76-81). 27 entities: none in BCS, CAM, NAY, TLA, ZAC.
--
-- Every status change goes through agency_transition(), and every other change through
-- agency_update(), the functions the API calls, so the histories, dates, awards, manual
-- versions, cycles and reporting are exactly what the API would have recorded. Each step is
-- journaled as the API journals it (record_write(): the audit trail and the change feed), by
-- the actor "seed" (role "system", request demo-seed), so that the feed read from its start
-- shows every demo agency created and moved through its states. Loading twice changes
-- nothing: agencies have fixed ids and only new ones get a history.

-- A step of the demo history, journaled: a move (agency_transition()), or a merge patch
-- (agency_update()) such as the implementation plan's submission or a report filed.
CREATE OR REPLACE FUNCTION pg_temp.demo_move(aid uuid, target text, on_date date, note text,
                                             actor text, actor_role text) RETURNS void
  LANGUAGE sql AS $$
  SELECT record_write('seed', 'system', 'demo-seed', 'transitioned', 'agency', aid::text,
                      t.before_json::jsonb, t.after_json::jsonb)
  FROM agency_transition(aid, target, on_date, note, actor, actor_role, 'demo-seed') t $$;

CREATE OR REPLACE FUNCTION pg_temp.demo_update(aid uuid, patch jsonb) RETURNS void
  LANGUAGE plpgsql AS $$
DECLARE
  before jsonb := (SELECT agency_json(a)::jsonb FROM agencies a WHERE a.id = aid);
BEGIN
  PERFORM record_write('seed', 'system', 'demo-seed', 'updated', 'agency', aid::text, before,
                       agency_json(agency_update(aid, patch))::jsonb);
END $$;

CREATE OR REPLACE FUNCTION pg_temp.demo_created(aid uuid) RETURNS void LANGUAGE sql AS $$
  SELECT record_write('seed', 'system', 'demo-seed', 'created', 'agency', aid::text, NULL,
                      agency_json(a)::jsonb)
  FROM agencies a WHERE a.id = aid $$;

-- Regional managers and technical-advisor pairs (role advisor). LOCAL USE ONLY, same demo
-- password as the other demo accounts.
INSERT INTO users (id, email, name, role, password_hash)
SELECT ('00000000-0000-4000-8000-000000000' || id)::uuid, email, name, 'advisor',
       current_setting('acredita.demo_password_hash')
FROM (VALUES
  ('101', 'gerencia.norte@demo.acredita.mx', 'Gerente Regional Norte (demo)'),
  ('102', 'gerencia.centro@demo.acredita.mx', 'Gerente Regional Centro (demo)'),
  ('103', 'gerencia.sur@demo.acredita.mx', 'Gerente Regional Sur (demo)'),
  ('111', 'lider.equipo1@demo.acredita.mx', 'Líder de Equipo Uno (demo)'),
  ('112', 'asesor.tecnico1@demo.acredita.mx', 'Asesor Técnico Uno (demo)'),
  ('113', 'lider.equipo2@demo.acredita.mx', 'Líder de Equipo Dos (demo)'),
  ('114', 'asesora.tecnica2@demo.acredita.mx', 'Asesora Técnica Dos (demo)'),
  ('115', 'lider.equipo3@demo.acredita.mx', 'Líder de Equipo Tres (demo)'),
  ('116', 'asesor.tecnico3@demo.acredita.mx', 'Asesor Técnico Tres (demo)'),
  ('117', 'lider.equipo4@demo.acredita.mx', 'Líder de Equipo Cuatro (demo)'),
  ('118', 'asesora.tecnica4@demo.acredita.mx', 'Asesora Técnica Cuatro (demo)')) v (id, email, name)
ON CONFLICT (id) DO NOTHING;

-- One line per agency. type: TA training academy, CC communications center, LE law
-- enforcement; level: s state, m municipal, f federal. award: the first award (a CALEA
-- conference). final / final_on: where the agency ended up when it did not simply stay
-- accredited:
--   conditional     conditionally accredited at award, conditions met on final_on
--   advanced        Tier 1 at award, Advanced after a reaccreditation on final_on
--   reaccreditation entered reaccreditation on final_on
--   withdrawn, removed (with reason), or the stage it was still in on final_on.
-- flags: gap (the mock sent it back), probation (a probation round trip), deferred (a deferred
-- hearing), pre (reached the mock before leaving).
CREATE TEMPORARY TABLE demo_agency_lines (
  n int, type text, level text, state text, city text, name text, acronym text,
  applied date, enrolled date, award date, final text, final_on date, reason text, flags text
) ON COMMIT DROP;

INSERT INTO demo_agency_lines VALUES
-- 2016: the first agencies, Guanajuato accepted in August
(1, 'TA', 's', 'GUA', 'Guanajuato', 'Academia de Seguridad Pública de Guanajuato (demo)', 'ASPG', '2016-07-25', '2016-09-01', '2017-11-18', 'reaccreditation', '2021-06-14', NULL, ''),
(2, 'CC', 's', 'GUA', 'Silao de la Romero', 'Centro de Comando, Control, Comunicaciones, Cómputo e Inteligencia C5i de Guanajuato (demo)', 'C5i GTO', '2016-07-25', '2016-09-01', '2017-11-18', 'reaccreditation', '2021-06-14', NULL, ''),
(3, 'TA', 's', 'QUE', 'Querétaro', 'Instituto de Formación Policial de Querétaro (demo)', 'IFP QRO', '2016-09-12', '2016-11-07', '2018-07-28', NULL, NULL, NULL, ''),
(4, 'CC', 's', 'QUE', 'Querétaro', 'Centro de Emergencias y Comunicaciones C5 de Querétaro (demo)', 'C5 QRO', '2016-09-12', '2016-11-07', '2018-11-17', NULL, NULL, NULL, ''),
(5, 'LE', 's', 'QUE', 'Querétaro', 'Policía Estatal de Querétaro (demo)', 'POES QRO', '2016-09-12', '2016-11-07', '2019-03-23', NULL, NULL, NULL, 'gap'),
(6, 'TA', 's', 'SON', 'Hermosillo', 'Academia de Policía del Estado de Sonora (demo)', 'APES', '2016-10-03', '2016-12-05', '2018-03-24', 'reaccreditation', '2021-09-13', NULL, ''),
(7, 'CC', 's', 'SON', 'Hermosillo', 'Centro de Control, Comando, Comunicación y Cómputo de Sonora (demo)', 'C5 SON', '2016-10-03', '2016-12-05', '2018-11-17', NULL, NULL, NULL, ''),
(8, 'LE', 's', 'SON', 'Hermosillo', 'Policía Estatal de Seguridad Pública de Sonora (demo)', 'PESP', '2016-10-03', '2016-12-05', '2019-03-23', NULL, NULL, NULL, ''),
(9, 'TA', 's', 'BCN', 'Tecate', 'Academia de Seguridad Pública de Baja California (demo)', 'ASP BC', '2016-11-14', '2017-01-16', '2018-07-28', NULL, NULL, NULL, ''),
(10, 'CC', 's', 'BCN', 'Mexicali', 'Centro Estatal de Comunicaciones de Baja California (demo)', 'CECOM BC', '2016-11-14', '2017-01-16', '2019-03-23', NULL, NULL, NULL, ''),
-- 2017: eleven more by late September
(11, 'LE', 's', 'BCN', 'Mexicali', 'Fuerza Estatal de Seguridad Ciudadana de Baja California (demo)', 'FESC', '2017-01-09', '2017-03-06', '2019-03-23', NULL, NULL, NULL, ''),
(12, 'TA', 's', 'CHH', 'Chihuahua', 'Academia Estatal de Policía de Chihuahua (demo)', 'AEP CHIH', '2017-03-13', '2017-05-08', '2018-11-17', NULL, NULL, NULL, 'probation'),
(13, 'CC', 's', 'CHH', 'Chihuahua', 'Centro Estatal de Comunicaciones C4 de Chihuahua (demo)', 'C4 CHIH', '2017-03-13', '2017-05-08', '2019-07-27', NULL, NULL, NULL, ''),
(14, 'TA', 's', 'AGU', 'Aguascalientes', 'Instituto de Profesionalización de la Seguridad Pública de Aguascalientes (demo)', 'IPSP AGS', '2017-05-15', '2017-07-10', '2019-03-23', NULL, NULL, NULL, ''),
(15, 'CC', 's', 'AGU', 'Aguascalientes', 'Centro de Control, Comando, Comunicaciones y Cómputo C5 de Aguascalientes (demo)', 'C5 AGS', '2017-05-15', '2017-07-10', '2019-07-27', NULL, NULL, NULL, ''),
(16, 'TA', 's', 'NLE', 'Monterrey', 'Universidad de Ciencias de la Seguridad de Nuevo León (demo)', 'UCS', '2017-06-05', '2017-08-07', '2018-11-17', NULL, NULL, NULL, ''),
(17, 'LE', 's', 'NLE', 'Monterrey', 'Secretaría de Seguridad del Estado de Nuevo León (demo)', 'SSENL', '2017-06-05', '2017-08-07', '2019-07-27', 'advanced', '2022-11-19', NULL, 'gap'),
(18, 'CC', 's', 'NLE', 'Monterrey', 'Centro de Coordinación Integral C5 de Nuevo León (demo)', 'C5 NL', '2017-06-05', '2017-08-07', '2019-03-23', NULL, NULL, NULL, ''),
(19, 'TA', 's', 'COA', 'Saltillo', 'Academia de Policía de Coahuila (demo)', 'APC', '2017-08-07', '2017-09-25', '2019-07-27', NULL, NULL, NULL, ''),
(20, 'CC', 's', 'COA', 'Saltillo', 'Centro de Comunicaciones C4 de Coahuila (demo)', 'C4 COAH', '2017-08-07', '2017-09-25', '2019-11-16', NULL, NULL, NULL, ''),
(21, 'TA', 's', 'DUR', 'Durango', 'Instituto Superior de Seguridad Pública de Durango (demo)', 'ISSP DGO', '2017-08-14', '2017-09-25', '2019-03-23', NULL, NULL, NULL, ''),
-- 2018
(22, 'LE', 's', 'COA', 'Saltillo', 'Policía Estatal de Coahuila (demo)', 'PEC', '2018-01-15', '2018-03-05', '2020-07-25', NULL, NULL, NULL, ''),
(23, 'CC', 's', 'DUR', 'Durango', 'Centro de Comunicaciones C5 de Durango (demo)', 'C5 DGO', '2018-01-15', '2018-03-05', '2019-11-16', NULL, NULL, NULL, ''),
(24, 'LE', 's', 'DUR', 'Durango', 'Policía Estatal de Durango (demo)', 'PE DGO', '2018-01-15', '2018-03-05', '2020-11-14', NULL, NULL, NULL, ''),
(25, 'TA', 's', 'JAL', 'Tlajomulco de Zúñiga', 'Academia de Policía del Estado de Jalisco (demo)', 'AP JAL', '2018-02-12', '2018-04-02', '2019-11-16', NULL, NULL, NULL, 'gap'),
(26, 'CC', 's', 'JAL', 'Guadalajara', 'Centro Integral de Comunicaciones C5 de Jalisco (demo)', 'C5 JAL', '2018-02-12', '2018-04-02', '2020-07-25', NULL, NULL, NULL, ''),
(27, 'LE', 's', 'JAL', 'Guadalajara', 'Policía del Estado de Jalisco (demo)', 'PE JAL', '2018-02-12', '2018-04-02', '2021-03-27', NULL, NULL, NULL, 'deferred'),
(28, 'TA', 's', 'HID', 'Pachuca de Soto', 'Instituto de Formación Profesional de Seguridad Pública de Hidalgo (demo)', 'IFPSP HGO', '2018-03-12', '2018-05-07', '2019-11-16', NULL, NULL, NULL, ''),
(29, 'CC', 's', 'HID', 'Pachuca de Soto', 'Centro de Control, Comando, Comunicaciones, Cómputo, Coordinación e Inteligencia C5i de Hidalgo (demo)', 'C5i HGO', '2018-03-12', '2018-05-07', '2020-07-25', NULL, NULL, NULL, ''),
(30, 'LE', 's', 'HID', 'Pachuca de Soto', 'Policía Estatal de Hidalgo (demo)', 'PE HGO', '2018-03-12', '2018-05-07', '2021-07-31', NULL, NULL, NULL, ''),
(31, 'TA', 's', 'PUE', 'Puebla', 'Academia Estatal de Seguridad Pública de Puebla (demo)', 'AESP PUE', '2018-04-09', '2018-06-04', '2020-07-25', NULL, NULL, NULL, ''),
(32, 'CC', 's', 'PUE', 'Puebla', 'Centro de Comunicaciones C5 de Puebla (demo)', 'C5 PUE', '2018-04-09', '2018-06-04', '2020-11-14', NULL, NULL, NULL, ''),
(33, 'LE', 's', 'PUE', 'Puebla', 'Policía Estatal de Puebla (demo)', 'PE PUE', '2018-04-09', '2018-06-04', '2021-03-27', NULL, NULL, NULL, 'gap'),
(34, 'TA', 's', 'YUC', 'Mérida', 'Instituto de Seguridad Pública de Yucatán (demo)', 'ISP YUC', '2018-05-14', '2018-07-02', '2019-07-27', NULL, NULL, NULL, ''),
(35, 'CC', 's', 'YUC', 'Mérida', 'Centro de Comunicaciones C5i de Yucatán (demo)', 'C5i YUC', '2018-05-14', '2018-07-02', '2020-07-25', NULL, NULL, NULL, ''),
(36, 'LE', 's', 'YUC', 'Mérida', 'Policía Estatal de Yucatán (demo)', 'PE YUC', '2018-05-14', '2018-07-02', '2021-03-27', NULL, NULL, NULL, ''),
(37, 'TA', 's', 'CMX', 'Álvaro Obregón', 'Instituto de Formación Policial de la Ciudad de México (demo)', 'IFP CDMX', '2018-06-11', '2018-08-06', '2019-11-16', NULL, NULL, NULL, ''),
(38, 'CC', 's', 'CMX', 'Cuauhtémoc', 'Centro de Comando, Control, Cómputo, Comunicaciones y Contacto Ciudadano C5 de la Ciudad de México (demo)', 'C5 CDMX', '2018-06-11', '2018-08-06', '2020-07-25', 'conditional', '2020-11-14', NULL, ''),
(39, 'LE', 's', 'CMX', 'Cuauhtémoc', 'Secretaría de Seguridad Ciudadana de la Ciudad de México (demo)', 'SSC CDMX', '2018-06-11', '2018-08-06', '2021-07-31', NULL, NULL, NULL, ''),
(40, 'TA', 's', 'MEX', 'Toluca', 'Universidad Mexiquense de Seguridad (demo)', 'UMS', '2018-08-20', '2018-10-01', '2020-07-25', NULL, NULL, NULL, ''),
(41, 'CC', 's', 'MEX', 'Toluca', 'Centro de Mando y Comunicación C5 del Estado de México (demo)', 'C5 EDOMEX', '2018-08-20', '2018-10-01', '2020-11-14', NULL, NULL, NULL, ''),
-- 2019
(42, 'LE', 's', 'MEX', 'Toluca', 'Policía Estatal del Estado de México (demo)', 'PE EDOMEX', '2019-01-14', '2019-03-04', '2021-11-20', NULL, NULL, NULL, 'deferred'),
(43, 'TA', 's', 'MEX', 'Tenancingo', 'Academia de Formación de Custodios Penitenciarios del Estado de México (demo)', 'AFCP', '2019-01-14', '2019-03-04', '2020-11-14', NULL, NULL, NULL, ''),
(44, 'TA', 's', 'SLP', 'San Luis Potosí', 'Academia de Seguridad Pública de San Luis Potosí (demo)', 'ASP SLP', '2019-02-11', '2019-04-01', '2020-11-14', NULL, NULL, NULL, 'probation'),
(45, 'CC', 's', 'SLP', 'San Luis Potosí', 'Centro de Comunicaciones C5 de San Luis Potosí (demo)', 'C5 SLP', '2019-02-11', '2019-04-01', '2021-03-27', NULL, NULL, NULL, ''),
(46, 'LE', 's', 'SLP', 'San Luis Potosí', 'Guardia Civil Estatal de San Luis Potosí (demo)', 'GCE', '2019-02-11', '2019-04-01', '2021-11-20', NULL, NULL, NULL, 'gap'),
(47, 'TA', 's', 'TAM', 'Ciudad Victoria', 'Universidad de Seguridad y Justicia de Tamaulipas (demo)', 'USJT', '2019-03-11', '2019-05-06', '2021-03-27', NULL, NULL, NULL, ''),
(48, 'CC', 's', 'TAM', 'Ciudad Victoria', 'Centro de Comunicaciones C5 de Tamaulipas (demo)', 'C5 TAM', '2019-03-11', '2019-05-06', NULL, 'withdrawn', '2022-06-15', 'Retiro voluntario tras el cambio de administración estatal.', 'pre'),
(49, 'LE', 's', 'TAM', 'Ciudad Victoria', 'Guardia Estatal de Tamaulipas (demo)', 'GE TAM', '2019-03-11', '2019-05-06', '2022-03-26', NULL, NULL, NULL, ''),
(50, 'TA', 's', 'SIN', 'Culiacán', 'Instituto Estatal de Ciencias Penales y Seguridad Pública de Sinaloa (demo)', 'INECIPE', '2019-04-08', '2019-06-03', '2021-03-27', NULL, NULL, NULL, ''),
(51, 'CC', 's', 'SIN', 'Culiacán', 'Centro de Comunicaciones C4i de Sinaloa (demo)', 'C4i SIN', '2019-04-08', '2019-06-03', '2021-07-31', NULL, NULL, NULL, ''),
(52, 'TA', 's', 'MIC', 'Morelia', 'Instituto Estatal de Estudios Superiores en Seguridad de Michoacán (demo)', 'IEESSPP', '2019-05-13', '2019-07-01', '2021-07-31', NULL, NULL, NULL, ''),
(53, 'CC', 's', 'MIC', 'Morelia', 'Centro Estatal de Comando y Comunicaciones C5i de Michoacán (demo)', 'C5i MICH', '2019-05-13', '2019-07-01', NULL, 'site_assessment', '2023-10-16', NULL, ''),
(54, 'TA', 's', 'CHP', 'Tuxtla Gutiérrez', 'Instituto de Formación Policial de Chiapas (demo)', 'IFP CHIS', '2019-06-10', '2019-08-05', '2021-07-31', NULL, NULL, NULL, ''),
(55, 'CC', 's', 'CHP', 'Tuxtla Gutiérrez', 'Centro Estatal de Comunicaciones C5 de Chiapas (demo)', 'C5 CHIS', '2019-06-10', '2019-08-05', NULL, 'awaiting_hearing', '2023-12-11', NULL, ''),
(56, 'LE', 's', 'CHP', 'Tuxtla Gutiérrez', 'Policía Estatal Preventiva de Chiapas (demo)', 'PEP CHIS', '2019-06-10', '2019-08-05', NULL, 'withdrawn', '2021-02-15', 'Retiro voluntario por la reestructura de la corporación.', ''),
(57, 'TA', 's', 'COL', 'Colima', 'Instituto de Formación, Capacitación y Profesionalización Policial de Colima (demo)', 'IFCPP COL', '2019-07-08', '2019-09-02', '2021-11-20', NULL, NULL, NULL, ''),
(58, 'LE', 's', 'COL', 'Colima', 'Policía Estatal de Colima (demo)', 'PE COL', '2019-07-08', NULL, NULL, 'removed', '2020-02-17', 'Removida del programa: no firmó el acuerdo con CALEA.', ''),
(59, 'TA', 's', 'OAX', 'Oaxaca de Juárez', 'Instituto de Profesionalización de Seguridad Pública de Oaxaca (demo)', 'IPSP OAX', '2019-08-12', '2019-10-07', '2021-11-20', NULL, NULL, NULL, ''),
-- 2020
(60, 'CC', 's', 'OAX', 'Oaxaca de Juárez', 'Centro de Control, Comando, Comunicación y Cómputo C4 de Oaxaca (demo)', 'C4 OAX', '2020-01-13', '2020-03-02', NULL, 'withdrawn', '2020-10-19', 'Retiro voluntario por falta de presupuesto durante la pandemia de COVID-19.', ''),
(61, 'TA', 's', 'GRO', 'Chilpancingo de los Bravo', 'Instituto de Formación y Capacitación Policial de Guerrero (demo)', 'IFCP GRO', '2020-01-13', '2020-03-02', NULL, 'withdrawn', '2021-11-08', 'Retiro voluntario tras el cambio de administración.', ''),
(62, 'CC', 's', 'GRO', 'Chilpancingo de los Bravo', 'Centro de Comunicaciones C5 de Guerrero (demo)', 'C5 GRO', '2020-01-13', '2020-03-02', '2022-03-26', NULL, NULL, NULL, ''),
(63, 'TA', 's', 'MOR', 'Cuernavaca', 'Academia Estatal de Estudios Superiores en Seguridad de Morelos (demo)', 'AEESS', '2020-02-10', '2020-04-06', '2022-03-26', NULL, NULL, NULL, ''),
(64, 'LE', 's', 'MOR', 'Cuernavaca', 'Policía Estatal de Morelos (demo)', 'PE MOR', '2020-02-10', '2020-04-06', '2022-07-30', NULL, NULL, NULL, ''),
(65, 'TA', 's', 'TAB', 'Villahermosa', 'Instituto de Formación Policial de Tabasco (demo)', 'IFP TAB', '2020-03-09', '2020-05-04', '2022-03-26', NULL, NULL, NULL, ''),
(66, 'LE', 's', 'TAB', 'Villahermosa', 'Policía Estatal de Tabasco (demo)', 'PE TAB', '2020-03-09', '2020-05-04', NULL, 'removed', '2022-05-16', 'Removida por incumplimiento del plan de implementación.', 'probation'),
(67, 'TA', 's', 'ROO', 'Chetumal', 'Instituto de Formación Policial de Quintana Roo (demo)', 'IFP QROO', '2020-06-08', '2020-08-03', '2022-07-30', NULL, NULL, NULL, ''),
(68, 'LE', 's', 'ROO', 'Chetumal', 'Policía Quintana Roo (demo)', 'PQROO', '2020-06-08', '2020-08-03', NULL, 'withdrawn', '2022-09-12', 'Retiro voluntario por el cambio de titular de la corporación.', 'pre'),
(69, 'TA', 's', 'VER', 'Xalapa', 'Academia Regional de Seguridad Pública del Sureste, Veracruz (demo)', 'ARSPS', '2020-07-13', '2020-09-07', '2022-07-30', NULL, NULL, NULL, ''),
(70, 'CC', 's', 'VER', 'Xalapa', 'Centro Estatal de Control, Comando, Comunicaciones y Cómputo C4 de Veracruz (demo)', 'C4 VER', '2020-07-13', '2020-09-07', NULL, 'awaiting_hearing', '2023-12-04', NULL, ''),
(71, 'TA', 'f', 'CMX', 'Tlalpan', 'Academia Federal de Formación Policial (demo)', 'AFFP', '2020-09-14', '2020-11-02', '2022-11-19', NULL, NULL, NULL, ''),
-- 2021: the last agencies, municipal ones among them
(72, 'CC', 'f', 'CMX', 'Coyoacán', 'Centro Nacional de Comunicaciones de Seguridad (demo)', 'CNCS', '2021-01-11', '2021-03-01', '2022-11-19', 'conditional', '2023-03-25', NULL, ''),
(73, 'LE', 'f', 'MEX', 'Naucalpan de Juárez', 'Agrupamiento Federal de Seguridad Vial (demo)', 'AFSV', '2021-01-11', '2021-03-01', '2023-03-25', NULL, NULL, NULL, ''),
(74, 'LE', 's', 'AGU', 'Aguascalientes', 'Policía Estatal de Aguascalientes (demo)', 'PE AGS', '2021-02-08', '2021-04-05', '2022-11-19', NULL, NULL, NULL, ''),
(75, 'TA', 's', 'NLE', 'Apodaca', 'Instituto de Formación Penitenciaria de Nuevo León (demo)', 'IFPNL', '2021-03-08', '2021-05-03', '2023-03-25', NULL, NULL, NULL, ''),
(76, 'LE', 'm', 'BCN', 'Tijuana', 'Secretaría de Seguridad y Protección Ciudadana Municipal de Tijuana (demo)', 'SSPCM TIJ', '2021-04-12', '2021-06-07', '2023-11-18', NULL, NULL, NULL, ''),
(77, 'LE', 'm', 'CHH', 'Juárez', 'Secretaría de Seguridad Pública Municipal de Ciudad Juárez (demo)', 'SSPM CDJ', '2021-05-10', '2021-07-05', '2023-07-29', NULL, NULL, NULL, ''),
(78, 'LE', 'm', 'GUA', 'León', 'Secretaría de Seguridad, Prevención y Protección Ciudadana de León (demo)', 'SSPPC LEÓN', '2021-06-14', '2021-08-02', '2023-11-18', NULL, NULL, NULL, ''),
(79, 'LE', 'm', 'NLE', 'San Pedro Garza García', 'Secretaría de Seguridad Pública de San Pedro Garza García (demo)', 'SSP SPGG', '2021-07-12', '2021-09-06', '2023-07-29', NULL, NULL, NULL, ''),
(80, 'LE', 'm', 'QUE', 'Querétaro', 'Secretaría de Seguridad Pública Municipal de Querétaro (demo)', 'SSPM QRO', '2021-09-13', '2021-11-01', NULL, 'site_assessment', '2023-09-18', NULL, ''),
(81, 'TA', 'm', 'YUC', 'Mérida', 'Academia de Policía Municipal de Mérida (demo)', 'APM MID', '2021-09-13', '2021-11-08', NULL, 'awaiting_hearing', '2023-12-18', NULL, ''),
(82, 'LE', 's', 'CHH', 'Chihuahua', 'Secretaría de Seguridad Pública del Estado de Chihuahua (demo)', 'SSPE CHIH', '2021-10-18', '2021-12-06', '2023-11-18', NULL, NULL, NULL, '');

DO $seed$
DECLARE
  r demo_agency_lines;
  aid uuid;
  inl constant text := '00000000-0000-4000-8000-000000000002';
  rm text;
  pair uuid[];
  ag_tier text;
  span int;
  stop date;
  is_member boolean;
  first_names constant text[] := ARRAY['María', 'José', 'Guadalupe', 'Juan', 'Verónica',
    'Francisco', 'Alejandra', 'Luis', 'Patricia', 'Jorge', 'Rocío', 'Miguel', 'Claudia',
    'Ricardo', 'Adriana', 'Fernando', 'Gabriela'];
  surnames constant text[] := ARRAY['Hernández', 'García', 'Martínez', 'López', 'González',
    'Pérez', 'Rodríguez', 'Sánchez', 'Ramírez', 'Cruz', 'Flores', 'Gómez', 'Morales',
    'Vázquez', 'Jiménez', 'Reyes', 'Díaz', 'Torres', 'Gutiérrez', 'Ruiz', 'Mendoza', 'Aguilar',
    'Ortiz', 'Núñez'];
BEGIN
  FOR r IN SELECT * FROM demo_agency_lines ORDER BY n LOOP
    aid := ('a0000000-0000-4000-8000-' || lpad(r.n::text, 12, '0'))::uuid;
    rm := '00000000-0000-4000-8000-' || CASE
      WHEN r.state IN ('BCN', 'CHH', 'COA', 'DUR', 'NLE', 'SIN', 'SON', 'TAM') THEN '000000000101'
      WHEN r.state IN ('CHP', 'GRO', 'OAX', 'ROO', 'TAB', 'VER', 'YUC') THEN '000000000103'
      ELSE '000000000102' END;
    pair := ARRAY[('00000000-0000-4000-8000-00000000011' || (1 + 2 * (r.n % 4)))::uuid,
                  CASE WHEN r.n IN (1, 3, 55, 80, 81) THEN '00000000-0000-4000-8000-000000000003'::uuid
                       ELSE ('00000000-0000-4000-8000-00000000011' || (2 + 2 * (r.n % 4)))::uuid END];
    ag_tier := CASE WHEN r.type <> 'LE' THEN NULL WHEN r.n = 17 OR r.level = 'm' THEN 'tier1'
                 WHEN r.n % 2 = 0 THEN 'advanced' ELSE 'tier1' END;
    is_member := r.award IS NOT NULL AND (r.n % 2 = 1 OR r.n IN (2, 4, 16, 18));
    INSERT INTO agencies (id, name, acronym, type, level, state, municipality, website, ceo,
      accreditation_manager, regional_manager_id, advisor_ids, tier, applied_on,
      member, member_since, dues_paid_through, membership_external_id, external_ids, demo)
    VALUES (aid, r.name, r.acronym,
      CASE r.type WHEN 'TA' THEN 'training_academy' WHEN 'CC' THEN 'communications_center'
                  ELSE 'law_enforcement' END,
      CASE r.level WHEN 's' THEN 'state' WHEN 'm' THEN 'municipal' ELSE 'federal' END,
      'MX-' || r.state, r.city,
      'https://demo.acredita.mx/agencias/' || r.n,
      jsonb_build_object('name', first_names[1 + r.n % 17] || ' ' || surnames[1 + r.n % 24] || ' '
                                 || surnames[1 + (r.n * 7) % 24],
                         'title', CASE r.type WHEN 'TA' THEN 'Director General'
                                  WHEN 'CC' THEN 'Coordinador General'
                                  ELSE 'Secretario de Seguridad Pública' END),
      jsonb_build_object('name', first_names[1 + (r.n * 5) % 17] || ' ' || surnames[1 + (r.n * 3) % 24]
                                 || ' ' || surnames[1 + (r.n * 11) % 24],
                         'email', 'gerencia.acreditacion' || r.n || '@demo.acredita.mx',
                         'phone', '+52 55 5' || lpad((1000000 + r.n * 7919)::text, 7, '0')),
      rm::uuid, pair, ag_tier, r.applied,
      is_member,
      CASE WHEN is_member THEN greatest(r.award, date '2019-03-15') END,
      CASE WHEN r.n = 1 THEN date '2027-03-31' WHEN is_member AND r.n % 4 IN (0, 1) THEN date '2024-12-31'
           WHEN is_member THEN date '2023-12-31' END,
      CASE WHEN is_member THEN 'CAISPMEX-' || lpad(r.n::text, 3, '0') END,
      jsonb_build_object('npi_grant_id', 'MX-' || lpad(r.n::text, 3, '0')),
      true)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
      CONTINUE; -- loaded before: its history is there already
    END IF;
    INSERT INTO agency_transitions (agency_id, from_status, to_status, occurred_on, note, actor, actor_role, request_id)
    VALUES (aid, NULL, 'applied', r.applied, 'El titular firmó la solicitud de participación.', rm, 'advisor', 'demo-seed');
    PERFORM pg_temp.demo_created(aid);
    PERFORM pg_temp.demo_move(aid, 'approved', r.applied + 21, 'Participación aprobada por INL.', inl, 'inl');
    IF r.enrolled IS NULL THEN
      PERFORM pg_temp.demo_move(aid, r.final, r.final_on, r.reason, rm, 'advisor');
      CONTINUE;
    END IF;
    PERFORM pg_temp.demo_move(aid, 'enrolled', r.enrolled, 'Acuerdo con CALEA firmado; cuestionario de perfil enviado.', rm, 'advisor');
    PERFORM pg_temp.demo_update(aid, jsonb_build_object('implementation_plan_submitted_on', r.enrolled + 14));
    PERFORM pg_temp.demo_move(aid, 'self_assessment', r.enrolled + 14, 'Plan de implementación entregado; inicia la autoevaluación.', rm, 'advisor');
    stop := coalesce(r.award, r.final_on);
    span := stop - r.enrolled;
    IF r.flags = 'probation' THEN
      PERFORM pg_temp.demo_move(aid, 'probation', r.enrolled + span * 30 / 100, 'Aviso de probatoria: el plan de implementación está atrasado; se acuerda un plan de mejora.', rm, 'advisor');
      IF r.final = 'removed' THEN
        PERFORM pg_temp.demo_move(aid, 'removed', r.final_on, r.reason, rm, 'advisor');
        CONTINUE;
      END IF;
      PERFORM pg_temp.demo_move(aid, 'self_assessment', r.enrolled + span * 38 / 100, 'Plan de mejora cumplido; termina la probatoria.', rm, 'advisor');
    END IF;
    IF r.final = 'withdrawn' THEN
      IF r.flags = 'pre' THEN
        PERFORM pg_temp.demo_move(aid, 'pre_assessment', r.enrolled + span * 60 / 100, 'Simulacro de evaluación por el equipo de asesores.', rm, 'advisor');
      END IF;
      PERFORM pg_temp.demo_move(aid, 'withdrawn', r.final_on, r.reason, rm, 'advisor');
      CONTINUE;
    END IF;
    IF r.flags = 'gap' THEN
      PERFORM pg_temp.demo_move(aid, 'pre_assessment', r.enrolled + span * 45 / 100, 'Simulacro de evaluación por el equipo de asesores.', rm, 'advisor');
      PERFORM pg_temp.demo_move(aid, 'self_assessment', r.enrolled + span * 45 / 100 + 20, 'El simulacro encontró brechas en las pruebas de cumplimiento.', rm, 'advisor');
    END IF;
    IF r.final = 'site_assessment' THEN
      PERFORM pg_temp.demo_move(aid, 'pre_assessment', r.enrolled + span * 60 / 100, 'Simulacro de evaluación por el equipo de asesores.', rm, 'advisor');
      PERFORM pg_temp.demo_move(aid, 'site_assessment', r.final_on, 'Revisión documental de CALEA y visita de evaluación.', rm, 'advisor');
      CONTINUE;
    END IF;
    IF r.flags = 'deferred' THEN
      PERFORM pg_temp.demo_move(aid, 'pre_assessment', r.enrolled + span * 45 / 100, 'Simulacro de evaluación por el equipo de asesores.', rm, 'advisor');
      PERFORM pg_temp.demo_move(aid, 'site_assessment', stop - 260, 'Revisión documental de CALEA y visita de evaluación.', rm, 'advisor');
      PERFORM pg_temp.demo_move(aid, 'awaiting_hearing', stop - 200, 'Informe de la visita enviado a la Comisión.', rm, 'advisor');
      PERFORM pg_temp.demo_move(aid, 'site_assessment', stop - 120, 'Audiencia diferida: la Comisión pidió una nueva revisión de pruebas de cumplimiento.', rm, 'advisor');
    ELSE
      PERFORM pg_temp.demo_move(aid, 'pre_assessment', r.enrolled + span * 62 / 100, 'Simulacro de evaluación por el equipo de asesores.', rm, 'advisor');
      PERFORM pg_temp.demo_move(aid, 'site_assessment', stop - 110, 'Revisión documental de CALEA y visita de evaluación.', rm, 'advisor');
    END IF;
    IF r.final = 'awaiting_hearing' THEN
      PERFORM pg_temp.demo_move(aid, 'awaiting_hearing', r.final_on, 'Informe de la visita enviado a la Comisión; audiencia prevista en 2024.', rm, 'advisor');
      CONTINUE;
    END IF;
    PERFORM pg_temp.demo_move(aid, 'awaiting_hearing', stop - 40, 'Informe de la visita enviado a la Comisión.', rm, 'advisor');
    IF r.final = 'conditional' THEN
      PERFORM pg_temp.demo_move(aid, 'conditionally_accredited', r.award, 'Acreditación condicionada por la Comisión de CALEA.', rm, 'advisor');
      PERFORM pg_temp.demo_move(aid, 'accredited', r.final_on, 'Condiciones cumplidas.', rm, 'advisor');
    ELSE
      PERFORM pg_temp.demo_move(aid, 'accredited', r.award, 'Acreditada por la Comisión de CALEA.', rm, 'advisor');
    END IF;
    IF r.final = 'advanced' THEN
      PERFORM pg_temp.demo_update(aid, '{"tier": "advanced"}');
      PERFORM pg_temp.demo_move(aid, 'reaccreditation', r.final_on - 243, 'Inicia el proceso para la Acreditación Avanzada.', rm, 'advisor');
      PERFORM pg_temp.demo_move(aid, 'accredited', r.final_on, 'Acreditación Avanzada otorgada por la Comisión de CALEA.', rm, 'advisor');
    ELSIF r.final = 'reaccreditation' THEN
      PERFORM pg_temp.demo_move(aid, 'reaccreditation', r.final_on, 'Inicia la reacreditación del segundo ciclo.', rm, 'advisor');
    END IF;
  END LOOP;
END $seed$;

-- Guanajuato's state police: accredited by CALEA before the program (the final report), not one
-- of its 82 agencies. Recorded as it stood, with its award, so that Guanajuato reads as a
-- Tri-Arc jurisdiction from November 2017.
WITH police AS (
  INSERT INTO agencies (id, name, acronym, type, level, state, municipality, website, tier,
    status, accredited_on, accreditation_expires_on, cycle, reporting_frequency, in_program, demo,
    external_ids)
  VALUES ('a0000000-0000-4000-8000-000000000083', 'Policía Estatal de Guanajuato (demo)', 'PE GTO',
    'law_enforcement', 'state', 'MX-GUA', 'Guanajuato', 'https://demo.acredita.mx/agencias/83',
    'advanced', 'accredited', '2014-11-15', accreditation_expiry('2014-11-15'), 1, 'quarterly',
    false, true, '{}')
  ON CONFLICT DO NOTHING RETURNING id),
history AS (
  INSERT INTO agency_transitions (agency_id, from_status, to_status, occurred_on, note, actor, actor_role, request_id)
  SELECT id, NULL, 'accredited', '2014-11-15',
         'Acreditada por CALEA antes del programa del INL; registrada como contexto.',
         '00000000-0000-4000-8000-000000000001', 'admin', 'demo-seed' FROM police
  RETURNING id, agency_id)
INSERT INTO awards (agency_id, transition_id, program, tier, awarded_on, expires_on)
SELECT agency_id, id, 'law_enforcement', 'advanced', '2014-11-15', accreditation_expiry('2014-11-15')
FROM history;
SELECT pg_temp.demo_created(a.id) FROM agencies a
WHERE a.id = 'a0000000-0000-4000-8000-000000000083'
  AND NOT EXISTS (SELECT 1 FROM audit e WHERE e.resource = 'agency' AND e.resource_id = a.id::text);

-- Reports filed lately (one period or less ago), so that the demo looks current whatever the
-- day it is loaded; a few agencies are a little late and show in the dashboard's list of
-- overdue reports.
SELECT pg_temp.demo_update(a.id, jsonb_build_object('reporting', jsonb_build_object(
  'last_report_on', mx_today() - CASE
    WHEN a.reporting_frequency = 'monthly' AND x.n % 10 = 3 THEN 45
    WHEN a.reporting_frequency = 'monthly' THEN x.n * 7 % 25
    WHEN x.n % 10 = 3 THEN 110
    ELSE x.n * 11 % 80 END)))
FROM agencies a, LATERAL (SELECT right(a.id::text, 3)::int AS n) x
WHERE a.demo AND a.last_report_on IS NULL AND agency_next_report_due(a) IS NOT NULL
ORDER BY a.id;
