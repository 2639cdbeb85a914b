#!/usr/bin/env bash
# Set up, then run openai-sync on its embedded default: the demo (simulated organization -> DuckDB).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --no-dev
exec uv run --frozen --no-dev openai-sync demo "$@"
