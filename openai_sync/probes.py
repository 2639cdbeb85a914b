"""What Save & Test and the sync's preflight ask, derived from the catalog's tables: one cheap request per key
and permission, each naming what cannot sync without it."""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import ORG_TABLES, PROJECT_TABLES, TABLES, Table, descendants


@dataclass(frozen=True)
class Probe:
    """One request for one object of a table: does the key work, and may it read these tables?"""

    name: str  # as Save & Test names the check
    table: str  # whose endpoint is asked
    covers: str  # what cannot sync without it, in words
    modes: tuple[str, ...] = ()  # admin permission probes: needed when a selected table has one of these modes
    since_day: bool = False  # the endpoint needs a start_time: one day before now


# The Admin key's probes: the key itself (the projects listing, which every sync needs to match project keys),
# then one per permission the organization tables need beyond it.
ADMIN_PROBES: tuple[Probe, ...] = (
    Probe("admin key", "projects", "organization tables"),
    Probe("usage permission", next(t.name for t in ORG_TABLES if t.mode == "usage"), "usage_* and costs",
          modes=("usage", "costs"), since_day=True),
    Probe("audit log permission", next(t.name for t in ORG_TABLES if t.mode == "audit"), "audit_logs",
          modes=("audit",)),
)
# A project key's probe of itself: the one endpoint any project key may call.
PROJECT_KEY_PROBE = "models"


def listing_probes() -> list[Probe]:
    """Save & Test: one request per top-level organization listing beyond the key's own probe, since an
    organization may lack some of them (its plan, the key owner's role); a refusal names the tables that would
    fail on their own."""
    return [Probe(t.name, t.name, ", ".join([t.name, *descendants(t.name)])) for t in ORG_TABLES
            if t.strategy == "listing" and t.name != ADMIN_PROBES[0].table]


def admin_probes(tables: list[Table] | tuple[Table, ...]) -> list[Probe]:
    """The key probe, and the permission probes the given tables need, in that order."""
    modes = {t.mode for t in tables if t.key == "admin"}
    return [p for p in ADMIN_PROBES if not p.modes or modes & set(p.modes)]


def project_probes() -> list[Probe]:
    """One probe per top-level project table, covering it and the tables read below its objects; the key's
    own probe (models) first."""
    probes = [Probe(t.name, t.name, ", ".join([t.name, *(d for d in descendants(t.name) if TABLES[d].key == t.key)]))
              for t in PROJECT_TABLES if not t.parent]
    return sorted(probes, key=lambda p: p.table != PROJECT_KEY_PROBE)
