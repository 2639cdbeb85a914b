"""openai-sync installs like a tool: `uv tool install` from a checkout and from a built wheel gives a working
`openai-sync` on the PATH, outside the repository, with the versions uv.lock pins (README, Install)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from openai_sync import __version__

ROOT = Path(__file__).resolve().parent.parent
UV = shutil.which("uv")


def _uv(*args: str, cwd: Path, env: dict[str, str]) -> str:
    r = subprocess.run([UV, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)  # type: ignore[list-item]
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


@pytest.mark.skipif(UV is None, reason="uv is not on the PATH (scripts/setup.sh installs it)")
@pytest.mark.parametrize("source", ["checkout", "wheel"])
def test_uv_tool_install_gives_a_working_command_outside_the_repository(tmp_path, source):
    env = {**os.environ, "UV_TOOL_DIR": str(tmp_path / "tools"), "UV_TOOL_BIN_DIR": str(tmp_path / "bin"),
           "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("VIRTUAL_ENV", None)
    pins = tmp_path / "constraints.txt"  # the README's command: the locked versions, as the tests use them
    _uv("export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "-o", str(pins), cwd=ROOT, env=env)
    target = str(ROOT)
    if source == "wheel":
        _uv("build", "--wheel", "-o", str(tmp_path / "dist"), cwd=ROOT, env=env)
        target = str(next((tmp_path / "dist").glob("openai_sync-*.whl")))
    _uv("tool", "install", "--python", sys.executable, "-c", str(pins), target, cwd=tmp_path, env=env)
    exe = tmp_path / "bin" / "openai-sync"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([str(exe), "--version"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == f"openai-sync {__version__}", r.stderr
    # the whole product from there: the simulator and a sync into DuckDB
    r = subprocess.run([str(exe), "demo", "--size", "small", "--json", "--destination",
                        f"duckdb:///{elsewhere}/demo.duckdb", "--state-dir", str(elsewhere / "state")],
                       cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert '"status": "ok"' in r.stdout and (elsewhere / "demo.duckdb").exists()
