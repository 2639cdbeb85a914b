"""Coverage of the installed SDK: which of its list endpoints the catalog syncs, and (`--fields`) which of
the fields their response types declare the simulator emits.

Read from the SDK's own source (every `_get_api_list` call, and the usage and cost endpoints, which are pages
of buckets fetched with `_get`), so that a new SDK release shows what it added. `--fields` syncs a simulated
organization (every table, every project key) into a throwaway DuckDB file, keeps every page the connector
received, and compares each synced endpoint's objects with the fields of its SDK type (nested fields as
`a.b`, list items as `a[].b`, every member of a union); it syncs twice, the second time three days later on
the simulator's clock, so that what changes over time (deletions, state changes, their audit events) is seen
too. `--json` prints one object.

    uv run --frozen python bench/coverage.py
    uv run --frozen python bench/coverage.py --fields --size medium
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import tempfile
import typing
from pathlib import Path
from typing import Any

import openai
import pydantic

from openai_sync.catalog import TABLES

LIST_CALL = re.compile(r'self\._get_api_list\(\s*(?:path_template\(\s*)?f?"([^"]+)"')
ITEM_MODEL = re.compile(r"page=\w+\[(\w+)\]")
CAST_MODEL = re.compile(r"cast_to=(\w+)")
BUCKETS = re.compile(r'self\._get\(\s*"(/organization/(?:usage/[a-z_]+|costs))"')


def shape(path: str) -> str:
    """A path with its parameters blanked: `/projects/{project_id}/roles` and `/projects/{}/roles` are one."""
    return re.sub(r"\{[^}]+\}", "{}", path.split("?")[0])


def sdk_list_endpoints() -> set[str]:
    root = Path(openai.__file__).parent / "resources"
    found: set[str] = set()
    for source in root.rglob("*.py"):
        text = source.read_text()
        for m in LIST_CALL.finditer(text):  # a POST that returns a page (activate, search) lists nothing
            call = text[m.start():text.find("\n        )", m.start())]
            if 'method="post"' not in call:
                found.add(shape(m.group(1)))
        found |= {shape(m.group(1)) for m in BUCKETS.finditer(text)}
    return found


def sdk_models() -> dict[str, Any]:
    """Each list endpoint's item type (a bucket for usage and costs), from the SDK's resource modules."""
    root = Path(openai.__file__).parent / "resources"
    out: dict[str, Any] = {}
    for source in root.rglob("*.py"):
        text = source.read_text()
        module = None
        for pattern, regex in ((LIST_CALL, ITEM_MODEL), (BUCKETS, CAST_MODEL)):
            for m in pattern.finditer(text):
                call = text[m.start():text.find("\n        )", m.start())]
                model = regex.search(call)
                if 'method="post"' in call or not model or shape(m.group(1)) in out:
                    continue
                if module is None:
                    name = ".".join(source.relative_to(root.parent.parent).with_suffix("").parts)
                    module = importlib.import_module(name)
                cls = getattr(module, model.group(1), None)
                if pattern is BUCKETS and cls is not None:  # the page: its `data` items are the buckets
                    cls = _items(cls.model_fields["data"].annotation)[0]
                if cls is not None:
                    out[shape(m.group(1))] = cls
    return out


def _items(annotation: Any) -> list[Any]:
    """The model classes an annotation holds (through Optional, List, Union, Annotated)."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [annotation]
    if origin is None:
        return []
    return [c for a in typing.get_args(annotation) for c in _items(a)]


def _object(cls: Any) -> str | None:
    """The `object` literal of a model (`organization.usage.completions.result`), if it has one."""
    f = cls.model_fields.get("object")
    args = typing.get_args(f.annotation) if f is not None else ()
    return args[0] if len(args) == 1 and isinstance(args[0], str) else None


def declared(cls: Any, prefix: str = "", depth: int = 0, result: str | None = None) -> set[str]:
    """Every field path of a model: nested models as `a.b`, lists of models as `a[].b`. `result`: of a union
    discriminated by `object` (a usage bucket's results, typed as every kind of result), keep that kind only."""
    out: set[str] = set()
    for name, f in cls.model_fields.items():
        key = f.alias or name
        path = f"{prefix}{key}"
        out.add(path)
        ann = f.annotation
        sub = _members(ann)
        if result and any(_object(c) == result for c, _l in sub):
            sub = [(c, listy) for c, listy in sub if _object(c) == result]
        if depth < 6:
            for c, listy in sub:
                out |= declared(c, f"{path}{'[]' if listy else ''}.", depth + 1)
    return out


def _members(annotation: Any, listy: bool = False) -> list[tuple[Any, bool]]:
    """The model classes an annotation holds, each with whether it is a list's item (`Union[List[str], Filter]`:
    the filter is not)."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return [(annotation, listy)]
    origin = typing.get_origin(annotation)
    if origin is None:
        return []
    inner = listy or origin is list
    return [m for a in typing.get_args(annotation) for m in _members(a, inner)]


def result_object(template: str) -> str | None:
    """The `object` of the results a usage or cost endpoint returns."""
    if template == "/organization/costs":
        return "organization.costs.result"
    if template.startswith("/organization/usage/"):
        kind = template.rsplit("/", 1)[1].replace("_calls", "es")  # file_search_calls: file_searches
        return f"organization.usage.{kind}.result"
    return None


def observed(obj: Any, prefix: str = "", depth: int = 0, valued: bool = False) -> set[str]:
    """Every field path of an object; `valued`: only those holding something (not null, not empty)."""
    out: set[str] = set()
    if not isinstance(obj, dict) or depth > 6:
        return out
    for k, v in obj.items():
        path = f"{prefix}{k}"
        if not valued or v not in (None, {}, [], ""):
            out.add(path)
        if isinstance(v, dict):
            out |= observed(v, f"{path}.", depth + 1, valued)
        elif isinstance(v, list):
            for item in v:
                out |= observed(item, f"{path}[].", depth + 1, valued)
    return out


class Observed:
    """What a sync received from each synced endpoint (field paths, and those that held a value), and the
    columns its tables ended with."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}
        self.valued: dict[str, set[str]] = {}
        self.columns: dict[str, set[str]] = {}
        self.invalid: list[str] = []  # objects the SDK's own type refuses
        self.validated = 0


def observe(size: str, hours: float = 72) -> Observed:
    """Sync a simulated organization (every table, every project key, content included), move its clock `hours`
    and sync again, keeping every page the connector received and the destination's columns."""
    import duckdb

    from openai_sync.api import client as client_module
    from openai_sync.api.keys import ProjectKey
    from openai_sync.runner import SyncConfig, sync
    from openai_sync.simulator import Simulator, World

    templates = {shape(t.path): re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t.path)) + "$")
                 for t in TABLES.values() if t.path}
    got = Observed()
    real = client_module.Client._parse
    models = sdk_models()
    checked: dict[str, int] = {}

    def keep(self: Any, resp: Any, path: str) -> dict[str, Any]:
        data = real(self, resp, path)
        bare = path.split("?")[0]
        for template, rx in templates.items():
            if rx.match(bare):
                for obj in data.get("data", []) if isinstance(data.get("data"), list) else [data]:
                    got.seen.setdefault(template, set()).update(observed(obj))
                    got.valued.setdefault(template, set()).update(observed(obj, valued=True))
                    if template in models and checked.get(template, 0) < 500:  # the first 500 of each
                        checked[template] = checked.get(template, 0) + 1
                        got.validated += 1
                        try:
                            models[template].model_validate(obj)
                        except pydantic.ValidationError as e:
                            got.invalid.append(f"{template} {obj.get('id')}: {str(e)[:300]}")
        return data

    client_module.Client._parse = keep  # type: ignore[method-assign]
    try:
        world = World(seed=42, size=size)
        with Simulator(world) as sim, tempfile.TemporaryDirectory() as tmp:
            db = f"{tmp}/c.duckdb"
            cfg = SyncConfig(admin_key=world.admin_key, base_url=sim.base_url, destination=f"duckdb:///{db}",
                             pipelines_dir=f"{tmp}/state", chat_completion_content=True,
                             project_keys=[ProjectKey(k, p) for p, k in world.project_keys.items()])
            sync(cfg)
            world.advance(hours)
            sync(cfg)
            with duckdb.connect(db, read_only=True) as con:
                for table, column in con.execute(
                        "SELECT table_name, column_name FROM information_schema.columns "
                        "WHERE table_schema = 'openai'").fetchall():
                    got.columns.setdefault(table, set()).add(column)
    finally:
        client_module.Client._parse = real  # type: ignore[method-assign]
    return got


def field_coverage(size: str, got: Observed | None = None) -> dict[str, dict[str, Any]]:
    """Per synced endpoint: the fields its SDK type declares, and those the simulator emitted in two syncs
    three days apart."""
    got = got or observe(size)
    models = sdk_models()
    out: dict[str, dict[str, Any]] = {}
    for template in sorted({shape(t.path) for t in TABLES.values() if t.path}):
        if template not in models:
            continue
        want = declared(models[template], result=result_object(template))
        seen = got.seen.get(template, set())
        out[template] = {"declared": len(want), "emitted": len(want & seen), "missing": sorted(want - seen)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--fields", action="store_true", help="also sync a simulated organization and count the "
                    "fields of each synced endpoint's SDK type that the simulator emits")
    ap.add_argument("--size", default="medium", choices=["small", "medium"])
    args = ap.parse_args()
    sdk = sdk_list_endpoints()
    synced = {shape(t.path) for t in TABLES.values() if t.path}
    out: dict[str, Any] = {"sdk_version": openai.__version__, "sdk_list_endpoints": len(sdk),
                           "synced": len(sdk & synced), "tables": len(TABLES), "not_synced": sorted(sdk - synced),
                           "synced_not_in_sdk": sorted(synced - sdk)}
    if args.fields:
        fields = field_coverage(args.size)
        out["fields_declared"] = sum(f["declared"] for f in fields.values())
        out["fields_emitted"] = sum(f["emitted"] for f in fields.values())
        out["fields"] = fields
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"openai {out['sdk_version']}: {out['synced']} of {out['sdk_list_endpoints']} list endpoints synced "
          f"({out['tables']} tables)")
    print("not synced:")
    for p in out["not_synced"]:
        print(f"  {p}")
    if out["synced_not_in_sdk"]:
        print("synced, but not a list endpoint of this SDK:", ", ".join(out["synced_not_in_sdk"]))
    if args.fields:
        print(f"fields the simulator emits ({args.size} organization): {out['fields_emitted']} of "
              f"{out['fields_declared']} that the SDK declares for the {len(out['fields'])} synced endpoints")
        for template, f in out["fields"].items():
            if f["missing"]:
                print(f"  {template}: {f['emitted']}/{f['declared']}; missing {', '.join(f['missing'][:12])}"
                      f"{' ...' if len(f['missing']) > 12 else ''}")


if __name__ == "__main__":
    main()
