"""Coverage of the installed SDK: which of its list endpoints the catalog syncs.

Read from the SDK's own source (every `_get_api_list` call, and the usage and cost endpoints, which are pages
of buckets fetched with `_get`), so that a new SDK release shows what it added. Prints the totals and the
endpoints not synced; `--json` prints them as one object.

    uv run --frozen python bench/coverage.py
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import openai

from openai_sync.catalog import TABLES

LIST_CALL = re.compile(r'self\._get_api_list\(\s*(?:path_template\(\s*)?f?"([^"]+)"')
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sdk = sdk_list_endpoints()
    synced = {shape(t.path) for t in TABLES.values() if t.path}
    out = {"sdk_version": openai.__version__, "sdk_list_endpoints": len(sdk), "synced": len(sdk & synced),
           "tables": len(TABLES), "not_synced": sorted(sdk - synced), "synced_not_in_sdk": sorted(synced - sdk)}
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


if __name__ == "__main__":
    main()
