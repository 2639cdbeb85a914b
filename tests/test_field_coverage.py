"""Every field the installed SDK declares for a synced endpoint is emitted by the simulator, valid under the
SDK's own type, and lands in a column.

Derived from the SDK, not from a list of ours: bench/coverage.py walks each synced endpoint's response type
(nested fields as `a.b`, list items as `a[].b`, every member of a union), syncs a medium organization twice,
three days apart on its clock, with every project key and content included, and keeps every page the
connector received and the columns the destination ended with. A new field in a new SDK fails this test
until the simulator emits it."""

from __future__ import annotations

import importlib.util
import typing
from pathlib import Path
from typing import Any

import pytest
from openai.types.admin.organization.audit_log_list_response import AuditLogListResponse

from openai_sync.catalog import TABLES

SDK_AUDIT_TYPES = typing.get_args(AuditLogListResponse.model_fields["type"].annotation)

_spec = importlib.util.spec_from_file_location("bench_coverage", Path(__file__).resolve().parent.parent / "bench"
                                               / "coverage.py")
assert _spec and _spec.loader
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


@pytest.fixture(scope="module")
def got() -> Any:
    return tool.observe("medium")


def test_the_simulator_emits_every_field_the_sdk_declares(got: Any) -> None:
    coverage = tool.field_coverage("medium", got)
    assert len(coverage) >= 55, "the synced endpoints with an SDK type"
    missing = {template: f["missing"] for template, f in coverage.items() if f["missing"]}
    assert missing == {}


def test_every_object_is_valid_under_the_sdks_type(got: Any) -> None:
    assert got.validated > 5000
    assert got.invalid == []


def _column(path: str, table: Any, columns: set[str]) -> str | None:
    """The column that holds a field path: its own (`a__b`), the columns it was flattened into (`a__b__c`), or
    the JSON column of a list or whole object above it (`a[].b` is in `a`; an audit event's detail in
    event_data)."""
    if table.strategy == "audit" and any(path == t or path.startswith(f"{t}.") for t in SDK_AUDIT_TYPES):
        return "event_data" if "event_data" in columns else None
    if table.strategy == "buckets":  # a bucket's results are the rows
        path = path.split("[].", 1)[1] if path.startswith("results[].") else path
    parts = path.replace("[]", "").split(".")
    for n in range(len(parts), 0, -1):
        name = "__".join(parts[:n])
        if name in columns:
            return name
        if n == len(parts) and any(c.startswith(f"{name}__") for c in columns):
            return name  # an object flattened into its fields' columns
    return None


def test_every_field_with_a_value_reaches_a_column(got: Any) -> None:
    lost = []
    for table in TABLES.values():
        if not table.path:
            continue
        template = tool.shape(table.path)
        columns = got.columns.get(table.name, set())
        assert columns, f"{table.name}: no table in the destination"
        for path in got.valued.get(template, set()):
            if path == "object" or (table.strategy == "buckets" and path in ("object", "results[].object")):
                continue  # the object type is the table's, not a column
            if table.strategy == "buckets" and path in ("results", "end_time_iso", "start_time_iso"):
                continue
            if _column(path, table, columns) is None:
                lost.append(f"{table.name}.{path}")
    assert lost == []
