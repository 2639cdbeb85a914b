"""Tables whose rows the destination refused: they fail alone, and the next run reads them again.

dlt would keep retrying a package whose job the database refused terminally (a JSON value PostgreSQL cannot
store, say), and every later run would fail on it: one odd value would block every table forever. So jobs
are loaded with dlt's `raise_on_failed_jobs` off: a refused job is recorded as failed and the package
completes. The tables it belonged to are then reported failed, with the database's sentence, and their
state (watermark, cursor) is put back where it was before the run, in a small load of its own: the next run
reads them again from there. The other tables' rows and state are loaded as usual.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import dlt

from ..read.projects import STATE_KEY

STATE_REPAIR = "openai_sync_state_repair"


def snapshot(pipeline: Any) -> dict[str, Any]:
    """The tables' state before the run: each resource's, and the project tables' shared one."""
    source = pipeline.state.get("sources", {}).get(pipeline.default_schema_name or "", {})
    return copy.deepcopy({"resources": source.get("resources", {}), STATE_KEY: source.get(STATE_KEY)})


def failed_tables(info: Any) -> dict[str, str]:
    """The tables of the jobs the destination refused, with the first line of its reason."""
    out: dict[str, str] = {}
    for package in getattr(info, "load_packages", []) or []:
        for job in package.jobs.get("failed_jobs", []):
            out.setdefault(job.job_file_info.table_name, reason(str(job.failed_message or "")))
    return out


def reason(message: str) -> str:
    """The database's sentence: from a traceback, the last line that names an error (`...Error: why`), without
    the database's DETAIL lines (they quote the refused row's values)."""
    lines = [ln.strip() for ln in message.splitlines() if ln.strip() and not ln.lstrip().startswith(("DETAIL", "File"))]
    named = [ln for ln in lines if re.match(r"[\w.]+(Error|Exception|Violation)\b.*:", ln)]
    return (named[-1] if named else lines[-1] if lines else "no reason given")[:500]


def revert(pipeline: Any, before: dict[str, Any], tables: list[str], projects: bool) -> None:
    """Put the tables' state back as it was before the run (the project tables' shared state too)."""

    def repair() -> Iterator[Any]:
        state = dlt.current.source_state()
        resources = state.setdefault("resources", {})
        for name in tables:
            if name in before["resources"]:
                resources[name] = copy.deepcopy(before["resources"][name])
            else:
                resources.pop(name, None)
        if projects:
            if before[STATE_KEY] is None:
                state.pop(STATE_KEY, None)
            else:
                state[STATE_KEY] = copy.deepcopy(before[STATE_KEY])
        yield from ()

    pipeline.extract(dlt.resource(repair(), name=STATE_REPAIR))
    pipeline.normalize()
    pipeline.load()
