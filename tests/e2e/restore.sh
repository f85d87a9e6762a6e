#!/usr/bin/env bash
# tests/e2e/restore.sh — a backup is proven by restoring it.
#
# On a PostgreSQL cluster of its own, archiving its WAL the way script/server does with
# ARCHIVE_DIR (pg_archive_opts): the service runs on it; script/backup takes a base backup;
# the service writes webinar A, a moment T passes, it writes webinar B; the WAL is archived
# and the cluster is stopped (lost). script/restore makes a new cluster from the backup and
# the archive, recovered to T; the service starts on it and must answer A (200) and not B
# (404), and /readyz must say ready.
#
# Environment: ACREDITA_BIN (the server). Prints "e2e: PASS|FAIL restore: <figures>"; exits 1
# when it failed. Every process it starts is stopped on exit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=script/lib/pg.sh
source "$root/script/lib/pg.sh"
: "${ACREDITA_BIN:?tests/e2e/restore.sh: set ACREDITA_BIN (script/test does)}"

tmp=$(mktemp -d /tmp/acredita-restore.XXXXXX)
chmod 755 "$tmp"
mkdir -p "$tmp/origin" "$tmp/restored" "$tmp/archive" "$tmp/backups"
[ "$(id -u)" -ne 0 ] || chown postgres "$tmp/origin" "$tmp/restored" "$tmp/archive"
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
admin_id=00000000-0000-4000-8000-000000000001
server_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$server_pid" ] || kill -TERM "$server_pid" 2>/dev/null
  [ -z "$server_pid" ] || wait "$server_pid" 2>/dev/null
  pg_stop "$tmp/restored/pg" >/dev/null 2>&1
  pg_stop "$tmp/origin/pg" >/dev/null 2>&1
  if [ -n "${E2E_KEEP:-}" ]; then echo "e2e: restore files kept in $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "e2e: FAIL restore: $1"
  exit 1
}
now_ms() { date +%s%3N; }

# Starts the service on database URL $1 (a free port); sets base and server_pid.
serve() {
  local port i
  port=$(pg_free_port $((20000 + RANDOM % 12000)))
  DATABASE_URL=$1 PORT=$port BIND_ADDRESS=127.0.0.1 JWT_SECRET=$secret LOG_LEVEL=warning \
    "$ACREDITA_BIN" serve >>"$tmp/server.log" 2>&1 &
  server_pid=$!
  base=http://127.0.0.1:$port
  for ((i = 0; i < 300; i++)); do
    curl -fs -o /dev/null --max-time 1 "$base/readyz" && return 0
    sleep 0.05
  done
  return 1
}
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=""
}
# POST a webinar titled $1; prints its id.
create() {
  curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"title\":{\"es\":\"$1\"},\"starts_at\":\"2031-05-01T16:00:00Z\",\"audience\":\"public\"}" \
    "$base/v1/webinars" | sed -n 's/^{"id" *: *"\([^"]*\)".*/\1/p'
}
status_of() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base$1"; }

# ---------------------------------------------------------------- the original

started=$(now_ms)
mapfile -t archiving < <(pg_archive_opts "$tmp/archive")
pg_init "$tmp/origin/pg" || fail "initdb"
port=$(pg_free_port)
pg_start "$tmp/origin/pg" "$port" -c fsync=off "${archiving[@]}" || fail "the cluster did not start"
admin_url=$(pg_url "$tmp/origin/pg" "$port")
url=$(pg_url "$tmp/origin/pg" "$port" acredita)
psql "$admin_url" -XAtq -c "CREATE DATABASE acredita" >/dev/null || fail "createdb"
DATABASE_URL=$url "$ACREDITA_BIN" migrate >"$tmp/migrate.log" 2>&1 || fail "migrate: $(tail -n 2 "$tmp/migrate.log")"
token=$(JWT_SECRET=$secret "$ACREDITA_BIN" token --sub "$admin_id" --role admin --ttl 3600)
serve "$url" || fail "the service did not start on the original"

# The backup, taken while the service runs.
DATABASE_URL=$url "$root/script/backup" "$tmp/backups" >"$tmp/backup.log" 2>&1 ||
  fail "script/backup: $(tail -n 3 "$tmp/backup.log" | tr '\n' ' ')"
backup=$(tail -n 1 "$tmp/backup.log")
backup_note=$(grep '^backup: ' "$tmp/backup.log" | tail -n 1 | sed 's/^backup: //')

a=$(create restore-A)
[ -n "$a" ] || fail "webinar A was not created"
sleep 1
moment=$(psql "$url" -XAtq -c "SELECT clock_timestamp()")
sleep 1
b=$(create restore-B)
[ -n "$b" ] || fail "webinar B was not created"
[ "$(status_of "/v1/webinars/$b")" = 200 ] || fail "B is not on the original"

# Everything up to B is archived, then the original is lost.
segment=$(psql "$url" -XAtq -c "SELECT pg_walfile_name(pg_current_wal_lsn())")
psql "$url" -XAtq -c "SELECT pg_switch_wal()" >/dev/null
for ((i = 0; i < 300; i++)); do
  [ -f "$tmp/archive/$segment" ] && break
  sleep 0.1
done
[ -f "$tmp/archive/$segment" ] || fail "WAL segment $segment was not archived"
stop_server
pg_stop "$tmp/origin/pg" || fail "the original did not stop"

# ---------------------------------------------------------------- the restore

restore_port=$(pg_free_port)
"$root/script/restore" "$backup" "$tmp/restored/pg" --archive "$tmp/archive" \
  --to-time "$moment" --port "$restore_port" >"$tmp/restore.log" 2>&1 ||
  fail "script/restore: $(tail -n 5 "$tmp/restore.log" | tr '\n' ' ')"
restore_note=$(grep 'recovery over' "$tmp/restore.log" | sed 's/^restore: //')
restored_url=$(pg_url "$tmp/restored/pg" "$restore_port" acredita)
serve "$restored_url" || fail "the service did not start on the restored cluster"
ready=$(curl -s "$base/readyz")
got_a=$(status_of "/v1/webinars/$a")
got_b=$(status_of "/v1/webinars/$b")
# The restored cluster takes writes.
c=$(create restore-C)
stop_server

problems=()
[ "$got_a" = 200 ] || problems+=("A (written before $moment) answered $got_a, not 200")
[ "$got_b" = 404 ] || problems+=("B (written after $moment) answered $got_b, not 404")
case $ready in *'"status":"ready"'*) ;; *) problems+=("/readyz: $ready") ;; esac
[ -n "$c" ] || problems+=("the restored cluster took no write")
if [ "${#problems[@]}" -gt 0 ]; then
  fail "$(printf '%s; ' "${problems[@]}")"
fi
echo "e2e: PASS restore: backup ($backup_note); restored to $moment ($restore_note):" \
  "A 200, B 404, ready, writable; $(($(now_ms) - started)) ms in all"
