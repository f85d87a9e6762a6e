-- 12_webhooks: webhook subscriptions, the fan-out of the change feed into deliveries, the
-- workers' leases and the record of each attempt (issue 16).
--
-- Deliveries go out at least once, in order per resource: a delivery is leased only when no
-- earlier delivery of the same subscription and resource is still pending, whether that one
-- is being sent or waiting for its retry. Leases are taken with FOR UPDATE SKIP LOCKED, so
-- several instances share the work and never send one delivery at the same time.

CREATE OR REPLACE TRIGGER webhook_subscriptions_touch BEFORE UPDATE ON webhook_subscriptions
  FOR EACH ROW EXECUTE FUNCTION touch_row();

-- How long a failing delivery is retried, and a failing subscription kept enabled.
CREATE OR REPLACE FUNCTION webhook_retry_window() RETURNS interval LANGUAGE sql IMMUTABLE
  AS $$ SELECT interval '3 days' $$;

-- Who sees and changes a subscription: its owner, and administrators.
CREATE OR REPLACE FUNCTION webhook_visible(s webhook_subscriptions, role text, sub text)
  RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT role = 'admin' OR s.owner_sub = sub $$;

-- Why a subscription is disabled, for its owner, in both languages.
CREATE OR REPLACE FUNCTION webhook_disabled_text(s webhook_subscriptions) RETURNS json
  LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s.disabled_reason
      WHEN 'endpoint_gone' THEN json_build_object(
        'es', 'El receptor respondió 410 Gone: las entregas se detuvieron. Cuando el receptor '
              'vuelva a existir, habilite la suscripción (enabled: true) y las entregas pendientes seguirán.',
        'en', 'The endpoint answered 410 Gone: deliveries stopped. Once the endpoint exists again, '
              'enable the subscription (enabled: true) and the pending deliveries resume.')
      WHEN 'failing' THEN json_build_object(
        'es', format('Todas las entregas fallaron durante más de %s (desde %s; última respuesta: %s). '
                     'Corrija el receptor y habilite la suscripción (enabled: true).',
                     '3 días', rfc3339(s.failing_since), s.disabled_detail),
        'en', format('Every delivery failed for more than %s (since %s; last answer: %s). '
                     'Fix the endpoint and enable the subscription (enabled: true).',
                     '3 days', rfc3339(s.failing_since), s.disabled_detail))
      WHEN 'by_owner' THEN json_build_object('es', 'Deshabilitada por su dueño.',
                                             'en', 'Disabled by its owner.')
    END $$;

CREATE OR REPLACE FUNCTION webhook_json(s webhook_subscriptions) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_compact(json_build_object(
    'id', s.id, 'url', s.url, 'events', to_json(s.events), 'description', s.description,
    'enabled', s.enabled,
    'disabled', CASE WHEN NOT s.enabled THEN json_build_object(
      'at', rfc3339(s.disabled_at), 'reason', s.disabled_reason,
      'message', webhook_disabled_text(s)) END,
    'failing_since', rfc3339(s.failing_since),
    'secret_rotated_at', rfc3339(s.secret_rotated_at),
    'owner', json_build_object('sub', s.owner_sub, 'role', s.owner_role),
    'created_at', rfc3339(s.created_at), 'updated_at', rfc3339(s.updated_at),
    'version', s.version))
$$;

-- The columns a whole document (d) gives subscription x. Disabling by the owner records it;
-- enabling clears why it was disabled and the failing streak.
CREATE OR REPLACE FUNCTION webhook_from_doc(x webhook_subscriptions, d jsonb)
  RETURNS webhook_subscriptions LANGUAGE plpgsql STABLE AS $$
DECLARE
  want boolean := coalesce((d ->> 'enabled')::boolean, true);
BEGIN
  x.url := d ->> 'url';
  x.events := ARRAY(SELECT DISTINCT e FROM jsonb_array_elements_text(d -> 'events') e ORDER BY e);
  x.description := d ->> 'description';
  IF want AND x.enabled IS DISTINCT FROM true THEN
    x.enabled := true;
    x.disabled_at := NULL;
    x.disabled_reason := NULL;
    x.disabled_detail := NULL;
    x.failing_since := NULL;
  ELSIF NOT want AND x.enabled IS DISTINCT FROM false THEN
    x.enabled := false;
    x.disabled_at := now();
    x.disabled_reason := 'by_owner';
    x.disabled_detail := NULL;
  END IF;
  RETURN x;
END $$;

-- A new subscription of (role, sub) hears the changes committed after it: its cursor starts
-- at the end of the feed.
CREATE OR REPLACE FUNCTION webhook_create(d jsonb, role text, sub text)
  RETURNS webhook_subscriptions LANGUAGE plpgsql AS $$
DECLARE
  s webhook_subscriptions;
BEGIN
  s := webhook_from_doc(new_row(NULL::webhook_subscriptions), d);
  s.owner_sub := sub;
  s.owner_role := role;
  s.secret := d ->> 'secret';
  INSERT INTO webhook_subscriptions SELECT s.* RETURNING * INTO s;
  INSERT INTO webhook_cursors (subscription_id, commit_no, change_id)
    SELECT s.id, f.last, 9223372036854775807 FROM feed_clock f;
  RETURN s;
END $$;

-- Applies a merge patch to the representation. A subscription enabled again sends its
-- pending deliveries at once.
CREATE OR REPLACE FUNCTION webhook_update(id uuid, patch jsonb) RETURNS webhook_subscriptions
  LANGUAGE plpgsql AS $$
DECLARE
  s webhook_subscriptions;
  n webhook_subscriptions;
BEGIN
  SELECT * INTO s FROM webhook_subscriptions w WHERE w.id = webhook_update.id;
  n := webhook_from_doc(s, jsonb_merge_patch(webhook_json(s)::jsonb, patch));
  UPDATE webhook_subscriptions w SET (url, events, description, enabled, disabled_at,
      disabled_reason, disabled_detail, failing_since)
    = (n.url, n.events, n.description, n.enabled, n.disabled_at, n.disabled_reason,
       n.disabled_detail, n.failing_since)
  WHERE w.id = s.id RETURNING * INTO n;
  IF n.enabled AND NOT s.enabled THEN
    UPDATE webhook_deliveries SET next_attempt_at = now(), updated_at = now()
    WHERE subscription_id = s.id AND status = 'pending';
  END IF;
  RETURN n;
END $$;

-- A new secret; the previous one keeps signing beside it for a day.
CREATE OR REPLACE FUNCTION webhook_rotate_secret(id uuid, secret text)
  RETURNS webhook_subscriptions LANGUAGE sql AS $$
  UPDATE webhook_subscriptions s SET previous_secret = s.secret,
    previous_secret_until = now() + interval '1 day', secret = webhook_rotate_secret.secret,
    secret_rotated_at = now()
  WHERE s.id = webhook_rotate_secret.id RETURNING s.* $$;

CREATE OR REPLACE FUNCTION webhook_delivery_json(d webhook_deliveries) RETURNS text
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN json_compact(json_build_object(
    'id', d.id, 'subscription_id', d.subscription_id, 'message_id', d.message_id,
    'event', d.event, 'resource', d.resource, 'resource_id', d.resource_id,
    'status', d.status, 'attempt_count', d.attempt_count,
    'next_attempt_at', CASE WHEN d.status = 'pending' THEN rfc3339(d.next_attempt_at) END,
    'delivered_at', rfc3339(d.delivered_at), 'redelivery_of', d.redelivery_of,
    'payload', d.payload::json,
    'attempts', coalesce((
      SELECT json_agg(json_build_object('at', rfc3339(a.at), 'outcome', a.outcome,
                                        'status_code', a.status_code,
                                        'latency_ms', a.latency_ms, 'error', a.error)
                      ORDER BY a.id)
      FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]'),
    'created_at', rfc3339(d.created_at), 'updated_at', rfc3339(d.updated_at)));
END $$;

-- The body of a webhook (Standard Webhooks: type, timestamp, data): the change feed's entry,
-- with the fields the subscriber's role may see.
CREATE OR REPLACE FUNCTION webhook_payload(c changes, role text) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT json_compact(json_build_object('type', c.resource || '.' || c.action, 'timestamp', rfc3339(c.at),
    'data', json_build_object('resource', c.resource, 'id', c.resource_id, 'action', c.action,
                              'changed', to_json(change_fields_for(c.changed, role)),
                              'at', rfc3339(c.at))))
$$;

-- Turns up to batch new feed rows of each enabled subscription into deliveries of the events
-- it asked for, and moves its cursor past them, in this transaction. A subscription another
-- instance is fanning out is skipped. Returns the number of deliveries queued.
CREATE OR REPLACE FUNCTION webhook_fanout(batch integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  cur webhook_cursors;
  s webhook_subscriptions;
  queued integer := 0;
  n integer;
  last_commit bigint;
  last_change bigint;
BEGIN
  FOR cur IN
    SELECT k.* FROM webhook_cursors k JOIN webhook_subscriptions w ON w.id = k.subscription_id
    WHERE w.enabled AND EXISTS (SELECT 1 FROM changes c WHERE c.commit_no IS NOT NULL
                                  AND (c.commit_no, c.id) > (k.commit_no, k.change_id))
    FOR UPDATE OF k SKIP LOCKED
  LOOP
    SELECT * INTO s FROM webhook_subscriptions WHERE id = cur.subscription_id;
    WITH fresh AS (
      SELECT c.* FROM changes c
      WHERE c.commit_no IS NOT NULL AND (c.commit_no, c.id) > (cur.commit_no, cur.change_id)
      ORDER BY c.commit_no, c.id LIMIT batch),
    made AS (
      INSERT INTO webhook_deliveries (subscription_id, message_id, event, resource, resource_id,
                                      change_id, payload)
      SELECT s.id, 'msg_' || replace(gen_random_uuid()::text, '-', ''),
             f.resource || '.' || f.action, f.resource, f.resource_id, f.id,
             webhook_payload(f, s.owner_role)
      FROM fresh f
      WHERE change_visible_to(f.resource, f.changed, s.owner_role)
        AND (f.resource || '.' || f.action = ANY (s.events) OR f.resource || '.*' = ANY (s.events))
      ORDER BY f.commit_no, f.id
      RETURNING 1)
    SELECT (SELECT count(*) FROM made), l.commit_no, l.id INTO n, last_commit, last_change
    FROM (SELECT f.commit_no, f.id FROM fresh f ORDER BY f.commit_no DESC, f.id DESC LIMIT 1) l;
    IF last_commit IS NOT NULL THEN
      UPDATE webhook_cursors SET commit_no = last_commit, change_id = last_change
      WHERE subscription_id = cur.subscription_id;
      queued := queued + n;
    END IF;
  END LOOP;
  RETURN queued;
END $$;

-- Leases up to n due deliveries for lease_ms: each is the first pending delivery of its
-- resource in its subscription, and the subscription is enabled. Returns what a worker needs
-- to send each one, with the lease's token (webhook_record() takes it back). secrets holds
-- the subscription's secret and, for a day after a rotation, the previous one.
CREATE OR REPLACE FUNCTION webhook_lease(n integer, lease_ms integer)
  RETURNS TABLE (delivery_id uuid, lease uuid, url text, secrets text, message_id text,
                 payload text)
  LANGUAGE sql AS $$
  WITH picked AS (
    SELECT d.id FROM webhook_deliveries d
    JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.enabled
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
      AND (d.leased_until IS NULL OR d.leased_until < now())
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                      WHERE e.subscription_id = d.subscription_id AND e.resource = d.resource
                        AND e.resource_id = d.resource_id AND e.status = 'pending'
                        AND e.seq < d.seq)
    ORDER BY d.next_attempt_at, d.seq LIMIT n
    FOR UPDATE OF d SKIP LOCKED),
  token AS (SELECT gen_random_uuid() AS t)
  UPDATE webhook_deliveries d
  SET leased_until = now() + make_interval(secs => lease_ms / 1000.0), lease_token = token.t
  FROM picked, token, webhook_subscriptions s
  WHERE d.id = picked.id AND s.id = d.subscription_id
  RETURNING d.id, token.t, s.url,
    concat_ws(' ', s.secret, CASE WHEN s.previous_secret_until > now() THEN s.previous_secret END),
    d.message_id, d.payload
$$;

-- Records one attempt of a leased delivery (outcome: succeeded, http_error, gone, timeout,
-- connection_error) and decides what follows. Success ends the subscription's failing streak.
-- A failure is retried after retry_base_ms × 2^(attempts before), at most an hour apart,
-- until the delivery is older than the retry window; then it is given up (failed). 410 Gone
-- disables the subscription at once and keeps the delivery for when it is enabled again; a
-- subscription failing for longer than the window is disabled. Returns the delivery's status,
-- or NULL when the lease was lost (its time ran out and another attempt took it).
CREATE OR REPLACE FUNCTION webhook_record(delivery uuid, lease uuid, outcome text, code integer,
                                          latency_ms integer, error text, retry_base_ms integer)
  RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  d webhook_deliveries;
  s webhook_subscriptions;
  wait interval;
  detail text := coalesce('HTTP ' || code, error);
BEGIN
  -- The subscription first, then the delivery: the order a PATCH locks them in.
  SELECT w.* INTO s FROM webhook_subscriptions w
  WHERE w.id = (SELECT x.subscription_id FROM webhook_deliveries x WHERE x.id = delivery)
  FOR NO KEY UPDATE;
  SELECT * INTO d FROM webhook_deliveries x WHERE x.id = delivery AND x.lease_token = lease
  FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  INSERT INTO webhook_attempts (delivery_id, outcome, status_code, latency_ms, error)
  VALUES (delivery, outcome, code, greatest(latency_ms, 0), left(error, 300));

  IF outcome = 'succeeded' THEN
    UPDATE webhook_deliveries SET status = 'succeeded', attempt_count = attempt_count + 1,
      delivered_at = now(), leased_until = NULL, lease_token = NULL, updated_at = now()
    WHERE id = delivery;
    IF s.failing_since IS NOT NULL THEN
      UPDATE webhook_subscriptions SET failing_since = NULL WHERE id = s.id;
    END IF;
    RETURN 'succeeded';
  END IF;

  wait := least(make_interval(secs => retry_base_ms / 1000.0 * 2 ^ least(d.attempt_count, 20)),
                interval '1 hour');
  UPDATE webhook_deliveries SET attempt_count = attempt_count + 1, leased_until = NULL,
    lease_token = NULL, updated_at = now(),
    status = CASE WHEN outcome <> 'gone' AND now() >= d.created_at + webhook_retry_window()
                  THEN 'failed' ELSE 'pending' END,
    next_attempt_at = CASE WHEN outcome = 'gone' THEN now() ELSE now() + wait END
  WHERE id = delivery RETURNING * INTO d;

  IF s.failing_since IS NULL THEN
    UPDATE webhook_subscriptions w SET failing_since = now() WHERE w.id = s.id RETURNING * INTO s;
  END IF;
  IF outcome = 'gone' OR s.failing_since <= now() - webhook_retry_window() THEN
    UPDATE webhook_subscriptions SET enabled = false, disabled_at = now(),
      disabled_reason = CASE WHEN outcome = 'gone' THEN 'endpoint_gone' ELSE 'failing' END,
      disabled_detail = left(detail, 300)
    WHERE id = s.id AND enabled;
  END IF;
  RETURN d.status;
END $$;

-- Queues a delivery's message again (same webhook-id and body) behind the resource's other
-- pending deliveries.
CREATE OR REPLACE FUNCTION webhook_redeliver(subscription uuid, delivery uuid)
  RETURNS webhook_deliveries LANGUAGE sql AS $$
  INSERT INTO webhook_deliveries (subscription_id, message_id, event, resource, resource_id,
                                  change_id, payload, redelivery_of)
  SELECT d.subscription_id, d.message_id, d.event, d.resource, d.resource_id, d.change_id,
         d.payload, d.id
  FROM webhook_deliveries d WHERE d.id = delivery AND d.subscription_id = subscription
  RETURNING * $$;
