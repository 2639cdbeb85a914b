"""The OpenAPI contract, loaded once per session: validation of requests and responses against it.

Shared by tests/test_contract.py (the simulator's requests and responses) and
tests/test_connector_contract.py (every request the connector makes). The `contract` fixture that
loads it lives in conftest.py. See test_contract.py's docstring for what is checked, for the three
repairs of defects of the document (repair_discriminators, repair_empty_page_ids,
repair_boolean_exclusive_bounds), and for what is taken from the newer SDK (adopt_sdk_audit_log).
"""

from __future__ import annotations

import os
import types
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx2
import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.datastructures import Headers, ImmutableMultiDict

SERVER = "https://api.openai.com"  # the spec's server is https://api.openai.com/v1; our paths start with /v1
SPEC_URI = "urn:openai-openapi"
# kept in the repository, unmodified (its source, commit, license and checksum: data/openai-openapi/README.md)
SPEC_FILE = Path(__file__).resolve().parent / "data" / "openai-openapi" / "openapi.yaml"
SPEC_SHA256 = "db5d7478feae10b4d331834c60d9765a8aa042e38419f9b1694288c11aa8ebc8"


def spec_path() -> Path:
    env = os.environ.get("OPENAI_OPENAPI_SPEC")
    if env:
        return Path(env)
    return SPEC_FILE


# ---- the contract -------------------------------------------------------------------------------
class SpecRequest:
    """openapi-core's Request protocol, built from the request that was actually sent."""

    def __init__(self, r: httpx2.Request) -> None:
        self.host_url = SERVER
        self.path = r.url.path
        self.method = r.method.lower()
        self.body = r.content or None
        self.content_type = r.headers.get("content-type", "")
        query = parse_qsl(r.url.query.decode("ascii"), keep_blank_values=True)
        self.parameters = RequestParameters(query=ImmutableMultiDict(query),
                                            header=Headers(list(r.headers.items())),
                                            cookie=ImmutableMultiDict(), path={})


class SpecResponse:
    """openapi-core's Response protocol."""

    def __init__(self, r: httpx2.Response) -> None:
        self.status_code = r.status_code
        self.data = r.content
        self.headers = Headers(list(r.headers.items()))
        self.content_type = r.headers.get("content-type", "")


def describe(e: BaseException) -> str:
    """A readable account of an openapi-core error: the schema errors with their JSON paths."""
    out = [f"{type(e).__name__}: {str(e)[:200]}"]
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        for err in getattr(cur, "schema_errors", None) or []:
            out.append("  " + schema_error(err))
        cur = cur.__cause__ or cur.__context__
    return "\n".join(out)


def schema_error(err: ValidationError) -> str:
    where = "$" + "".join(f"[{p!r}]" for p in err.absolute_path)
    msg = f"{where}: {err.message[:300]}"
    if err.context:  # oneOf/anyOf: the branch that came closest
        sub = best_match(err.context)
        if sub is not None:
            msg += f"\n    closest branch: {schema_error(sub)}"
    return msg


def repair_discriminators(spec: dict[str, Any]) -> int:
    """Give the document's discriminators the mapping its authors meant; returns how many were fixed.

    None of the document's discriminators has a `mapping`, and their values are not schema names
    ("organization.usage.completions.result", "message", ...), so the implicit mapping that
    openapi-core applies (#/components/schemas/<value>) resolves to nothing and every such union
    fails. Each branch states its tag as a one-value enum (or const) of the discriminating property,
    so the mapping is derived from the branches. Where it cannot be derived, the discriminator (a hint
    in OpenAPI 3.1) is dropped and the plain oneOf/anyOf applies, which is at least as strict.
    """
    schemas = spec["components"]["schemas"]

    def tags(branch: dict[str, Any], prop: str, depth: int = 0) -> list[Any] | None:
        if depth > 5:
            return None
        if "$ref" in branch:
            target = schemas.get(branch["$ref"].rsplit("/", 1)[-1])
            return tags(target, prop, depth + 1) if isinstance(target, dict) else None
        p = (branch.get("properties") or {}).get(prop)
        if isinstance(p, dict):
            if "const" in p:
                return [p["const"]]
            if p.get("enum"):
                return list(p["enum"])
        for sub in branch.get("allOf") or []:
            if (found := tags(sub, prop, depth + 1)) is not None:
                return found
        return None

    fixed = 0

    def visit(node: Any) -> None:
        nonlocal fixed
        if isinstance(node, dict):
            disc = node.get("discriminator")
            if isinstance(disc, dict) and "mapping" not in disc:
                branches = node.get("oneOf") or node.get("anyOf")
                mapping: dict[str, str] = {}
                ok = bool(branches)
                for b in branches or []:
                    vals = tags(b, disc["propertyName"]) if "$ref" in b else None
                    if not vals or any(v in mapping for v in vals):
                        ok = False
                        break
                    mapping.update(dict.fromkeys(vals, b["$ref"]))
                if ok:
                    node["discriminator"] = {**disc, "mapping": mapping}
                else:
                    del node["discriminator"]
                fixed += 1
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    visit(spec)
    return fixed


def repair_empty_page_ids(spec: dict[str, Any]) -> list[str]:
    """Let an empty page say first_id/last_id = null where the document only allows a string.

    Many list schemas (EvalRunList, ListFilesResponse, ListAssistantsResponse, ...) declare
    first_id/last_id as a plain string, which no empty page can satisfy; the API sends null there, as
    the other list schemas (ProjectListResponse, ListAuditLogsResponse, ...) declare. The null is
    allowed here, and `page_ids_problems` holds every page to more than the document did: null only on
    an empty page, and otherwise the ids of the page's first and last items.
    """
    repaired = []
    for name, schema in spec["components"]["schemas"].items():
        props = schema.get("properties") or {}
        if not isinstance(props.get("data"), dict) or props["data"].get("type") != "array":
            continue
        for f in ("first_id", "last_id"):
            p = props.get(f)
            if isinstance(p, dict) and p.get("type") == "string":
                props[f] = {"anyOf": [p, {"type": "null"}]}
                repaired.append(f"{name}.{f}")
    return repaired


def sdk_schema(ann: Any) -> dict[str, Any]:
    """The JSON schema of an SDK type annotation: its models closed to the fields they declare."""
    import typing

    from pydantic import BaseModel

    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        return sdk_schema(args[0])
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [sdk_schema(a) for a in args]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin is list:
        return {"type": "array", "items": sdk_schema(args[0])}
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return {"type": "object", "properties": {f.alias or n: sdk_schema(f.annotation)
                                                 for n, f in ann.model_fields.items()}}
    simple = {type(None): "null", str: "string", int: "integer", float: "number", bool: "boolean"}
    return {"type": simple[ann]} if ann in simple else {}


def adopt_sdk_audit_log(spec: dict[str, Any]) -> list[str]:
    """Take the audit log's event types and detail payloads that the installed SDK declares and this copy of the
    document does not (the SDK is newer: about 150 types against the document's 50).

    The event type's enum becomes the SDK's, and each detail object the document lacks is added with the SDK's
    fields, closed to them, so that `undocumented` still holds every payload to a declared shape. Returns the
    detail properties added."""
    from openai.types.admin.organization.audit_log_list_response import AuditLogListResponse

    fields = AuditLogListResponse.model_fields
    schemas = spec["components"]["schemas"]
    enum = schemas["AuditLogEventType"]["enum"]
    enum += [t for t in sdk_schema(fields["type"].annotation)["enum"] if t not in enum]
    props = schemas["AuditLog"]["properties"]
    added = []
    for name, f in fields.items():
        key = f.alias or name
        if "." in key and key not in props:
            props[key] = sdk_schema(f.annotation)
            added.append(key)
    return added


def repair_boolean_exclusive_bounds(spec: dict[str, Any]) -> list[str]:
    """Turn OpenAPI 3.0's `exclusiveMinimum: true` (with `minimum`) into 3.1's numeric form, and a 2019-09
    `$recursiveRef` into a plain reference.

    The document says 3.1.0 but some schemas (fine-tuning's DPO beta, reinforcement learning rates) keep the 3.0
    booleans; a 3.1 validator reads `exclusiveMinimum: true` as "greater than 1" and refuses a beta of 0.1."""
    fixed = []

    def visit(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
                if isinstance(node.get(bound), bool):
                    if node[bound] and plain in node:
                        node[bound] = node.pop(plain)
                    else:
                        del node[bound]
                    fixed.append(where)
            for k, v in node.items():
                visit(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                visit(v, f"{where}/{i}")

    visit(spec["components"], "#/components")
    # CompoundFilter's items say {"$recursiveRef": "#"} (JSON Schema 2019-09), which a 2020-12 validator takes
    # as the whole document: every comparison filter then matches both branches of the oneOf and fails it
    items = spec["components"]["schemas"]["CompoundFilter"]["properties"]["filters"]["items"]
    for i, branch in enumerate(items.get("oneOf", [])):
        if branch == {"$recursiveRef": "#"}:
            items["oneOf"][i] = {"$ref": "#/components/schemas/CompoundFilter"}
            fixed.append("#/components/schemas/CompoundFilter/properties/filters/items")
    return fixed


def page_ids_problems(body: Any) -> list[str]:
    """first_id/last_id of a cursor page: the ids of its first and last items, or null when empty."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return []
    data = body["data"]
    out = []
    for f, i in (("first_id", 0), ("last_id", -1)):
        if f not in body:
            continue
        if not data:
            if body[f] is not None:
                out.append(f"{f} is {body[f]!r} on an empty page")
        elif isinstance(data[i], dict) and "id" in data[i] and body[f] != data[i]["id"]:
            which = "first" if i == 0 else "last"
            out.append(f"{f} is {body[f]!r}, but the page's {which} item is {data[i]['id']!r}")
    return out


# Properties that the contract does not document but the installed SDK's types do (the SDK is newer):
# (schema, property) -> (SDK module, model) that has it. Any other undocumented property is a violation;
# test_sdk_newer_properties checks that each entry is still missing from the contract and in the SDK.
_USAGE = "openai.types.admin.organization.usage_completions_response"
_COMPLETIONS = "DataResultOrganizationUsageCompletionsResult"
SDK_NEWER_PROPERTIES: dict[tuple[str, str], tuple[str, str]] = {
    ("ProjectApiKey", "expires_at"): ("openai.types.admin.organization.projects.project_api_key",
                                      "ProjectAPIKey"),
    ("UsageCompletionsResult", "api_source"): (_USAGE, "DataResultOrganizationUsageCompletionsResult"),
    ("UsageWebSearchCallsResult", "api_source"): (_USAGE, "DataResultOrganizationUsageWebSearchesResult"),
    ("CostsResult", "api_source"): (_USAGE, "DataResultOrganizationCostsResult"),
    ("CostsResult", "user_id"): (_USAGE, "DataResultOrganizationCostsResult"),
    ("UsageCompletionsResult", "input_cache_write_30m_tokens"): (_USAGE, _COMPLETIONS),
    ("UsageCompletionsResult", "input_cache_write_12h_tokens"): (_USAGE, _COMPLETIONS),
    ("AuditLog", "expires_in_seconds"): ("openai.types.admin.organization.audit_log_list_response",
                                         "APIKeyUpdatedChangesRequested"),
    ("PromptCacheBreakpointConfig", "ttl"): ("openai.types.responses.response_input_text", "PromptCacheBreakpoint"),
    **{("Error-2", p): ("openai.types.video_create_error", "VideoCreateError")
       for p in ("param", "type", "headers", "misalignment")},
    ("FunctionTool", "async"): ("openai.types.responses.function_tool", "FunctionTool"),
    ("CustomToolParam", "async"): ("openai.types.responses.custom_tool", "CustomTool"),
    ("FunctionToolParam", "async"): ("openai.types.responses.namespace_tool", "ToolFunction"),
    **{("ImageGenTool", p): ("openai.types.responses.tool", "ImageGeneration")
       for p in ("complexity", "frame_count", "frame_duration_ms", "svg")},
}


Shape = tuple[dict[str, str], str | None, bool]  # properties -> pointer, additionalProperties pointer, open


def _esc(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


class Contract:
    """The OpenAPI document, loaded once, and counters of what was validated."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.repaired = repair_discriminators(spec)
        self.nullable_page_ids = repair_empty_page_ids(spec)
        self.sdk_audit_details = adopt_sdk_audit_log(spec)
        self.exclusive_bounds = repair_boolean_exclusive_bounds(spec)
        # The document is OpenAI's own; checking the 3 MB document itself is not this test's business.
        self.app = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
        registry = Registry().with_resource(SPEC_URI, Resource(spec, DRAFT202012))
        self.registry = registry
        self.error_schema = Draft202012Validator({"$ref": f"{SPEC_URI}#/components/schemas/ErrorResponse"},
                                                 registry=registry)
        self._validators: dict[str, Any] = {}
        self._nodes: dict[str, Any] = {}
        self._shapes: dict[str, Shape] = {}
        self.requests = 0
        self.responses = 0
        self.objects = 0
        self.statuses: Counter[int] = Counter()
        self.routes: set[str] = set()

    def operation(self, template: str) -> dict[str, Any] | None:
        return (self.spec["paths"].get(template) or {}).get("get")

    def query_params(self, template: str) -> dict[str, dict[str, Any]]:
        out = {}
        for p in (self.operation(template) or {}).get("parameters", []):
            if "$ref" in p:
                p = self._at(p["$ref"].removeprefix("#"))
            if p["in"] == "query":
                out[p["name"]] = p
        return out

    def has_param(self, template: str, name: str) -> bool:
        return name in self.query_params(template)

    def param_schema(self, template: str, name: str) -> dict[str, Any]:
        p = self.query_params(template).get(name)
        if p is None or "schema" not in p:
            return {}
        return self._resolve(p["schema"])

    def param_enum(self, template: str, name: str) -> list[Any]:
        """The values a query parameter (or its array items) may take."""
        s = self.param_schema(template, name)
        if s.get("type") == "array":
            s = self._resolve(s.get("items") or {})
        return list(s.get("enum") or [])

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        for _ in range(20):
            if not isinstance(schema.get("$ref"), str):
                break
            schema = self._at(schema["$ref"].removeprefix("#"))
        return schema

    def declares(self, template: str, status: int) -> bool:
        responses = (self.operation(template) or {}).get("responses", {})
        return str(status) in responses or f"{str(status)[0]}XX" in responses or "default" in responses

    def check(self, template: str, r: httpx2.Response, *, request_valid: bool = True) -> list[str]:
        """Validate one exchange; returns the problems found (empty when it honours the contract)."""
        problems: list[str] = []
        where = f"GET {r.request.url.raw_path.decode()} -> {r.status_code}"
        req = SpecRequest(r.request)
        self.requests += 1
        try:
            self.app.validate_apicall_request(req)
            if not request_valid:
                problems.append(f"{where}: the request was expected to break the contract, but it is valid")
        except OpenAPIError as e:
            if request_valid:
                problems.append(f"{where}: request invalid: {describe(e)}")
        self.responses += 1
        self.statuses[r.status_code] += 1
        self.routes.add(template)
        before = len(problems)
        if self.declares(template, r.status_code):
            try:
                self.app.validate_apicall_response(req, SpecResponse(r))
            except OpenAPIError as e:
                problems.append(f"{where}: response invalid: {describe(e)}")
            ptr = self.response_pointer(template, r.status_code)
            if ptr is not None and len(problems) == before:
                problems += [f"{where}: undocumented: {p}" for p in self.undocumented(r.json(), ptr)[:10]]
        elif r.status_code >= 400:
            problems += self.check_error_body(where, r)
        else:
            problems.append(f"{where}: status {r.status_code} is not declared by the contract")
        if r.status_code == 200 and len(problems) == before:
            body = r.json()
            problems += [f"{where}: {p}" for p in page_ids_problems(body)]
            self.objects += count_objects(body)
        return problems

    # ---- undocumented properties ----------------------------------------------------------------
    def _at(self, ptr: str) -> Any:
        node = self._nodes.get(ptr)
        if node is None:
            node = self.spec
            for part in ptr.split("/")[1:]:
                part = part.replace("~1", "/").replace("~0", "~")
                node = node[int(part)] if isinstance(node, list) else node[part]
            self._nodes[ptr] = node
        return node

    def _deref(self, ptr: str, name: str) -> tuple[str, dict[str, Any], str]:
        if ptr.startswith("/components/schemas/") and ptr.count("/") == 3:
            name = ptr.rsplit("/", 1)[-1]
        schema = self._at(ptr)
        for _ in range(20):
            if not (isinstance(schema, dict) and isinstance(schema.get("$ref"), str)):
                break
            ptr = schema["$ref"].removeprefix("#")
            if ptr.startswith("/components/schemas/"):
                name = ptr.rsplit("/", 1)[-1]
            schema = self._at(ptr)
        return ptr, schema if isinstance(schema, dict) else {}, name

    def _valid(self, ptr: str, instance: Any) -> bool:
        v = self._validators.get(ptr)
        if v is None:
            v = self._validators[ptr] = OAS31Validator({"$ref": f"{SPEC_URI}#{ptr}"}, registry=self.registry)
        return v.is_valid(instance)

    def _branch(self, ptr: str, schema: dict[str, Any], instance: Any) -> str | None:
        """The oneOf/anyOf branch an instance takes: the discriminator's, or the first that validates."""
        key = "oneOf" if "oneOf" in schema else "anyOf"
        disc = schema.get("discriminator") or {}
        mapping = disc.get("mapping") or {}
        if isinstance(instance, dict) and instance.get(disc.get("propertyName")) in mapping:
            return mapping[instance[disc["propertyName"]]].removeprefix("#")
        branches = [f"{ptr}/{key}/{i}" for i in range(len(schema[key]))]
        kind = "object" if isinstance(instance, dict) else "array"
        types = [self._deref(b, "")[1].get("type") for b in branches]
        if types.count(kind) == 1 and None not in types:  # e.g. anyOf [X, null]: the one branch of its type
            return branches[types.index(kind)]
        for b in branches:
            if self._valid(b, instance):
                return b
        return None

    def _shape(self, ptr: str, schema: dict[str, Any], depth: int = 0) -> Shape:
        """(property -> pointer, additionalProperties pointer, open) of an object schema and its allOf."""
        hit = self._shapes.get(ptr)
        if hit is None:
            hit = self._shapes[ptr] = self._shape_of(ptr, schema, depth)
        return hit

    def _shape_of(self, ptr: str, schema: dict[str, Any], depth: int) -> Shape:
        props = {k: f"{ptr}/properties/{_esc(k)}" for k in schema.get("properties") or {}}
        ap = schema.get("additionalProperties")
        addl = f"{ptr}/additionalProperties" if isinstance(ap, dict) and ap else None
        is_open = ap is True or ap == {} or "oneOf" in schema or "anyOf" in schema
        for i in range(len(schema.get("allOf") or [])):
            p, sub, _n = self._deref(f"{ptr}/allOf/{i}", "")
            if depth < 10:
                sp, sa, so = self._shape(p, sub, depth + 1)
                props.update(sp)
                addl = addl or sa
                is_open = is_open or so
        if not props and addl is None:
            is_open = True  # a free-form object (metadata, JSON schema, ...)
        return props, addl, is_open

    def undocumented(self, instance: Any, ptr: str, where: str = "$", name: str = "",
                     depth: int = 0) -> list[str]:
        """Properties of a response that its schema does not declare (where the schema is closed)."""
        if depth > 80 or not isinstance(instance, dict | list):
            return []  # only objects can hold undocumented properties
        ptr, schema, name = self._deref(ptr, name)
        if ("oneOf" in schema or "anyOf" in schema) and not schema.get("properties"):
            b = self._branch(ptr, schema, instance)
            return [] if b is None else self.undocumented(instance, b, where, name, depth + 1)
        out: list[str] = []
        if isinstance(instance, dict):
            props, addl, is_open = self._shape(ptr, schema)
            for k, v in instance.items():
                if k in props:
                    out += self.undocumented(v, props[k], f"{where}.{k}", name, depth + 1)
                elif addl is not None:
                    out += self.undocumented(v, addl, f"{where}.{k}", name, depth + 1)
                elif not is_open and (name, k) not in SDK_NEWER_PROPERTIES:
                    out.append(f"{where}.{k} is not a property of {name or ptr}")
        elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
            for i, v in enumerate(instance):
                out += self.undocumented(v, f"{ptr}/items", f"{where}[{i}]", name, depth + 1)
        return out

    def response_pointer(self, template: str, status: int) -> str | None:
        responses = (self.operation(template) or {}).get("responses", {})
        code = str(status) if str(status) in responses else None
        if code is None:
            return None
        resp = responses[code]
        base = f"/paths/{_esc(template)}/get/responses/{code}"
        if "$ref" in resp:
            base = resp["$ref"].removeprefix("#")
            resp = self._at(base)
        if "application/json" not in (resp.get("content") or {}):
            return None
        return f"{base}/content/application~1json/schema"

    def check_error_body(self, where: str, r: httpx2.Response) -> list[str]:
        if not r.headers.get("content-type", "").startswith("application/json"):
            return [f"{where}: error body is not JSON ({r.headers.get('content-type')})"]
        body = r.json()
        errs = sorted(self.error_schema.iter_errors(body), key=lambda e: list(e.absolute_path))
        out = [f"{where}: error body breaks ErrorResponse: {schema_error(e)}" for e in errs]
        if not out:
            out += [f"{where}: undocumented: {p}"
                    for p in self.undocumented(body, "/components/schemas/ErrorResponse")]
        return out


def count_objects(body: Any) -> int:
    """Objects in a response: the page's items (and usage/cost results), or 1 for a single object."""
    if isinstance(body, dict) and isinstance(body.get("data"), list):
        return sum(1 + len(d.get("results") or []) if isinstance(d, dict) else 1 for d in body["data"])
    return 1


def load_contract() -> Contract:
    """The contract document, parsed and repaired; fails the test when the document is missing."""
    p = spec_path()
    if not p.is_file():
        pytest.fail(f"the OpenAPI contract is missing: {p} (it is tests/data/openai-openapi/openapi.yaml in the "
                    "repository; OPENAI_OPENAPI_SPEC may name another copy)")
    with p.open("rb") as f:
        spec = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return Contract(spec)
