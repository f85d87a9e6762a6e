-- 0019_bilingual_problems: agency_problems() and compliance_proof_problems() give each field
-- error's argument in Spanish too (arg_es). Their results change shape, so the old ones go;
-- db/functions/03_agencies.sql and 05_compliance.sql define the new ones.
DROP FUNCTION IF EXISTS agency_problems(jsonb, text[]);
DROP FUNCTION IF EXISTS compliance_proof_problems(uuid, uuid, jsonb);
