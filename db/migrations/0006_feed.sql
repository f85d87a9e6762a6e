-- 0006_feed: retention of the change feed and routine housekeeping.

-- The highest commit number whose rows may have been purged: a cursor older than this
-- may have missed changes, so it is answered 410 and the poller resyncs.
ALTER TABLE feed_clock ADD COLUMN purged_through bigint NOT NULL DEFAULT 0;
