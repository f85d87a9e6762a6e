-- 08_feed: The audit trail and the change feed, and housekeeping.

-- What a poller of the change feed acts on: an archive or an erasure is a tombstone
-- (deleted), a restore brings the record back (created); the audit's other actions are
-- updates of the record.
CREATE OR REPLACE FUNCTION feed_action(action text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN action IN ('created', 'updated', 'deleted', 'transitioned') THEN action
              WHEN action IN ('archived', 'erased') THEN 'deleted'
              WHEN action = 'restored' THEN 'created'
              ELSE 'updated' END $$;

-- The resources whose writes go to the change feed: the domain's. The accounts, the callers'
-- own settings (webhook subscriptions, calendar tokens) and requests about the protocol are
-- audited only.
CREATE OR REPLACE FUNCTION change_journaled(resource text) RETURNS boolean
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT resource IN ('agency', 'transition', 'standard', 'compliance', 'task', 'webinar',
                            'workshop', 'registration') $$;

/*
 * One audited write, the only place that writes either record: the audit entry (who, as what
 * role, under which request, the fields that changed, and why when there is a note; an
 * erasure also keeps the whole record as it was) and, for the resources of the change feed
 * (change_journaled()), the feed's row. Returns the feed row's id, or NULL. The row
 * gets its commit number from feed_stamp() just before COMMIT. The service (db_audit()) and
 * the demo seed both write through it.
 *   $1 actor, $2 role, $3 request id, $4 action, $5 resource, $6 its id, $7 before, $8 after,
 *   $9 note.
 */
CREATE OR REPLACE FUNCTION record_write(actor text, actor_role text, request_id text, action text,
                                        resource text, resource_id text, before jsonb, after jsonb,
                                        note text DEFAULT NULL) RETURNS bigint
  LANGUAGE sql AS $$
  WITH entry AS (
    INSERT INTO audit (actor, role, request_id, action, resource, resource_id, changes, note,
                       before_image)
    VALUES ($1, $2, $3, $4, $5, $6, json_changes($7, $8), $9,
            CASE WHEN $4 = 'erased' THEN $7 END)
    RETURNING changes)
  INSERT INTO changes (resource, resource_id, action, changed)
  SELECT $5, $6, feed_action($4), ARRAY(SELECT jsonb_object_keys(entry.changes) ORDER BY 1)
  FROM entry
  WHERE change_journaled($5)
  RETURNING id $$;

-- Stamps feed rows (by id: primary-key lookups) with the next commit number. Called last
-- before COMMIT: the clock's row lock, held until the commit, orders commit numbers by commit.
-- Without rows the clock stays.
CREATE OR REPLACE FUNCTION feed_stamp(ids bigint[]) RETURNS void LANGUAGE sql AS $$
  WITH tick AS (UPDATE feed_clock SET last = last + 1 WHERE cardinality($1) > 0 RETURNING last)
  UPDATE changes SET commit_no = tick.last FROM tick WHERE changes.id = ANY ($1) $$;

-- The agency fields a partner system may see (the public view).
CREATE OR REPLACE FUNCTION public_agency_fields() RETURNS text[] LANGUAGE sql IMMUTABLE
  AS $$ SELECT ARRAY['name', 'type', 'level', 'state', 'status', 'accredited_on',
                     'accreditation_expires_on'] $$;

-- Which feed rows a role sees, and which of their changed fields: a partner system sees
-- agency changes to public fields only. The change feed and the webhooks apply this one rule.
CREATE OR REPLACE FUNCTION change_visible_to(resource text, changed text[], role text)
  RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT role <> 'partner' OR (resource = 'agency' AND changed && public_agency_fields()) $$;

CREATE OR REPLACE FUNCTION change_fields_for(changed text[], role text) RETURNS text[]
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN role = 'partner'
                THEN ARRAY(SELECT f FROM unnest(changed) f WHERE f = ANY (public_agency_fields())
                           ORDER BY f)
                ELSE changed END $$;


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

-- Stores afresh the documents of the agencies and tasks that are stale for today (a
-- date-derived value in them changed), at most max_rows of each table,
-- skipping rows that other transactions hold. Returns how many it stored. The housekeeping
-- thread calls it after midnight (Mexico City) until it returns 0, each call a transaction of
-- its own, so that reads and writes go on meanwhile; a stale document is rendered afresh on
-- read until then (agency_document(), task_document()). The order makes the plan read the
-- index on fresh_until (and so nothing, on the many minutes when no row is due), where a
-- generic plan without it could scan the table.
CREATE OR REPLACE FUNCTION documents_refresh(max_rows int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  today date := mx_today();
  agencies_done int;
  tasks_done int;
BEGIN
  PERFORM set_config('acredita.rendering', 'on', true);
  WITH due AS (SELECT x.id FROM agencies x WHERE x.fresh_until <= today
               ORDER BY x.fresh_until LIMIT max_rows FOR UPDATE SKIP LOCKED)
  UPDATE agencies a SET document = agency_json(a), public_document = agency_public_json(a),
      rendered_on = today, fresh_until = agency_fresh_until(a, today)
  FROM due WHERE a.id = due.id;
  GET DIAGNOSTICS agencies_done = ROW_COUNT;
  WITH due AS (SELECT x.id FROM tasks x WHERE x.fresh_until <= today
               ORDER BY x.fresh_until LIMIT max_rows FOR UPDATE SKIP LOCKED)
  UPDATE tasks t SET document = task_json(t), rendered_on = today,
      fresh_until = task_fresh_until(t, today)
  FROM due WHERE t.id = due.id;
  GET DIAGNOSTICS tasks_done = ROW_COUNT;
  PERFORM set_config('acredita.rendering', 'off', true);
  RETURN agencies_done + tasks_done;
END $$;

-- Every stored document rendered again: after the functions that render them changed
-- (acredita migrate runs it with them, in their transaction).
CREATE OR REPLACE FUNCTION documents_render_all() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  today date := mx_today();
BEGIN
  PERFORM set_config('acredita.rendering', 'on', true);
  UPDATE agencies a SET document = agency_json(a), public_document = agency_public_json(a),
      rendered_on = today, fresh_until = agency_fresh_until(a, today);
  UPDATE tasks t SET document = task_json(t), rendered_on = today,
      fresh_until = task_fresh_until(t, today);
  PERFORM set_config('acredita.rendering', 'off', true);
END $$;
