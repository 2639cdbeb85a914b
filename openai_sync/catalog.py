"""The table catalog: every table openai-sync loads, declared in one place (SPEC 4.1 and 4.3).

Generic code (pagination, usage, pipeline) reads these declarations; adding a table is a few lines
here. Each entry names its endpoint, the key it needs, its primary key, its sync mode, its cursor
style and its fan-out over a parent table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["full", "audit", "usage", "costs", "settings"]
Envelope = Literal["list", "next", "bare"]

# Buckets per page at each width: the largest page the API allows (SPEC 4.3).
USAGE_PAGE = {"1m": 1440, "1h": 168, "1d": 31}
COSTS_PAGE = 180
WIDTH_SECONDS = {"1m": 60, "1h": 3600, "1d": 86400}
# The costs endpoint refuses group_by=api_key_id for ranges that start before this (2025-12-06 UTC).
COSTS_API_KEY_GROUPING_FROM = 1764979200


@dataclass(frozen=True)
class Table:
    name: str
    path: str  # endpoint under /v1; {parent} is replaced by the parent's id in a fan-out
    mode: Mode
    primary_key: tuple[str, ...] = ("id",)
    parent: str | None = None  # fan-out: one listing per row of this table (by its id)
    parent_column: str | None = None  # the column that carries the parent's id in this table
    page_limit: int = 100  # the largest `limit` the endpoint accepts
    envelope: Envelope = "list"
    params: tuple[tuple[str, str], ...] = ()  # fixed query parameters
    group_by: tuple[str, ...] = ()  # usage and costs: every documented dimension
    json_columns: tuple[str, ...] = ()  # nested values kept as one JSON column instead of child tables
    # columns that may be null on every row of a load: declared, so that they exist with their type anyway
    timestamp_columns: tuple[str, ...] = ()
    text_columns: tuple[str, ...] = ()
    description: str = ""
    settings_paths: tuple[tuple[str, str], ...] = field(default=())  # settings: (column prefix, path)

    @property
    def soft_delete(self) -> bool:
        return self.mode == "full"


def _usage(name: str, endpoint: str, dims: tuple[str, ...], what: str) -> Table:
    return Table(f"usage_{name}", f"/organization/usage/{endpoint}", "usage", group_by=dims,
                 description=f"{what} per time bucket and every group_by dimension")


_KEYED = ("project_id", "user_id", "api_key_id")

ORG_TABLES: tuple[Table, ...] = (
    Table("audit_logs", "/organization/audit_logs", "audit", json_columns=("event_data",),
          description="Who did what in the organization; the per-type detail object is folded into event_data"),
    _usage("completions", "completions", (*_KEYED, "model", "batch", "service_tier"),
           "Completions tokens and requests"),
    _usage("embeddings", "embeddings", (*_KEYED, "model"), "Embeddings tokens and requests"),
    _usage("moderations", "moderations", (*_KEYED, "model"), "Moderations tokens and requests"),
    _usage("images", "images", (*_KEYED, "model", "size", "source"), "Images generated"),
    _usage("audio_speeches", "audio_speeches", (*_KEYED, "model"), "Text-to-speech characters"),
    _usage("audio_transcriptions", "audio_transcriptions", (*_KEYED, "model"), "Transcribed seconds"),
    _usage("vector_stores", "vector_stores", ("project_id",), "Vector store bytes"),
    _usage("code_interpreter_sessions", "code_interpreter_sessions", ("project_id",), "Code interpreter sessions"),
    _usage("file_search_calls", "file_search_calls", (*_KEYED, "vector_store_id"), "File search calls"),
    _usage("web_search_calls", "web_search_calls", (*_KEYED, "model", "context_level"), "Web search calls"),
    # newer than the OpenAPI document: the installed SDK knows it (SPEC 4.1: "any further usage endpoint"),
    # with every dimension the SDK documents for it, api_source included
    _usage("decisions", "decisions", (*_KEYED, "model", "batch", "service_tier", "api_source"),
           "Decisions tokens and requests"),
    Table("costs", "/organization/costs", "costs", group_by=("project_id", "line_item", "api_key_id"),
          description="Spend per day, project, line item and API key (USD, decimal)"),
    Table("users", "/organization/users", "full", description="Members of the organization"),
    Table("user_roles", "/organization/users/{parent}/roles", "full", ("user_id", "id"), parent="users",
          parent_column="user_id", page_limit=1000, envelope="next", json_columns=("permissions",
                                                                                  "assignment_sources")),
    Table("invites", "/organization/invites", "full", json_columns=("projects",),
          timestamp_columns=("expires_at", "accepted_at")),
    Table("projects", "/organization/projects", "full", params=(("include_archived", "true"),),
          timestamp_columns=("archived_at",),
          description="Projects, archived ones included (historical usage refers to them)"),
    Table("project_users", "/organization/projects/{parent}/users", "full", ("project_id", "id"),
          parent="projects", parent_column="project_id"),
    Table("project_service_accounts", "/organization/projects/{parent}/service_accounts", "full",
          ("project_id", "id"), parent="projects", parent_column="project_id"),
    Table("project_api_keys", "/organization/projects/{parent}/api_keys", "full", ("project_id", "id"),
          parent="projects", parent_column="project_id", timestamp_columns=("expires_at", "last_used_at")),
    Table("project_rate_limits", "/organization/projects/{parent}/rate_limits", "full", ("project_id", "id"),
          parent="projects", parent_column="project_id"),
    Table("project_groups", "/organization/projects/{parent}/groups", "full", ("project_id", "group_id"),
          parent="projects", parent_column="project_id", envelope="next"),
    Table("project_roles", "/projects/{parent}/roles", "full", ("project_id", "id"), parent="projects",
          parent_column="project_id", page_limit=1000, envelope="next", json_columns=("permissions",)),
    Table("project_certificates", "/organization/projects/{parent}/certificates", "full", ("project_id", "id"),
          parent="projects", parent_column="project_id"),
    Table("project_spend_alerts", "/organization/projects/{parent}/spend_alerts", "full", ("project_id", "id"),
          parent="projects", parent_column="project_id",
          json_columns=("notification_channel__recipients",), text_columns=("notification_channel__subject_prefix",)),
    Table("project_settings", "", "settings", ("project_id",), parent="projects", parent_column="project_id",
          settings_paths=(("spend_limit", "/organization/projects/{parent}/spend_limit"),
                          ("data_retention", "/organization/projects/{parent}/data_retention"),
                          ("model_permissions", "/organization/projects/{parent}/model_permissions"),
                          ("hosted_tool_permissions", "/organization/projects/{parent}/hosted_tool_permissions")),
          json_columns=("model_permissions__model_ids",),
          description="One row per project: spend limit, data retention, model and hosted-tool permissions"),
    Table("admin_api_keys", "/organization/admin_api_keys", "full", timestamp_columns=("expires_at", "last_used_at")),
    Table("certificates", "/organization/certificates", "full"),
    Table("groups", "/organization/groups", "full", page_limit=1000, envelope="next"),
    Table("group_users", "/organization/groups/{parent}/users", "full", ("group_id", "id"), parent="groups",
          parent_column="group_id", page_limit=1000, envelope="next"),
    Table("roles", "/organization/roles", "full", page_limit=1000, envelope="next", json_columns=("permissions",)),
    Table("spend_alerts", "/organization/spend_alerts", "full",
          json_columns=("notification_channel__recipients",), text_columns=("notification_channel__subject_prefix",)),
)

TABLES: dict[str, Table] = {t.name: t for t in ORG_TABLES}
# tables whose rows are the parents of a fan-out: listed once per run and shared
PARENTS: frozenset[str] = frozenset(t.parent for t in ORG_TABLES if t.parent)


def select(names: list[str] | None) -> list[Table]:
    """The tables to sync: all, or those named (parents of a fan-out are read, not necessarily loaded)."""
    if not names:
        return list(ORG_TABLES)
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise ValueError(f"unknown table(s): {', '.join(unknown)}. Valid tables: {', '.join(TABLES)}")
    return [TABLES[n] for n in names]
