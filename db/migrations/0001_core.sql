-- 0001_core: what the walking skeleton needs: people and machine clients, login throttling,
-- idempotency keys and the audit trail, plus helpers every later migration uses.

CREATE EXTENSION IF NOT EXISTS unaccent;

-- unaccent() is only STABLE (it depends on the dictionary search path); this wrapper names
-- the dictionary so it can be IMMUTABLE and used in indexes. Lower-cased too: it is the
-- form every case- and accent-insensitive search compares.
CREATE FUNCTION fold(t text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, t)) $$;

-- RFC 3339 in UTC with a Z, second precision: the one timestamp format of the API.
CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

-- The fields that differ between two JSON objects, as {field: [before, after]}.
CREATE FUNCTION json_changes(before jsonb, after jsonb) RETURNS jsonb
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$
    SELECT coalesce(jsonb_object_agg(k, jsonb_build_array(before -> k, after -> k)), '{}')
    FROM (SELECT jsonb_object_keys(coalesce(before, '{}')) AS k
          UNION SELECT jsonb_object_keys(coalesce(after, '{}'))) keys
    WHERE (before -> k) IS DISTINCT FROM (after -> k)
      AND k NOT IN ('updated_at', 'version')
  $$;

-- Every stored resource bumps version and updated_at on each change.
CREATE FUNCTION touch_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  NEW.version := OLD.version + 1;
  RETURN NEW;
END $$;

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
CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_row();

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
CREATE TRIGGER clients_touch BEFORE UPDATE ON clients FOR EACH ROW EXECUTE FUNCTION touch_row();

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

-- Representations: each resource is rendered to JSON in one place, here.
CREATE FUNCTION user_json(u users) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', u.id, 'email', u.email, 'name', u.name, 'role', u.role,
    'agency_id', u.agency_id, 'active', u.active, 'created_at', rfc3339(u.created_at),
    'updated_at', rfc3339(u.updated_at), 'version', u.version)::text
$$;

CREATE FUNCTION client_json(c clients) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', c.id, 'name', c.name, 'role', c.role, 'scopes', c.scopes,
    'active', c.active, 'created_at', rfc3339(c.created_at),
    'updated_at', rfc3339(c.updated_at), 'version', c.version)::text
$$;

-- A LIKE pattern that finds q anywhere, accent- and case-insensitively, with q's own % and _
-- taken literally.
CREATE FUNCTION contains_pattern(q text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
  AS $$ SELECT '%' || replace(replace(replace(fold(q), '\', '\\'), '%', '\%'), '_', '\_') || '%' $$;

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
