#!/usr/bin/env bash
# bench/scaling.sh — the figures of README "Scaling": reads per second per core, what a hot
# standby adds, and what PgBouncer and unnamed statements cost.
#
# A throwaway primary with the demo data and a scale set (bench/scale.sql, BENCH_AGENCIES
# agencies, 10,000 by default), a hot standby made from it with pg_basebackup -R, and Debian's
# PgBouncer in transaction mode in front of the primary, all on this machine. For each
# scenario a fresh release build of acredita (DB_POOL_SIZE 4) is driven by wrk on loopback
# (-t1 -c32, BENCH_RUNS runs of BENCH_SECONDS, medians), and the CPU time each process used
# during the runs is read from /proc: acredita, the primary's processes, the standby's,
# PgBouncer and wrk. "Reads per core" is requests per CPU-second of everything but wrk.
#
#   bench/scaling.sh                         # writes bench/SCALING.md and prints the table
#   BENCH_SECONDS=3 BENCH_RUNS=1 bench/scaling.sh   # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=script/lib/pg.sh
source script/lib/pg.sh

seconds=${BENCH_SECONDS:-10}
runs=${BENCH_RUNS:-3}
agencies=${BENCH_AGENCIES:-10000}
conns=32
free_port() { pg_free_port $((20000 + RANDOM % 12000)); }

script/build >/dev/null
bin=$root/build/acredita
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
tmp=$(mktemp -d /tmp/acredita-scaling.XXXXXX)
mkdir -p "$tmp/standby"
[ "$(id -u)" -ne 0 ] || chown postgres "$tmp" "$tmp/standby"
apid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$apid" ] || kill "$apid" 2>/dev/null || true
  wait 2>/dev/null || true
  pgbouncer_stop "$tmp/pgbouncer" >/dev/null 2>&1 || true
  pg_stop "$tmp/standby/pg" >/dev/null 2>&1 || true
  pg_stop "$tmp/pg" >/dev/null 2>&1 || true
  if [ -n "${BENCH_KEEP:-}" ]; then echo "scaling: files kept in $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ the servers
pg_opts=(-c fsync=off -c synchronous_commit=off -c full_page_writes=off
  -c shared_buffers=256MB -c max_connections=200)
pg_init "$tmp/pg" >/dev/null
pgport=$(free_port)
pg_start "$tmp/pg" "$pgport" "${pg_opts[@]}" >/dev/null
psql -qX "$(pg_url "$tmp/pg" "$pgport")" -c "CREATE DATABASE bench"
primary_url=$(pg_url "$tmp/pg" "$pgport" bench)
sql() { psql -qAtX -v ON_ERROR_STOP=1 "$primary_url" -c "$1"; }
DATABASE_URL=$primary_url "$bin" migrate >/dev/null
DATABASE_URL=$primary_url "$bin" seed-demo >/dev/null
echo "scaling: the scale set ($agencies agencies)…"
psql -qX -v ON_ERROR_STOP=1 -v agencies="$agencies" "$primary_url" -f bench/scale.sql
sql "VACUUM ANALYZE" >/dev/null

pg_standby_init "$tmp/standby/pg" "$pgport"
standby_port=$(free_port)
pg_start "$tmp/standby/pg" "$standby_port" -c fsync=off -c shared_buffers=256MB \
  -c max_connections=200 -c hot_standby_feedback=on >/dev/null
standby_url=$(pg_url "$tmp/standby/pg" "$standby_port" bench)
bouncer_port=$(free_port)
pgbouncer_start "$tmp/pgbouncer" "$bouncer_port" "$pgport"
bouncer_url=$(pg_url "$tmp/pg" "$bouncer_port" bench)

# ------------------------------------------------------------------ measuring
JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export JWT_SECRET BENCH_DIR=$root/bench
token=$("$bin" token --sub 00000000-0000-4000-8000-000000000001 --role admin --ttl 7200)
sql "SELECT id FROM agencies ORDER BY random() LIMIT 10000" >"$tmp/ids"
tick=$(getconf CLK_TCK)

# CPU ticks (user + system) of the processes whose pid or parent pid is $1.
tree_ticks() {
  local root_pid=$1
  [ -n "$root_pid" ] || {
    echo 0
    return
  }
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v p="$root_pid" '{
      # the command name may hold spaces: fields after the closing parenthesis
      s = $0; sub(/^[^)]*\) /, "", s); split(s, f, " ")
      if ($1 == p || f[2] == p) t += f[12] + f[13]
    } END { print t + 0 }'
}
postmaster() { head -n 1 "$1/postmaster.pid"; }
# The CPU of this shell's finished children (wrk, curl) in centiseconds, into wrk_ticks: `times`
# must run in this shell, not in a $(…) subshell, which has children of its own.
wrk_ticks() {
  times >"$tmp/times"
  wrk_ticks=$(tail -n 1 "$tmp/times" | awk '{ gsub(/[ms]/, " "); print int(($1 * 60 + $2 + $3 * 60 + $4) * 100) }')
}

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# start_service ENV...: acredita with these settings on a free port, ready, standby measured.
start_service() {
  local port
  port=$(free_port)
  env "$@" PORT="$port" LOG_LEVEL=warning DB_POOL_SIZE=4 "$bin" serve 2>>"$tmp/acredita.log" &
  apid=$!
  base=http://127.0.0.1:$port
  until curl -sf "$base/readyz" >/dev/null 2>&1; do sleep 0.02; done
  sleep 1.2 # the lag monitor's first rounds
}
stop_service() {
  kill "$apid"
  wait "$apid" 2>/dev/null || true
  apid=""
}
reads() { curl -s "$base/metrics" | awk -v s="$1" 'index($0, "acredita_db_reads_total{server=\"" s "\"") == 1 {print $2}'; }

results=$tmp/results.tsv
: >"$results"
# scenario NAME SCRIPT PATH: runs wrk against the running service; one result line.
scenario() {
  local name=$1 script=$2 path=$3 rps=() p99=() out i
  local t0 a0 p0 s0 b0 w0 t1
  BENCH_IDS=$tmp/ids BENCH_PATH=/v1/agencies/%s BENCH_TOKEN=$token BENCH_TAG="warm-$(date +%s%N)" \
    BENCH_BODY=${BENCH_BODY:-} BENCH_INM=${BENCH_INM:-} \
    wrk -t1 -c$conns -d2s -s "bench/$script" "$base$path" >/dev/null # warm-up
  local r_primary r_standby
  r_primary=$(reads primary)
  r_standby=$(reads standby1)
  r_standby=${r_standby:-0}
  t0=$(date +%s%N)
  a0=$(tree_ticks "$apid")
  p0=$(tree_ticks "$(postmaster "$tmp/pg")")
  s0=$(tree_ticks "$(postmaster "$tmp/standby/pg")")
  b0=$(tree_ticks "$(cat "$tmp/pgbouncer/pgbouncer.pid")")
  wrk_ticks
  w0=$wrk_ticks
  for i in $(seq "$runs"); do
    out=$(BENCH_IDS=$tmp/ids BENCH_PATH=/v1/agencies/%s BENCH_TOKEN=$token \
      BENCH_TAG="$(date +%s%N)-$i" BENCH_BODY=${BENCH_BODY:-} BENCH_INM=${BENCH_INM:-} \
      wrk -t1 -c$conns -d"${seconds}s" --timeout 5s -s "bench/$script" "$base$path")
    read -r _ r _ b e s <<<"$(grep '^RESULT' <<<"$out")"
    [ "$((e + s))" -eq 0 ] || echo "scaling: $name: $e errors, $s bad answers" >&2
    rps+=("$r")
    p99+=("$b")
  done
  t1=$(date +%s%N)
  local secs cpu_a cpu_p cpu_s cpu_b cpu_w
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print (b - a) / 1e9}')
  rate() { awk -v d="$1" -v t="$tick" -v s="$secs" 'BEGIN {printf "%.2f", d / t / s}'; }
  cpu_a=$(rate $(($(tree_ticks "$apid") - a0)))
  cpu_p=$(rate $(($(tree_ticks "$(postmaster "$tmp/pg")") - p0)))
  cpu_s=$(rate $(($(tree_ticks "$(postmaster "$tmp/standby/pg")") - s0)))
  cpu_b=$(rate $(($(tree_ticks "$(cat "$tmp/pgbouncer/pgbouncer.pid")") - b0)))
  wrk_ticks
  cpu_w=$(awk -v d="$((wrk_ticks - w0))" -v s="$secs" 'BEGIN {printf "%.2f", d / 100 / s}')
  local m_rps m_p99 per_core to_standby to_primary
  m_rps=$(printf '%s\n' "${rps[@]}" | median)
  m_p99=$(printf '%s\n' "${p99[@]}" | median)
  per_core=$(awk -v r="$m_rps" -v a="$cpu_a" -v p="$cpu_p" -v s="$cpu_s" -v b="$cpu_b" \
    'BEGIN {printf "%.0f", r / (a + p + s + b)}')
  to_primary=$(reads primary)
  to_primary=$((to_primary - r_primary))
  to_standby=$(reads standby1)
  to_standby=$((${to_standby:-0} - r_standby))
  printf '| %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n' "$name" "$m_rps" \
    "$m_p99" "$cpu_a" "$cpu_p" "$cpu_s" "$cpu_b" "$cpu_w" "$per_core" "$to_primary" \
    "${to_standby}" | tee -a "$results"
}

echo "scaling: $runs run(s) of ${seconds}s per scenario, wrk -t1 -c$conns"
start_service DATABASE_URL="$primary_url"
scenario "GET /v1/agencies/{id}, primary only" ids.lua /
scenario "GET /v1/agencies?limit=50, primary only" get.lua "/v1/agencies?limit=50"
BENCH_BODY='{"title":{"es":"Bench {n}"},"starts_at":"2031-01-01T10:00:00Z","audience":"public"}' \
  scenario "POST /v1/webinars, primary only" post.lua /v1/webinars
stop_service

start_service DATABASE_URL="$primary_url" DATABASE_REPLICA_URLS="$standby_url"
scenario "GET /v1/agencies/{id}, reads from the standby" ids.lua /
scenario "GET /v1/agencies?limit=50, reads from the standby" get.lua "/v1/agencies?limit=50"
# A partner's poll when nothing changed: its own cursor back, answered 304 to If-None-Match.
cursor=$(curl -s "$base/v1/changes?after=now" -H "Authorization: Bearer $token" |
  sed -nE 's/.*"next_cursor" ?: ?"([^"]*)".*/\1/p')
etag=$(curl -si "$base/v1/changes?after=$cursor" -H "Authorization: Bearer $token" |
  sed -n 's/^[Ee][Tt]ag: //p' | tr -d '\r')
BENCH_INM=$etag scenario "GET /v1/changes, an empty poll (304), from the standby" get.lua \
  "/v1/changes?after=$cursor"
BENCH_BODY='{"title":{"es":"Bench {n}"},"starts_at":"2031-01-01T10:00:00Z","audience":"public"}' \
  scenario "POST /v1/webinars, standby replaying" post.lua /v1/webinars
stop_service

start_service DATABASE_URL="$primary_url" DB_STATEMENTS=unnamed
scenario "GET /v1/agencies/{id}, primary, unnamed statements" ids.lua /
scenario "GET /v1/agencies?limit=50, primary, unnamed statements" get.lua "/v1/agencies?limit=50"
stop_service

start_service DATABASE_URL="$bouncer_url"
scenario "GET /v1/agencies/{id}, through PgBouncer (pooled, detected)" ids.lua /
scenario "GET /v1/agencies?limit=50, through PgBouncer (pooled, detected)" get.lua "/v1/agencies?limit=50"
BENCH_BODY='{"title":{"es":"Bench {n}"},"starts_at":"2031-01-01T10:00:00Z","audience":"public"}' \
  scenario "POST /v1/webinars, through PgBouncer (pooled, detected)" post.lua /v1/webinars
stop_service

start_service DATABASE_URL="$bouncer_url" DB_STATEMENTS=unnamed
scenario "GET /v1/agencies/{id}, through PgBouncer, unnamed statements" ids.lua /
scenario "GET /v1/agencies?limit=50, through PgBouncer, unnamed statements" get.lua "/v1/agencies?limit=50"
stop_service

{
  echo "# Scaling measurements (bench/scaling.sh)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores ($(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -n 1)),"
  echo "load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg). PostgreSQL $(psql -XAt "$primary_url" -c 'SHOW server_version' | cut -d' ' -f1),"
  echo "$(pgbouncer --version | head -n 1). $(sql "SELECT count(*) FROM agencies") agencies. wrk -t1 -c$conns,"
  echo "$runs run(s) of ${seconds}s per scenario (medians); CPU is cores used on average over the runs."
  echo
  echo "| scenario | req/s | p99 ms | CPU acredita | CPU primary | CPU standby | CPU PgBouncer | CPU wrk | req per CPU-second (all but wrk) | reads by primary / standby |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  cat "$results"
} >"$root/bench/SCALING.md"
echo "scaling: wrote bench/SCALING.md"
