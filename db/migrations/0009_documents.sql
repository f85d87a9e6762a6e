-- 0009_documents: agencies and tasks keep their rendered representations (issue "Lists as fast
-- as single reads"). A list page or a single read sends the stored text; a write renders it
-- in the same transaction (the tables' write triggers, db/functions/). Each document knows the
-- Mexico City date it was rendered for, and from which date a date-derived value in it (an
-- expiry, an anniversary, a due date) would read differently: from then on it is rendered
-- afresh on read until the housekeeping sweep stores the new one. A row whose document is
-- missing (rendered_on NULL) is rendered on read too; acredita migrate renders every document
-- whenever the functions change (documents_render_all()), and the write triggers on every
-- write, so none is. No index names document or rendered_on: one more index would cost every
-- sweep update another entry.

ALTER TABLE agencies
  ADD COLUMN document text,          -- agency_json()
  ADD COLUMN public_document text,   -- agency_public_json()
  ADD COLUMN rendered_on date,       -- the date both were rendered for
  ADD COLUMN fresh_until date;       -- the first date they may be stale (NULL: never)
CREATE INDEX agencies_fresh_until ON agencies (fresh_until) WHERE fresh_until IS NOT NULL;

ALTER TABLE tasks
  ADD COLUMN document text,          -- task_json()
  ADD COLUMN rendered_on date,
  ADD COLUMN fresh_until date;
CREATE INDEX tasks_fresh_until ON tasks (fresh_until) WHERE fresh_until IS NOT NULL;

-- One write trigger per table now touches, checks and renders (db/functions/).
DROP TRIGGER IF EXISTS agencies_touch ON agencies;
DROP TRIGGER IF EXISTS tasks_touch ON tasks;
DROP TRIGGER IF EXISTS tasks_before_write ON tasks;
DROP FUNCTION IF EXISTS tasks_before_write();
