#!/bin/sh
# docker/postgres/primary.sh — the primary's entrypoint (docker-compose.yml, service postgres).
# Runs as root before the image's own entrypoint: the WAL archive volume must be the postgres
# user's. Then PostgreSQL with streaming replication and continuous archiving on.
set -eu
mkdir -p /archive
chown postgres:postgres /archive
exec docker-entrypoint.sh postgres \
  -c wal_level=replica \
  -c max_wal_senders=10 \
  -c hot_standby_feedback=on \
  -c archive_mode=on \
  -c archive_timeout=60 \
  -c "archive_command=test ! -f /archive/%f && cp %p /archive/%f.part && mv /archive/%f.part /archive/%f" \
  "$@"
