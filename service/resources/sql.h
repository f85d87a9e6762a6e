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

#define PAGE_STMTS(name, json, from, where, key, keytype, k, i, lim)                               \
  {                                                                                                \
    {name "_asc", PAGE_SQL(json, from, where, key, keytype, ">", "ASC", k, i, lim)}, {             \
      name "_desc", PAGE_SQL(json, from, where, key, keytype, "<", "DESC", k, i, lim)              \
    }                                                                                              \
  }

/* One sort of a list (struct list_sort): its field, its JSON pages, ascending and descending,
 * named stmt_asc and stmt_desc; $k, $i and $lim number the cursor's key, id and the limit. */
#define LIST_SORT(stmt, field, json, from, where, key, keytype, k, i, lim)                         \
  { field, PAGE_STMTS(stmt, json, from, where, key, keytype, k, i, lim) }

/* The same, with the rows as CSV records too (csv: the record expression). */
#define LIST_SORT_CSV(stmt, field, json, csv, from, where, key, keytype, k, i, lim)                \
  {                                                                                                \
    field, PAGE_STMTS(stmt, json, from, where, key, keytype, k, i, lim),                           \
        PAGE_STMTS(stmt "_csv", csv, from, where, key, keytype, k, i, lim)                         \
  }

/* A CSV list's fingerprint: what its rows are made of (how many, their versions, and today,
 * on which derived values depend). Its ETag hashes this, not the streamed bytes. */
#define CSV_FINGERPRINT_SQL(alias, from, where)                                                    \
  "SELECT count(*) || ':' || coalesce(sum(hashtextextended(" alias ".id::text || ':' || " alias    \
  ".version, 0)), 0) || ':' || mx_today() FROM " from " WHERE " where

#endif
