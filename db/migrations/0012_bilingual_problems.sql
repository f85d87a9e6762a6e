-- 0012_bilingual_problems: agency_problems() gives each field error's argument in Spanish
-- too (arg_es). Its result changes shape, so the old one goes; db/functions/03_agencies.sql
-- defines the new one.
DROP FUNCTION IF EXISTS agency_problems(jsonb, text[]);
