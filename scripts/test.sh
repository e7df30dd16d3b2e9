#!/usr/bin/env bash
# The test command: the whole suite against real PostgreSQL and Redis.
source "$(dirname "$0")/bootstrap.sh"
source "$(dirname "$0")/ensure-chromium.sh"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
exec python -m pytest "$@"
