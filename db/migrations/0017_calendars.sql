-- 0017_calendars: calendar tokens (issue 16). Calendar apps cannot send a bearer token, so
-- an agency's deadline feed (GET /v1/agencies/{id}/due.ics) is read with a token in its URL.
-- Each token belongs to one user and opens one agency's feed; only its SHA-256 is stored.
-- Its owner lists and revokes it under /v1/me; it stops working as soon as the owner may no
-- longer read that agency (deactivated, reassigned).

CREATE TABLE calendar_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_sub text NOT NULL,
  agency_id uuid NOT NULL REFERENCES agencies ON DELETE CASCADE,
  name text CHECK (length(name) BETWEEN 1 AND 200),
  token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  last_used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1
);
CREATE INDEX calendar_tokens_owner_created ON calendar_tokens (owner_sub, created_at, id);
CREATE INDEX calendar_tokens_owner_updated ON calendar_tokens (owner_sub, updated_at, id);
