"""The connections the service runs: every `[connections.NAME]` of the config file, each resolved as `sync
--connection NAME` would (settings and keys), re-read when the file changes. A connection whose settings are
wrong is kept, with its sentence, and not scheduled until the file is mended."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, Resolved, resolve, secrets_path
from ..load import destinations


@dataclass(frozen=True)
class Entry:
    name: str
    resolved: Resolved | None
    problem: str | None = None

    @property
    def exclusive(self) -> str | None:
        """What two runs may not write at once: a DuckDB file allows one writing process."""
        if self.resolved is None:
            return None
        dest = destinations.normalize(self.resolved.settings.destination)
        return destinations.identity(dest) if destinations.kind(dest) == "duckdb" else None


class Connections:
    def __init__(self, config: Path) -> None:
        self.config = config
        self._seen: tuple[float, float] | None = None
        self._entries: dict[str, Entry] = {}
        self.problem: str | None = None  # the file itself cannot be read

    def _stamp(self) -> tuple[float, float]:
        def mtime(p: Path) -> float:
            return p.stat().st_mtime_ns if p.exists() else 0.0

        return mtime(self.config), mtime(secrets_path(self.config))

    def all(self) -> dict[str, Entry]:
        stamp = self._stamp()
        if stamp != self._seen:
            self._entries, self._seen = self._load(), stamp
        return self._entries

    def get(self, name: str) -> Entry | None:
        return self.all().get(name)

    def _load(self) -> dict[str, Entry]:
        self.problem = None
        if not self.config.exists():
            return {}
        try:
            with self.config.open("rb") as f:
                names = list(tomllib.load(f).get("connections") or {})
        except (OSError, tomllib.TOMLDecodeError) as e:
            self.problem = f"{self.config} cannot be read: {e}"
            return dict(self._entries)  # keep running what ran, until the file is mended
        out = {}
        for name in names:
            try:
                out[name] = Entry(name, resolve({"config": str(self.config), "connection": name}, env={}))
            except ConfigError as e:
                out[name] = Entry(name, None, str(e))
        return out
