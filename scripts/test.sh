#!/usr/bin/env bash
# Runs lint and the whole test suite in .venv (set up by `make test`). Tests use SQLite always and
# the PostgreSQL at TEST_POSTGRES_URL (default: the local `test` database) when it is reachable;
# under CI=true it must be.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check bot actions tests bench
exec .venv/bin/python -m pytest "$@"
