-- Placeholder until the demo agencies land: the agency of the demo agency user.
INSERT INTO agencies (id, name, type, level, state, status, demo)
VALUES ('a0000000-0000-4000-8000-000000000001', 'Academia de Seguridad Pública de Guanajuato (demo)',
        'training_academy', 'state', 'MX-GUA', 'accredited', true)
ON CONFLICT (id) DO NOTHING;
