#!/usr/bin/env bash
# The test command: the whole suite against real PostgreSQL and Redis.
source "$(dirname "$0")/bootstrap.sh"
source "$(dirname "$0")/ensure-chromium.sh"
source "$(dirname "$0")/ensure-clamd.sh"
source "$(dirname "$0")/ensure-mail-servers.sh"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
# With PostgreSQL and Redis the settings refuse to start without keys: throwaway ones per run.
export SECRET_KEY="${SECRET_KEY:-$(python -c 'import secrets; print(secrets.token_urlsafe(50))')}"
if [ -z "${FIELD_ENCRYPTION_KEYS:-}" ] && [ -z "${FIELD_ENCRYPTION_KEY:-}" ]; then
  FIELD_ENCRYPTION_KEYS="$(python -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
  export FIELD_ENCRYPTION_KEYS
fi
# The test servers speak plain HTTP on loopback: no HTTPS redirect, no Secure-only cookies.
export HTTPS="${HTTPS:-false}"
exec python -m pytest "$@"
