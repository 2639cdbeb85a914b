"""History mode (SCD2), opt-in per table: every version of a row is kept, with `_valid_from` / `_valid_to`.

dlt's `scd2` merge strategy does the versioning: a row whose content changed gets a new version and the
old one is retired; a row missing from the load is retired. Three things are ours:
- the version hash leaves out `_synced_at`, so an unchanged row stays one version (dlt's own row hash
  would see a new `_synced_at` every run, and version every row every run);
- retirement is limited to what was listed completely: a fan-out retires per parent (`merge_key`), so
  a project whose listing failed keeps its rows current, and a top-level listing is loaded only whole;
- what dlt cannot see, because no row arrives for it: a complete listing that came back empty, or the
  children of a parent that no longer exists, is retired after the load (deletes.py, from the ledger).

The current version of a row is the one with `_valid_to IS NULL`.

The mode a table has in the destination is the one that counts: a history table stays one on a run that does
not name it, and only an explicit, confirmed turn-off (history_off_tables with --yes) makes it a table of
current rows again. Versions are never dropped: the history table is renamed to `<table>_history_<when>`
(`archive`) before the table is rebuilt, by a turn-off or by a resync.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson

from ..api.errors import SyncError
from ..catalog import TABLES, Table

VALID_FROM, VALID_TO, VERSION = "_valid_from", "_valid_to", "_version"
UNVERSIONED = {"_synced_at"}  # changes every run without the object changing
ARCHIVE = "_history_"  # <table>_history_<YYYYMMDD_HHMMSS>: the versions of a table no longer in history mode


def capable(table: Table) -> bool:
    """Tables whose every run lists the current state of every object: organization full listings."""
    return table.key == "admin" and table.mode in ("full", "settings")


def refused(names: list[str]) -> tuple[list[str], list[str]]:
    """The names among `names` that cannot be kept in history mode, and the tables that can."""
    ok = [t.name for t in TABLES.values() if capable(t)]
    return [n for n in names if n not in ok], ok


def version_hash(row: dict[str, Any], ignore: frozenset[str] = frozenset()) -> str:
    """The hash dlt compares to tell a new version: of every column but `_synced_at` and the volatile ones
    (history_ignore_columns, such as project_api_keys.last_used_at)."""
    body = {k: v for k, v in row.items() if k not in UNVERSIONED and k not in ignore}
    return hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z,
                                        default=str), digest_size=16).hexdigest()


def write_disposition(boundary: datetime) -> dict[str, Any]:
    # one boundary for the whole run, so that versions retired by dlt and by `retire_unseen` agree
    return {"disposition": "merge", "strategy": "scd2", "validity_column_names": [VALID_FROM, VALID_TO],
            "row_version_column_name": VERSION, "boundary_timestamp": boundary}


def parse_ignored(entries: list[str] | tuple[str, ...]) -> dict[str, frozenset[str]]:
    """`history_ignore_columns` entries (TABLE.COLUMN) by table; raises ValueError with a sentence."""
    ok = [t.name for t in TABLES.values() if capable(t)]
    out: dict[str, set[str]] = {}
    for e in entries:
        table, _, column = e.strip().partition(".")
        if not column or table not in ok:
            raise ValueError(f"history_ignore_columns entry {e!r} must be TABLE.COLUMN of a table that history mode "
                             f"can keep: {', '.join(ok)}")
        if column in TABLES[table].primary_key:
            raise ValueError(f"history_ignore_columns entry {e!r} is part of {table}'s primary key: a key is never "
                             "volatile")
        out.setdefault(table, set()).add(column)
    return {t: frozenset(c) for t, c in out.items()}


def refresh_volatile(sql: Any, table: Table, qualified: str, latest: list[tuple[tuple[Any, ...], dict[str, Any]]],
                     org: str | None) -> int:
    """The volatile columns of each current version, set to this run's values: they are left out of the version
    hash, so a change of them alone makes no new version, but the current version still shows the latest."""
    key = " AND ".join(f"{c} = %s" for c in table.primary_key)
    n = 0
    with sql.begin_transaction():
        for pk, values in latest:
            sets = ", ".join(f"{c} = %s" for c in values)
            sql.execute_sql(f"UPDATE {qualified} SET {sets} WHERE {key} AND {VALID_TO} IS NULL AND organization_id "
                            "IS NOT DISTINCT FROM %s", *values.values(), *pk, org)
            n += 1
    return n


def gone_count(sql: Any, table: Table, qualified: str, boundary: datetime, org: str | None) -> int:
    """Objects of the organization that this run retired without a new version: deleted from it."""
    pk = ", ".join(table.primary_key)
    found = sql.execute_sql(f"SELECT count(*) FROM {qualified} WHERE {VALID_TO} = %s AND organization_id IS NOT "
                            f"DISTINCT FROM %s AND ({pk}) NOT IN (SELECT {pk} FROM {qualified} WHERE {VALID_TO} IS "
                            "NULL AND organization_id IS NOT DISTINCT FROM %s)", boundary, org, org)
    return int(found[0][0]) if found else 0


def archive_name(table: str, at: datetime) -> str:
    """Where a history table's versions go when the table is rebuilt: named after the run, so that a table
    turned off, on and off again keeps each set of versions (at most 48 characters: within PostgreSQL's 63)."""
    return f"{table}{ARCHIVE}{at:%Y%m%d_%H%M%S}"


def archive(sql: Any, table: str, at: datetime) -> str:
    """Rename the history table `table` to its archive name, out of dlt's way (dlt knows only `table`, and
    rebuilds it): every version is kept, in one atomic statement, without copying a row. Returns the new name."""
    name = archive_name(table, at)
    if stored_mode(sql, sql.dataset_name, name) is not None:
        raise SyncError(f"{name} already exists in schema {sql.dataset_name}, so {table}'s versions cannot be "
                        "moved there; rename or drop it, then run again")
    sql.execute_sql(f"ALTER TABLE {sql.make_qualified_table_name(table)} RENAME TO {sql.escape_column_name(name)}")
    return name


def stored_mode(sql: Any, schema: str, table: str) -> bool | None:
    """Whether the destination's table holds history (True), current state (False), or does not exist."""
    rows = sql.execute_sql("SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                           "AND table_name = %s", schema, table)
    if not rows:
        return None
    return VALID_TO in {r[0] for r in rows}
