"""The simulated endpoints: one table of routes, and the handlers that render pages from the world.

Each route states its key type, scope, limits, default order and envelope, following the OpenAPI
contract (tests/data/openai-openapi/openapi.yaml) and the installed SDK where they are newer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .seq import CursorError, Item, Seq, paginate
from .usage import (
    COST_DIMS,
    COSTS_API_KEY_GROUPING_FROM,
    COSTS_LIMITS,
    USAGE_LIMITS,
    USAGE_TYPES,
    WIDTHS,
    PageTokenError,
    UsageEngine,
    decode_page,
    encode_page,
)
from .world import DAY, Key, World


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass
class Request:
    world: World
    usage: UsageEngine
    q: dict[str, list[str]]
    params: dict[str, str]
    key: Key
    now: int
    fault: str | None = None  # "stuck" or "nocursor": pagination faults applied by the handler

    def one(self, name: str) -> str | None:
        v = self.q.get(name)
        return v[-1] if v else None

    def many(self, name: str) -> list[str]:
        return self.q.get(name + "[]", []) + self.q.get(name, [])

    def int_param(self, name: str, default: int | None, lo: int | None = None,
                  hi: int | None = None) -> int | None:
        raw = self.one(name)
        if raw is None:
            return default
        try:
            v = int(raw)
        except ValueError:
            raise ApiError(400, f"Invalid '{name}': expected an integer, but got {raw!r} instead.",
                           param=name, code="invalid_type") from None
        if lo is not None and v < lo:
            raise ApiError(400, f"Invalid '{name}': integer below minimum value. Expected a value >= {lo}, "
                                f"but got {v} instead.", param=name, code="integer_below_min_value")
        if hi is not None and v > hi:
            raise ApiError(400, f"Invalid '{name}': integer above maximum value. Expected a value <= {hi}, "
                                f"but got {v} instead.", param=name, code="integer_above_max_value")
        return v

    def enum_param(self, name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        v = self.one(name)
        if v is None:
            return default
        if v not in allowed:
            raise ApiError(400, f"Invalid value for '{name}': {v!r}. Supported values are: "
                                + ", ".join(repr(a) for a in allowed) + ".", param=name, code="invalid_value")
        return v

    def project(self):
        """The project a project key belongs to."""
        return self.world.project_by_id[self.key.project_id]  # type: ignore[index]

    def pdata(self):
        return self.world.project_data(self.key.project_id)  # type: ignore[arg-type]


Handler = Callable[[Request], dict[str, Any]]


@dataclass
class Route:
    template: str
    auth: str  # "admin" | "project"
    scope: str
    handler: Handler
    regex: re.Pattern = field(init=False)

    def __post_init__(self) -> None:
        pat = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        self.regex = re.compile("^/v1" + pat + "$")


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"No such {what}: '{ident}'", code=None)


def need(x: Any, what: str, ident: str) -> Any:
    if x is None:
        raise not_found(what, ident)
    return x


# ---- generic list handler -----------------------------------------------------------------------
def list_of(seq_fn: Callable[[Request], Seq | None], what: str = "object", *, default: int = 20,
            hi: int = 100, lo: int = 1, order: str | None = "asc", order_param: bool = True,
            envelope: str = "list",
            keep: Callable[[Request], Callable[[Item], bool] | None] | None = None,
            before_param: bool = False, order_words: tuple[str, str] = ("asc", "desc")) -> Handler:
    """A cursor-paginated list. envelope: list (first_id/last_id), next (groups, roles) or bare. `order_words`:
    how the `order` parameter spells ascending and descending (the checkpoint permissions spell them out)."""

    def handler(req: Request) -> dict[str, Any]:
        seq = seq_fn(req)
        if seq is None:
            raise not_found(what, next(iter(req.params.values()), ""))
        limit = req.int_param("limit", default, lo, hi)
        o = order
        if order_param:
            word = req.enum_param("order", order_words, None)
            o = order if word is None else ("asc", "desc")[order_words.index(word)]
        after = req.one("after")
        before = req.one("before") if before_param else None
        if req.fault == "stuck":
            after = before = None  # the cursor does not advance: the same page again
        try:
            items, more = paginate(seq, req.now, limit=limit or 0, order=o or "asc", after=after,
                                   before=before, keep=keep(req) if keep else None)
        except CursorError as e:
            which = "after" if after is not None else "before"
            raise ApiError(400, f"Invalid '{which}': no object with id '{e}'.", param=which,
                           code="invalid_cursor") from None
        if req.fault == "stuck":
            more = True
        data = [it.render(req.now) for it in items]
        first = items[0].id if items else None
        last = items[-1].id if items else None
        if req.fault == "nocursor":
            more, last, first = True, None, None
        if envelope == "next":
            return {"object": "list", "data": data, "has_more": more, "next": last if more else None}
        if envelope == "bare":
            return {"object": "list", "data": data, "has_more": more}
        return {"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": more}

    return handler


def get_one(seq_fn: Callable[[Request], Seq | None], id_param: str, what: str) -> Handler:
    def handler(req: Request) -> dict[str, Any]:
        seq = need(seq_fn(req), what, req.params[id_param])
        it = need(seq.get(req.params[id_param], req.now), what, req.params[id_param])
        return it.render(req.now)

    return handler


def static(fn: Callable[[Request], dict[str, Any]]) -> Handler:
    return fn


# ---- org helpers --------------------------------------------------------------------------------
def proj(req: Request):
    p = req.world.project_by_id.get(req.params["project_id"])
    if p is None:
        raise not_found("project", req.params["project_id"])
    return p


def keep_projects(req: Request) -> Callable[[Item], bool] | None:
    raw = (req.one("include_archived") or "false").lower()
    if raw not in ("true", "false"):
        raise ApiError(400, f"Invalid 'include_archived': expected a boolean, got {raw!r}.",
                       param="include_archived")
    if raw == "true":
        return None
    w = req.world
    return lambda it: (w.project_by_id[it.id].archived_at is None
                       or w.project_by_id[it.id].archived_at > req.now)


def user_roles(req: Request) -> Seq | None:
    """A user's role assignments; a user who left the organization (or has not joined yet) is not found."""
    uid = req.params["user_id"]
    return req.world.user_roles_seq(uid) if req.world.users_seq.get(uid, req.now) else None


def group_roles(req: Request) -> Seq | None:
    """A group's role assignments in the organization; an unknown group is not found."""
    return req.world.group_roles_seq(req.params["group_id"])


def project_user_roles(req: Request) -> Seq | None:
    """A project member's roles on the project; a user who is not (or no longer) a member is not found."""
    p, uid = proj(req), req.params["user_id"]
    return req.world.project_user_roles_seq(p, uid) if req.world.project_users_seq(p).get(uid, req.now) else None


def project_group_roles(req: Request) -> Seq | None:
    """A project group's roles on the project; a group not (yet) on the project is not found."""
    p, gid = proj(req), req.params["group_id"]
    return req.world.project_group_roles_seq(p, gid) if req.world.project_groups_seq(p).get(gid, req.now) else None


def keep_users(req: Request) -> Callable[[Item], bool] | None:
    emails = set(req.many("emails"))
    return (lambda it: it.tags["email"] in emails) if emails else None


def keep_files(req: Request) -> Callable[[Item], bool] | None:
    purpose = req.one("purpose")
    return (lambda it: it.tags["purpose"] == purpose) if purpose else None


def keep_field(field: str, param: str, allowed: tuple[str, ...] | None = None
               ) -> Callable[[Request], Callable[[Item], bool] | None]:
    """Keep the objects whose rendered `field` equals the query parameter `param` (when given)."""

    def keep(req: Request) -> Callable[[Item], bool] | None:
        v = req.enum_param(param, allowed, None) if allowed else req.one(param)
        if v is None:
            return None
        return lambda it: it.render(req.now).get(field) == v

    return keep


def keep_chat(req: Request) -> Callable[[Item], bool] | None:
    model = req.one("model")
    meta = {k[9:-1]: v[-1] for k, v in req.q.items() if k.startswith("metadata[") and k.endswith("]")}
    if model is None and not meta:
        return None

    def keep(it: Item) -> bool:
        if model is not None and it.tags["model"] != model:
            return False
        md = (it.render(req.now).get("metadata") or {}) if meta else {}
        return all(md.get(k) == v for k, v in meta.items())

    return keep


def keep_api_keys(req: Request) -> Callable[[Item], bool] | None:
    access = req.enum_param("owner_project_access", ("active", "inactive", "any"), None)
    if access in (None, "any"):
        return None
    return lambda it: it.render(req.now).get("owner_project_access") == access


def keep_evals(req: Request) -> Callable[[Item], bool] | None:
    req.enum_param("order_by", ("created_at", "updated_at"), "created_at")  # evals are never updated here
    return None


# ---- audit logs ---------------------------------------------------------------------------------
def audit_logs(req: Request) -> dict[str, Any]:
    seq = req.world.audit_seq
    limit = req.int_param("limit", 20, 1, 100)
    lo, hi = 0, seq.n
    for op in ("gt", "gte", "lt", "lte"):
        raw = req.one(f"effective_at[{op}]")
        if raw is None:
            continue
        try:
            t = int(raw)
        except ValueError:
            raise ApiError(400, f"Invalid 'effective_at[{op}]': expected an integer.",
                           param=f"effective_at[{op}]") from None
        if op == "gt":
            lo = max(lo, seq.bound(t))
        elif op == "gte":
            lo = max(lo, seq.bound(t - 1))
        elif op == "lt":
            hi = min(hi, seq.bound(t - 1))
        else:
            hi = min(hi, seq.bound(t))
    filters = {"project_ids": set(req.many("project_ids")), "event_types": set(req.many("event_types")),
               "actor_ids": set(req.many("actor_ids")), "actor_emails": set(req.many("actor_emails")),
               "resource_ids": set(req.many("resource_ids"))}
    keep = None
    if any(filters.values()):
        def keep(it: Item) -> bool:
            ev = it.render(req.now)
            actor = ev.get("actor") or {}
            key = actor.get("api_key") or {}
            u = (actor.get("session") or {}).get("user") or key.get("user") or {}
            # "a user ID, a service account ID, or an api key tracking ID"
            actor_ids = {u.get("id"), key.get("id"), (key.get("service_account") or {}).get("id")}
            detail = ev.get(ev["type"]) or {}
            return ((not filters["project_ids"]
                     or (ev.get("project") or {}).get("id") in filters["project_ids"])
                    and (not filters["event_types"] or ev["type"] in filters["event_types"])
                    and (not filters["actor_ids"] or bool(actor_ids & filters["actor_ids"]))
                    and (not filters["actor_emails"] or u.get("email") in filters["actor_emails"])
                    and (not filters["resource_ids"] or detail.get("id") in filters["resource_ids"]))
    after, before = req.one("after"), req.one("before")
    if req.fault == "stuck":
        after = before = None
    try:
        items, more = paginate(seq, req.now, limit=limit or 0, order="desc", after=after, before=before,
                               lo=lo, hi=hi, keep=keep)
    except CursorError as e:
        which = "after" if after is not None else "before"
        raise ApiError(400, f"Invalid '{which}': no audit log with id '{e}'.", param=which,
                       code="invalid_cursor") from None
    if req.fault == "stuck":
        more = True
    first = items[0].id if items else None
    last = items[-1].id if items else None
    if req.fault == "nocursor":
        more, first, last = True, None, None
    return {"object": "list", "data": [it.render(req.now) for it in items], "first_id": first,
            "last_id": last, "has_more": more}


# ---- usage and costs ----------------------------------------------------------------------------
def _time_range(req: Request) -> tuple[int, int | None]:
    start = req.int_param("start_time", None, 0)
    if start is None:
        raise ApiError(400, "Missing required parameter: 'start_time'.", param="start_time",
                       code="missing_required_parameter")
    end = req.int_param("end_time", None, 0)
    if end is not None and end <= start:
        raise ApiError(400, "Invalid 'end_time': must be greater than 'start_time'.", param="end_time")
    return start, end


def _page(req: Request, starts: list[int], limit: int) -> tuple[list[int], str | None]:
    tok = req.one("page")
    if tok is not None and req.fault != "stuck":
        try:
            at = decode_page(tok)
        except PageTokenError:
            raise ApiError(400, "Invalid 'page': malformed page token.", param="page") from None
        starts = [s for s in starts if s >= at]
    chunk = starts[:limit]
    nxt = encode_page(starts[limit]) if len(starts) > limit else None
    return chunk, nxt


def _group_by(req: Request, allowed: tuple[str, ...]) -> tuple[str, ...]:
    gb = req.many("group_by")
    for g in gb:
        if g not in allowed:
            raise ApiError(400, f"Invalid value for 'group_by': {g!r}. Supported values are: "
                                + ", ".join(repr(a) for a in allowed) + ".", param="group_by",
                           code="invalid_value")
    return tuple(dict.fromkeys(gb))


def usage(kind: str) -> Handler:
    ut = USAGE_TYPES[kind]

    def handler(req: Request) -> dict[str, Any]:
        start, end = _time_range(req)
        width_name = req.enum_param("bucket_width", tuple(WIDTHS), "1d") or "1d"
        d, mx = USAGE_LIMITS[width_name]
        limit = req.int_param("limit", d, 1, mx) or d
        group_by = _group_by(req, ut.dims)
        filters: dict[str, set] = {}
        for param, dim in ut.filters.items():
            vals = req.many(param)
            if vals:
                filters[dim] = set(vals)
        if kind == "completions" and req.one("batch") is not None:
            filters["batch"] = {req.one("batch") == "true"}
        width = WIDTHS[width_name]
        starts = req.usage.bucket_starts(start, end, width, req.now)
        chunk, nxt = _page(req, starts, limit)
        data = req.usage.usage_buckets(kind, chunk, width, group_by, filters, req.now)
        return _usage_envelope(req, data, nxt)

    return handler


def _usage_envelope(req: Request, data: list[dict[str, Any]], nxt: str | None) -> dict[str, Any]:
    if req.fault == "stuck":
        return {"object": "page", "data": data, "has_more": True,
                "next_page": req.one("page") or encode_page(0)}
    if req.fault == "nocursor":
        return {"object": "page", "data": data, "has_more": True, "next_page": None}
    return {"object": "page", "data": data, "has_more": nxt is not None, "next_page": nxt}


def costs(req: Request) -> dict[str, Any]:
    start, end = _time_range(req)
    req.enum_param("bucket_width", ("1d",), "1d")
    limit = req.int_param("limit", COSTS_LIMITS[0], 1, COSTS_LIMITS[1]) or COSTS_LIMITS[0]
    group_by = _group_by(req, COST_DIMS)
    if "api_key_id" in group_by and start < COSTS_API_KEY_GROUPING_FROM:
        raise ApiError(400, "Grouping by 'api_key_id' is only supported for time ranges starting on or after "
                            "2025-12-06 (start_time >= 1764979200).", param="group_by", code="invalid_value")
    since = req.world.costs_user_with_project_from
    if "user_id" in group_by and ("project_id" in group_by or req.many("project_ids")) and (
            since is None or start < since):
        raise ApiError(400, "Grouping costs by 'user_id' together with 'project_id' (or the 'project_ids' filter) "
                            "is not supported for this organization and time range.", param="group_by",
                       code="invalid_value")
    filters = {}
    if req.many("project_ids"):
        filters["project_id"] = set(req.many("project_ids"))
    if req.many("api_key_ids"):
        filters["api_key_id"] = set(req.many("api_key_ids"))
    if req.many("line_items"):  # in the SDK, newer than the spec
        filters["line_item"] = set(req.many("line_items"))
    starts = req.usage.bucket_starts(start, end, DAY, req.now)
    tok = req.one("page")
    if tok is not None and req.fault != "stuck":
        try:
            if decode_page(tok) > (starts[-1] if starts else 0):
                # the quirk's other half: the page after the trailing token is empty and ends the stream
                return {"object": "page", "data": [], "has_more": False, "next_page": None}
        except PageTokenError:
            raise ApiError(400, "Invalid 'page': malformed page token.", param="page") from None
    chunk, nxt = _page(req, starts, limit)
    data = req.usage.cost_buckets(chunk, group_by, filters, req.now)
    if nxt is None and chunk:
        # Quirk (SPEC 7): the last non-empty page still carries a next_page token.
        nxt = encode_page(chunk[-1] + DAY)
    return _usage_envelope(req, data, nxt)


# ---- project-scoped (project key) ---------------------------------------------------------------
def models(req: Request) -> dict[str, Any]:
    return {"object": "list", "data": req.pdata().models_json(req.now)}


def sub(seq_name: str, id_param: str) -> Callable[[Request], Seq | None]:
    return lambda req: getattr(req.pdata(), seq_name)(req.params[id_param])


def psub(attr: str) -> Callable[[Request], Seq | None]:
    return lambda req: getattr(req.pdata(), attr)


def runs_sub(req: Request) -> Seq | None:
    return req.pdata().output_items_seq(req.params["eval_id"], req.params["run_id"])


def get_run(req: Request) -> dict[str, Any]:
    seq = need(req.pdata().runs_seq(req.params["eval_id"]), "eval", req.params["eval_id"])
    return need(seq.get(req.params["run_id"], req.now), "eval run", req.params["run_id"]).render(req.now)


M, U, A = "api.management.read", "api.usage.read", "api.audit_logs.read"

ROUTES: list[Route] = [
    Route("/organization/audit_logs", "admin", A, audit_logs),
    *[Route(f"/organization/usage/{k}", "admin", U, usage(k)) for k in USAGE_TYPES],
    Route("/organization/costs", "admin", U, costs),
    Route("/organization/users", "admin", M, list_of(lambda r: r.world.users_seq, keep=keep_users)),
    Route("/organization/users/{user_id}", "admin", M,
          get_one(lambda r: r.world.users_seq, "user_id", "user")),
    Route("/organization/users/{user_id}/roles", "admin", M,
          list_of(user_roles, "user", default=100, hi=1000, lo=0, envelope="next")),
    Route("/organization/invites", "admin", M, list_of(lambda r: r.world.invites_seq, order_param=False)),
    Route("/organization/invites/{invite_id}", "admin", M,
          get_one(lambda r: r.world.invites_seq, "invite_id", "invite")),
    Route("/organization/projects", "admin", M,
          list_of(lambda r: r.world.projects_seq, order_param=False, keep=keep_projects)),
    Route("/organization/projects/{project_id}", "admin", M,
          get_one(lambda r: r.world.projects_seq, "project_id", "project")),
    Route("/organization/projects/{project_id}/users", "admin", M,
          list_of(lambda r: r.world.project_users_seq(proj(r)), order_param=False)),
    Route("/organization/projects/{project_id}/users/{user_id}", "admin", M,
          get_one(lambda r: r.world.project_users_seq(proj(r)), "user_id", "project user")),
    Route("/organization/projects/{project_id}/service_accounts", "admin", M,
          list_of(lambda r: r.world.project_service_accounts_seq(proj(r)), order_param=False)),
    Route("/organization/projects/{project_id}/service_accounts/{service_account_id}", "admin", M,
          get_one(lambda r: r.world.project_service_accounts_seq(proj(r)), "service_account_id",
                  "service account")),
    Route("/organization/projects/{project_id}/api_keys", "admin", M,
          list_of(lambda r: r.world.project_api_keys_seq(proj(r)), order_param=False, keep=keep_api_keys)),
    Route("/organization/projects/{project_id}/api_keys/{api_key_id}", "admin", M,
          get_one(lambda r: r.world.project_api_keys_seq(proj(r)), "api_key_id", "api key")),
    Route("/organization/projects/{project_id}/rate_limits", "admin", M,
          list_of(lambda r: r.world.project_rate_limits_seq(proj(r)), default=100, hi=100, order_param=False,
                  before_param=True)),
    Route("/organization/projects/{project_id}/groups", "admin", M,
          list_of(lambda r: r.world.project_groups_seq(proj(r)), lo=0, envelope="next")),
    Route("/organization/projects/{project_id}/certificates", "admin", M,
          list_of(lambda r: r.world.project_certificates_seq(proj(r)), order="desc")),
    Route("/organization/projects/{project_id}/spend_alerts", "admin", M,
          list_of(lambda r: r.world.project_spend_alerts_seq(proj(r)), lo=0, before_param=True)),
    Route("/organization/spend_limit", "admin", M, lambda r: r.world.organization_spend_limit()),
    Route("/organization/data_retention", "admin", M, lambda r: r.world.organization_data_retention()),
    Route("/organization/projects/{project_id}/spend_limit", "admin", M,
          lambda r: r.world.project_spend_limit(proj(r))),
    Route("/organization/projects/{project_id}/data_retention", "admin", M,
          lambda r: r.world.project_data_retention(proj(r))),
    Route("/organization/projects/{project_id}/model_permissions", "admin", M,
          lambda r: r.world.project_model_permissions(proj(r))),
    Route("/organization/projects/{project_id}/hosted_tool_permissions", "admin", M,
          lambda r: r.world.project_hosted_tool_permissions(proj(r))),
    Route("/organization/projects/{project_id}/service_tier_settings", "admin", M,
          lambda r: r.world.project_service_tier_settings(proj(r))),
    Route("/projects/{project_id}/roles", "admin", M,
          list_of(lambda r: r.world.project_roles_seq(proj(r)), default=1000, hi=1000, lo=0,
                  envelope="next")),
    Route("/organization/admin_api_keys", "admin", M, list_of(lambda r: r.world.admin_api_keys_seq)),
    Route("/organization/admin_api_keys/{key_id}", "admin", M,
          get_one(lambda r: r.world.admin_api_keys_seq, "key_id", "admin api key")),
    Route("/organization/certificates", "admin", M,
          list_of(lambda r: r.world.certificates_seq, order="desc")),
    Route("/organization/groups", "admin", M,
          list_of(lambda r: r.world.groups_seq, default=100, hi=1000, lo=0, envelope="next")),
    Route("/organization/groups/{group_id}/users", "admin", M,
          list_of(lambda r: r.world.group_users_seq(r.params["group_id"]), "group", default=100, hi=1000,
                  lo=0, order="desc", envelope="next")),
    Route("/organization/groups/{group_id}/roles", "admin", M,
          list_of(group_roles, "group", default=100, hi=1000, lo=0, envelope="next")),
    Route("/projects/{project_id}/users/{user_id}/roles", "admin", M,
          list_of(project_user_roles, "project user", default=100, hi=1000, lo=0, envelope="next")),
    Route("/projects/{project_id}/groups/{group_id}/roles", "admin", M,
          list_of(project_group_roles, "project group", default=100, hi=1000, lo=0, envelope="next")),
    Route("/organization/roles", "admin", M,
          list_of(lambda r: r.world.roles_seq, default=1000, hi=1000, lo=0, envelope="next")),
    Route("/organization/spend_alerts", "admin", M,
          list_of(lambda r: r.world.spend_alerts_seq, lo=0, before_param=True)),
    Route("/organization/workload_identity_providers", "admin", M,
          list_of(lambda r: r.world.security.providers_seq)),
    Route("/organization/workload_identity_providers/{workload_identity_provider_id}/federation_rules", "admin", M,
          list_of(lambda r: r.world.security.rules_seq(r.params["workload_identity_provider_id"]),
                  "workload identity provider", keep=keep_field("service_account_id", "service_account_id"))),
    Route("/organization/external_keys", "admin", M,
          list_of(lambda r: r.world.security.external_keys_seq,
                  keep=keep_field("purpose", "purpose", ("ekm", "psp_decryption")))),
    Route("/organization/external_storage", "admin", M,
          list_of(lambda r: r.world.security.storage_seq, keep=keep_field("project_id", "project_id"))),
    # an Admin key's, although it sits beside the project endpoints (the SDK's docstring says so)
    Route("/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions", "admin", M,
          list_of(lambda r: r.world.security.model_permissions_seq(r.params["fine_tuned_model_checkpoint"]),
                  "fine-tuned model checkpoint", default=10, order="desc",
                  order_words=("ascending", "descending"), keep=keep_field("project_id", "project_id"))),
    # project keys
    Route("/files", "project", "api.files.read",
          list_of(psub("files_seq"), default=10000, hi=10000, order="desc", keep=keep_files)),
    Route("/files/{file_id}", "project", "api.files.read", get_one(psub("files_seq"), "file_id", "file")),
    Route("/batches", "project", "api.batches.read",
          list_of(psub("batches_seq"), order="desc", order_param=False, envelope="list")),
    Route("/batches/{batch_id}", "project", "api.batches.read",
          get_one(psub("batches_seq"), "batch_id", "batch")),
    Route("/evals", "project", "api.evals.read", list_of(psub("evals_seq"), keep=keep_evals)),
    Route("/evals/{eval_id}", "project", "api.evals.read", get_one(psub("evals_seq"), "eval_id", "eval")),
    Route("/evals/{eval_id}/runs", "project", "api.evals.read",
          list_of(sub("runs_seq", "eval_id"), "eval",
                  keep=keep_field("status", "status",
                                  ("queued", "in_progress", "completed", "canceled", "failed")))),
    Route("/evals/{eval_id}/runs/{run_id}", "project", "api.evals.read", get_run),
    Route("/evals/{eval_id}/runs/{run_id}/output_items", "project", "api.evals.read",
          list_of(runs_sub, "eval run", keep=keep_field("status", "status", ("fail", "pass")))),
    Route("/skills", "project", "api.skills.read", list_of(psub("skills_seq"), lo=0, order="desc")),
    Route("/skills/{skill_id}", "project", "api.skills.read",
          get_one(psub("skills_seq"), "skill_id", "skill")),
    Route("/skills/{skill_id}/versions", "project", "api.skills.read",
          list_of(sub("skill_versions_seq", "skill_id"), "skill", lo=0, order="desc")),
    Route("/fine_tuning/jobs", "project", "api.fine_tuning.jobs.read",
          list_of(psub("ft_jobs_seq"), order="desc", order_param=False, envelope="bare")),
    Route("/fine_tuning/jobs/{fine_tuning_job_id}", "project", "api.fine_tuning.jobs.read",
          get_one(psub("ft_jobs_seq"), "fine_tuning_job_id", "fine-tuning job")),
    Route("/fine_tuning/jobs/{fine_tuning_job_id}/events", "project", "api.fine_tuning.jobs.read",
          list_of(sub("ft_events_seq", "fine_tuning_job_id"), "fine-tuning job", order="desc",
                  order_param=False, envelope="bare")),
    Route("/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints", "project", "api.fine_tuning.jobs.read",
          list_of(sub("ft_checkpoints_seq", "fine_tuning_job_id"), "fine-tuning job", default=10,
                  order="desc", order_param=False)),
    Route("/vector_stores", "project", "api.vector_stores.read",
          list_of(psub("vector_stores_seq"), order="desc", before_param=True)),
    Route("/vector_stores/{vector_store_id}", "project", "api.vector_stores.read",
          get_one(psub("vector_stores_seq"), "vector_store_id", "vector store")),
    Route("/vector_stores/{vector_store_id}/files", "project", "api.vector_stores.read",
          list_of(sub("vector_store_files_seq", "vector_store_id"), "vector store", order="desc",
                  before_param=True,
                  keep=keep_field("status", "filter", ("in_progress", "completed", "failed", "cancelled")))),
    Route("/containers", "project", "api.containers.read",
          list_of(psub("containers_seq"), order="desc", keep=keep_field("name", "name"))),
    Route("/containers/{container_id}", "project", "api.containers.read",
          get_one(psub("containers_seq"), "container_id", "container")),
    Route("/containers/{container_id}/files", "project", "api.containers.read",
          list_of(sub("container_files_seq", "container_id"), "container", order="desc")),
    Route("/assistants", "project", "api.assistants.read",
          list_of(psub("assistants_seq"), order="desc", before_param=True)),
    Route("/assistants/{assistant_id}", "project", "api.assistants.read",
          get_one(psub("assistants_seq"), "assistant_id", "assistant")),
    Route("/models", "project", "api.model.read", models),
    Route("/videos", "project", "api.videos.read", list_of(psub("videos_seq"), order="desc")),
    Route("/videos/{video_id}", "project", "api.videos.read", get_one(psub("videos_seq"), "video_id", "video")),
    Route("/webhook_endpoints", "project", "api.webhooks.read",
          list_of(lambda r: r.world.security.webhooks_seq(r.world.project_by_id[r.key.project_id]), order="desc",
                  order_param=False)),
    Route("/chat/completions", "project", "api.chat.completions.read",
          list_of(psub("chat_seq"), keep=keep_chat)),
    Route("/chat/completions/{completion_id}", "project", "api.chat.completions.read",
          get_one(psub("chat_seq"), "completion_id", "chat completion")),
]


def match(path: str) -> tuple[Route, dict[str, str]] | None:
    for r in ROUTES:
        m = r.regex.match(path)
        if m:
            return r, m.groupdict()
    return None
