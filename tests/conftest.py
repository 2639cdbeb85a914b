"""Shared fixtures: a real simulator on a free loopback port."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from contract_support import Contract, load_contract
from destinations_support import KINDS, Dest

from openai_sync.simulator import Simulator, World

# Every key of every simulated organization created in this process: no test may leave one in a file.
WORLDS: list[World] = []
_init = World.__init__


def _register(self: World, *args, **kw) -> None:
    _init(self, *args, **kw)
    WORLDS.append(self)


World.__init__ = _register  # type: ignore[method-assign]
KEY_SHAPE = re.compile(rb"sk-(?:admin|proj|svcacct)-[A-Za-z0-9_\-]{16,}")


@pytest.fixture(autouse=True)
def no_key_in_any_file(request) -> Iterator[None]:
    """After each test that had a temporary folder: no file it left there holds a key, except the secrets file
    (`*.secrets.toml`, mode 0600), which is where keys belong. DuckDB, Parquet, state, logs: all searched."""
    root: Path | None = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if root is None:
        return
    keys = {k.encode() for w in WORLDS for k in w.keys}
    for f in root.rglob("*"):
        if f.is_file() and not f.name.endswith(".secrets.toml"):
            found = [m for m in KEY_SHAPE.findall(f.read_bytes()) if m in keys]
            assert not found, f"a key was written to {f.relative_to(root)}"


# A fixed clock keeps every test deterministic (2026-01-05 00:00 UTC: after the costs api_key_id cut-off).
NOW = 1767571200


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A small organization, fresh for each test (tests may advance its clock or inject faults)."""
    with Simulator(World(seed=7, size="small", now=NOW)) as s:
        yield s


@pytest.fixture(scope="session")
def shared_sim() -> Iterator[Simulator]:
    """A medium organization shared by read-only tests. Do not advance its clock or set faults."""
    with Simulator(World(seed=11, size="medium", now=NOW)) as s:
        yield s


def admin_client(s: Simulator, **kw) -> openai.OpenAI:
    return openai.OpenAI(admin_api_key=s.world.admin_key, api_key="unused", base_url=s.base_url,
                         max_retries=kw.pop("max_retries", 0), **kw)


def project_client(s: Simulator, project_id: str | None = None, **kw) -> openai.OpenAI:
    pid = project_id or next(iter(s.world.project_keys))
    return openai.OpenAI(api_key=s.world.project_keys[pid], base_url=s.base_url,
                         max_retries=kw.pop("max_retries", 0), **kw)


@pytest.fixture(scope="session")
def contract() -> Iterator[Contract]:
    """The OpenAPI contract (tests/data/openai-openapi/openapi.yaml), loaded once: see contract_support.py."""
    c = load_contract()
    yield c
    print(f"\ncontract: {len(c.routes)} route templates, {c.requests} requests and {c.responses} responses "
          f"validated ({dict(sorted(c.statuses.items()))}), {c.objects} objects")


@pytest.fixture(params=KINDS)
def dest(request, tmp_path) -> Iterator[Dest]:
    """End-to-end tests that take `dest` run on a DuckDB file and on a fresh schema of the real PostgreSQL."""
    d = Dest(request.param, tmp_path)
    yield d
    if d.kind == "postgres":
        d.wipe()


def empty_config(folder: Path, name: str = "c.toml") -> str:
    """A config file with nothing in it: `--config` must name a file that exists, and this one makes a test
    independent of any ./openai-sync.toml without adding settings."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return str(path)
