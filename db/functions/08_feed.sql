-- 08_feed: The change feed and housekeeping.

-- The agency fields a partner system may see (the public view).
CREATE OR REPLACE FUNCTION public_agency_fields() RETURNS text[] LANGUAGE sql IMMUTABLE
  AS $$ SELECT ARRAY['name', 'type', 'level', 'state', 'status', 'accredited_on',
                     'accreditation_expires_on'] $$;

-- Deletes feed rows older than keep, whole commits at a time, and moves the horizon.
-- Returns the number of rows deleted.
CREATE OR REPLACE FUNCTION feed_purge(keep interval) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  horizon bigint;
  n bigint;
BEGIN
  SELECT max(commit_no) INTO horizon FROM changes
   WHERE commit_no IS NOT NULL AND at < now() - keep;
  IF horizon IS NULL THEN
    RETURN 0;
  END IF;
  DELETE FROM changes WHERE commit_no <= horizon;
  GET DIAGNOSTICS n = ROW_COUNT;
  UPDATE feed_clock SET purged_through = greatest(purged_through, horizon);
  RETURN n;
END $$;

-- Housekeeping run by every instance once an hour (idempotent, cheap when nothing is due).
CREATE OR REPLACE FUNCTION housekeeping() RETURNS void LANGUAGE sql AS $$
  SELECT feed_purge(interval '100 days');
  DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours';
  DELETE FROM login_failures
   WHERE window_started_at < now() - interval '1 day'
     AND (locked_until IS NULL OR locked_until < now());
  DELETE FROM revoked_tokens WHERE expires_at < now();
$$;
