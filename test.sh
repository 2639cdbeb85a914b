#!/usr/bin/env bash
# Set up (with the development tools), then run the linter and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --extra dbt --extra dagster --extra airflow  # the dbt package, Dagster and Airflow are tested too
uv run --frozen ruff check openai_sync tests bench
uv run --frozen pytest -n 2 "$@"
