/*
 * sql.h — shapes of SQL that every resource writes the same way.
 *
 * PAGE_SQL builds one keyset page statement of a list (see struct list_spec in http.h for
 * the parameter numbering): rows of (json, sort key as text, id) after the cursor's
 * (key, id), ordered by key then id, at most $lim rows. Only static SQL text goes in; every
 * value is a parameter.
 */
#ifndef ACREDITA_SQL_H
#define ACREDITA_SQL_H

#define PAGE_SQL(json, from, where, key, keytype, op, dir, k, i, lim)                              \
  "SELECT " json ", (" key ")::text, id FROM " from " WHERE " where " AND ($" k                    \
  "::text IS NULL OR (" key ", id) " op " ($" k "::" keytype ", $" i "::uuid))"                    \
  " ORDER BY " key " " dir ", id " dir " LIMIT $" lim "::int"

/* Ascending and descending page statements for one sort key. */
#define PAGE_PAIR(name, json, from, where, key, keytype, k, i, lim)                                \
  {name "_asc", PAGE_SQL(json, from, where, key, keytype, ">", "ASC", k, i, lim), 0}, {            \
    name "_desc", PAGE_SQL(json, from, where, key, keytype, "<", "DESC", k, i, lim), 0             \
  }

#endif
