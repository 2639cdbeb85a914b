"""The table catalog: every table openai-sync loads, declared in one place (SPEC 4.1 and 4.3).

Generic code (pagination, usage, pipeline) reads these declarations; adding a table is a few lines
here. Each entry names its endpoint, the key it needs, its primary key, its sync mode, its cursor
style and its fan-out over a parent table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Mode = Literal["full", "recent", "audit", "usage", "costs", "settings"]
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
    # project tables (project keys). `path` of a child is formatted with its parent object's fields.
    key: Literal["admin", "project"] = "admin"
    created_field: str = "created_at"
    order_param: bool = False  # "recent": pass order=desc (else the endpoint lists newest first already)
    terminal: tuple[str, ...] = ()  # "recent": statuses after which an object never changes again
    retrieve: str = ""  # "recent": where an object still open is re-read, formatted with its fields
    drop_columns: tuple[str, ...] = ()  # never loaded (user content that is opt-in)

    @property
    def soft_delete(self) -> bool:
        return self.mode == "full"


def _project(name: str, path: str, mode: Mode, pk: tuple[str, ...] = ("project_id", "id"), **kw: object) -> Table:
    return Table(name, path, mode, pk, key="project", **kw)  # type: ignore[arg-type]


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

# Project tables (SPEC 4.2), read with each project's own key. Strategies:
# - full: every object, every run; what a complete listing no longer has is marked _deleted. For what can
#   be deleted or edited (files, vector stores, ...) this is the only way to see it; pages are large.
# - recent: newest first, down to the newest object of the last run, plus the objects that were still
#   open then (re-read by id). Objects in a terminal state are never read again; these cannot be deleted.
# A child table (parent=...) is read for each parent object this run read: all of them for a full parent,
# the new and the still-open ones for a recent parent (output items of a run that just completed, ...).
PROJECT_TABLES: tuple[Table, ...] = (
    _project("files", "/files", "full", page_limit=10000,
             description="Files of the project (metadata, not contents)"),
    _project("batches", "/batches", "recent", terminal=("completed", "failed", "expired", "cancelled"),
             retrieve="/batches/{id}", json_columns=("metadata", "errors__data"),
             timestamp_columns=("in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at",
                                "cancelling_at", "cancelled_at"), text_columns=("output_file_id", "error_file_id")),
    _project("evals", "/evals", "full", json_columns=("data_source_config", "testing_criteria", "metadata")),
    _project("eval_runs", "/evals/{id}/runs", "recent", parent="evals", parent_column="eval_id", order_param=True,
             terminal=("completed", "failed", "canceled"), retrieve="/evals/{eval_id}/runs/{id}",
             json_columns=("data_source", "metadata", "per_model_usage", "per_testing_criteria_results")),
    _project("eval_run_output_items", "/evals/{eval_id}/runs/{id}/output_items", "full", parent="eval_runs",
             parent_column="run_id", json_columns=("datasource_item", "results", "sample")),
    _project("skills", "/skills", "full"),
    _project("skill_versions", "/skills/{id}/versions", "full", parent="skills", parent_column="skill_id"),
    _project("fine_tuning_jobs", "/fine_tuning/jobs", "recent", envelope="bare",
             terminal=("succeeded", "failed", "cancelled"), retrieve="/fine_tuning/jobs/{id}",
             json_columns=("hyperparameters", "method", "result_files", "integrations", "metadata", "error"),
             timestamp_columns=("finished_at", "estimated_finish"), text_columns=("fine_tuned_model",)),
    _project("fine_tuning_job_events", "/fine_tuning/jobs/{id}/events", "full", parent="fine_tuning_jobs",
             parent_column="fine_tuning_job_id", envelope="bare", json_columns=("data",)),
    _project("fine_tuning_job_checkpoints", "/fine_tuning/jobs/{id}/checkpoints", "full",
             parent="fine_tuning_jobs", parent_column="fine_tuning_job_id", json_columns=("metrics",)),
    _project("vector_stores", "/vector_stores", "full", json_columns=("metadata",),
             timestamp_columns=("expires_at", "last_active_at")),
    # a file can be in several vector stores of a project: the store is part of the key
    _project("vector_store_files", "/vector_stores/{id}/files", "full", ("project_id", "vector_store_id", "id"),
             parent="vector_stores",
             parent_column="vector_store_id", json_columns=("attributes", "chunking_strategy", "last_error")),
    _project("containers", "/containers", "full", json_columns=("expires_after", "network_policy")),
    _project("container_files", "/containers/{id}/files", "full", parent="containers", parent_column="container_id"),
    _project("assistants", "/assistants", "full", json_columns=("tools", "tool_resources", "metadata",
                                                                "response_format")),
    _project("models", "/models", "full", created_field="created", page_limit=0),  # not paginated
    _project("chat_completions", "/chat/completions", "recent", order_param=True, created_field="created",
             json_columns=("metadata",), drop_columns=("choices",),
             description="Stored chat completions: metadata, model and usage; message content is opt-in"),
)

ALL_TABLES: tuple[Table, ...] = ORG_TABLES + PROJECT_TABLES
TABLES: dict[str, Table] = {t.name: t for t in ALL_TABLES}
# tables whose rows are the parents of a fan-out: listed once per run and shared
PARENTS: frozenset[str] = frozenset(t.parent for t in ORG_TABLES if t.parent)
PROJECT_PARENTS: frozenset[str] = frozenset(t.parent for t in PROJECT_TABLES if t.parent)


def select(names: list[str] | None, *, admin: bool = True, project: bool = False) -> list[Table]:
    """The tables to sync: those named, or every table the keys can read (the Admin key: organization
    tables; project keys: project tables). Parents of a fan-out are read, not necessarily loaded."""
    if not names:
        return [t for t in ALL_TABLES if (t.key == "admin" and admin) or (t.key == "project" and project)]
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise ValueError(f"unknown table(s): {', '.join(unknown)}. Valid tables: {', '.join(TABLES)}")
    return [TABLES[n] for n in names]
