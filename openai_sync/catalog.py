"""The table catalog: every table openai-sync loads, declared in one place (SPEC 4.1 and 4.3). Pure data.

Generic code reads these declarations; adding a table is an entry here (and, for the tests, a simulator
route). Each entry names its endpoint, the key it needs (its scope: the organization or each project), its
primary key, its shape (nested values kept as JSON, columns declared ahead of any value) and its strategy:

- listing: every object of a top-level list, every run; what a complete listing no longer has is `_deleted`;
- fanout: one listing per object of a parent table (a user's roles, a project's keys), in parallel;
- settings: per parent object, several single-object endpoints folded into one row (a project's settings);
- audit: the audit log from its watermark, cut into `effective_at` windows read in parallel;
- buckets: usage and costs, from a re-read cursor, cut into bucket ranges read in parallel;
- project: with each project's own key; per project `full` (every object) or `recent` (newest first down to
  the last run's newest, plus the objects still open then), and fan-outs below a project object.

Paths have one placeholder style: `{name}` is a field of the scope being read. In a child's path that is
the column carrying its parent's id (`/organization/users/{user_id}/roles`: `parent_column` is `user_id`),
and, below a fan-out, its parent's own scope (`/projects/{project_id}/users/{user_id}/roles`),
or any field of the parent object (`/evals/{eval_id}/runs/{run_id}/output_items`: the run carries its
`eval_id`); in `retrieve`, `{id}` is the object's own id.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

Mode = Literal["full", "recent", "audit", "usage", "costs", "settings"]
Envelope = Literal["list", "next", "bare"]
Strategy = Literal["listing", "fanout", "settings", "audit", "buckets", "project"]

# Buckets per page at each width: the largest page the API allows (SPEC 4.3).
USAGE_PAGE = {"1m": 1440, "1h": 168, "1d": 31}
COSTS_PAGE = 180
WIDTH_SECONDS = {"1m": 60, "1h": 3600, "1d": 86400}
# The costs endpoint refuses group_by=api_key_id for ranges that start before this (2025-12-06 UTC).
COSTS_API_KEY_GROUPING_FROM = 1764979200


@dataclass(frozen=True)
class Table:
    name: str
    path: str  # endpoint under /v1; {field} placeholders: see the module's docstring
    mode: Mode
    primary_key: tuple[str, ...] = ("id",)
    parent: str | None = None  # fan-out: one listing per row of this table (by its id)
    parent_column: str | None = None  # the column that carries the parent's id in this table
    page_limit: int = 100  # the largest `limit` the endpoint accepts
    envelope: Envelope = "list"
    params: tuple[tuple[str, str], ...] = ()  # fixed query parameters
    group_by: tuple[str, ...] = ()  # usage and costs: every documented dimension
    metrics: tuple[str, ...] = ()  # usage: every integer metric the SDK declares (declared, so typed even if null)
    json_columns: tuple[str, ...] = ()  # nested values kept as one JSON column instead of child tables
    # columns that may be null on every row of a load: declared, so that they exist with their type anyway
    timestamp_columns: tuple[str, ...] = ()
    text_columns: tuple[str, ...] = ()
    description: str = ""
    settings_paths: tuple[tuple[str, str], ...] = field(default=())  # settings: (column prefix, path)
    key: Literal["admin", "project"] = "admin"  # which key reads it: the Admin key, or each project's key
    created_field: str = "created_at"
    order_param: bool = False  # "recent": pass order=desc (else the endpoint lists newest first already)
    terminal: tuple[str, ...] = ()  # "recent": statuses after which an object never changes again
    retrieve: str = ""  # "recent": where an object still open is re-read
    # "recent": how long after its creation an object may first be listed; each run reads that far below the
    # newest object of the last run (0: listed when created, as the call that creates it returns it)
    late_seconds: int = 0
    # "recent": a complete listing at least this often (seconds), so that objects deleted at the source are seen
    # and marked `_deleted` (0: these objects cannot be deleted)
    reconcile_seconds: int = 0
    drop_columns: tuple[str, ...] = ()  # never loaded (user content that is opt-in)
    parent_prefix: str = ""  # below another key's objects: only those whose id starts with this (fine-tuned models)

    @property
    def soft_delete(self) -> bool:
        return self.mode == "full" or self.reconcile_seconds > 0

    @property
    def row_key(self) -> tuple[str, ...]:
        """The key a row is merged by in the destination: the organization, then the object's own key. Several
        organizations share a schema, and an id need not be unique across them (a user in two organizations, a
        model, the synthetic id of a usage bucket grouped by model alone)."""
        return self.primary_key if "organization_id" in self.primary_key else ("organization_id", *self.primary_key)

    @property
    def strategy(self) -> Strategy:
        """How the table is read: the key of the readers' registry (read/__init__.py)."""
        if self.key == "project":
            return "project"
        if self.mode == "audit":
            return "audit"
        if self.mode in ("usage", "costs"):
            return "buckets"
        if self.mode == "settings":
            return "settings"
        return "fanout" if self.parent else "listing"

    def paths(self) -> tuple[str, ...]:
        """Every endpoint the table reads (a settings table reads several)."""
        return tuple(p for _prefix, p in self.settings_paths) if self.settings_paths else (self.path,)


def placeholders(path: str) -> list[str]:
    return [f for _text, f, _spec, _conv in string.Formatter().parse(path) if f]


def fill(path: str, fields: dict[str, object]) -> str:
    """A path with its placeholders replaced by the scope's fields."""
    return path.format_map(fields)


def object_path(table: Table, object_id: str) -> str:
    """Where a top-level listing serves one of its objects (changes.RETRIEVE): `{path}/{id}`, the id quoted."""
    return f"{table.path}/{quote(str(object_id), safe='')}"


def _project(name: str, path: str, mode: Mode, pk: tuple[str, ...] = ("project_id", "id"), **kw: object) -> Table:
    return Table(name, path, mode, pk, key="project", **kw)  # type: ignore[arg-type]


def _usage(name: str, endpoint: str, dims: tuple[str, ...], metrics: tuple[str, ...], what: str) -> Table:
    return Table(f"usage_{name}", f"/organization/usage/{endpoint}", "usage", group_by=dims, metrics=metrics,
                 description=f"{what} per time bucket and every group_by dimension")


_KEYED = ("project_id", "user_id", "api_key_id")
_REQUESTS = ("num_model_requests",)
# completions and decisions: every token count the SDK declares (tests/test_dimensions.py compares)
_TOKENS = ("input_tokens", "output_tokens", "num_model_requests", "input_audio_tokens", "input_cache_write_12h_tokens",
           "input_cache_write_30m_tokens", "input_cache_write_tokens", "input_cached_audio_tokens",
           "input_cached_image_tokens", "input_cached_text_tokens", "input_cached_tokens", "input_image_tokens",
           "input_text_tokens", "input_uncached_tokens", "output_audio_tokens", "output_image_tokens",
           "output_text_tokens")

# optional fields of an external key or storage provider, each present for one cloud only: declared, so that
# every column exists from the first load whichever clouds an organization uses
_EXTERNAL_KEY_FIELDS = ("audience", "external_id", "key_name", "key_ocid", "key_version", "key_version_ocid", "kms_arn",
                        "kms_key_location", "kms_key_name", "kms_key_ring_name", "kms_key_version", "kms_project_id",
                        "purpose", "region", "role_arn", "tenant_id", "vault_ocid", "vault_uri",
                        "workload_identity_pool_id", "workload_identity_project_number",
                        "workload_identity_provider_id")
_STORAGE_FIELDS = tuple(f"provider__{f}" for f in (
    "account_id", "bucket", "external_id", "region", "role_arn", "account_name", "container", "resource_group",
    "subscription_id", "tenant_id", "audience", "workload_identity_pool_id", "workload_identity_project_number",
    "workload_identity_provider_id", "tenancy_ocid"))

ORG_TABLES: tuple[Table, ...] = (
    Table("audit_logs", "/organization/audit_logs", "audit", json_columns=("event_data",),
          description="Who did what in the organization; the per-type detail object is folded into event_data"),
    _usage("completions", "completions", (*_KEYED, "model", "batch", "service_tier", "api_source"), _TOKENS,
           "Completions tokens and requests"),
    _usage("embeddings", "embeddings", (*_KEYED, "model"), ("input_tokens", *_REQUESTS),
           "Embeddings tokens and requests"),
    _usage("moderations", "moderations", (*_KEYED, "model"), ("input_tokens", *_REQUESTS),
           "Moderations tokens and requests"),
    _usage("images", "images", (*_KEYED, "model", "size", "source"), ("images", *_REQUESTS), "Images generated"),
    _usage("audio_speeches", "audio_speeches", (*_KEYED, "model"), ("characters", *_REQUESTS),
           "Text-to-speech characters"),
    _usage("audio_transcriptions", "audio_transcriptions", (*_KEYED, "model"), ("seconds", *_REQUESTS),
           "Transcribed seconds"),
    _usage("vector_stores", "vector_stores", ("project_id",), ("usage_bytes",), "Vector store bytes"),
    _usage("code_interpreter_sessions", "code_interpreter_sessions", ("project_id",), ("num_sessions",),
           "Code interpreter sessions"),
    _usage("file_search_calls", "file_search_calls", (*_KEYED, "vector_store_id"), ("num_requests",),
           "File search calls"),
    _usage("web_search_calls", "web_search_calls", (*_KEYED, "model", "context_level", "api_source"),
           ("num_requests", *_REQUESTS), "Web search calls"),
    # newer than the OpenAPI document: the installed SDK knows it (SPEC 4.1: "any further usage endpoint"),
    # with every dimension the SDK documents for it, api_source included
    _usage("decisions", "decisions", (*_KEYED, "model", "batch", "service_tier", "api_source"), _TOKENS,
           "Decisions tokens and requests"),
    # costs refuse some groupings for some ranges: read/costs.py cuts the ranges around them
    Table("costs", "/organization/costs", "costs",
          group_by=("project_id", "line_item", "api_key_id", "user_id", "api_source"),
          description="Spend per day, project, line item, API key, user and API source (USD, decimal)"),
    Table("users", "/organization/users", "full", json_columns=("projects",),
          timestamp_columns=("api_key_last_used_at", "user__banned_at"),
          text_columns=("technical_level", "developer_persona", "user__picture"),
          description="Members of the organization"),
    Table("user_roles", "/organization/users/{user_id}/roles", "full", ("user_id", "id"), parent="users",
          parent_column="user_id", page_limit=1000, envelope="next", json_columns=("permissions",
                                                                                  "assignment_sources")),
    Table("invites", "/organization/invites", "full", json_columns=("projects",),
          timestamp_columns=("expires_at", "accepted_at")),
    Table("projects", "/organization/projects", "full", params=(("include_archived", "true"),),
          timestamp_columns=("archived_at",),
          description="Projects, archived ones included (historical usage refers to them)"),
    Table("project_users", "/organization/projects/{project_id}/users", "full", ("project_id", "id"),
          parent="projects", parent_column="project_id"),
    # a fan-out of a fan-out: one listing per user of each project (the scope is the project and the user)
    Table("project_user_roles", "/projects/{project_id}/users/{user_id}/roles", "full", ("project_id", "user_id", "id"),
          parent="project_users", parent_column="user_id", page_limit=1000, envelope="next",
          json_columns=("permissions", "assignment_sources"), description="Who holds which role on which project"),
    Table("project_service_accounts", "/organization/projects/{project_id}/service_accounts", "full",
          ("project_id", "id"), parent="projects", parent_column="project_id"),
    Table("project_api_keys", "/organization/projects/{project_id}/api_keys", "full", ("project_id", "id"),
          parent="projects", parent_column="project_id", timestamp_columns=("expires_at", "last_used_at")),
    Table("project_rate_limits", "/organization/projects/{project_id}/rate_limits", "full", ("project_id", "id"),
          parent="projects", parent_column="project_id"),
    Table("project_groups", "/organization/projects/{project_id}/groups", "full", ("project_id", "group_id"),
          parent="projects", parent_column="project_id", envelope="next"),
    Table("project_group_roles", "/projects/{project_id}/groups/{group_id}/roles", "full",
          ("project_id", "group_id", "id"), parent="project_groups", parent_column="group_id", page_limit=1000,
          envelope="next", json_columns=("permissions", "assignment_sources"),
          description="Which group holds which role on which project"),
    Table("project_roles", "/projects/{project_id}/roles", "full", ("project_id", "id"), parent="projects",
          parent_column="project_id", page_limit=1000, envelope="next", json_columns=("permissions",)),
    Table("project_certificates", "/organization/projects/{project_id}/certificates", "full", ("project_id", "id"),
          parent="projects", parent_column="project_id"),
    Table("project_spend_alerts", "/organization/projects/{project_id}/spend_alerts", "full", ("project_id", "id"),
          parent="projects", parent_column="project_id",
          json_columns=("notification_channel__recipients",), text_columns=("notification_channel__subject_prefix",)),
    Table("project_settings", "", "settings", ("project_id",), parent="projects", parent_column="project_id",
          settings_paths=(("spend_limit", "/organization/projects/{project_id}/spend_limit"),
                          ("data_retention", "/organization/projects/{project_id}/data_retention"),
                          ("model_permissions", "/organization/projects/{project_id}/model_permissions"),
                          ("hosted_tool_permissions", "/organization/projects/{project_id}/hosted_tool_permissions"),
                          ("service_tier_settings", "/organization/projects/{project_id}/service_tier_settings")),
          json_columns=("model_permissions__model_ids", "service_tier_settings__enabled_tiers"),
          description="One row per project: spend limit, data retention, model and hosted-tool permissions, "
                      "service tiers"),
    Table("organization_settings", "", "settings", ("organization_id",),
          settings_paths=(("spend_limit", "/organization/spend_limit"),
                          ("data_retention", "/organization/data_retention")),
          description="One row: the organization's hard spend limit and data retention (what a project's "
                      "organization_default means)"),
    Table("admin_api_keys", "/organization/admin_api_keys", "full", timestamp_columns=("expires_at", "last_used_at")),
    Table("certificates", "/organization/certificates", "full"),
    Table("groups", "/organization/groups", "full", page_limit=1000, envelope="next"),
    Table("group_users", "/organization/groups/{group_id}/users", "full", ("group_id", "id"), parent="groups",
          parent_column="group_id", page_limit=1000, envelope="next"),
    Table("group_roles", "/organization/groups/{group_id}/roles", "full", ("group_id", "id"), parent="groups",
          parent_column="group_id", page_limit=1000, envelope="next",
          json_columns=("permissions", "assignment_sources"),
          description="Which role each group holds in the organization"),
    Table("roles", "/organization/roles", "full", page_limit=1000, envelope="next", json_columns=("permissions",)),
    Table("spend_alerts", "/organization/spend_alerts", "full",
          json_columns=("notification_channel__recipients",), text_columns=("notification_channel__subject_prefix",)),
    Table("workload_identity_providers", "/organization/workload_identity_providers", "full",
          json_columns=("attribute_transformations", "verification__jwks"),
          text_columns=("description", "verification__discovery_url"),
          description="Outside identity providers (OIDC) whose tokens the organization trusts, keylessly"),
    Table("workload_identity_provider_rules",
          "/organization/workload_identity_providers/{workload_identity_provider_id}/federation_rules", "full",
          ("workload_identity_provider_id", "id"), parent="workload_identity_providers",
          parent_column="workload_identity_provider_id", json_columns=("attribute_matchers", "permissions__scopes"),
          text_columns=("name", "description"),
          description="Which tokens of a provider act as which project service account, with which permissions"),
    Table("external_keys", "/organization/external_keys", "full", json_columns=("api_project_ids",),
          text_columns=_EXTERNAL_KEY_FIELDS,
          description="Customer-managed encryption keys (EKM) and the projects they encrypt"),
    Table("external_storage", "/organization/external_storage", "full", text_columns=_STORAGE_FIELDS,
          description="Customer-managed storage of projects' data, and its health"),
    # read with the Admin key (the endpoint requires it) for each fine-tuned model a project key lists in /models
    Table("fine_tuning_checkpoint_permissions", "/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions",
          "full", ("fine_tuned_model_checkpoint", "id"), parent="models", parent_column="fine_tuned_model_checkpoint",
          parent_prefix="ft:", description="Which projects may use each fine-tuned model"),
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
    _project("eval_runs", "/evals/{eval_id}/runs", "recent", parent="evals", parent_column="eval_id", order_param=True,
             terminal=("completed", "failed", "canceled"), retrieve="/evals/{eval_id}/runs/{id}",
             json_columns=("data_source", "metadata", "per_model_usage", "per_testing_criteria_results")),
    _project("eval_run_output_items", "/evals/{eval_id}/runs/{run_id}/output_items", "full", parent="eval_runs",
             parent_column="run_id", json_columns=("datasource_item", "results", "sample")),
    _project("skills", "/skills", "full"),
    _project("skill_versions", "/skills/{skill_id}/versions", "full", parent="skills", parent_column="skill_id"),
    _project("fine_tuning_jobs", "/fine_tuning/jobs", "recent", envelope="bare",
             terminal=("succeeded", "failed", "cancelled"), retrieve="/fine_tuning/jobs/{id}",
             json_columns=("hyperparameters", "method", "result_files", "integrations", "metadata", "error"),
             timestamp_columns=("finished_at", "estimated_finish"), text_columns=("fine_tuned_model",)),
    _project("fine_tuning_job_events", "/fine_tuning/jobs/{fine_tuning_job_id}/events", "full",
             parent="fine_tuning_jobs", parent_column="fine_tuning_job_id", envelope="bare", json_columns=("data",)),
    _project("fine_tuning_job_checkpoints", "/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints", "full",
             parent="fine_tuning_jobs", parent_column="fine_tuning_job_id", json_columns=("metrics",)),
    _project("vector_stores", "/vector_stores", "full", json_columns=("metadata",),
             timestamp_columns=("expires_at", "last_active_at")),
    # a file can be in several vector stores of a project: the store is part of the key
    _project("vector_store_files", "/vector_stores/{vector_store_id}/files", "full",
             ("project_id", "vector_store_id", "id"), parent="vector_stores", parent_column="vector_store_id",
             json_columns=("attributes", "chunking_strategy", "last_error")),
    _project("containers", "/containers", "full", json_columns=("expires_after", "network_policy")),
    _project("container_files", "/containers/{container_id}/files", "full", parent="containers",
             parent_column="container_id"),
    _project("assistants", "/assistants", "full", json_columns=("tools", "tool_resources", "metadata",
                                                                "response_format")),
    _project("models", "/models", "full", created_field="created", page_limit=0,  # not paginated
             text_columns=("shutdown_date",)),
    _project("videos", "/videos", "full", json_columns=("error",), drop_columns=("prompt",),
             timestamp_columns=("completed_at", "expires_at"), text_columns=("remixed_from_video_id",),
             description="Generated videos: model, status, size and length; the prompt is opt-in content"),
    _project("webhook_endpoints", "/webhook_endpoints", "full", json_columns=("event_types",),
             timestamp_columns=("updated_at",), text_columns=("signing_secret_hint",),
             description="Where the project's event notifications go (the secret's hint only, never the secret)"),
    _project("chat_completions", "/chat/completions", "recent", order_param=True, created_field="created",
             json_columns=("metadata",), drop_columns=("choices",), late_seconds=3600, reconcile_seconds=86400,
             description="Stored chat completions: metadata, model and usage; message content is opt-in"),
)

ALL_TABLES: tuple[Table, ...] = ORG_TABLES + PROJECT_TABLES
TABLES: dict[str, Table] = {t.name: t for t in ALL_TABLES}
# tables whose rows are the parents of a fan-out: listed once per run (per project) and shared
PARENTS: frozenset[str] = frozenset(t.parent for t in ALL_TABLES if t.parent and TABLES[t.parent].key == "admin")
PROJECT_PARENTS: frozenset[str] = frozenset(t.parent for t in ALL_TABLES
                                            if t.parent and TABLES[t.parent].key == "project")


def crosses_keys(table: Table) -> bool:
    """An organization table whose parents are project objects (the permissions of fine-tuned models that project
    keys list): it needs both kinds of key, and its parents' listings say nothing about its own rows."""
    return bool(table.parent) and TABLES[table.parent].key != table.key  # type: ignore[index]


def needs_project_keys(table: Table) -> bool:
    """A project table, or one read below what project keys list."""
    return table.key == "project" or crosses_keys(table)


def select(names: list[str] | tuple[str, ...] | None, *, admin: bool = True, project: bool = False) -> list[Table]:
    """The tables to sync: those named, or every table the keys can read (the Admin key: organization
    tables; project keys: project tables). Parents of a fan-out are read, not necessarily loaded."""
    if not names:
        return [t for t in ALL_TABLES if (t.key == "admin" and admin and (project or not crosses_keys(t)))
                or (t.key == "project" and project)]
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise ValueError(f"unknown table(s): {', '.join(unknown)}. Valid tables: {', '.join(TABLES)}")
    return [TABLES[n] for n in names]


def bucket_columns(table: Table) -> dict[str, str]:
    """Every column of a usage or cost table that the catalog declares, with its type (dlt's type names): so
    that a page where a metric is null everywhere does not change the column's type, and an empty table has
    its columns. Fields nobody declared yet are added as they come (read/bucket_rows.py)."""
    cols = {"start_time": "timestamp", "end_time": "timestamp", "bucket_width": "text", "final": "bool"}
    cols |= {d: "bool" if d == "batch" else "text" for d in table.group_by}
    cols |= dict.fromkeys(table.metrics, "bigint")
    if table.mode == "costs":
        cols |= {"amount": "decimal", "currency": "text", "quantity": "double", "quantity_unit": "text"}
    return cols


def descendants(name: str) -> list[str]:
    """The tables read below a table's objects, depth first (evals: eval_runs, eval_run_output_items)."""
    out = []
    for t in ALL_TABLES:
        if t.parent == name:
            out += [t.name, *descendants(t.name)]
    return out


def ancestors(name: str) -> list[str]:
    """A table's parent, its parent's parent, ... (what must be read for it)."""
    out = []
    parent = TABLES[name].parent
    while parent:
        out.append(parent)
        parent = TABLES[parent].parent
    return out


def scope_columns(table: Table) -> tuple[str, ...]:
    """The columns that select the rows of one of a fan-out's listings: its parent's id, and below a fan-out
    its parent's own scope too (a project user's roles: project_id, user_id). History mode retires within them,
    so that one project's failed listing retires nothing of that project."""
    out: list[str] = []
    while table.parent and table.parent_column:
        out.insert(0, table.parent_column)
        table = TABLES[table.parent]
    return tuple(out)


def bucket_width(table: Table, default: str, per_table: dict[str, str]) -> str:
    """The bucket width a usage or costs table is read with (costs exist per day only)."""
    if table.mode == "costs":
        return "1d"
    return per_table.get(table.name, default)
