#!/usr/bin/env bash
# An online backup of the whole database, safe while the system runs: pg_dump reads one
# consistent snapshot (a repeatable-read transaction) and blocks no writer.
#
#   DATABASE_URL=postgres://user@host:5432/contact_center scripts/backup.sh [file]
#
# Writes pg_dump's custom format (compressed, restorable table by table, in parallel) to
# `file`, default backups/<database>-<UTC time>.dump, and prints the file's path. The file is
# written under a temporary name first, so a backup that fails halfway never looks complete.
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to the database to back up (postgres://user@host:port/name)}"
name="${DATABASE_URL##*/}"
name="${name%%\?*}"
out="${1:-backups/${name}-$(date -u +%Y%m%dT%H%M%SZ).dump}"
mkdir -p "$(dirname "$out")"
pg_dump --format=custom --compress=6 --no-owner --no-privileges \
  --dbname="$DATABASE_URL" --file="$out.partial"
mv "$out.partial" "$out"
echo "$out"
