#!/usr/bin/env bash
# tests/browser/run.sh — the typed client and the pages, against real processes.
#
#   client-types    openapi-typescript generates TypeScript types from api/openapi.yaml into
#                   examples/directory/src/generated/ (a spec it cannot read fails here)
#   client-check    tsc --noEmit checks the example's openapi-fetch client against them
#   client-bundle   esbuild bundles the example into examples/directory/dist/
#   docs            Chromium opens GET /docs through nginx: every operation of the spec is on
#                   the page, the console shows no error, nothing is requested from elsewhere
#   directory       Chromium opens the example on one origin (http://localhost:PORT) with the
#                   API through nginx on another (http://127.0.0.1:PORT), so every call is a
#                   CORS request: filters by state, pages twice, and compares each page's rows
#                   with the API's own pages; switches language; shows a problem in Spanish
#
# The processes: a database of the throwaway PostgreSQL that script/test started (migrated,
# demo data), one acredita instance with CORS_ALLOWED_ORIGINS set to the page's origin, and
# Debian's nginx configured by docker/render-nginx.sh from docker/nginx.conf.template (the
# deployed proxy) with NGINX_EXAMPLES_ROOT serving the built example. Chromium is Debian's
# (/usr/bin/chromium), driven by playwright-core from tests/browser/node_modules.
#
# Environment (script/test sets it): ACREDITA_BIN (the server), TEST_DATABASE_URL (a superuser
# URL of the throwaway cluster). Prints one "browser: PASS|FAIL <check>: <figures>" line per
# check; exits 1 when any failed. Every process it starts is stopped on exit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=script/lib/pg.sh
source "$root/script/lib/pg.sh"

: "${ACREDITA_BIN:?tests/browser/run.sh: set ACREDITA_BIN (script/test does)}"
: "${TEST_DATABASE_URL:?tests/browser/run.sh: set TEST_DATABASE_URL (script/test does)}"
chromium_bin=${CHROMIUM:-/usr/bin/chromium}
for tool in nginx curl psql node npm; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "browser: FAIL setup: $tool is not installed (script/bootstrap installs it)"
    exit 1
  }
done

tmp=$(mktemp -d /tmp/acredita-browser.XXXXXX)
chmod 755 "$tmp" # nginx's workers run as another user when the master is root
dbname=acredita_browser
db="${TEST_DATABASE_URL%/*}/$dbname"
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
server_pid=""
nginx_pid=""
passed=()
failed=()

now_ms() { date +%s%3N; }
pass() {
  echo "browser: PASS $1: $2"
  passed+=("$1")
}
fail() {
  echo "browser: FAIL $1: $2"
  failed+=("$1")
}
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  alive "$nginx_pid" && kill -TERM "$nginx_pid" 2>/dev/null
  alive "$server_pid" && kill -TERM "$server_pid" 2>/dev/null
  for p in "$nginx_pid" "$server_pid"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null
  done
  psql "$TEST_DATABASE_URL" -XAtq -c "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null 2>&1
  if [ -n "${BROWSER_KEEP:-}" ]; then echo "browser: logs kept in $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until URL answers 200, at most $2 seconds, or until process $3 is gone.
wait_http() {
  local url=$1 deadline=$(($(date +%s) + $2))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    curl -fs -o /dev/null --max-time 1 "$url" && return 0
    alive "$3" || return 1
    sleep 0.05
  done
  return 1
}

# A free port below the kernel's ephemeral range (see tests/e2e/drills.sh).
free_port() {
  pg_free_port $((20000 + RANDOM % 12000))
}

# Runs one npm script of the example ($2), its output in $tmp/$1.out; sets step_ms.
npm_step() {
  local t0 rc=0
  t0=$(now_ms)
  npm --prefix "$root/examples/directory" run --silent "$2" >"$tmp/$1.out" 2>&1 || rc=$?
  step_ms=$(($(now_ms) - t0))
  return "$rc"
}
step_failed() {
  fail "$1" "npm run $2 exited non-zero: $(tail -n 15 "$tmp/$1.out" | tr '\n' ' ' | cut -c1-1500)"
}

started=$(now_ms)

# ------------------------------------------------------------------ typed client

# Nothing from an earlier run may stand in for what this one fails to make.
example=$root/examples/directory
rm -rf "$example/src/generated" "$example/dist"
client_ok=0
if npm_step client-types types; then
  pass client-types "openapi-typescript: api/openapi.yaml → src/generated/api.d.ts ($(wc -l <"$example/src/generated/api.d.ts") lines) in $step_ms ms"
  if npm_step client-check typecheck; then
    pass client-check "tsc --noEmit: src/client.ts, src/i18n.ts, src/main.ts against the generated types in $step_ms ms"
    if npm_step client-bundle bundle; then
      pass client-bundle "esbuild: dist/app.js ($(wc -c <"$example/dist/app.js") bytes) in $step_ms ms"
      client_ok=1
    else
      step_failed client-bundle bundle
    fi
  else
    step_failed client-check typecheck
    fail client-bundle "skipped: the client does not type-check"
  fi
else
  step_failed client-types types
  fail client-check "skipped: no types were generated"
  fail client-bundle "skipped: no types were generated"
fi

# ---------------------------------------------------------------------- set-up

if [ ! -x "$chromium_bin" ]; then
  fail docs "no Chromium at $chromium_bin (script/bootstrap installs Debian's chromium)"
  fail directory "no Chromium at $chromium_bin"
  exit 1
fi

psql "$TEST_DATABASE_URL" -XAtq -c "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null 2>&1
if ! psql "$TEST_DATABASE_URL" -XAtq -c "CREATE DATABASE $dbname" >/dev/null ||
  ! DATABASE_URL=$db "$ACREDITA_BIN" migrate >"$tmp/migrate.log" 2>&1 ||
  ! DATABASE_URL=$db "$ACREDITA_BIN" seed-demo >>"$tmp/migrate.log" 2>&1; then
  fail setup "database: $(tail -n 3 "$tmp/migrate.log" | tr '\n' ' ')"
  exit 1
fi

nginx_port=$(free_port)
page_origin="http://localhost:$nginx_port"
api_origin="http://127.0.0.1:$nginx_port"
for attempt in 1 2 3; do
  server_port=$(free_port)
  [ "$server_port" != "$nginx_port" ] || continue
  DATABASE_URL=$db PORT=$server_port BIND_ADDRESS=127.0.0.1 JWT_SECRET=$secret DB_POOL_SIZE=4 \
    CORS_ALLOWED_ORIGINS=$page_origin LOG_FORMAT=json LOG_LEVEL=info \
    "$ACREDITA_BIN" serve >>"$tmp/server.log" 2>&1 &
  server_pid=$!
  wait_http "http://127.0.0.1:$server_port/healthz" 15 "$server_pid" && break
  alive "$server_pid" && break # running but not answering: reported below
  wait "$server_pid" 2>/dev/null
  server_pid=""
done
if ! alive "$server_pid"; then
  fail setup "the server did not start: $(tail -n 3 "$tmp/server.log" | tr '\n' ' ')"
  exit 1
fi

# The page is served from a copy that nginx's workers can read whatever the checkout's modes.
mkdir -p "$tmp/nginx" "$tmp/directory"
chmod 755 "$tmp/nginx" "$tmp/directory"
if [ "$client_ok" -eq 1 ]; then
  cp -R "$example/dist/." "$tmp/directory/"
  chmod -R a+rX "$tmp/directory"
fi
ACREDITA_UPSTREAMS="127.0.0.1:$server_port" NGINX_LISTEN="127.0.0.1:$nginx_port" \
  NGINX_RATE=100000r/s NGINX_BURST=100000 NGINX_PREFIX=$tmp/nginx \
  NGINX_ERROR_LOG=$tmp/nginx/error.log NGINX_ACCESS_LOG=$tmp/nginx/access.log \
  NGINX_EXAMPLES_ROOT=$tmp/directory "$root/docker/render-nginx.sh" >"$tmp/nginx/nginx.conf"
nginx -c "$tmp/nginx/nginx.conf" -g 'daemon off;' >>"$tmp/nginx/stderr" 2>&1 &
nginx_pid=$!
if ! wait_http "$api_origin/healthz" 10 "$nginx_pid"; then
  fail setup "nginx did not start: $(tr '\n' ' ' <"$tmp/nginx/stderr") $(tail -n 3 "$tmp/nginx/error.log" 2>/dev/null)"
  exit 1
fi
echo "browser: acredita on 127.0.0.1:$server_port, nginx on 127.0.0.1:$nginx_port (set-up $(($(now_ms) - started)) ms)"

# ---------------------------------------------------------------------- Chromium

skip=()
[ "$client_ok" -eq 1 ] || skip=(--skip directory)
node "$here/chromium.mjs" --chromium "$chromium_bin" --spec "$root/api/openapi.yaml" \
  --api "$api_origin" --page-origin "$page_origin" --profile "$tmp/profile" "${skip[@]}" \
  >"$tmp/chromium.out" 2>&1
rc=$?
cat "$tmp/chromium.out"
while read -r status check; do
  case $status in
  PASS) passed+=("$check") ;;
  FAIL) failed+=("$check") ;;
  esac
done < <(sed -n 's/^browser: \(PASS\|FAIL\) \([^:]*\):.*/\1 \2/p' "$tmp/chromium.out")
if [ "$rc" -ne 0 ] && ! grep -q '^browser: FAIL ' "$tmp/chromium.out"; then
  fail chromium "chromium.mjs exited $rc without saying why"
fi
if [ "$client_ok" -ne 1 ]; then
  fail directory "skipped: the example did not build"
fi

echo "browser: ${#passed[@]} checks passed, ${#failed[@]} failed ($(($(now_ms) - started)) ms)"
[ "${#failed[@]}" -eq 0 ]
