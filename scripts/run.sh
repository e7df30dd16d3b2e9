#!/usr/bin/env bash
# The run command: set up, migrate, load the demo tenant and serve HTTP + websockets on :8000.
# Embedded by default (SQLite, in-memory channel layer, eager Celery, in-process ticker);
# with DATABASE_URL and REDIS_URL set it uses PostgreSQL and Redis instead.
source "$(dirname "$0")/bootstrap.sh"
if [ -z "${REDIS_URL:-}" ] && [ -z "${OUTBOUND_ALLOWED_HOSTS:-}" ]; then
  # The embedded demo's assets call its own sandbox provider, on this server's own host.
  demo_host="$(python -c 'import os, urllib.parse as u; print(u.urlsplit(os.environ.get("PUBLIC_BASE_URL") or "http://" + os.environ.get("HOST", "127.0.0.1")).hostname or "127.0.0.1")')"
  export OUTBOUND_ALLOWED_HOSTS="${demo_host},127.0.0.1,localhost"
fi
python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
python manage.py demo_seed
exec uvicorn config.asgi:application --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" \
  --lifespan off --log-level "${UVICORN_LOG_LEVEL:-info}"
