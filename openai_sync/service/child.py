"""One run of the service, in a process of its own: a crash, an out-of-memory kill or a hung load costs this
run alone, never the service. `python -m openai_sync.service.child SPEC_FILE`.

The spec (JSON, written by the service) names the config file, the connection, the run, its time budget and
the runs to record that earlier children could not (killed before writing their row). The child resolves the
keys itself, from the config's secrets file: no key is ever in its command line or environment. It writes its
result to the spec's `out` file (atomically, twice: after the sync, then with the destination's row counts), so
that the service knows what happened even if recording the history fails. SIGINT stops the sync at a safe
point: what was loaded stays loaded."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

INTERRUPTED = {"status": "interrupted", "error_kind": "interrupted",
               "error": "the run was stopped (the service is stopping, or the run went past its time limit); "
                        "nothing is half-loaded and the next run resumes"}


def _write(path: Path, obj: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, default=str))
    os.replace(tmp, path)


def _sync(spec: dict[str, Any]) -> tuple[dict[str, Any], Any, Any]:
    """The run's result (what `sync --json` prints, with its exit code), its configuration and its outcome."""
    from ..config import ConfigError, resolve
    from ..outcome import attempt, failed, sync_config

    try:
        resolved = resolve({"config": spec["config"], "connection": spec["connection"]}, env={})  # files only
        cfg = sync_config(resolved)
    except (ConfigError, ValueError) as e:
        return {**failed(str(e), "config", 2).result, "exit_code": 2}, None, None
    if spec.get("resync"):
        cfg = replace(cfg, tables=tuple(spec["resync"]), resync=True)
    if spec.get("budget"):
        cfg = replace(cfg, time_budget=min(cfg.time_budget or spec["budget"], spec["budget"]))
    try:
        done = attempt(cfg)
    except KeyboardInterrupt:
        return INTERRUPTED, cfg, None
    return {**done.result, "exit_code": done.code}, cfg, done


def _record(spec: dict[str, Any], result: dict[str, Any], cfg: Any, done: Any) -> dict[str, Any]:
    """This run's row and the earlier unrecorded ones into the destination, and each table's rows there."""
    from ..api.keys import scrub
    from ..outcome import first_lines
    from ..report import row_counts
    from ..service import history
    from ..service.state import Run

    out: dict[str, Any] = {"recorded": [], "counts": {}, "ended_at": time.time()}
    if cfg is None or result.get("error_kind") == "busy":  # another sync holds the destination: leave it alone
        return out
    run = Run.started_from(spec["run"])
    run.finish(result, out["ended_at"])  # the row the service's own state will hold
    runs = [*spec.get("pending", []), run.public()]
    try:
        if done is not None and done.report is not None and done.report.pipeline is not None:
            out["counts"] = row_counts(done.report.pipeline, [t["table"] for t in result.get("tables", [])])
        history.write(cfg.destination, cfg.schema, cfg.pipelines_dir, runs)
        out["recorded"] = [r["run_id"] for r in runs]
    except Exception as e:  # the data is loaded; the history rows are written by the next run
        out["record_error"] = scrub(f"could not write {history.RUNS_TABLE}: {first_lines(e)}", *cfg.secrets())
    return out


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text())
    out = Path(spec["out"])
    try:
        result, cfg, done = _sync(spec)
    except KeyboardInterrupt:  # stopped before the sync began (while loading its libraries)
        result, cfg, done = INTERRUPTED, None, None
    except BaseException as e:  # never a traceback: it could quote a value
        result, cfg, done = {"status": "error", "error_kind": "unexpected", "exit_code": 1,
                             "error": f"the run's process failed: {type(e).__name__}"}, None, None
    _write(out, {"result": result, "ended_at": time.time()})
    if result["status"] != "interrupted":  # stopping: the service records it with the next run
        try:
            _write(out, {"result": result, **_record(spec, result, cfg, done)})
        except KeyboardInterrupt:  # stopped while recording: the result is written, the next run records it
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
