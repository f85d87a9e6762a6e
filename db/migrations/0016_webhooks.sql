-- 0016_webhooks: webhook subscriptions (issue 16), their deliveries and the attempts of each.
--
-- A subscription follows the change feed from its own cursor (webhook_cursors): the fan-out
-- (webhook_fanout() in db/functions/12_webhooks.sql) turns the feed rows its events name into
-- deliveries and moves the cursor in one transaction, so no committed change is missed or
-- queued twice. A delivery keeps the exact body it will send; a worker leases it
-- (leased_until, lease_token) for one attempt at a time, and every attempt is logged.

CREATE TABLE webhook_subscriptions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Who made it: the token's sub and role. A partner's deliveries carry public fields only.
  owner_sub text NOT NULL,
  owner_role text NOT NULL CHECK (owner_role IN ('admin', 'coalition', 'partner')),
  url text NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
  events text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 40),
  description text CHECK (length(description) <= 500),
  -- whsec_ and base64 (Standard Webhooks). Kept in clear: every delivery is signed with it.
  secret text NOT NULL CHECK (secret ~ '^whsec_[A-Za-z0-9+/]+={0,2}$'),
  -- After a rotation the old secret signs too, for a day, so receivers can switch over.
  previous_secret text,
  previous_secret_until timestamptz,
  secret_rotated_at timestamptz,
  enabled boolean NOT NULL DEFAULT true,
  disabled_at timestamptz,
  disabled_reason text CHECK (disabled_reason IN ('endpoint_gone', 'failing', 'by_owner')),
  -- The last attempt's answer when the service disabled it ("HTTP 410", "Timeout was reached").
  disabled_detail text CHECK (length(disabled_detail) <= 300),
  -- The first failed attempt since the last success: failing for longer than the retry
  -- window disables the subscription.
  failing_since timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  -- A partner's systems see agency changes only (the rule of its change feed).
  CONSTRAINT webhook_subscriptions_partner_events CHECK (
    owner_role <> 'partner'
    OR events <@ ARRAY['agency.*', 'agency.created', 'agency.updated', 'agency.deleted',
                       'agency.transitioned']),
  CONSTRAINT webhook_subscriptions_disabled CHECK (enabled = (disabled_at IS NULL))
);
CREATE INDEX webhook_subscriptions_owner ON webhook_subscriptions (owner_sub, created_at, id);
CREATE INDEX webhook_subscriptions_created_at ON webhook_subscriptions (created_at, id);
CREATE INDEX webhook_subscriptions_updated_at ON webhook_subscriptions (updated_at, id);

-- The feed position each subscription has read up to, (commit_no, id) as the feed pages. A
-- table of its own: the fan-out locks and moves it without touching the subscription, whose
-- version and ETag change only when its owner's representation does.
CREATE TABLE webhook_cursors (
  subscription_id uuid PRIMARY KEY REFERENCES webhook_subscriptions ON DELETE CASCADE,
  commit_no bigint NOT NULL,
  change_id bigint NOT NULL
);

CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Queue order within a subscription: a resource's deliveries go out in this order.
  seq bigserial NOT NULL UNIQUE,
  subscription_id uuid NOT NULL REFERENCES webhook_subscriptions ON DELETE CASCADE,
  -- The webhook-id header: the same on every attempt and on a redelivery of the message.
  message_id text NOT NULL,
  event text NOT NULL,
  resource text NOT NULL,
  resource_id text NOT NULL,
  -- The feed row it came from (none for a redelivery's copy); rows are purged, so no key.
  change_id bigint,
  payload text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempt_count integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  leased_until timestamptz,
  lease_token uuid,
  delivered_at timestamptz,
  redelivery_of uuid REFERENCES webhook_deliveries ON DELETE SET NULL,
  -- clock_timestamp(): deliveries queued by one fan-out list in queue order.
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- What the workers lease, and what a resource's next delivery waits for.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, seq)
  WHERE status = 'pending';
CREATE INDEX webhook_deliveries_resource_queue
  ON webhook_deliveries (subscription_id, resource, resource_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log_created
  ON webhook_deliveries (subscription_id, created_at, id);
CREATE INDEX webhook_deliveries_log_updated
  ON webhook_deliveries (subscription_id, updated_at, id);

CREATE TABLE webhook_attempts (
  id bigserial PRIMARY KEY,
  delivery_id uuid NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
  at timestamptz NOT NULL DEFAULT now(),
  outcome text NOT NULL CHECK (outcome IN ('succeeded', 'http_error', 'gone', 'timeout',
                                           'connection_error')),
  status_code integer,
  latency_ms integer NOT NULL CHECK (latency_ms >= 0),
  error text CHECK (length(error) <= 300)
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
