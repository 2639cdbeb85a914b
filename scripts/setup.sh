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
# The console's browser tests drive Debian's Chromium (Playwright's own browser download cannot be fetched here).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's chromium for the console's browser tests" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || {
        apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
    } || echo "setup: could not install chromium; the browser tests will be skipped" >&2
fi
