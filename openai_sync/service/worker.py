"""A run's child process, watched: started with its spec, stopped at a safe point (SIGINT) when it goes past its
time limit or the service stops, killed if it does not stop within the grace period, and its end read back: the
result the child wrote, or what the operating system says about a child that died without one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GRACE = 60.0  # seconds a stopped run has to finish its load before it is killed


@dataclass
class Ended:
    result: dict[str, Any]
    recorded: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    record_error: str | None = None


class Child:
    def __init__(self, folder: Path, run_id: str, spec: dict[str, Any], limit: float, grace: float = GRACE) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.spec_path = folder / f"{run_id}.json"
        self.out = folder / f"{run_id}.out.json"
        self.limit, self.grace = limit, grace
        self.spec_path.write_text(json.dumps({**spec, "out": str(self.out)}))
        os.chmod(self.spec_path, 0o600)
        self.started = time.monotonic()
        self.stop_reason: str | None = None
        self._stopped_at: float | None = None
        # a session of its own: a Ctrl-C at the service's terminal is the service's to handle, not the run's
        self.proc = subprocess.Popen([sys.executable, "-m", "openai_sync.service.child", str(self.spec_path)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, reason: str) -> None:
        """Ask the run to stop at a safe point (SIGINT: dlt finishes or drops the package it is loading)."""
        if self.proc.poll() is None and self._stopped_at is None:
            self.stop_reason, self._stopped_at = reason, time.monotonic()
            self._signal(signal.SIGINT)

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return

    def wait(self, should_stop: Any = None) -> Ended:
        """Wait for the end; past the limit (or when `should_stop()` says) stop it, past the grace kill it."""
        while True:
            try:
                self.proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if now - self.started > self.limit:
                self.stop("timeout")
            elif should_stop is not None and should_stop():
                self.stop("shutdown")
            if self._stopped_at is not None and now - self._stopped_at > self.grace:
                self._signal(signal.SIGKILL)
        self._signal(signal.SIGKILL)  # anything the run started and left behind in its session
        return self._ended()

    def _ended(self) -> Ended:
        code = self.proc.returncode
        try:
            written = json.loads(self.out.read_text())
        except (OSError, ValueError):
            written = None
        finally:
            for p in (self.spec_path, self.out, self.out.with_suffix(".tmp")):
                p.unlink(missing_ok=True)
        if written and "result" in written:
            result = written["result"]
            if self.stop_reason == "timeout" and result.get("status") == "interrupted":
                result = {**result, "status": "timeout", "error": self._timeout()}
            return Ended(result, written.get("recorded", []), written.get("counts", {}), written.get("record_error"))
        if self.stop_reason == "timeout":
            return Ended({"status": "timeout", "error_kind": "timeout", "error": self._timeout(), "exit_code": code})
        if self.stop_reason == "shutdown":  # ended by the service's own stop, past its grace period
            return Ended({"status": "interrupted", "error_kind": "interrupted", "exit_code": code,
                          "error": "the service stopped and this run did not finish within the grace period; "
                                   "nothing is half-loaded and the next run resumes"})
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            why = (" (SIGKILL: killed from outside, most often by the kernel when the machine ran out of memory)"
                   if name == "SIGKILL" else "")
            return Ended({"status": "killed", "error_kind": "killed", "exit_code": code,
                          "error": f"the run's process was ended by {name}{why}. Nothing is half-loaded: each "
                                   "table's merge is atomic, and the next run resumes from the last completed load."})
        return Ended({"status": "failed", "error_kind": "unexpected", "exit_code": code,
                      "error": f"the run's process exited with code {code} without a result"})

    def _timeout(self) -> str:
        return (f"the run went past its time limit ({self.limit / 60:.0f} minutes, run_timeout_minutes) and was "
                "stopped; what was loaded stays loaded and the next run resumes")
