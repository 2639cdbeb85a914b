"""The shape of the code (docs/architecture.md): imports point one way, nothing cycles, modules and functions
stay small, the sync never loads the simulator, and a new endpoint becomes a table with a catalog entry and
a simulator route alone."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import NOW

from openai_sync import catalog
from openai_sync.runner import SyncConfig, sync
from openai_sync.simulator import Simulator, World, routes
from openai_sync.simulator.seq import Item, Seq

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "openai_sync"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def test_import_layers_and_no_cycles_hold():
    """import-linter checks the contracts of pyproject.toml: layers, no cycles, the simulator apart."""
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "4 kept, 0 broken" in r.stdout, r.stdout


def test_every_connector_module_has_a_layer():
    """A new top-level module or package must be placed in a layer, or the layers contract says nothing of it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    layered = {m.strip() for layer in layers for m in layer.split("|")}
    top = {f"openai_sync.{p.stem if p.is_file() else p.name}" for p in PACKAGE.iterdir()
           if (p.suffix == ".py" and p.stem != "__init__") or (p.is_dir() and (p / "__init__.py").exists())}
    assert top - {"openai_sync.simulator"} == layered


def _connector_files() -> list[Path]:
    return [f for f in sorted(PACKAGE.rglob("*.py")) if "simulator" not in f.relative_to(PACKAGE).parts]


def test_modules_and_functions_stay_small():
    """No connector module over 400 lines; no function over 60 lines unless a `# long:` comment on its `def`
    line says why."""
    too_long = []
    for f in _connector_files():
        lines = f.read_text().splitlines()
        if len(lines) > MAX_MODULE_LINES:
            too_long.append(f"{f.relative_to(ROOT)}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if n > MAX_FUNCTION_LINES and "# long:" not in lines[node.lineno - 1]:
                    too_long.append(f"{f.relative_to(ROOT)}:{node.lineno} {node.name}(): {n} lines")
    assert not too_long, "\n".join(too_long)
    assert len(_connector_files()) > 30  # the walk found the package


# ---- the sync and Save & Test never load the simulator ---------------------------------------------------------
PROBE = """
import atexit, json, sys
def loaded():
    bad = sorted(m for m in sys.modules if m.startswith("openai_sync.simulator") or m.split(".")[0] == "uvicorn")
    print("LOADED " + json.dumps(bad), file=sys.stderr)
atexit.register(loaded)
sys.argv = ["openai-sync", *sys.argv[1:]]
from openai_sync.cli import main
main()
"""


@pytest.mark.parametrize("command", [["sync", "--json"], ["test", "--json"]])
def test_sync_and_test_do_not_import_the_simulator_or_uvicorn(sim, tmp_path, command):
    env = {**os.environ, "OPENAI_ADMIN_KEY": sim.world.admin_key, "OPENAI_BASE_URL": sim.base_url,
           "OPENAI_SYNC_CONFIG": str(tmp_path / "c.toml"), "OPENAI_SYNC_DESTINATION": f"{tmp_path}/out.duckdb"}
    env.pop("OPENAI_PROJECT_KEYS", None)
    extra = ["--tables", "users,projects", "--state-dir", str(tmp_path / "state")] if command[0] == "sync" else []
    r = subprocess.run([sys.executable, "-c", PROBE, *command, *extra], capture_output=True, text=True, env=env,
                       timeout=120, cwd=tmp_path)
    out = json.loads(r.stdout)
    assert out["status"] in ("ok", "partial"), r.stdout  # it ran
    assert r.returncode == (0 if out["status"] == "ok" else 1)
    loaded = json.loads(r.stderr.split("LOADED ", 1)[1])
    assert loaded == [], f"openai-sync {command[0]} imported {loaded}"


def test_the_simulator_command_still_loads_it_on_demand():
    r = subprocess.run([sys.executable, "-c", PROBE, "simulator", "--faults", "bogus:1"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "malformed" in r.stderr  # the kinds come from the simulator, read when needed
    assert "openai_sync.simulator" in json.loads(r.stderr.split("LOADED ", 1)[1])


# ---- adding a table: the worked example of docs/architecture.md ------------------------------------------------
LABELS = catalog.Table("project_labels", "/organization/projects/{project_id}/labels", "full", ("project_id", "id"),
                       parent="projects", parent_column="project_id", timestamp_columns=("archived_at",),
                       description="Labels of each project")
HOUR = 3600


def _labels(world: World) -> dict[str, Seq]:
    """The simulator's side: three labels per project; the first project's second label is deleted two hours
    after the clock starts."""
    out = {}
    for p in world.projects:
        items = []
        for k in range(3):
            lid, created = f"label_{p.index}_{k}", p.created_at + k * 60
            gone = world.now0 + 2 * HOUR if (p.index, k) == (0, 1) else None

            def render(now: int, lid: str = lid, created: int = created, k: int = k) -> dict:
                return {"object": "project.label", "id": lid, "name": f"label {k}", "created_at": created,
                        "archived_at": None, "color": {"name": "blue", "hex": "#00f"}}

            items.append(Item(lid, created, gone, render))
        out[p.id] = Seq.of(items)
    return out


def test_a_table_is_a_catalog_entry_and_a_simulator_route(dest, monkeypatch):
    world = World(seed=3, size="small", now=NOW)
    labels = _labels(world)
    # the two additions, and nothing else
    monkeypatch.setattr(catalog, "ORG_TABLES", (*catalog.ORG_TABLES, LABELS))
    monkeypatch.setattr(catalog, "ALL_TABLES", (*catalog.ALL_TABLES, LABELS))
    monkeypatch.setitem(catalog.TABLES, LABELS.name, LABELS)
    monkeypatch.setattr(routes, "ROUTES", [*routes.ROUTES, routes.Route(
        "/organization/projects/{project_id}/labels", "admin", routes.M,
        routes.list_of(lambda r: labels.get(r.params["project_id"]), "project", order_param=False))])

    def synced(sim: Simulator) -> None:
        cfg = SyncConfig(admin_key=world.admin_key, base_url=sim.base_url, destination=dest.destination,
                         schema=dest.schema, pipelines_dir=str(dest.tmp / "state"), tables=["projects", LABELS.name])
        results, _ = sync(cfg)
        assert [(r.name, r.status) for r in results] == [("projects", "ok"), (LABELS.name, "ok")]

    with Simulator(world) as sim:
        synced(sim)
        rows = dest.q("SELECT project_id, id, name, color__hex, _deleted FROM openai.project_labels ORDER BY id")
        assert {(pid, it.id) for pid, seq in labels.items() for it in seq.alive(world.now)} == \
            {(r[0], r[1]) for r in rows}
        assert all(r[3] == "#00f" and r[4] is False for r in rows)  # a 1:1 object flattened; soft deletes on
        types = dict(dest.q("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = 'openai' AND table_name = 'project_labels'"))
        assert types["archived_at"] == dest.type_name("TIMESTAMP WITH TIME ZONE")  # null on every row, typed
        sim.advance(3)  # the first project's second label is deleted
        synced(sim)
    gone = dest.q("SELECT id FROM openai.project_labels WHERE _deleted")
    assert gone == [("label_0_1",)]
    assert dest.one("SELECT count(*) FROM openai.project_labels") == len(rows)  # merged by key: no duplicate


def test_the_readme_lists_every_table():
    """Adding a table ends with documenting it: the README's table list names every catalog table."""
    readme = (ROOT / "README.md").read_text()
    tables = readme[readme.index("### Tables"):readme.index("### Behaviour on failure")]
    missing = [n for n in catalog.TABLES if f"`{n}`" not in tables]
    assert not missing, f"README's Tables section does not name: {', '.join(missing)}"


def test_paths_have_one_placeholder_style():
    """A path's `{name}` is the column carrying the parent's id, or one its ancestors carry (the parent object
    has it); a retrieve path may also name the object's own `{id}`. Nothing else is ever filled in."""
    for t in catalog.ALL_TABLES:
        known = {c for c in [t.parent_column, *(catalog.TABLES[a].parent_column for a in catalog.ancestors(t.name))]
                 if c}
        for path in t.paths():
            assert set(catalog.placeholders(path)) <= known, (t.name, path)
        if t.retrieve:
            assert set(catalog.placeholders(t.retrieve)) <= known | {"id"}, (t.name, t.retrieve)
        if t.parent:  # a child's listing names its parent
            assert all(t.parent_column in catalog.placeholders(p) for p in t.paths()), t.name
