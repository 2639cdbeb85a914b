#!/usr/bin/env bash
# Builds ./.venv-focus: the FinOps Foundation's focus-validator 2.2.1, which the FOCUS export's tests run. It needs
# Python 3.12 and numpy 1.26, so it lives in an environment of its own, pinned with hashes in
# scripts/focus-validator.txt. Idempotent; prints the validator's path. Exit 3: no Python 3.12 on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-focus
stamp="$venv/.requirements.sha256"
want=$(sha256sum scripts/focus-validator.txt | cut -d' ' -f1)
if [ -x "$venv/bin/focus-validator" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "$PWD/$venv/bin/focus-validator"
    exit 0
fi
python=""
# pyenv's 3.12 by its full path: uv's interpreter discovery trips on pyenv's inactive python3.12 shim
for candidate in "${OPENAI_SYNC_PYTHON312:-}" "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python \
                 /usr/bin/python3.12 /usr/local/bin/python3.12; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
        python=$candidate
        break
    fi
done
if [ -z "$python" ]; then
    echo "focus-validator: needs Python 3.12 (set OPENAI_SYNC_PYTHON312 to its path); the FOCUS validation tests are skipped" >&2
    exit 3
fi
rm -rf "$venv"
uv venv --quiet --python "$python" "$venv" >&2
VIRTUAL_ENV="$PWD/$venv" uv pip install --quiet --require-hashes -r scripts/focus-validator.txt >&2
echo "$want" > "$stamp"
echo "$PWD/$venv/bin/focus-validator"
