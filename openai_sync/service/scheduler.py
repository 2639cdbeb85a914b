"""The scheduler: every second, start the runs that are due (a connection that never synced successfully at once,
then on its schedule, a failed one again with backoff), each in a child process (worker.py), never two of one
connection at once nor two writers of one DuckDB file; pause a connection whose key is refused; record each run
(state.py here, `_openai_sync_runs` in the destination by the next child when this one could not); alert on a
change of health; and on stop, start nothing more and let the running loads finish within the grace period."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import schedule
from .alerts import Alerts, worse
from .connections import Connections, Entry
from .state import Run, State
from .worker import GRACE, Child, Ended

log = logging.getLogger("openai_sync.service")
SUCCESS = ("ok", "partial")
PENDING_MOST = 100  # unrecorded runs handed to one child


class Refused(Exception):
    """A request the scheduler cannot take (unknown connection, already running, stopping)."""


@dataclass
class Running:
    run: Run
    entry: Entry
    child: Child | None = None


class Scheduler:
    def __init__(self, config: Path, state: State, folder: Path, *, max_parallel: int = 4,
                 alerts: Alerts | None = None, grace: float = GRACE) -> None:
        self.connections = Connections(config)
        self.state, self.folder, self.max_parallel, self.grace = state, folder, max_parallel, grace
        self.alerts = alerts or Alerts(None)
        self.running: dict[str, Running] = {}
        self.requests: dict[str, tuple[str, list[str] | None]] = {}  # name -> (trigger, resync tables)
        self.checking: set[str] = set()  # DuckDB files Save & Test has open
        self.stopping = threading.Event()
        self._stop_at: float | None = None
        self.beat = time.time()
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._loop = threading.Thread(target=self._run, name="scheduler", daemon=True)

    # --- the loop -------------------------------------------------------------------------------------------------
    def start(self) -> None:
        self._recover()
        self._loop.start()

    def alive(self) -> bool:
        return self._loop.is_alive() and time.time() - self.beat < 30

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.beat = time.time()
            try:
                self.tick()
            except Exception:  # the loop must outlive any one connection's trouble
                log.exception("the scheduler's tick failed; it goes on")
            self.stopping.wait(1.0)

    def _recover(self) -> None:
        """Runs left 'running' by a service that died ended with it; a connection that never synced successfully
        syncs as soon as the service starts (unless paused), whatever retry it was waiting for."""
        for run in self.state.runs(limit=1000):
            if run.status == "running":
                run.status, run.ended = "interrupted", run.ended or time.time()
                run.error = "the service stopped during this run; the next run resumes from the last completed load"
                self.state.save_run(run)
        for name in self.connections.all():
            c = self.state.connection(name)
            if c.last_success is None and not c.paused and c.next_due is not None:
                c.next_due = None
                self.state.save_connection(c)

    def tick(self) -> None:
        now = time.time()
        with self._lock:
            if self.stopping.is_set():
                return
            self._threads = [t for t in self._threads if t.is_alive()]
            for name, entry in self.connections.all().items():
                if len(self.running) >= self.max_parallel:
                    return
                if name in self.running or entry.resolved is None or self._blocked(entry):
                    continue
                trigger, resync = self._due(name, entry, now)
                if trigger:
                    self._launch(entry, trigger, resync)

    def _blocked(self, entry: Entry) -> bool:
        if entry.exclusive is None:
            return False
        return entry.exclusive in self.checking or any(r.entry.exclusive == entry.exclusive
                                                       for r in self.running.values())

    @contextlib.contextmanager
    def destination_free(self, entry: Entry) -> Iterator[bool]:
        """While Save & Test opens a DuckDB file no run starts on it; False when a run is writing it now (the
        check must not open it: DuckDB allows one writer, and the run's load would fail)."""
        with self._lock:
            free = not self._blocked(entry)
            if free and entry.exclusive is not None:
                self.checking.add(entry.exclusive)
        try:
            yield free
        finally:
            if free and entry.exclusive is not None:
                with self._lock:
                    self.checking.discard(entry.exclusive)

    def _due(self, name: str, entry: Entry, now: float) -> tuple[str | None, list[str] | None]:
        if name in self.requests:
            return self.requests.pop(name)
        c = self.state.connection(name)
        if c.paused:
            return None, None
        if c.last_success is None and c.next_due is None:
            return "startup", None
        assert entry.resolved is not None
        settings = entry.resolved.settings
        if c.next_due is None or c.next_due > schedule.latest(settings, c.last_start or now, now):
            c.next_due = schedule.regular_next(settings, c.last_start or now, now)  # new, or its schedule changed
            self.state.save_connection(c)
        if now >= c.next_due:
            return ("retry" if c.failures else "schedule"), None
        return None, None

    # --- one run --------------------------------------------------------------------------------------------------
    def _launch(self, entry: Entry, trigger: str, resync: list[str] | None) -> Run:
        assert entry.resolved is not None
        run = Run(uuid.uuid4().hex, entry.name, trigger, time.time())
        self.state.save_run(run)
        c = self.state.connection(entry.name)
        c.last_start = run.started
        self.state.save_connection(c)
        limit = entry.resolved.settings.run_timeout_minutes * 60
        pending = [r.public() for r in self.state.runs(entry.name, PENDING_MOST, unrecorded=True)]
        spec: dict[str, Any] = {"config": str(self.connections.config), "connection": entry.name,
                                "run": run.public(), "pending": pending, "resync": resync,
                                "budget": max(limit - self.grace, limit * 0.8)}  # reading stops first, cleanly
        running = Running(run, entry)
        self.running[entry.name] = running
        log.info("run %s of %s started (%s)", run.run_id[:8], entry.name, trigger)
        t = threading.Thread(target=self._watch, args=(running, spec, limit), name=f"run-{entry.name}", daemon=True)
        self._threads.append(t)
        t.start()
        return run

    def _watch(self, running: Running, spec: dict[str, Any], limit: float) -> None:
        try:
            running.child = Child(self.folder / "runs", running.run.run_id, spec, limit, self.grace / 2)
            ended = running.child.wait(self._interrupt_now)
        except Exception as e:  # the run could not even start: recorded as failed, the service goes on
            log.exception("run %s could not start", running.run.run_id[:8])
            ended = Ended({"status": "failed", "error_kind": "unexpected",
                           "error": f"the run's process could not start: {type(e).__name__}"})
        with self._lock:  # one step: whoever sees the run ended may ask for the next one at once
            try:
                self._finish(running, ended)
            finally:
                self.running.pop(running.run.connection, None)

    def _finish(self, running: Running, ended: Ended) -> None:
        run, now = running.run, time.time()
        kind = ended.result.get("error_kind")
        run.finish(ended.result, now)
        # a skipped run changed nothing: it stays out of the destination's history (and out of a busy file)
        run.recorded = run.run_id in ended.recorded or run.status == "skipped"
        self.state.save_run(run)
        self.state.mark_recorded([i for i in ended.recorded if i != run.run_id])
        if ended.record_error:
            log.warning("%s: %s", run.connection, ended.record_error)
        self.state.save_tables(run.connection, run, ended.counts)
        self._reschedule(running.entry, run, kind, now)
        log.info("run %s of %s ended: %s, %s rows, %s requests", run.run_id[:8], run.connection, run.status,
                 run.rows, run.requests)

    def _reschedule(self, entry: Entry, run: Run, kind: str | None, now: float) -> None:
        with self._lock:  # a Pause pressed meanwhile is not overwritten
            self._reschedule_locked(entry, run, kind, now)

    def _reschedule_locked(self, entry: Entry, run: Run, kind: str | None, now: float) -> None:
        assert entry.resolved is not None
        c = self.state.connection(run.connection)
        regular = schedule.regular_next(entry.resolved.settings, run.started, now)
        if run.status in SUCCESS:
            c.failures, c.last_success, c.next_due = 0, now, regular
            self._health(c, "healthy" if run.status == "ok" else "failing", run)
        elif run.status == "skipped":
            c.next_due = now + schedule.BUSY_WAIT
        elif run.status == "interrupted":
            c.next_due = now if self.stopping.is_set() else schedule.retry_at(1, regular, now)
        else:
            c.failures += 1
            c.next_due = schedule.retry_at(c.failures, regular, now)
            if kind == "key":  # retrying a revoked key only hammers the API: a person must act
                c.paused, c.pause_reason = True, run.error
                log.warning("%s paused: %s", run.connection, run.error)
            self._health(c, "failing", run)
        self.state.save_connection(c)

    def _health(self, c: Any, health: str, run: Run) -> None:
        if health == "failing" and c.health != "failing":
            self.alerts.send("failing", c.name, f"{c.name} started failing: {run.error or run.status}",
                             status=run.status, run_id=run.run_id)
        elif health == "healthy" and c.health == "failing":
            self.alerts.send("recovered", c.name, f"{c.name} recovered: the last run synced every table",
                             run_id=run.run_id)
        c.health = health

    # --- what people ask ------------------------------------------------------------------------------------------
    def request(self, name: str, trigger: str = "manual", resync: list[str] | None = None) -> None:
        """Start a run of `name` at the next tick (a paused connection too: asking is resuming for one run)."""
        with self._lock:
            entry = self.connections.get(name)
            if self.stopping.is_set():
                raise Refused("the service is stopping")
            if entry is None:
                raise Refused(f"no connection named {name!r}")
            if entry.resolved is None:
                raise Refused(f"{name} cannot run: {entry.problem}")
            if name in self.running or name in self.requests:
                raise Refused(f"{name} is already running; one run of a connection at a time")
            self.requests[name] = (trigger, resync)

    def pause(self, name: str, reason: str = "paused from the console") -> None:
        with self._lock:
            c = self.state.connection(name)
            c.paused, c.pause_reason = True, reason
            self.state.save_connection(c)

    def resume(self, name: str) -> None:
        with self._lock:
            c = self.state.connection(name)
            c.paused, c.pause_reason, c.failures, c.next_due = False, None, 0, time.time()
            self.state.save_connection(c)

    def changed(self, name: str, resume: bool = False) -> None:
        """Its settings were saved: the next run follows the new schedule (and, with `resume`, a pause ends)."""
        with self._lock:
            c = self.state.connection(name)
            if resume and c.paused:
                c.paused, c.pause_reason, c.failures = False, None, 0
            c.next_due = None if c.last_success is not None else c.next_due
            self.state.save_connection(c)

    def checked(self, name: str, checks: list[dict[str, str]]) -> None:
        """Save & Test's verdicts; those worse than last time are alerted (a key revoked, a permission lost)."""
        with self._lock:
            c = self.state.connection(name)
            regressed = worse(c.checks, checks)
            c.checks, c.checks_at = checks, time.time()
            self.state.save_connection(c)
        if regressed:
            what = "; ".join(f"{r['name']}: {r['message']}" for r in regressed)
            self.alerts.send("checks_regressed", name, f"Save & Test of {name} regressed: {what}",
                             checks=[r["name"] for r in regressed])

    def _interrupt_now(self) -> bool:
        """Stopping: a running load has half the grace period to finish, then it is interrupted at a safe point
        (SIGINT) and has the other half (then SIGKILL)."""
        return self._stop_at is not None and time.monotonic() - self._stop_at > self.grace / 2

    def begin_stop(self) -> None:
        """Start nothing more (safe in a signal handler); `stop` waits for the running runs."""
        if self._stop_at is None:
            self._stop_at = time.monotonic()
        self.stopping.set()

    def stop(self) -> None:
        """Start nothing more; let running loads finish, or stop them at a safe point, within the grace period."""
        self.begin_stop()
        if self._loop.is_alive():
            self._loop.join()
        for t in list(self._threads):
            t.join()

