"""One sync, attempted: a connection's settings made into a run's configuration, the run, and its outcome as the
object `sync --json` prints, with the exit code that agrees with it. The command line prints it; the service's
child process records it. A failure is a sentence (keys scrubbed) and a kind the service can act on: `key`
(pause the connection: retrying a revoked key only hammers the API), `busy`, `config`, `load`, `unexpected`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .api.errors import KeyProblem, SyncError
from .api.keys import scrub
from .config import Resolved, parse_every, parse_widths
from .load import destinations

if TYPE_CHECKING:  # the runner imports dlt and the SDK: loaded when a sync starts, not for `--help`
    from .runner import RunReport, Status, SyncConfig, TableResult

HINTS = {"No space left on device": "the disk holding the destination is full: free some space (or choose another "
                                     "destination) and run again",
         "Read-only file system": "the destination is on a read-only file system",
         "Permission denied": "this user may not write the destination"}


@dataclass
class Outcome:
    code: int  # 0 ok, 1 partial or a failed load, 2 nothing written (bad key or configuration)
    result: dict[str, Any]  # what `sync --json` prints
    results: list[TableResult] = field(default_factory=list)
    report: RunReport | None = None


def sync_config(r: Resolved, yes: bool = False) -> SyncConfig:
    from .runner import DEFAULT_START, SyncConfig

    s = r.settings
    default_w, per_w = parse_widths(s.bucket_width)
    start = s.start_epoch()
    return SyncConfig(admin_key=r.secrets.admin_key, base_url=s.base_url, destination=destinations.normalize(
        s.destination), schema=s.schema_name, tables=s.tables, concurrency=s.concurrency, bucket_width=default_w,
        bucket_widths=per_w, start_date=start if start is not None else DEFAULT_START,
        lookback_seconds=int(s.lookback_hours * 3600), audit_lookback_seconds=int(s.audit_lookback_minutes * 60),
        pipelines_dir=s.state_dir,
        project_keys=r.secrets.project_keys, chat_completion_content=s.chat_completion_content,
        exclude_tables=s.exclude_tables or [], block_columns=s.block_columns or [],
        hash_columns=s.hash_columns or [], hash_key=r.secrets.hash_key, history_tables=s.history_tables or [],
        history_ignore_columns=s.history_ignore_columns or [],
        history_off_tables=s.history_off_tables or [], confirm_history_off=yes,
        time_budget=s.time_budget_minutes * 60 if s.time_budget_minutes else None,
        reconcile_every=parse_every(s.reconcile_every, "reconcile_every"),
        volatile_every=parse_every(s.volatile_every, "volatile_every"))


def _cut(text: str, most: int = 1200) -> str:
    return text if len(text) <= most else text[:most] + "…"


def first_lines(e: BaseException, n: int = 3) -> str:
    """What went wrong, in a sentence: a traceback quoted in a message is cut down to its last line, the
    exception that started it, and a known operating-system failure is named first."""
    text = str(e).strip()
    hint = next((h for cause, h in HINTS.items() if cause in text), None)
    if "Traceback (most recent call last)" in text:
        last = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith((" ", "Traceback"))]
        text = last[-1] if last else text
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    out = " ".join(lines[:n]) or type(e).__name__  # cut after the caller scrubbed keys: see _cut
    return f"{hint} ({out})" if hint else out


def by_interrupt(e: BaseException) -> bool:
    """Whether a Ctrl-C is behind the error: dlt wraps it (KeyboardInterrupt, or its SignalReceivedException)."""
    seen: BaseException | None = e
    for _ in range(20):
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt) or type(seen).__name__ == "SignalReceivedException":
            return True
        seen = getattr(seen, "exception", None) or seen.__cause__ or seen.__context__
    return False


def failed(message: str, kind: str, code: int) -> Outcome:
    return Outcome(code, {"status": "error", "error": message, "error_kind": kind})


def attempt(cfg: SyncConfig, progress: Callable[[Status], None] | None = None) -> Outcome:
    """Run one sync. An interrupt (Ctrl-C, or the service stopping a run) is raised as KeyboardInterrupt."""
    from dlt.pipeline.exceptions import PipelineStepFailed

    from .load.locks import Busy
    from .report import exit_code, result_json
    from .runner import sync

    started = time.monotonic()
    try:
        results, run = sync(cfg, progress)
    except KeyProblem as e:
        return failed(str(e), "key", 2)
    except Busy as e:
        return failed(str(e), "busy", 2)
    except (SyncError, ValueError) as e:
        return failed(str(e), "config", 2)
    except PipelineStepFailed as e:
        if by_interrupt(e):
            raise KeyboardInterrupt from None
        msg = (f"loading into {destinations.shown(cfg.destination)} failed at the {e.step} step: "
               f"{type(e.exception).__name__}: {first_lines(e.exception)}. Nothing of this run is half-loaded: "
               "each table's merge is atomic, and the next run loads what this one could not.")
        return failed(_cut(scrub(msg, *cfg.secrets())), "load", 1)
    except Exception as e:  # anything else: one sentence, never a traceback (which could quote a key)
        msg = (f"the sync stopped unexpectedly: {type(e).__name__}: {first_lines(e)}. The destination is as the "
               "last completed load left it; the next run resumes. If it persists, report this message.")
        return failed(_cut(scrub(msg, *cfg.secrets())), "unexpected", 1)
    seconds = time.monotonic() - started
    result = result_json(results, run, seconds, destinations.shown(cfg.destination), cfg.schema)
    return Outcome(exit_code(results, run), result, results, run)
