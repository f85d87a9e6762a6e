-- The scale set for script/bench, generated inside PostgreSQL: 100,000 agencies,
-- 1,000,000 tasks and 200,000 registrations on top of the demo data. Not demo records of the
-- program: bench-only rows (demo = false, names starting "Bench").
INSERT INTO agencies (name, acronym, type, level, state, municipality, status, applied_on,
                      approved_on, enrolled_on, member, dues_paid_through, reporting_frequency)
SELECT 'Bench agencia ' || lpad(g::text, 6, '0'),
       'BA' || g,
       (ARRAY['law_enforcement', 'training_academy', 'communications_center'])[1 + g % 3],
       (ARRAY['municipal', 'state', 'federal'])[1 + (g / 3) % 3],
       (SELECT code FROM mx_states ORDER BY code OFFSET g % 32 LIMIT 1),
       'Municipio ' || (g % 500),
       (ARRAY['applied', 'approved', 'enrolled', 'self_assessment'])[1 + g % 4],
       DATE '2016-08-01' + (g % 2000),
       DATE '2016-09-01' + (g % 2000),
       CASE WHEN g % 4 >= 2 THEN DATE '2016-10-01' + (g % 2000) END,
       g % 5 = 0,
       CASE WHEN g % 5 = 0 THEN DATE '2027-12-31' END,
       'monthly'
FROM generate_series(1, 100000) g;
