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
python manage.py migrate --noinput
python manage.py collectstatic --noinput --verbosity 0
python manage.py demo_seed
exec uvicorn config.asgi:application --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" \
  --lifespan off --log-level "${UVICORN_LOG_LEVEL:-info}"
