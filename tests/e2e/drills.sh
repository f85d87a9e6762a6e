#!/usr/bin/env bash
# tests/e2e/drills.sh — failure drills behind the real reverse proxy.
#
# Debian's nginx, configured by docker/render-nginx.sh from docker/nginx.conf.template (the
# files docker-compose uses), in front of two real acredita processes on loopback ports, over
# a database of the throwaway PostgreSQL that script/test started. The drills:
#   config          the rendered configuration passes `nginx -t`; headers, gzip and the body
#                   limit are what the template says, and the limit equals the service's
#   request-ids     an ID flows client → nginx → instance → response, logs on both sides
#   kill-9          kill -9 one instance under a steady GET load: no failed request
#   sigterm         SIGTERM to an instance with requests in flight: they complete, exit 0
#   postgres        PostgreSQL restarted under load: 503 + Retry-After while down, then 200s
#                   within seconds, no process restarted
#   rate-limit      over the rate: 429 problem+json with Retry-After
#   interrupted     a write whose instance is killed mid-transaction leaves nothing, and its
#                   Idempotency-Key retry through the proxy creates it exactly once
#
# Environment (script/test sets it): ACREDITA_BIN (the server), TEST_DATABASE_URL (a superuser
# URL of the throwaway cluster), TEST_PGCTL (stops and starts that cluster).
# Prints one "e2e: PASS|FAIL <drill>: <figures>" line per drill; exits 1 when any failed.
# Every wait is bounded, every process it starts is stopped on exit, ports are picked free.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=script/lib/pg.sh
source "$root/script/lib/pg.sh"

: "${ACREDITA_BIN:?tests/e2e/drills.sh: set ACREDITA_BIN (script/test does)}"
: "${TEST_DATABASE_URL:?tests/e2e/drills.sh: set TEST_DATABASE_URL (script/test does)}"
: "${TEST_PGCTL:?tests/e2e/drills.sh: set TEST_PGCTL (script/test does)}"
for tool in nginx curl psql node ss timeout; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "e2e: FAIL setup: $tool is not installed (script/bootstrap installs it)"
    exit 1
  }
done

tmp=$(mktemp -d /tmp/acredita-e2e.XXXXXX)
chmod 755 "$tmp" # nginx's workers run as another user when the master is root

dbname=acredita_e2e
db="${TEST_DATABASE_URL%/*}/$dbname"
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
admin_id=00000000-0000-4000-8000-000000000001
client_ip=127.0.0.2 # the load's source address: tells nginx's address from the client's

declare -A pid port
nginx_pid=""
nginx_port=""
lock_pid=""
lock_fd=""
background=()
passed=()
failed=()

now_ms() { date +%s%3N; }
pass() {
  echo "e2e: PASS $1: $2"
  passed+=("$1")
}
fail() {
  echo "e2e: FAIL $1: $2"
  failed+=("$1")
}
sql() { psql "$db" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${background[@]}"; do alive "$p" && kill "$p" 2>/dev/null; done
  [ -n "$lock_fd" ] && { exec {lock_fd}>&-; } 2>/dev/null
  alive "$lock_pid" && kill "$lock_pid" 2>/dev/null
  for name in "${!pid[@]}"; do alive "${pid[$name]}" && kill -TERM "${pid[$name]}" 2>/dev/null; done
  for name in "${!pid[@]}"; do wait_pid "${pid[$name]}" 12 >/dev/null 2>&1; done
  alive "$nginx_pid" && kill -TERM "$nginx_pid" 2>/dev/null
  alive "${rl_pid:-}" && kill -TERM "$rl_pid" 2>/dev/null
  sleep 0.2
  "$TEST_PGCTL" start >/dev/null 2>&1 || true
  psql "$TEST_DATABASE_URL" -XAtq -c "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null 2>&1
  if [ -n "${E2E_KEEP:-}" ]; then echo "e2e: logs kept in $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until URL answers 200, at most $2 seconds, or until process $3 (if given) is gone.
wait_http() {
  local url=$1 deadline=$(($(date +%s) + $2))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    curl -fs -o /dev/null --max-time 1 "$url" && return 0
    [ -z "${3:-}" ] || alive "$3" || return 1
    sleep 0.05
  done
  return 1
}

# A free port below the kernel's ephemeral range (ip_local_port_range starts at 32768 by
# default), so that no outgoing connection takes it between choosing and binding.
free_port() {
  pg_free_port $((20000 + RANDOM % 12000))
}

# Waits until the SQL answers $2, at most $3 seconds.
wait_sql() {
  local deadline=$(($(date +%s) + $3))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ "$(sql "$1" 2>/dev/null)" = "$2" ] && return 0
    sleep 0.05
  done
  return 1
}

# Starts instance NAME on a free port (the same one again on a restart, when it is free).
start_instance() {
  local name=$1 attempt
  for attempt in 1 2 3; do
    [ -n "${port[$name]:-}" ] || port[$name]=$(free_port)
    # nginx, on this machine, is the trusted proxy: its X-Forwarded-For names the client.
    DATABASE_URL=$db PORT=${port[$name]} BIND_ADDRESS=127.0.0.1 JWT_SECRET=$secret \
      DB_POOL_SIZE=8 TRUSTED_PROXIES=127.0.0.1 LOG_FORMAT=json LOG_LEVEL=info \
      "$ACREDITA_BIN" serve >>"$tmp/$name.log" 2>&1 &
    pid[$name]=$!
    wait_http "http://127.0.0.1:${port[$name]}/healthz" 15 "${pid[$name]}" && return 0
    alive "${pid[$name]}" && return 1 # running but not answering: give up
    wait "${pid[$name]}" 2>/dev/null
    port[$name]="" # could not bind: another port
  done
  return 1
}

# Renders the proxy configuration into $tmp/$1 (listening on $2, rate $3, burst $4).
render_nginx() {
  local dir=$tmp/$1
  mkdir -p "$dir"
  chmod 755 "$dir"
  ACREDITA_UPSTREAMS="127.0.0.1:${port[a]} 127.0.0.1:${port[b]}" NGINX_LISTEN="127.0.0.1:$2" \
    NGINX_RATE=$3 NGINX_BURST=$4 NGINX_PREFIX=$dir NGINX_ERROR_LOG=$dir/error.log \
    NGINX_ACCESS_LOG=$dir/access.log "$root/docker/render-nginx.sh" >"$dir/nginx.conf"
}

# Starts nginx on $tmp/$1/nginx.conf; sets started_pid.
start_nginx() {
  local dir=$tmp/$1
  nginx -c "$dir/nginx.conf" -g 'daemon off;' >>"$dir/stderr" 2>&1 &
  started_pid=$!
  wait_http "http://127.0.0.1:$2/healthz" 10 "$started_pid"
}

# A GET load through the proxy: $2 requests to $4, $3 at a time, one status per line into
# $tmp/$1.codes. Sets load_pid.
start_load() {
  local name=$1 count=$2 parallel=$3 url=$4 i
  for ((i = 0; i < count; i++)); do
    printf 'url = "%s"\noutput = "/dev/null"\n' "$url"
  done >"$tmp/$name.curl"
  timeout 120 curl -s --interface "$client_ip" --parallel --parallel-max "$parallel" \
    --max-time 30 -H "Authorization: Bearer $admin" -w '%{http_code}\n' -K "$tmp/$name.curl" \
    >"$tmp/$name.codes" 2>"$tmp/$name.err" &
  load_pid=$!
  background+=("$load_pid")
}

# Waits until the load has $2 answers (at most 20 s).
wait_answers() {
  local deadline=$(($(date +%s) + 20))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ "$(wc -l <"$tmp/$1.codes")" -ge "$2" ] && return 0
    sleep 0.01
  done
  return 1
}

# Waits for a background process, at most $2 seconds; returns its exit status (124: still
# running, then killed).
wait_pid() {
  local p=$1 deadline=$(($(date +%s) + $2))
  while alive "$p" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
  if alive "$p"; then
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    return 124
  fi
  wait "$p"
}

# Summary of a codes file: "N answers, M not 200 (codes: ...)".
codes_summary() {
  local total bad
  total=$(wc -l <"$1")
  bad=$(grep -cv '^200$' "$1")
  echo "$total answers, $bad not 200$( [ "$bad" -gt 0 ] && printf ' (%s)' "$(grep -v '^200$' "$1" | sort | uniq -c | tr -s ' \n' ' ')")"
}

# Holds a lock from psql until lock_release: $1 is the LOCK TABLE statement, $2 the mode's
# name in pg_locks.
lock_hold() {
  mkfifo "$tmp/lock.fifo"
  psql "$db" -Xq -v ON_ERROR_STOP=1 <"$tmp/lock.fifo" >"$tmp/lock.out" 2>&1 &
  lock_pid=$!
  exec {lock_fd}>"$tmp/lock.fifo"
  printf 'BEGIN;\n%s;\n' "$1" >&"$lock_fd"
  wait_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE c.relname = 'users' AND l.mode = '$2' AND l.granted" 1 5
}
lock_release() {
  printf 'ROLLBACK;\n' >&"$lock_fd"
  exec {lock_fd}>&-
  lock_fd=""
  wait_pid "$lock_pid" 5 >/dev/null
  lock_pid=""
  rm -f "$tmp/lock.fifo"
}
waiting_backends() {
  sql "SELECT count(*) FROM pg_stat_activity WHERE datname = '$dbname' AND wait_event_type = 'Lock'"
}

# A JSON member of a file, through node (installed for the contract checks).
json_get() {
  node -e 'const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]];
           process.stdout.write(v === undefined ? "" : String(v))' "$1" "$2" 2>/dev/null
}
header() { tr -d '\r' <"$1" | sed -n "s/^$2: //Ip" | tail -n 1; }

# ---------------------------------------------------------------------- set-up

started=$(now_ms)
psql "$TEST_DATABASE_URL" -XAtq -c "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null 2>&1
if ! psql "$TEST_DATABASE_URL" -XAtq -c "CREATE DATABASE $dbname" >/dev/null ||
  ! DATABASE_URL=$db "$ACREDITA_BIN" migrate >"$tmp/migrate.log" 2>&1 ||
  ! DATABASE_URL=$db "$ACREDITA_BIN" seed-demo >>"$tmp/migrate.log" 2>&1; then
  fail setup "database: $(tail -n 3 "$tmp/migrate.log" | tr '\n' ' ')"
  exit 1
fi
admin=$(JWT_SECRET=$secret "$ACREDITA_BIN" token --sub "$admin_id" --role admin --ttl 3600)
auth="Authorization: Bearer $admin"

if ! start_instance a || ! start_instance b; then
  fail setup "an instance did not start: $(tail -n 3 "$tmp"/[ab].log | tr '\n' ' ')"
  exit 1
fi
# The load is not what is tested by the first drills: a rate no test reaches.
nginx_port=$(free_port)
rl_port=$(free_port)
render_nginx proxy "$nginx_port" 100000r/s 100000
base=http://127.0.0.1:$nginx_port

# ---------------------------------------------------------------------- config

drill=config
problems=()
if ! nginx -t -q -c "$tmp/proxy/nginx.conf" -g 'daemon off;' 2>"$tmp/nginx-t.err"; then
  problems+=("nginx -t: $(tr '\n' ' ' <"$tmp/nginx-t.err")")
fi
# The compose rendering (defaults but the addresses) must pass too.
mkdir -p "$tmp/defaults" && chmod 755 "$tmp/defaults"
ACREDITA_UPSTREAMS="127.0.0.1:${port[a]} 127.0.0.1:${port[b]}" NGINX_PREFIX=$tmp/defaults \
  NGINX_LISTEN=127.0.0.1:$rl_port "$root/docker/render-nginx.sh" >"$tmp/defaults/nginx.conf"
nginx -t -q -c "$tmp/defaults/nginx.conf" -g 'daemon off;' 2>"$tmp/nginx-t2.err" ||
  problems+=("nginx -t (defaults): $(tr '\n' ' ' <"$tmp/nginx-t2.err")")
# client_max_body_size = HTTP_MAX_IMPORT_BYTES.
limit_expr=$(sed -n 's/^#define HTTP_MAX_IMPORT_BYTES (\(.*\))$/\1/p' "$root/service/http/http.h")
service_limit=$((limit_expr))
proxy_limit=$(sed -n 's/^ *client_max_body_size \([0-9]*\)m;$/\1/p' "$tmp/proxy/nginx.conf")
proxy_limit=$((proxy_limit * 1024 * 1024))
[ "$service_limit" -gt 0 ] && [ "$service_limit" -eq "$proxy_limit" ] ||
  problems+=("client_max_body_size is $proxy_limit bytes, HTTP_MAX_IMPORT_BYTES $service_limit")

if ! start_nginx proxy "$nginx_port"; then
  fail setup "nginx did not start: $(tr '\n' ' ' <"$tmp/proxy/stderr") $(tail -n 3 "$tmp/proxy/error.log")"
  exit 1
fi
nginx_pid=$started_pid
echo "e2e: nginx on 127.0.0.1:$nginx_port in front of 127.0.0.1:${port[a]} and 127.0.0.1:${port[b]} (set-up $(($(now_ms) - started)) ms)"

curl -s -D "$tmp/c1.h" -o "$tmp/c1.b" --compressed -H "$auth" -H 'Accept-Encoding: gzip' \
  "$base/v1/users?limit=50"
for h in "X-Content-Type-Options: nosniff" "X-Frame-Options: DENY" "Referrer-Policy: no-referrer" \
  "Content-Encoding: gzip" "Vary: Accept-Encoding"; do
  grep -qi "^$h" "$tmp/c1.h" || problems+=("no '$h' on GET /v1/users")
done
[ "$(grep -ci '^X-Request-Id:' "$tmp/c1.h")" -eq 1 ] || problems+=("not exactly one X-Request-Id")
# The service sends nosniff too (for instances reached directly); the proxy keeps one copy.
[ "$(grep -ci '^X-Content-Type-Options:' "$tmp/c1.h")" -eq 1 ] ||
  problems+=("not exactly one X-Content-Type-Options")
# One byte over the limit: nginx's 413, as problem+json.
head -c $((service_limit + 1)) /dev/zero | tr '\0' 'a' >"$tmp/big.body"
code=$(curl -s -o "$tmp/c2.b" -D "$tmp/c2.h" -w '%{http_code}' -H "$auth" \
  -H 'Content-Type: application/json' --data-binary @"$tmp/big.body" "$base/v1/users")
[ "$code" = 413 ] && [ "$(json_get "$tmp/c2.b" type)" = https://acredita.dev/problems/payload-too-large ] ||
  problems+=("a body of limit+1 bytes answered $code $(head -c 200 "$tmp/c2.b")")
rm -f "$tmp/big.body"
# /metrics is not exposed through the proxy.
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/metrics")
[ "$code" = 404 ] || problems+=("/metrics through the proxy answered $code")
# Both instances take traffic.
for i in $(seq 1 20); do curl -s -o /dev/null -H "$auth" "$base/v1/users/$admin_id"; done
served_a=$(grep -c "\"path\":\"/v1/users/$admin_id\"" "$tmp/a.log")
served_b=$(grep -c "\"path\":\"/v1/users/$admin_id\"" "$tmp/b.log")
[ "$served_a" -gt 0 ] && [ "$served_b" -gt 0 ] || problems+=("20 GETs went $served_a/$served_b to a/b")
if [ "${#problems[@]}" -eq 0 ]; then
  pass $drill "nginx -t ok (two renderings); security headers, gzip, one X-Request-Id; body limit $proxy_limit bytes = HTTP_MAX_IMPORT_BYTES, limit+1 → 413 problem+json; /metrics hidden; 20 GETs split $served_a/$served_b"
else
  fail $drill "$(printf '%s; ' "${problems[@]}")"
fi

# ----------------------------------------------------------------- request-ids

drill=request-ids
problems=()
rid="e2e-trace-$RANDOM$RANDOM"
curl -s --interface "$client_ip" -D "$tmp/r1.h" -o "$tmp/r1.b" -H "$auth" -H "X-Request-Id: $rid" \
  -H 'X-Forwarded-For: 6.6.6.6' "$base/v1/users/$admin_id"
[ "$(header "$tmp/r1.h" X-Request-Id)" = "$rid" ] || problems+=("response header is '$(header "$tmp/r1.h" X-Request-Id)', sent $rid")
grep -q "request_id=$rid\$" "$tmp/proxy/access.log" || problems+=("not in nginx's access log")
line=$(grep -h "\"request_id\":\"$rid\"" "$tmp/a.log" "$tmp/b.log" | grep '"msg":"request"' | head -n 1)
[ -n "$line" ] || problems+=("not in either instance's access log")
# The client's own X-Forwarded-For is replaced by its real address.
grep -q "\"client\":\"$client_ip\"" <<<"$line" || problems+=("instance logged the client as: $(sed -n 's/.*"client":"\([^"]*\)".*/\1/p' <<<"$line")")
# No ID from the client: nginx's $request_id (32 hex digits) all the way.
curl -s --interface "$client_ip" -D "$tmp/r2.h" -o "$tmp/r2.b" -H "$auth" \
  "$base/v1/users/00000000-0000-4000-8000-00000000dead"
gen=$(header "$tmp/r2.h" X-Request-Id)
[[ "$gen" =~ ^[0-9a-f]{32}$ ]] || problems+=("generated ID '$gen'")
[ "$(json_get "$tmp/r2.b" request_id)" = "$gen" ] || problems+=("404 body request_id is '$(json_get "$tmp/r2.b" request_id)', header $gen")
grep -qh "\"request_id\":\"$gen\"" "$tmp/a.log" "$tmp/b.log" || problems+=("generated ID not in an instance log")
# An ID that could break a log or a JSON body is replaced.
curl -s -D "$tmp/r3.h" -o /dev/null -H "$auth" -H 'X-Request-Id: a "quoted" id' "$base/healthz"
[[ "$(header "$tmp/r3.h" X-Request-Id)" =~ ^[0-9a-f]{32}$ ]] || problems+=("unsafe ID kept: $(header "$tmp/r3.h" X-Request-Id)")
if [ "${#problems[@]}" -eq 0 ]; then
  pass $drill "client ID $rid in the response, nginx's log and the instance's log (client $client_ip, spoofed X-Forwarded-For replaced); generated ID $gen in header, problem body and instance log; unsafe ID replaced"
else
  fail $drill "$(printf '%s; ' "${problems[@]}")"
fi

# ---------------------------------------------------------------------- kill-9

drill=kill-9
n=3000
start_load kill9 "$n" 4 "$base/v1/users/$admin_id"
t0=$(now_ms)
if wait_answers kill9 500; then
  victim=${pid[a]}
  kill -9 "$victim"
  { wait "$victim"; } 2>/dev/null
  killed_at=$(wc -l <"$tmp/kill9.codes")
  wait_pid "$load_pid" 90
  rc=$?
  ms=$(($(now_ms) - t0))
  total=$(wc -l <"$tmp/kill9.codes")
  bad=$(grep -cv '^200$' "$tmp/kill9.codes")
  retried=$(grep -c "127.0.0.1:${port[a]}" "$tmp/proxy/error.log")
  if [ "$rc" -eq 0 ] && [ "$total" -eq "$n" ] && [ "$bad" -eq 0 ]; then
    pass $drill "$n GETs through the proxy, 4 at a time, in $ms ms; instance a killed after $killed_at answers; $(codes_summary "$tmp/kill9.codes"); nginx logged $retried failed attempts at a, retried on b"
  else
    fail $drill "client exit $rc; $(codes_summary "$tmp/kill9.codes") of $n; $(head -c 300 "$tmp/kill9.err")"
  fi
else
  fail $drill "the load did not get going: $(codes_summary "$tmp/kill9.codes"); $(head -c 300 "$tmp/kill9.err")"
fi
start_instance a || fail $drill "instance a did not restart"

# ---------------------------------------------------------------------- sigterm

drill=sigterm
problems=()
# A write in flight in instance a, held by a lock from psql. One request only: a thread of
# the server's pool serves its connections one request at a time, so a second blocked
# request could sit behind the first, accepted but not yet begun.
if lock_hold "LOCK TABLE users IN SHARE MODE" ShareLock; then
  victim=${pid[a]}
  curl -s -o "$tmp/term.b" -w '%{http_code}' --max-time 30 -H "$auth" \
    -H 'Content-Type: application/json' -H "Idempotency-Key: e2e-term-$RANDOM" \
    -d "{\"email\":\"e2e-sigterm-$RANDOM@example.mx\",\"name\":\"Drill SIGTERM\",\"role\":\"inl\",\"password\":\"a long enough password\"}" \
    "http://127.0.0.1:${port[a]}/v1/users" >"$tmp/term.code" &
  background+=($!)
  term_curl=$!
  # And a steady read load through the proxy.
  start_load term 1500 4 "$base/v1/users/$admin_id"
  wait_sql "SELECT count(*) FROM pg_stat_activity WHERE datname = '$dbname' AND wait_event_type = 'Lock'" 1 2 ||
    problems+=("the write never waited on the lock")
  wait_answers term 200
  t0=$(now_ms)
  kill -TERM "$victim"
  sleep 0.7
  alive "$victim" || problems+=("instance a exited before its request in flight was done")
  lock_release
  wait_pid "$victim" 15
  rc=$?
  stop_ms=$(($(now_ms) - t0))
  wait_pid "$term_curl" 10 >/dev/null
  code=$(cat "$tmp/term.code")
  [ "$code" = 201 ] || problems+=("the write in flight answered $code: $(head -c 200 "$tmp/term.b")")
  [ "$rc" -eq 0 ] || problems+=("instance a exited with $rc")
  wait_pid "$load_pid" 60
  bad=$(grep -cv '^200$' "$tmp/term.codes")
  [ "$bad" -eq 0 ] && [ "$(wc -l <"$tmp/term.codes")" -eq 1500 ] ||
    problems+=("load through the proxy: $(codes_summary "$tmp/term.codes")")
  if [ "${#problems[@]}" -eq 0 ]; then
    pass $drill "POST /v1/users in flight in instance a (blocked on a lock); SIGTERM; still running 0.7 s later; lock released; the write answered 201; exit 0, $stop_ms ms after SIGTERM; meanwhile 1500 GETs through the proxy: $(codes_summary "$tmp/term.codes")"
  else
    fail $drill "$(printf '%s; ' "${problems[@]}")"
  fi
else
  fail $drill "could not take the lock on users"
  [ -n "$lock_fd" ] && lock_release
fi
alive "${pid[a]}" || start_instance a || fail $drill "instance a did not restart"

# -------------------------------------------------------------------- postgres

drill=postgres
problems=()
before_a=${pid[a]} before_b=${pid[b]} before_nginx=$nginx_pid
rm -f "$tmp/pg.stop"
(
  deadline=$(($(date +%s) + 60))
  while [ ! -e "$tmp/pg.stop" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "$auth" "$base/v1/users/$admin_id")
    echo "$(now_ms) $code"
    sleep 0.05
  done >"$tmp/pg.codes"
) &
load_pid=$!
background+=("$load_pid")
sleep 1
"$TEST_PGCTL" stop >/dev/null 2>&1 || problems+=("TEST_PGCTL stop failed")
stopped_at=$(now_ms)
sleep 1
# One answer while it is down, with its headers.
code_down=$(curl -s -D "$tmp/pg503.h" -o "$tmp/pg503.b" -w '%{http_code}' -H "$auth" "$base/v1/users/$admin_id")
sleep 1.5
"$TEST_PGCTL" start >/dev/null 2>&1 || problems+=("TEST_PGCTL start failed")
up_at=$(now_ms)
# Back to 200 (at most 20 s).
deadline=$(($(date +%s) + 20))
recovered=""
while [ "$(date +%s)" -lt "$deadline" ]; do
  recovered=$(awk -v t="$up_at" '$1 > t && $2 == 200 {print $1; exit}' "$tmp/pg.codes")
  [ -n "$recovered" ] && break
  sleep 0.1
done
sleep 1
touch "$tmp/pg.stop"
wait_pid "$load_pid" 15 >/dev/null
total=$(wc -l <"$tmp/pg.codes")
down=$(awk -v a="$stopped_at" -v b="$up_at" '$1 > a && $1 < b' "$tmp/pg.codes" | wc -l)
down503=$(awk -v a="$stopped_at" -v b="$up_at" '$1 > a && $1 < b && $2 == 503' "$tmp/pg.codes" | wc -l)
others=$(awk '$2 != 200 && $2 != 503' "$tmp/pg.codes" | wc -l)
[ "$code_down" = 503 ] || problems+=("while down: $code_down")
[ -n "$(header "$tmp/pg503.h" Retry-After)" ] || problems+=("the 503 has no Retry-After")
header "$tmp/pg503.h" Content-Type | grep -q '^application/problem+json' || problems+=("the 503 is not problem+json")
[ "$(json_get "$tmp/pg503.b" type)" = https://acredita.dev/problems/unavailable ] ||
  problems+=("the 503's type: $(head -c 200 "$tmp/pg503.b")")
[ "$down" -gt 0 ] && [ "$down503" -eq "$down" ] || problems+=("$down503 of $down answers while down were 503")
[ "$others" -eq 0 ] || problems+=("$others answers neither 200 nor 503: $(awk '$2 != 200 && $2 != 503 {print $2}' "$tmp/pg.codes" | sort | uniq -c | tr -s ' \n' ' ')")
[ -n "$recovered" ] && [ $((recovered - up_at)) -le 10000 ] || problems+=("no 200 within 10 s of the restart")
for p in "$before_a" "$before_b" "$before_nginx"; do alive "$p" || problems+=("process $p is gone"); done
[ "${pid[a]}" = "$before_a" ] && [ "${pid[b]}" = "$before_b" ] && [ "$nginx_pid" = "$before_nginx" ] ||
  problems+=("a process was restarted")
if [ "${#problems[@]}" -eq 0 ]; then
  pass $drill "$total GETs in sequence through the proxy; PostgreSQL down $((up_at - stopped_at)) ms: $down503 of $down answers 503 problem+json with Retry-After $(header "$tmp/pg503.h" Retry-After); first 200 $((recovered - up_at)) ms after it was back; no other statuses; instances and nginx still the same processes"
else
  fail $drill "$(printf '%s; ' "${problems[@]}")"
fi
"$TEST_PGCTL" start >/dev/null 2>&1

# ------------------------------------------------------------------ rate-limit

drill=rate-limit
problems=()
render_nginx ratelimited "$rl_port" 2r/s 3
if start_nginx ratelimited "$rl_port"; then
  rl_pid=$started_pid
  for i in $(seq 1 30); do printf 'url = "http://127.0.0.1:%s/v1/users/%s"\noutput = "/dev/null"\n' "$rl_port" "$admin_id"; done >"$tmp/rl.curl"
  curl -s -H "$auth" -w '%{http_code}\n' -K "$tmp/rl.curl" >"$tmp/rl.codes"
  n429=$(grep -c '^429$' "$tmp/rl.codes")
  n200=$(grep -c '^200$' "$tmp/rl.codes")
  code=$(curl -s -D "$tmp/rl.h" -o "$tmp/rl.b" -w '%{http_code}' -H "$auth" -H 'Accept-Language: es-MX' \
    "http://127.0.0.1:$rl_port/v1/users/$admin_id")
  [ "$n429" -gt 0 ] && [ "$n200" -gt 0 ] || problems+=("30 quick requests: $n200 × 200, $n429 × 429")
  [ "$code" = 429 ] || problems+=("the next request answered $code")
  header "$tmp/rl.h" Content-Type | grep -q '^application/problem+json' || problems+=("Content-Type: $(header "$tmp/rl.h" Content-Type)")
  [ -n "$(header "$tmp/rl.h" Retry-After)" ] || problems+=("no Retry-After")
  [ "$(json_get "$tmp/rl.b" type)" = https://acredita.dev/problems/too-many-requests ] &&
    [ "$(json_get "$tmp/rl.b" status)" = 429 ] &&
    [ "$(json_get "$tmp/rl.b" request_id)" = "$(header "$tmp/rl.h" X-Request-Id)" ] &&
    [ "$(json_get "$tmp/rl.b" title)" = "Demasiadas solicitudes" ] ||
    problems+=("body: $(head -c 300 "$tmp/rl.b")")
  grep -qi '^X-Content-Type-Options: nosniff' "$tmp/rl.h" || problems+=("no security headers on the 429")
  if [ "${#problems[@]}" -eq 0 ]; then
    pass $drill "rate 2r/s burst 3: 30 quick requests → $n200 × 200, $n429 × 429; the 429 is problem+json (too-many-requests, Spanish title for es-MX, request_id = X-Request-Id) with Retry-After $(header "$tmp/rl.h" Retry-After)"
  else
    fail $drill "$(printf '%s; ' "${problems[@]}")"
  fi
  kill -TERM "$rl_pid" && wait_pid "$rl_pid" 10 >/dev/null
else
  fail $drill "the rate-limited nginx did not start: $(tr '\n' ' ' <"$tmp/ratelimited/stderr")"
fi

# ----------------------------------------------------------------- interrupted

drill=interrupted
problems=()
email="e2e-interrupted-$RANDOM$RANDOM@example.mx"
key="e2e-interrupted-$RANDOM$RANDOM"
rid1="e2e-write-1-$RANDOM" rid2="e2e-write-2-$RANDOM" rid3="e2e-write-3-$RANDOM"
body="{\"email\":\"$email\",\"name\":\"Drill interrupted write\",\"role\":\"inl\",\"password\":\"a long enough password\"}"
post() { # $1 request id, $2 output prefix
  curl -s --max-time 30 -D "$tmp/$2.h" -o "$tmp/$2.b" -w '%{http_code}' -H "$auth" \
    -H 'Content-Type: application/json' -H "Idempotency-Key: $key" -H "X-Request-Id: $1" \
    -d "$body" "$base/v1/users"
}
counts() {
  sql "SELECT (SELECT count(*) FROM users WHERE lower(email) = lower('$email')) || ' ' ||
              (SELECT count(*) FROM idempotency_keys WHERE key = '$key') || ' ' ||
              (SELECT count(*) FROM audit WHERE request_id IN ('$rid1', '$rid2', '$rid3'))"
}
audit_before=$(sql "SELECT count(*) FROM audit")
if lock_hold "LOCK TABLE users IN SHARE MODE" ShareLock; then
  post "$rid1" w1 >"$tmp/w1.code" &
  w1_pid=$!
  background+=("$w1_pid")
  if wait_sql "SELECT count(*) FROM pg_stat_activity WHERE datname = '$dbname' AND wait_event_type = 'Lock'" 1 5; then
    cport=$(sql "SELECT client_port FROM pg_stat_activity WHERE datname = '$dbname' AND wait_event_type = 'Lock'")
    owner=$(ss -Htnp state established "( sport = :$cport )" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | head -n 1)
    name=""
    for n in a b; do [ "${pid[$n]}" = "$owner" ] && name=$n; done
    if [ -n "$name" ]; then
      kill -9 "$owner"
      { wait "$owner"; } 2>/dev/null
      lock_release
      wait_pid "$w1_pid" 35 >/dev/null
      code1=$(cat "$tmp/w1.code")
      # The dead instance's session ends once PostgreSQL notices; then nothing may remain.
      wait_sql "SELECT count(*) FROM pg_stat_activity WHERE client_port = $cport" 0 10 ||
        problems+=("the killed instance's session lingered")
      after_kill=$(counts)
      [ "$after_kill" = "0 0 0" ] || problems+=("after the kill: users/keys/audit = $after_kill")
      [ "$(sql "SELECT count(*) FROM audit")" = "$audit_before" ] || problems+=("audit grew after the kill")
      # The client retries with the same key, through the proxy.
      code2=""
      for attempt in 1 2 3 4 5 6 7 8 9 10; do
        code2=$(post "$rid2" w2)
        [ "$code2" = 409 ] || [ "$code2" = 503 ] || break
        sleep 0.5
      done
      code3=$(post "$rid3" w3)
      final=$(counts)
      id2=$(json_get "$tmp/w2.b" id)
      [ "$code2" = 201 ] || problems+=("the retry answered $code2: $(head -c 200 "$tmp/w2.b")")
      [ "$code3" = 201 ] && [ "$(header "$tmp/w3.h" Idempotent-Replayed)" = true ] &&
        cmp -s "$tmp/w2.b" "$tmp/w3.b" || problems+=("the second retry answered $code3, replayed '$(header "$tmp/w3.h" Idempotent-Replayed)'")
      [ "$final" = "1 1 1" ] || problems+=("finally users/keys/audit = $final")
      [ "$(sql "SELECT count(*) FROM audit WHERE resource_id = '$id2'")" = 1 ] ||
        problems+=("audit rows for the user: $(sql "SELECT count(*) FROM audit WHERE resource_id = '$id2'")")
      if [ "${#problems[@]}" -eq 0 ]; then
        pass $drill "POST /v1/users through the proxy blocked in instance $name (lock from psql); kill -9; the client got $code1; nothing written (users/keys/audit 0 0 0); retry with the same Idempotency-Key → $code2 after $attempt attempt(s), again → $code3 Idempotent-Replayed, same body; exactly one user, one key, one audit row"
      else
        fail $drill "$(printf '%s; ' "${problems[@]}")"
      fi
      start_instance "$name" || fail $drill "instance $name did not restart"
    else
      fail $drill "could not tell which instance holds the blocked write (client port $cport, owner '${owner}')"
      lock_release
    fi
  else
    fail $drill "the write never waited on the lock"
    lock_release
  fi
else
  fail $drill "could not take the lock on users"
  [ -n "$lock_fd" ] && lock_release
fi

# ---------------------------------------------------------------------- summary

echo "e2e: ${#passed[@]} drills passed, ${#failed[@]} failed ($(($(now_ms) - started)) ms)"
[ "${#failed[@]}" -eq 0 ]
