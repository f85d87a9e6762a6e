# shellcheck shell=bash
# script/lib/pg.sh — a private PostgreSQL cluster for script/server and script/test.
# Sourced, never run. Functions only; nothing happens on source.
#
#   pg_bindir                  directory of initdb/pg_ctl/postgres/psql
#   pg_cluster_user            the OS user the cluster runs as (postgres when root)
#   pg_as_cluster_user CMD...  runs CMD as that user (runuser when root)
#   pg_free_port [START]       prints a free TCP port on 127.0.0.1
#   pg_init DIR                initdb DIR (UTF8, C.UTF-8, trust) unless it already holds a cluster
#   pg_start DIR PORT [-c name=value ...]
#                              starts the cluster on 127.0.0.1:PORT, log in DIR/../pg.log,
#                              socket in DIR/../sock when that path is short enough
#   pg_stop DIR                stops it (fast shutdown); no-op when it is not running
#   pg_running DIR             true when the cluster in DIR is running
#   pg_url DIR PORT [DB]       prints postgresql://USER@127.0.0.1:PORT/DB (DB defaults to postgres)
#   pg_standby_init DIR PORT   a hot standby of the cluster on 127.0.0.1:PORT in DIR
#                              (pg_basebackup -R: it streams from that primary once started)
#   pg_ctl_script OUT DIR PORT [-c name=value ...]
#                              writes OUT, an executable taking stop|start|status for that cluster
#   pgbouncer_start DIR PORT TARGET_PORT
#                              Debian's pgbouncer on 127.0.0.1:PORT in transaction pooling mode,
#                              every database of the cluster on TARGET_PORT; files in DIR
#   pgbouncer_stop DIR         stops it; no-op when it is not running
#   pg_archive_opts DIR        prints, one per line, the pg_start options that archive every WAL
#                              segment into DIR (continuous archiving, for point-in-time recovery)
#
# initdb and postgres refuse to run as root (shared/STACK.md): as root everything that touches
# the cluster runs as the postgres user, and every parent of DIR must be searchable by it.

pg_bindir() {
  local d
  d=$(pg_config --bindir 2>/dev/null || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
    printf '%s\n' "$d"
    return 0
  fi
  if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
    printf '%s\n' /usr/lib/postgresql/15/bin
    return 0
  fi
  # Any other installed major version, newest first.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -rn); do
    if [ -x "$d/initdb" ]; then
      printf '%s\n' "$d"
      return 0
    fi
  done
  echo "pg.sh: no PostgreSQL server binaries (initdb) found; run script/bootstrap" >&2
  return 1
}

pg_cluster_user() {
  if [ "$(id -u)" -eq 0 ]; then
    echo postgres
  else
    id -un
  fi
}

# Runs "$@" as the cluster user, from / so that a private current directory does not matter.
pg_as_cluster_user() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

# True when something listens on 127.0.0.1:$1.
_pg_port_busy() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && return 0
  fi
  # Fallback (and double check): can we connect?
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
  return 1
}

# Prints a free port, trying from START (default: random in 20000–59999) upwards.
pg_free_port() {
  local start=${1:-$((20000 + (RANDOM * 32768 + RANDOM) % 40000))}
  local port=$start i
  for ((i = 0; i < 200; i++)); do
    if ! _pg_port_busy "$port"; then
      printf '%s\n' "$port"
      return 0
    fi
    port=$((port + 1))
    [ "$port" -le 65000 ] || port=20000
  done
  echo "pg.sh: no free port found from $start" >&2
  return 1
}

# Makes DIR (and its parent's files the cluster writes) belong to the cluster user.
_pg_own() {
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$@"
  fi
}

# Absolute path of $1 (which must exist): the cluster commands run from /.
_pg_abs() {
  (cd "$1" && pwd)
}

_pg_check_access() {
  local dir=$1
  if ! pg_as_cluster_user test -x "$dir" -a -w "$dir"; then
    echo "pg.sh: the user '$(pg_cluster_user)' cannot use $dir." >&2
    echo "pg.sh: every parent directory must be searchable by it (a clone under a private" >&2
    echo "pg.sh: home folder is not): move the checkout, or set DATABASE_URL to a server of yours." >&2
    return 1
  fi
}

pg_init() {
  local dir=$1 bindir
  bindir=$(pg_bindir) || return 1
  if [ -f "$dir/PG_VERSION" ]; then
    return 0
  fi
  mkdir -p "$dir"
  dir=$(_pg_abs "$dir")
  chmod 700 "$dir"
  _pg_own "$dir"
  _pg_check_access "$dir" || return 1
  pg_as_cluster_user env -u LANG -u LC_ALL "$bindir/initdb" -D "$dir" -E UTF8 \
    --locale=C.UTF-8 -A trust --no-instructions >"$dir/../initdb.log" 2>&1 || {
    echo "pg.sh: initdb failed:" >&2
    cat "$dir/../initdb.log" >&2
    return 1
  }
}

pg_running() {
  local dir=$1 bindir
  bindir=$(pg_bindir) || return 1
  [ -f "$dir/postmaster.pid" ] || return 1
  dir=$(_pg_abs "$dir")
  pg_as_cluster_user "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1
}

pg_start() {
  local dir=$1 port=$2
  shift 2
  local bindir parent log sock
  bindir=$(pg_bindir) || return 1
  dir=$(_pg_abs "$dir") || return 1
  parent=$(cd "$dir/.." && pwd)
  log="$parent/pg.log"
  if pg_running "$dir"; then
    echo "pg.sh: a PostgreSQL server is already running on $dir (another script/server?)." >&2
    echo "pg.sh: if nothing uses it, stop it: $(_pg_stop_hint "$bindir" "$dir")" >&2
    return 1
  fi
  touch "$log"
  _pg_own "$log"
  # The socket path (plus "/.s.PGSQL.NNNNN") must stay under ~100 bytes; when the checkout's
  # path is too long, the cluster listens on TCP only, which is all the scripts use.
  sock="$parent/sock"
  if [ "${#sock}" -le 80 ]; then
    mkdir -p "$sock"
    _pg_own "$sock"
  else
    sock=""
  fi
  if ! pg_as_cluster_user "$bindir/pg_ctl" -D "$dir" -l "$log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$sock' $*" \
    start >/dev/null; then
    echo "pg.sh: PostgreSQL did not start; the end of $log:" >&2
    tail -n 20 "$log" >&2
    return 1
  fi
}

_pg_stop_hint() {
  if [ "$(id -u)" -eq 0 ]; then
    echo "runuser -u postgres -- $1/pg_ctl -D $2 stop"
  else
    echo "$1/pg_ctl -D $2 stop"
  fi
}

pg_stop() {
  local dir=$1 bindir
  bindir=$(pg_bindir) || return 1
  if pg_running "$dir"; then
    dir=$(_pg_abs "$dir")
    pg_as_cluster_user "$bindir/pg_ctl" -D "$dir" -m fast -w -t 60 stop >/dev/null
  fi
}

pg_url() {
  printf 'postgresql://%s@127.0.0.1:%s/%s\n' "$(pg_cluster_user)" "$2" "${3:-postgres}"
}

# A hot standby: a base backup of the running cluster on 127.0.0.1:$2 with -R, which writes
# primary_conninfo and standby.signal, so that it streams from that primary once started.
pg_standby_init() {
  local dir=$1 port=$2 bindir
  bindir=$(pg_bindir) || return 1
  [ -f "$dir/PG_VERSION" ] && return 0
  mkdir -p "$dir"
  dir=$(_pg_abs "$dir")
  chmod 700 "$dir"
  _pg_own "$dir"
  _pg_check_access "$dir" || return 1
  pg_as_cluster_user "$bindir/pg_basebackup" -D "$dir" -R -X stream -c fast \
    -d "host=127.0.0.1 port=$port user=$(pg_cluster_user) dbname=postgres" \
    >"$dir/../basebackup.log" 2>&1 || {
    echo "pg.sh: pg_basebackup failed:" >&2
    cat "$dir/../basebackup.log" >&2
    return 1
  }
}

# Writes an executable OUT: `OUT stop|start|status` stops, starts (with the same options) or
# asks about the cluster in DIR on PORT. Tests use it to simulate an outage.
pg_ctl_script() {
  local out=$1 dir=$2 port=$3 root
  shift 3
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  {
    echo '#!/usr/bin/env bash'
    echo '# Stops, starts or asks about one throwaway PostgreSQL cluster (script/lib/pg.sh).'
    echo 'set -euo pipefail'
    printf 'source %q\n' "$root/script/lib/pg.sh"
    printf 'dir=%q\n' "$(_pg_abs "$dir")"
    printf 'port=%q\n' "$port"
    printf 'opts=(%s)\n' "$(printf '%q ' "$@")"
    cat <<'EOF'
case "${1:-}" in
stop) pg_stop "$dir" ;;
start) pg_running "$dir" || pg_start "$dir" "$port" "${opts[@]}" ;;
status) pg_running "$dir" && echo running || { echo stopped; exit 3; } ;;
*)
  echo "usage: $0 stop|start|status" >&2
  exit 2
  ;;
esac
EOF
  } >"$out"
  chmod 755 "$out"
}

# PgBouncer (Debian's package) in transaction pooling mode, the way a deployment runs it in
# front of PostgreSQL: every database of the cluster on TARGET_PORT, trust authentication on
# loopback. It runs as the cluster user (it refuses root).
pgbouncer_start() {
  local dir=$1 port=$2 target=$3 i
  command -v pgbouncer >/dev/null 2>&1 || {
    echo "pg.sh: pgbouncer is not installed; run script/bootstrap" >&2
    return 1
  }
  mkdir -p "$dir"
  dir=$(_pg_abs "$dir")
  printf '"%s" ""\n' "$(pg_cluster_user)" >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$target

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
admin_users = $(pg_cluster_user)
EOF
  _pg_own "$dir" "$dir"/*
  pg_as_cluster_user pgbouncer -d "$dir/pgbouncer.ini" >>"$dir/stderr" 2>&1 || {
    echo "pg.sh: pgbouncer did not start:" >&2
    tail -n 20 "$dir/stderr" "$dir/pgbouncer.log" >&2 2>/dev/null
    return 1
  }
  for ((i = 0; i < 100; i++)); do
    _pg_port_busy "$port" && return 0
    sleep 0.05
  done
  echo "pg.sh: pgbouncer does not listen on $port" >&2
  return 1
}

pgbouncer_stop() {
  local dir=$1 pid i
  [ -f "$dir/pgbouncer.pid" ] || return 0
  pid=$(cat "$dir/pgbouncer.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -INT "$pid" 2>/dev/null || true # SIGINT: shut down now (SIGTERM waits for clients)
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
}

# Continuous archiving into DIR: each WAL segment is copied there when it is complete (or after
# archive_timeout), under a temporary name first so that a half-copied file never looks
# archived; an existing file is never overwritten. For pg_start:
#   mapfile -t opts < <(pg_archive_opts "$dir"); pg_start "$pgdir" "$port" "${opts[@]}"
pg_archive_opts() {
  local dir
  dir=$(_pg_abs "$1") || return 1
  case $dir in *[!A-Za-z0-9_./-]*)
    echo "pg.sh: the archive directory's path may hold only letters, digits, _ . / -" >&2
    return 1
    ;;
  esac
  printf '%s\n' -c archive_mode=on -c archive_timeout=60 -c \
    "archive_command='test ! -f $dir/%f && cp %p $dir/%f.part && mv $dir/%f.part $dir/%f'"
}
