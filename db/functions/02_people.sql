-- 02_people: Users and machine clients.

CREATE OR REPLACE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE OR REPLACE TRIGGER clients_touch BEFORE UPDATE ON clients FOR EACH ROW EXECUTE FUNCTION touch_row();

-- Representations: each resource is rendered to JSON in one place, here.
CREATE OR REPLACE FUNCTION user_json(u users) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT '{"id":' || j(u.id) || ',"email":' || j(u.email) || ',"name":' || j(u.name)
    || ',"role":' || j(u.role) || ',"agency_id":' || j(u.agency_id) || ',"active":' || j(u.active)
    || ',"archived_at":' || j(rfc3339(u.archived_at))
    || ',"created_at":' || j(rfc3339(u.created_at)) || ',"updated_at":' || j(rfc3339(u.updated_at))
    || ',"version":' || j(u.version) || '}'
$$;

CREATE OR REPLACE FUNCTION client_json(c clients) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT '{"id":' || j(c.id) || ',"name":' || j(c.name) || ',"role":' || j(c.role)
    || ',"scopes":' || j(c.scopes) || ',"active":' || j(c.active)
    || ',"created_at":' || j(rfc3339(c.created_at)) || ',"updated_at":' || j(rfc3339(c.updated_at))
    || ',"version":' || j(c.version) || '}'
$$;

-- The columns a whole document (d) gives user x. A password arrives hashed, as
-- password_hash (the service hashes it); without one the stored hash stays.
CREATE OR REPLACE FUNCTION user_from_doc(x users, d jsonb) RETURNS users
  LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  x.email := d ->> 'email';
  x.name := d ->> 'name';
  x.role := d ->> 'role';
  x.agency_id := (d ->> 'agency_id')::uuid;
  x.active := coalesce((d ->> 'active')::boolean, true);
  x.password_hash := coalesce(d ->> 'password_hash', x.password_hash);
  x.token_version := coalesce(x.token_version, 1);
  RETURN x;
END $$;

CREATE OR REPLACE FUNCTION user_create(d jsonb) RETURNS users LANGUAGE sql AS $$
  INSERT INTO users SELECT (user_from_doc(new_row(NULL::users), d)).* RETURNING * $$;

CREATE OR REPLACE FUNCTION user_update(id uuid, patch jsonb) RETURNS users LANGUAGE sql AS $$
  UPDATE users u SET (email, name, role, agency_id, active, password_hash)
    = (SELECT n.email, n.name, n.role, n.agency_id, n.active, n.password_hash
       FROM user_from_doc(u, jsonb_merge_patch(user_json(u)::jsonb, patch)) n)
  WHERE u.id = user_update.id RETURNING u.* $$;

-- What holds a user's history: the writes it made (the audit), the moves it recorded, the
-- agencies it advises or manages, the tasks and compliance records assigned to or reviewed by
-- it. The counts that are not zero, as a JSON object; {} when it may be erased.
CREATE OR REPLACE FUNCTION user_dependents(u uuid) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'audit', nullif((SELECT count(*) FROM audit e WHERE e.actor = u::text), 0),
    'transitions', nullif((SELECT count(*) FROM agency_transitions t WHERE t.actor = u::text), 0),
    'agencies', nullif((SELECT count(*) FROM agencies a
                        WHERE u = ANY (a.advisor_ids) OR a.regional_manager_id = u), 0),
    'tasks', nullif((SELECT count(*) FROM tasks t WHERE t.assignee_id = u), 0),
    'compliance', nullif((SELECT count(*) FROM compliance c
                          WHERE c.assignee_id = u OR c.reviewed_by = u), 0))) $$;

-- ----------------------------------------------------------------- token standing

-- A change to what a token stands for ends the account's tokens: when one of the columns
-- named by the trigger's arguments changes, the account's token version moves, and a token
-- that carries the old one is refused from then on (auth/revocation.c).
CREATE OR REPLACE FUNCTION token_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  before jsonb := to_jsonb(OLD);
  after jsonb := to_jsonb(NEW);
  col text;
BEGIN
  FOREACH col IN ARRAY TG_ARGV LOOP
    IF after -> col IS DISTINCT FROM before -> col THEN
      NEW.token_version := OLD.token_version + 1;
      EXIT;
    END IF;
  END LOOP;
  RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER users_token_version BEFORE UPDATE ON users FOR EACH ROW
  EXECUTE FUNCTION token_version_bump('role', 'agency_id', 'active', 'archived_at',
                                       'password_hash');
CREATE OR REPLACE TRIGGER clients_token_version BEFORE UPDATE ON clients FOR EACH ROW
  EXECUTE FUNCTION token_version_bump('role', 'scopes', 'active', 'secret_hash');

-- Every instance keeps the token subjects it checked: the channel acredita_tokens names
-- each subject whose standing changed (its id), delivered when the change commits.
CREATE OR REPLACE FUNCTION token_subject_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.token_version IS DISTINCT FROM OLD.token_version THEN
    PERFORM pg_notify('acredita_tokens', OLD.id::text);
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION revoked_token_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('acredita_tokens', NEW.sub);
  RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER users_token_notify AFTER UPDATE OR DELETE ON users FOR EACH ROW
  EXECUTE FUNCTION token_subject_notify();
CREATE OR REPLACE TRIGGER clients_token_notify AFTER UPDATE OR DELETE ON clients FOR EACH ROW
  EXECUTE FUNCTION token_subject_notify();
CREATE OR REPLACE TRIGGER revoked_tokens_notify AFTER INSERT ON revoked_tokens FOR EACH ROW
  EXECUTE FUNCTION revoked_token_notify();

-- A token's subject as a request checks it: the account's token version and whether it is
-- active and not archived (NULLs when the subject names no account: a token an operator minted for a
-- script), and the ids of its tokens revoked one by one that have not expired.
CREATE OR REPLACE FUNCTION token_subject(sub text)
  RETURNS TABLE (version integer, active boolean, revoked text[]) LANGUAGE sql STABLE AS $$
  SELECT a.token_version, a.active,
         ARRAY(SELECT r.jti FROM revoked_tokens r
                WHERE r.sub = token_subject.sub AND r.expires_at > now() ORDER BY r.jti)
  FROM (SELECT CASE WHEN token_subject.sub ~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                    THEN token_subject.sub::uuid END AS id) s
  LEFT JOIN LATERAL (SELECT u.token_version, u.active AND u.archived_at IS NULL AS active
                     FROM users u WHERE u.id = s.id
                     UNION ALL
                     SELECT c.token_version, c.active FROM clients c WHERE c.id = s.id
                     LIMIT 1) a ON true
$$;
