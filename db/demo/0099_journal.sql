-- The demo's history went to the audit trail and the change feed as it was written
-- (record_write()). Like any transaction's, its feed rows take their commit number last,
-- just before COMMIT: one number for the whole load, read in the order they were written.
SELECT feed_stamp(ARRAY(SELECT id FROM changes
                        WHERE commit_no IS NULL AND txid = pg_current_xact_id() ORDER BY id));
