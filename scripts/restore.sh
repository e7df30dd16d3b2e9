#!/usr/bin/env bash
# Restores a backup written by scripts/backup.sh into a NEW database, never over a live one.
#
#   scripts/restore.sh backups/contact_center-20261126T080000Z.dump \
#       postgres://user@host:5432/contact_center_restored
#
# Creates the target database (it must not exist yet), restores into it with pg_restore
# (stopping at the first error), and prints what to do next: point DATABASE_URL at it, run
# `manage.py migrate` (a no-op for a dump of the same version), start the workers and beat. The
# beat's sweeps pick up what the dump caught half done: events still pending are queued again,
# due offers expire. Then let the providers redeliver what they sent since the backup (see
# docs/reliability.md): intake is idempotent, so nothing is stored twice.
set -euo pipefail
dump="${1:?usage: scripts/restore.sh <dump file> <target database URL>}"
target="${2:?usage: scripts/restore.sh <dump file> <target database URL>}"
[ -r "$dump" ] || { echo "restore: cannot read $dump" >&2; exit 2; }
name="${target##*/}"
name="${name%%\?*}"
maintenance="${target%/*}/postgres"
if [[ ! "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
  echo "restore: the target database name must be letters, digits and underscores" >&2
  exit 2
fi
if [ -n "$(psql "$maintenance" -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]; then
  echo "restore: database $name already exists; restore into a new one (then switch over)" >&2
  exit 2
fi
psql "$maintenance" -q -c "CREATE DATABASE \"$name\""
pg_restore --exit-on-error --no-owner --no-privileges --jobs=2 --dbname="$target" "$dump"
echo "Restored $dump into $name."
echo "Next: DATABASE_URL=$target manage.py migrate; start the ASGI servers, workers and beat."
