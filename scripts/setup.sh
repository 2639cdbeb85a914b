#!/usr/bin/env bash
# Installs what openai-sync needs into ./.venv, exactly as locked in uv.lock. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
    echo "setup: installing uv (the package manager that reads uv.lock)" >&2
    python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "setup: openai-sync needs Python 3.11 or newer (found $(python3 --version 2>&1))" >&2
    exit 1
fi
uv sync --frozen --quiet "$@"
