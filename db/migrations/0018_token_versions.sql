-- 0018_token_versions: tokens end with the account that they name, and one by one.
--
-- A token carries its account's token version (the "ver" claim). The version moves when
-- the account changes in a way that must end its tokens (role, agency, deactivation, a new
-- password or secret: db/functions/02_people.sql), and every request compares the two, so a
-- deleted, deactivated, demoted or re-keyed account's tokens stop working at once.
ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 1;
ALTER TABLE clients ADD COLUMN token_version integer NOT NULL DEFAULT 1;

-- Tokens their holders ended before they expire (POST /v1/auth/revoke, RFC 7009), by their
-- "jti", kept until then.
CREATE TABLE revoked_tokens (
  jti text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 64),
  sub text NOT NULL,
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_sub ON revoked_tokens (sub, expires_at);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
