-- Demo accounts, one per role: LOCAL USE ONLY. They share the password
-- "demo-password-local-only" (hashed by `acredita seed-demo`, read here from a setting).
-- Fixed ids make the load safe to run twice.
INSERT INTO users (id, email, name, role, agency_id, password_hash) VALUES
  ('00000000-0000-4000-8000-000000000001', 'admin@demo.acredita.mx', 'Administración del Programa (demo)', 'admin', NULL, current_setting('acredita.demo_password_hash')),
  ('00000000-0000-4000-8000-000000000002', 'inl@demo.acredita.mx', 'Monitoreo y Evaluación INL (demo)', 'inl', NULL, current_setting('acredita.demo_password_hash')),
  ('00000000-0000-4000-8000-000000000003', 'advisor@demo.acredita.mx', 'Asesora Técnica (demo)', 'advisor', NULL, current_setting('acredita.demo_password_hash')),
  ('00000000-0000-4000-8000-000000000004', 'agency@demo.acredita.mx', 'Gerente de Acreditación (demo)', 'agency', 'a0000000-0000-4000-8000-000000000001', current_setting('acredita.demo_password_hash')),
  ('00000000-0000-4000-8000-000000000005', 'coalition@demo.acredita.mx', 'Personal CAISPMEX (demo)', 'coalition', NULL, current_setting('acredita.demo_password_hash')),
  ('00000000-0000-4000-8000-000000000006', 'partner@demo.acredita.mx', 'Sistema Socio (demo)', 'partner', NULL, current_setting('acredita.demo_password_hash'))
ON CONFLICT (id) DO NOTHING;

-- Demo machine clients; secret "demo-secret-local-only".
INSERT INTO clients (id, name, role, scopes, secret_hash) VALUES
  ('00000000-0000-4000-8000-0000000000c1', 'Sistema socio de ejemplo (demo)', 'partner',
   '{agencies:read,changes:read,webinars:read,workshops:read,webhooks:read,webhooks:write}', current_setting('acredita.demo_secret_hash')),
  ('00000000-0000-4000-8000-0000000000c2', 'Sistema de membresía CAISPMEX (demo)', 'coalition',
   '{agencies:read,agencies:write,changes:read,webinars:read,webinars:write,workshops:read,workshops:write,webhooks:read,webhooks:write}',
   current_setting('acredita.demo_secret_hash'))
ON CONFLICT (id) DO NOTHING;
