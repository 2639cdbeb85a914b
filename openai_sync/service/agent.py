"""The service as one object: its settings, state, scheduler, alerts and console sessions, and what the console
and the JSON API show of each connection (the same objects everywhere: a run's `result` is what `sync --json`
prints). Save & Test runs here too: from the console's form, and again every `check_every_hours` for each
connection, so that a key revoked or a permission lost is alerted before the next run fails."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api.keys import mask
from ..checks import run_checks
from ..config import Resolved
from ..load import destinations
from . import schedule
from .alerts import Alerts
from .connections import Entry
from .scheduler import Scheduler
from .security import Sessions
from .settings import ServiceSettings
from .state import State

log = logging.getLogger("openai_sync.service")


@dataclass
class Agent:
    config: Path
    settings: ServiceSettings
    host: str = "127.0.0.1"
    port: int = 8765
    grace: float = 60.0
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.folder = self.settings.folder(self.config)
        self.state = State(self.folder)
        self.alerts = Alerts(self.settings.alert_webhook, f"http://{self.host}:{self.port}")
        self.scheduler = Scheduler(self.config, self.state, self.folder, max_parallel=self.settings.max_concurrent_runs,
                                   alerts=self.alerts, grace=self.grace)
        self.sessions = Sessions()
        self._checking = threading.Thread(target=self._recheck, name="checks", daemon=True)

    @property
    def auth_required(self) -> bool:
        return self.settings.password_hash is not None

    def start(self) -> None:
        self.scheduler.start()
        self._checking.start()

    def stop(self) -> None:
        self.scheduler.stop()
        self.state.close()

    # --- Save & Test ----------------------------------------------------------------------------------------------
    def test(self, resolved: Resolved, identified: dict[str, str] | None = None) -> list[dict[str, str]]:
        """Every check of `openai-sync test`, as {name, status, message} (a key in the wrong slot is named by the
        key's own check). A DuckDB file a run is writing is not opened (its load would fail)."""
        with self.scheduler.destination_free(Entry(resolved.name, resolved)) as free:
            checks = run_checks(resolved, identified=identified, destination=free)
        found = [{"name": c.name, "status": c.status, "message": c.message} for c in checks]
        if not free:
            shown = destinations.shown(resolved.settings.destination)
            found.append({"name": "destination", "status": "pass",
                          "message": f"{shown} is being written by a run now; it was not opened."})
        return found

    def _recheck(self) -> None:
        every = self.settings.check_every_hours * 3600
        while not self.scheduler.stopping.wait(5.0):
            for name, entry in self.scheduler.connections.all().items():
                c = self.state.connection(name)
                if entry.resolved is None or (c.checks_at and time.time() - c.checks_at < every):
                    continue
                if name in self.scheduler.running:  # after the run: its own result says as much
                    continue
                try:
                    self.scheduler.checked(name, self.test(entry.resolved))
                except Exception:  # one connection's checks never stop the others'
                    log.exception("Save & Test of %s failed", name)

    # --- what is shown --------------------------------------------------------------------------------------------
    def connection(self, name: str, entry: Entry | None = None) -> dict[str, Any]:
        entry = entry or self.scheduler.connections.get(name)
        c = self.state.connection(name)
        last = next((r for r in self.state.runs(name, limit=2) if r.status != "running"), None)
        running = self.scheduler.running.get(name)
        settings = entry.resolved.settings if entry and entry.resolved else None
        secrets = entry.resolved.secrets if entry and entry.resolved else None
        failing = [t["table"] for t in (last.result.get("tables", []) if last else []) if t.get("status") != "ok"]
        return {
            "name": name, "problem": entry.problem if entry else "not in the config file",
            "destination": destinations.shown(settings.destination) if settings else None,
            "schema": settings.schema_name if settings else None,
            "base_url": settings.base_url if settings else None,
            "schedule": schedule.describe(settings) if settings else None,
            "admin_key": mask(secrets.admin_key) if secrets and secrets.admin_key else None,
            "project_keys": [mask(p.key) for p in secrets.project_keys] if secrets else [],
            "paused": c.paused, "pause_reason": c.pause_reason, "health": c.health,
            "running": running.run.public() if running else None,
            "next_run_at": None if c.paused or running else c.next_due,
            "last_success_at": c.last_success, "failures_in_a_row": c.failures,
            "last_run": last.public() if last else None, "failing_tables": failing,
            "checks": c.checks, "checks_at": c.checks_at,
        }

    def connections(self) -> list[dict[str, Any]]:
        return [self.connection(n, e) for n, e in self.scheduler.connections.all().items()]
