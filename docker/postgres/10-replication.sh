#!/bin/sh
# docker/postgres/10-replication.sh — run once by the postgres image when it creates the
# primary's cluster (/docker-entrypoint-initdb.d): the role the standby and the backups
# connect as, and the pg_hba.conf line that lets it stream from any address of the network.
set -eu
psql -v ON_ERROR_STOP=1 -v pw="$REPLICATION_PASSWORD" --username "$POSTGRES_USER" \
  --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'pw';
SQL
echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
