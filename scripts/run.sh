#!/usr/bin/env bash
# The run command: set up, migrate, load the demo tenant and serve HTTP + websockets on
# HOST:PORT (default 127.0.0.1:8000); PUBLIC_BASE_URL defaults to that address.
# Embedded by default (SQLite, in-memory channel layer, eager Celery, in-process ticker);
# with DATABASE_URL and REDIS_URL set it uses PostgreSQL and Redis instead.
source "$(dirname "$0")/bootstrap.sh"
if [ -z "${REDIS_URL:-}" ]; then
  # The embedded demo calls its own fake provider at /sandbox/provider/ (staff see what was sent).
  export SANDBOX_PROVIDER="${SANDBOX_PROVIDER:-true}"
fi
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
