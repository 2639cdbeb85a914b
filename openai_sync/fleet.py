"""`openai-sync sync --all`: every configured connection (one per organization, say), each in a process of its
own, organizations in parallel.

- Connections run in parallel, at most `parallel` at a time. Those that load into the same DuckDB file or lake
  schema run one after another (one writer at a time); into one PostgreSQL schema they run together, and only
  their loads take turns (runner.Locking).
- One bound on requests in flight across all of them (`max_requests`): split among the runs going at once, so
  that N organizations never send more than one machine's share; each key still paces itself by its own rate
  limit (api/throttle.py), since each organization has its own.
- Each connection's keys come from the secrets file: OPENAI_ADMIN_KEY and OPENAI_PROJECT_KEYS in the environment
  would give one organization's keys to every connection, so the runs do not see them.
- The outcome: each connection's `sync --json` object, and the worst exit code (2 > 1 > 0; 130 interrupted).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Resolved
from .load import destinations

KEY_VARIABLES = ("OPENAI_ADMIN_KEY", "OPENAI_PROJECT_KEYS", "OPENAI_SYNC_CONNECTION")


@dataclass
class Ran:
    name: str
    code: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def groups(connections: list[Resolved]) -> list[list[Resolved]]:
    """Connections that must run one after another (one DuckDB file or lake schema), in the file's order."""
    out: dict[tuple[str, str], list[Resolved]] = {}
    for r in connections:
        shared = destinations.kind(r.settings.destination) != "postgres"
        where = (destinations.shown(destinations.identity(r.settings.destination)), r.settings.schema_name)
        out.setdefault(where if shared else (r.name, ""), []).append(r)
    return list(out.values())


def worst(codes: list[int]) -> int:
    """The exit code of several runs: interrupted, then nothing written, then partial, then ok."""
    for code in (130, 2, 1):
        if code in codes:
            return code
    return max(codes, default=0)


class Fleet:
    def __init__(self, connections: list[Resolved], config_path: Path, args: list[str], parallel: int,
                 max_requests: int, on_done: Callable[[Ran], None] | None = None) -> None:
        self.groups = groups(connections)
        self.config_path = config_path
        self.args = args  # flags passed on to every run (--tables, --time-budget, ...)
        self.parallel = max(1, min(parallel, len(self.groups) or 1))
        self.max_requests = max(1, max_requests)
        self.on_done = on_done
        self.ran: dict[str, Ran] = {}
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[str]] = set()

    def run(self) -> list[Ran]:
        queue = list(self.groups)
        threads = [threading.Thread(target=self._worker, args=(queue,), daemon=True) for _ in range(self.parallel)]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        except KeyboardInterrupt:
            self.stop()
            raise
        return [self.ran[r.name] for g in self.groups for r in g if r.name in self.ran]

    def stop(self) -> None:
        """Ctrl-C: each run stops as a single sync does (SIGINT: nothing half-loaded)."""
        with self._lock:
            for p in self._procs:
                if p.poll() is None:
                    p.send_signal(2)

    def _worker(self, queue: list[list[Resolved]]) -> None:
        while True:
            with self._lock:
                if not queue:
                    return
                group = queue.pop(0)
            for r in group:
                done = self._one(r)
                with self._lock:
                    self.ran[r.name] = done
                if self.on_done:
                    self.on_done(done)

    def _one(self, r: Resolved) -> Ran:
        share = max(1, self.max_requests // self.parallel)  # this run's part of the bound on requests in flight
        concurrency = min(r.settings.concurrency, share)
        env = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
        cmd = [sys.executable, "-m", "openai_sync.cli", "sync", "--config", str(self.config_path), "--connection",
               r.name, "--concurrency", str(concurrency), "--json", *self.args]
        began = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)
        with self._lock:
            self._procs.add(proc)
        out, err = proc.communicate()
        with self._lock:
            self._procs.discard(proc)
        ran = Ran(r.name, proc.returncode, seconds=time.monotonic() - began)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        try:
            ran.result = json.loads(lines[-1]) if lines else {}
        except json.JSONDecodeError:
            ran.result = {}
        if not ran.result:
            said = (err.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            ran.result = {"status": "error", "error": said[:500]}
            ran.code = ran.code or 2
        return ran
