#!/usr/bin/env bash
# The whole test suite: code-shape guard rails, then the tests (which start JACK and Xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.cache/numba}"
echo "== ruff" && .venv/bin/ruff check liveai tests
echo "== import-linter" && .venv/bin/lint-imports
echo "== pytest" && exec .venv/bin/python -m pytest -q "$@"
