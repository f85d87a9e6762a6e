-- 0013_records: records are archived, not erased (issue 15). An agency, a user, a standard or
-- a workshop that has history is archived: it leaves lists and the public views, admin can
-- still read it (?archived=true) and restore it. Erasing is only for a record without history,
-- and the audit keeps its whole before-image and the reason.

ALTER TABLE agencies ADD COLUMN archived_at timestamptz;
ALTER TABLE users ADD COLUMN archived_at timestamptz;
ALTER TABLE standards ADD COLUMN archived_at timestamptz;
ALTER TABLE workshops ADD COLUMN archived_at timestamptz;
-- The few archived agencies, which task lists leave out with an anti-join.
CREATE INDEX agencies_archived ON agencies (id) WHERE archived_at IS NOT NULL;

-- Why an archive, a restore or an erasure was made, and an erased record as it was.
ALTER TABLE audit ADD COLUMN note text CHECK (length(note) <= 2000);
ALTER TABLE audit ADD COLUMN before_image jsonb;

-- The representation an agency user gets now depends on whose agency it is: these take the
-- caller's agency too (db/functions/03_agencies.sql, 09_import.sql). agency_csv_row() had no
-- caller left.
-- (IF EXISTS: on a new database the functions come after the migrations.)
SET LOCAL client_min_messages = warning;
DROP FUNCTION IF EXISTS agency_json_for(agencies, text);
DROP FUNCTION IF EXISTS agency_list_json(agencies, text);
DROP FUNCTION IF EXISTS agency_csv_row(agencies, text);
DROP FUNCTION IF EXISTS agency_csv_record(agencies, text);
