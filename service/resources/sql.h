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

/* The two sorts every list of stored records has: created_at and updated_at (t: the table's
 * alias), named stmt_by_created and stmt_by_updated. */
#define LIST_SORTS_BY_TIME(stmt, json, from, where, t, k, i, lim)                                  \
  LIST_SORT(stmt "_by_created", "created_at", json, from, where, t ".created_at", "timestamptz",   \
            k, i, lim),                                                                            \
      LIST_SORT(stmt "_by_updated", "updated_at", json, from, where, t ".updated_at",              \
                "timestamptz", k, i, lim)
#define LIST_SORTS_BY_TIME_CSV(stmt, json, csv, from, where, t, k, i, lim)                         \
  LIST_SORT_CSV(stmt "_by_created", "created_at", json, csv, from, where, t ".created_at",         \
                "timestamptz", k, i, lim),                                                         \
      LIST_SORT_CSV(stmt "_by_updated", "updated_at", json, csv, from, where, t ".updated_at",     \
                    "timestamptz", k, i, lim)

/* A list's sorts, ended: its own first (field, on key), then created_at and updated_at. */
#define LIST_SORTS(stmt, field, json, from, where, key, keytype, t, k, i, lim)                     \
  LIST_SORT(stmt "_by_" field, field, json, from, where, key, keytype, k, i, lim),                 \
      LIST_SORTS_BY_TIME(stmt, json, from, where, t, k, i, lim), {                                 \
    NULL                                                                                           \
  }
#define LIST_SORTS_CSV(stmt, field, json, csv, from, where, key, keytype, t, k, i, lim)            \
  LIST_SORT_CSV(stmt "_by_" field, field, json, csv, from, where, key, keytype, k, i, lim),        \
      LIST_SORTS_BY_TIME_CSV(stmt, json, csv, from, where, t, k, i, lim), {                        \
    NULL                                                                                           \
  }

/* A list's count (struct list_spec): the rows its filters select. */
#define LIST_COUNT(stmt, from, where)                                                              \
  { stmt, "SELECT count(*) FROM " from " WHERE " where }

/* A list of stored records: the struct list_spec var, with its sorts (by field, on key, then by
 * time) and its count; the _CSV variant adds the CSV header statement and the file name. */
#define LIST_SPEC(var, stmt, field, json, from, where, key, keytype, t, k, i, lim)                 \
  static struct list_sort var##_SORTS[] = {                                                        \
      LIST_SORTS(stmt, field, json, from, where, key, keytype, t, k, i, lim)};                     \
  static struct list_spec var = {var##_SORTS, LIST_COUNT(stmt "_count", from, where)}
#define LIST_SPEC_CSV(var, stmt, field, json, csv, header, file, from, where, key, keytype, t, k,  \
                      i, lim)                                                                      \
  static struct list_sort var##_SORTS[] = {                                                        \
      LIST_SORTS_CSV(stmt, field, json, csv, from, where, key, keytype, t, k, i, lim)};            \
  static struct list_spec var = {var##_SORTS,                                                      \
                                 LIST_COUNT(stmt "_count", from, where),                           \
                                 {stmt "_csv_header", header},                                     \
                                 CSV_FINGERPRINT(stmt "_csv_fingerprint", t, from, where),         \
                                 file}

/* The same, for a list that shows roles (public_roles) only a public view of its records,
 * of which they may sort on public_fields (struct list_spec). */
#define LIST_SPEC_CSV_PUBLIC(var, stmt, field, json, csv, header, file, from, where, key, keytype, \
                             t, k, i, lim, public_roles, public_fields)                            \
  static struct list_sort var##_SORTS[] = {                                                        \
      LIST_SORTS_CSV(stmt, field, json, csv, from, where, key, keytype, t, k, i, lim)};            \
  static struct list_spec var = {var##_SORTS,                                                      \
                                 LIST_COUNT(stmt "_count", from, where),                           \
                                 {stmt "_csv_header", header},                                     \
                                 CSV_FINGERPRINT(stmt "_csv_fingerprint", t, from, where),         \
                                 file,                                                             \
                                 public_roles,                                                     \
                                 public_fields}

/* A CSV list's fingerprint: what its rows are made of (how many, their versions, and today,
 * on which derived values depend). Its ETag hashes this, not the streamed bytes. */
#define CSV_FINGERPRINT(stmt, alias, from, where)                                                  \
  {                                                                                                \
    stmt, "SELECT count(*) || ':' || coalesce(sum(hashtextextended(" alias                         \
          ".id::text || ':' || " alias ".version, 0)), 0) || ':' || mx_today() FROM " from         \
          " WHERE " where                                                                          \
  }

#endif
