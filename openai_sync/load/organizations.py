"""One organization per destination schema, until several are supported (every row carries `organization_id`,
but incremental state and the synthetic ids of usage and cost rows do not include it yet).

Syncing a second organization into a schema that holds another one's data would mark every row of the
first `_deleted` and start the second one's audit log at the first one's watermark. So a run whose key
belongs to another organization than the schema's data is refused before anything is read or written.
"""

from __future__ import annotations

import re
from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from ..api.errors import SyncError
from ..catalog import ALL_TABLES
from . import destinations


class AnotherOrganization(SyncError):
    pass


def stored(pipeline: Any, destination: str, schema: str) -> set[str]:
    """The organizations whose rows the schema holds (one row of each table is enough: no run writes another
    organization's rows into a schema that has some)."""
    if destinations.kind(destination) == "filesystem":
        return _in_lake(destination, schema)
    found: set[str] = set()
    with pipeline.sql_client() as sql:
        if not sql.has_dataset():
            return found
        for t in ALL_TABLES:
            try:
                rows = sql.execute_sql(f"SELECT organization_id FROM {sql.make_qualified_table_name(t.name)} "
                                       "WHERE organization_id IS NOT NULL LIMIT 1")
            except DatabaseUndefinedRelation:
                continue  # not synced yet
            found.update(str(r[0]) for r in rows or [])
    return found


def _in_lake(destination: str, schema: str) -> set[str]:
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    folder = destinations.filesystem_path(destination).resolve() / NamingConvention().normalize_identifier(schema)
    found: set[str] = set()
    for t in ALL_TABLES:
        path = folder / t.name
        if not DeltaTable.is_deltatable(str(path)):
            continue
        head = DeltaTable(str(path)).to_pyarrow_dataset().head(1, columns=["organization_id"],
                                                                filter=pc.field("organization_id").is_valid())
        found.update(str(v) for v in head.column("organization_id").to_pylist())
    return found


def refuse_another(pipeline: Any, destination: str, schema: str, organization: str | None) -> None:
    """Raise AnotherOrganization when the schema holds another organization's rows."""
    if organization is None:
        return  # the API did not say which organization the key belongs to: nothing to compare
    others = sorted(stored(pipeline, destination, schema) - {organization})
    if not others:
        return
    own = f"{schema}_{re.sub(r'[^a-z0-9]+', '_', organization.lower()).strip('_')}"[:63]
    raise AnotherOrganization(
        f"{destinations.shown(destination)} schema {schema} holds organization {others[0]}'s data, and the key "
        f"belongs to organization {organization}. Syncing a second organization into the same schema would mark "
        f"the first one's rows deleted and lose the second one's audit events; nothing was read or written. Sync "
        f"{organization} into a schema of its own (for example --schema {own}).")
