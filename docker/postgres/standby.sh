#!/bin/sh
# docker/postgres/standby.sh — the hot standby's entrypoint (docker-compose.yml, service
# postgres-standby). On first start, with an empty volume, a base backup of the primary with
# -R, which writes primary_conninfo and standby.signal; then PostgreSQL as a hot standby that
# streams from the primary, follows it when it restarts, and answers read-only queries.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  until gosu postgres pg_isready -q -h postgres -p 5432; do sleep 1; done
  PGPASSWORD=$REPLICATION_PASSWORD gosu postgres pg_basebackup -h postgres -p 5432 \
    -U replicator -D "$PGDATA" -R -X stream -c fast
fi
exec gosu postgres postgres -D "$PGDATA" -c hot_standby=on -c hot_standby_feedback=on
