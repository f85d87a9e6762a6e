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
