-- 0008_perf: indexes the benchmark (bench/, issue 8) asked for. (Its faster function bodies
-- live in db/functions/.)

-- Lists page by keyset in name order; with a filter on type or state the page is read in
-- index order from the first row that matches (a state is 1/32 of the agencies: through
-- agencies_name a page read some 1,600 rows to keep 50).
CREATE INDEX agencies_type_name ON agencies (type, name, id);
CREATE INDEX agencies_state_name ON agencies (state, name, id);

-- A task list of one agency, in due order (the default sort), reads the agency's tasks in
-- that order and stops at the page's end, instead of reading them all to sort them.
CREATE INDEX tasks_agency_due_order ON tasks (agency_id, (coalesce(due_on, 'infinity'::date)), id);
