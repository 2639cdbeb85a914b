"""Several organizations in one schema: which organizations a schema's rows belong to.

Every row carries `organization_id`, every table's key starts with it (catalog.Table.row_key), soft deletes and
history retirement touch only the run's organization, and each organization has its own dlt pipeline, so its own
watermarks (load/pipeline.py). What still acts on whole tables (a resync, a history-mode switch, a table reloaded
because its dimensions changed: dlt drops and recreates the table) is refused while the schema holds another
organization's rows, before anything is read or written.
"""

from __future__ import annotations

from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from ..api.errors import SyncError
from ..catalog import ALL_TABLES
from . import destinations


class AnotherOrganization(SyncError):
    pass


def stored(pipeline: Any, destination: str, schema: str, other_than: str | None = None) -> set[str]:
    """Organizations whose rows the schema holds (at most a few per table: enough to name them), other than
    `other_than` when given."""
    if destinations.kind(destination) == "filesystem":
        return _in_lake(destination, schema, other_than)
    found: set[str] = set()
    with pipeline.sql_client() as sql:
        if not sql.has_dataset():
            return found
        for t in ALL_TABLES:
            cond, args = ("organization_id IS NOT NULL", ()) if other_than is None else (
                "organization_id <> %s", (other_than,))
            try:
                rows = sql.execute_sql(f"SELECT DISTINCT organization_id FROM (SELECT organization_id FROM "
                                       f"{sql.make_qualified_table_name(t.name)} WHERE {cond} LIMIT 1000) AS o",
                                       *args)
            except DatabaseUndefinedRelation:
                continue  # not synced yet
            found.update(str(r[0]) for r in rows or [])
    return found


def _in_lake(destination: str, schema: str, other_than: str | None) -> set[str]:
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    folder = destinations.filesystem_path(destination).resolve() / NamingConvention().normalize_identifier(schema)
    found: set[str] = set()
    for t in ALL_TABLES:
        path = folder / t.name
        if not DeltaTable.is_deltatable(str(path)):
            continue
        keep = pc.field("organization_id").is_valid()
        if other_than is not None:
            keep = keep & (pc.field("organization_id") != other_than)
        head = DeltaTable(str(path)).to_pyarrow_dataset().head(1000, columns=["organization_id"], filter=keep)
        found.update(str(v) for v in head.column("organization_id").to_pylist())
    return found


def refuse_whole_table_changes(pipeline: Any, destination: str, schema: str, organization: str | None,
                               what: dict[str, str]) -> None:
    """`what`: table -> why this run would drop and recreate it. Refused while other organizations share it."""
    if not what or organization is None:
        return
    others = sorted(stored(pipeline, destination, schema, other_than=organization))
    if not others:
        return
    table, why = next(iter(what.items()))
    raise AnotherOrganization(
        f"{table} would be dropped and reloaded ({why}), but schema {schema} of {destinations.shown(destination)} "
        f"also holds organization {others[0]}'s rows, which that would drop too; nothing was read or written. "
        "Do it in a schema that holds one organization only, or (to keep the shared schema) leave the setting as "
        "it was.")
