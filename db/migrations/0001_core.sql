-- 0001_core: what the walking skeleton needs: people and machine clients, login throttling,
-- idempotency keys and the audit trail, plus helpers every later migration uses.

CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  role text NOT NULL CHECK (role IN ('admin', 'inl', 'advisor', 'agency', 'coalition', 'partner')),
  agency_id uuid,
  active boolean NOT NULL DEFAULT true,
  password_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT users_agency_role CHECK ((role = 'agency') = (agency_id IS NOT NULL))
);
-- Emails compare case-insensitively.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_created_at ON users (created_at, id);
CREATE INDEX users_updated_at ON users (updated_at, id);

CREATE TABLE clients (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  role text NOT NULL CHECK (role IN ('partner', 'coalition', 'inl')),
  scopes text[] NOT NULL DEFAULT '{}',
  secret_hash text NOT NULL,
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1
);
CREATE INDEX clients_created_at ON clients (created_at, id);

-- Failed sign-ins per account (an email or a client id, whether it exists or not), so that
-- every instance throttles alike.
CREATE TABLE login_failures (
  account text PRIMARY KEY,
  failures integer NOT NULL,
  window_started_at timestamptz NOT NULL,
  locked_until timestamptz
);

-- Idempotency-Key: the first successful response of a creating POST, written in the same
-- transaction as its effect. Keys belong to the caller that sent them.
CREATE TABLE idempotency_keys (
  principal text NOT NULL,
  key text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
  method text NOT NULL,
  path text NOT NULL,
  request_hash text NOT NULL,
  status integer NOT NULL,
  location text,
  body text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- One entry per write: who, as what role, when, under which request, and what changed.
CREATE TABLE audit (
  seq bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  role text NOT NULL,
  request_id text NOT NULL,
  action text NOT NULL,
  resource text NOT NULL,
  resource_id text NOT NULL,
  changes jsonb NOT NULL
);
CREATE INDEX audit_resource ON audit (resource, resource_id, seq);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_at ON audit (at);

-- The change feed's journal (GET /v1/changes). Each audited write of a domain resource adds
-- a row in its own transaction. Just before COMMIT the transaction takes the next commit
-- number from feed_clock; the row lock on the clock is held until the commit, so commit
-- numbers are handed out in commit order and a number, once visible, is never preceded by a
-- smaller one that becomes visible later. Pollers page by (commit_no, id).
CREATE TABLE feed_clock (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  last bigint NOT NULL
);
INSERT INTO feed_clock VALUES (true, 0);

CREATE TABLE changes (
  id bigserial PRIMARY KEY,
  commit_no bigint,
  txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  at timestamptz NOT NULL DEFAULT now(),
  resource text NOT NULL,
  resource_id text NOT NULL,
  action text NOT NULL CHECK (action IN ('created', 'updated', 'deleted', 'transitioned')),
  changed text[] NOT NULL
);
CREATE INDEX changes_feed ON changes (commit_no, id) WHERE commit_no IS NOT NULL;
CREATE INDEX changes_unstamped ON changes (txid) WHERE commit_no IS NULL;
CREATE INDEX changes_at ON changes (at);
