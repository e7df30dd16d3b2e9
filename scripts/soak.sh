#!/usr/bin/env bash
# The soak-and-fault harness (bench/soak.py, see docs/reliability.md) with the project's .venv
# first on PATH, as scripts/bootstrap.sh sets it. Arguments go to the harness:
#   bash scripts/soak.sh --duration 120 --rate 4
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.venv/bin:$PATH"
exec python bench/soak.py "$@"
