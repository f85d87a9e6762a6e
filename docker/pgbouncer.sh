#!/bin/sh
# docker/pgbouncer.sh — the pgbouncer image's entrypoint: writes the configuration from the
# environment, then runs Debian's PgBouncer (1.18) in transaction pooling mode.
#   PGBOUNCER_USER, PGBOUNCER_PASSWORD  the one role the instances connect as
#   PRIMARY_HOST, STANDBY_HOST          where the databases are (port 5432)
#   PGBOUNCER_DATABASE                  the database name on both (acredita)
#   PGBOUNCER_POOL_SIZE                 server connections per database (20)
# Clients ask for $PGBOUNCER_DATABASE (the primary) or ${PGBOUNCER_DATABASE}_standby.
# Named prepared statements do not survive transaction pooling in 1.18: acredita notices the
# pooler and sends unnamed statements (README: PgBouncer).
set -eu
: "${PGBOUNCER_USER:?}" "${PGBOUNCER_PASSWORD:?}" "${PRIMARY_HOST:?}" "${STANDBY_HOST:?}"
db=${PGBOUNCER_DATABASE:-acredita}
dir=/tmp/pgbouncer
mkdir -p "$dir"
umask 077
printf '"%s" "%s"\n' "$PGBOUNCER_USER" "$PGBOUNCER_PASSWORD" >"$dir/userlist.txt"
cat >"$dir/pgbouncer.ini" <<INI
[databases]
$db = host=$PRIMARY_HOST port=5432 dbname=$db
${db}_standby = host=$STANDBY_HOST port=5432 dbname=$db

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = ${PGBOUNCER_POOL_SIZE:-20}
server_check_delay = 10
INI
exec pgbouncer "$dir/pgbouncer.ini"
