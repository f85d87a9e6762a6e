-- 02_people: Users and machine clients.

CREATE OR REPLACE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_row();

CREATE OR REPLACE TRIGGER clients_touch BEFORE UPDATE ON clients FOR EACH ROW EXECUTE FUNCTION touch_row();

-- Representations: each resource is rendered to JSON in one place, here.
CREATE OR REPLACE FUNCTION user_json(u users) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', u.id, 'email', u.email, 'name', u.name, 'role', u.role,
    'agency_id', u.agency_id, 'active', u.active, 'created_at', rfc3339(u.created_at),
    'updated_at', rfc3339(u.updated_at), 'version', u.version)::text
$$;

CREATE OR REPLACE FUNCTION client_json(c clients) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT json_build_object('id', c.id, 'name', c.name, 'role', c.role, 'scopes', c.scopes,
    'active', c.active, 'created_at', rfc3339(c.created_at),
    'updated_at', rfc3339(c.updated_at), 'version', c.version)::text
$$;
