"""The service's own settings: `[service]` in the config file (how many runs at once, how often Save & Test
re-checks each connection) and in the secrets file (the console's password hash, the alert webhook's URL)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import SERVICE_SECRETS, ConfigError, secrets_path

PLAIN = {"max_concurrent_runs": int, "check_every_hours": float, "state_dir": str}


@dataclass(frozen=True)
class ServiceSettings:
    max_concurrent_runs: int = 4
    check_every_hours: float = 24.0  # Save & Test again, to alert on a key revoked or a permission lost
    state_dir: str | None = None  # the service's own state (default: .openai-sync-service beside the config)
    password_hash: str | None = None
    alert_webhook: str | None = None

    def folder(self, config: Path) -> Path:
        return Path(self.state_dir).expanduser() if self.state_dir else config.parent / ".openai-sync-service"


def _table(path: Path, valid: tuple[str, ...]) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as f:
            table = tomllib.load(f).get("service") or {}
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [service] must be a table")
    unknown = [k for k in table if k not in valid]
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} in [service]; valid: {', '.join(valid)}")
    return table


def load(config: Path) -> ServiceSettings:
    plain = _table(config, tuple(PLAIN))
    values: dict[str, Any] = {}
    for name, kind in PLAIN.items():
        if name in plain:
            try:
                values[name] = kind(plain[name])
            except (TypeError, ValueError):
                raise ConfigError(f"{config}: [service] {name} must be a {kind.__name__}") from None
    if values.get("max_concurrent_runs", 4) < 1 or values.get("check_every_hours", 24) <= 0:
        raise ConfigError(f"{config}: [service] max_concurrent_runs must be 1 or more, check_every_hours above 0")
    secret = _table(secrets_path(config), SERVICE_SECRETS)
    return ServiceSettings(**values, **{k: str(v) for k, v in secret.items() if v})
