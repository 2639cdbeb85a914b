"""The many shapes a project object can take: graders, eval data sources, fine-tuning methods, the extras of a
stored chat completion, a video's errors, an assistant's tools. Each builder takes an index and rotates through
the variants the installed SDK declares, so that a medium organization shows every one of them.

Most payloads are written out with meaningful values. The long tail that the SDK shares with the Responses API
(the twenty kinds of tool an eval run may sample with, and a response format's schema) is built by `example`
from the SDK's own types, so that a new kind of tool in a new SDK appears here without a line of code.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from .constants import DAY

_PCB = {"mode": "explicit", "ttl": "30m"}


_TEXT, _IMAGE = ({"type": "input_text", "text": "{{item.question}}", "prompt_cache_breakpoint": _PCB},
                  {"type": "input_image", "image_url": "https://cdn.example.com/chart.png", "detail": "low"})
_AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZFZm10IBAAAAABAAEA", "format": "wav"}}
_FILE = {"type": "input_file", "file_id": "file-report", "filename": "report.pdf",
         "file_url": "https://cdn.example.com/report.pdf", "file_data": "JVBERi0xLjQK"}


# every kind of input content a grader may carry, in one message
CONTENT_PARTS = [_TEXT, {"type": "input_text", "text": "{{item.reference}}"},
                 {"type": "output_text", "text": "{{sample.output_text}}"}, _IMAGE, _AUDIO]


def one_part(j: int) -> dict[str, Any]:
    """A single content part (not a list), of each kind in turn."""
    return [_TEXT, _IMAGE, _AUDIO, {"type": "output_text", "text": "{{sample.output_text}}"}][j % 4]


def _model_input() -> list[dict[str, Any]]:
    return [{"role": "system", "content": "Grade the answer against the reference.", "type": "message"},
            {"role": "user", "content": CONTENT_PARTS, "type": "message"},
            # a message of each single kind of content: the item's text, image and audio, and the sample's answer
            *({"role": "user", "content": one_part(k), "type": "message"} for k in range(3)),
            {"role": "assistant", "content": one_part(3)}]


_SAMPLING = {"max_completions_tokens": 512, "reasoning_effort": "low", "seed": 7, "temperature": 0.0, "top_p": 1.0}


GRADERS = ("string_check", "text_similarity", "python", "score_model", "label_model")


def grader(kind: str, j: int, inner: int = 0) -> dict[str, Any]:
    """One grader of the SDK's six kinds (types/graders/*); `inner`: which kind a multi grader combines."""
    if kind == "string_check":
        return {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
                "reference": "{{item.expected}}", "operation": ("eq", "ne", "like", "ilike")[j % 4]}
    if kind == "text_similarity":
        return {"type": "text_similarity", "name": "similar", "input": "{{sample.output_text}}",
                "reference": "{{item.expected}}", "evaluation_metric": ("fuzzy_match", "bleu", "rouge_l")[j % 3]}
    if kind == "python":
        return {"type": "python", "name": "unit tests", "source": "def grade(sample, item):\n    return 1.0\n",
                "image_tag": "2025-05-08"}
    if kind == "score_model":
        return {"type": "score_model", "name": "quality", "model": "o4-mini-2025-04-16", "input": _model_input(),
                "range": [0.0, 1.0], "sampling_params": _SAMPLING}
    if kind == "label_model":
        return {"type": "label_model", "name": "tone", "model": "gpt-4o-mini-2024-07-18", "input": _model_input(),
                "labels": ["polite", "neutral", "rude"], "passing_labels": ["polite", "neutral"]}
    if kind == "multi":
        return {"type": "multi", "name": "combined", "calculate_output": "0.5 * quality + 0.5 * similar",
                "graders": grader(GRADERS[inner % len(GRADERS)], j)}
    raise ValueError(kind)


def testing_criterion(i: int) -> dict[str, Any]:
    """An eval's second criterion (the first is always an exact match): the other kinds, with their thresholds."""
    kind = ("label_model", "text_similarity", "python", "score_model")[i % 4]
    g = grader(kind, i)
    if kind != "label_model":
        g["pass_threshold"] = 0.8
    return g


def data_source_config(i: int) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"item": {"type": "object"}}, "required": ["item"]}
    kind = ("custom", "logs", "stored_completions")[i % 3]
    return {"type": kind, "schema": schema, **({"metadata": {"feature": "support"}} if kind != "custom" else {})}


def run_data_source(k: int, file_id: str, created: int) -> dict[str, Any]:
    """An eval run's data source: JSONL (a file or inline items), completions or responses, each with its
    sources and input messages."""
    inline = {"type": "file_content", "content": [{"item": {"question": "2+2?", "expected": "4"},
                                                   "sample": {"output_text": "4"}},
                                                  {"item": {"question": "capital of France?", "expected": "Paris"}}]}
    by_file = {"type": "file_id", "id": file_id}
    ref = {"type": "item_reference", "item_reference": "item.input"}
    kind = k % 6
    if kind < 2:
        return {"type": "jsonl", "source": by_file if kind == 0 else inline}
    window = {"created_after": created - 7 * DAY, "created_before": created}
    if kind < 4:
        template = {"type": "template", "template": [  # each message valid as one kind only (easy input, eval item)
            {"role": "developer", "content": [_FILE, {"type": "input_text", "text": "Answer briefly."}],
             "type": "message", "phase": "final_answer"},
            {"role": "user", "content": [_TEXT, _IMAGE, _FILE]},
            {"role": "user", "content": [_TEXT, _AUDIO], "type": "message"},  # audio: an eval item, not an easy input
            {"role": "user", "content": one_part(k // 6), "type": "message"}]}
        fmt = ({"type": "json_schema", "json_schema": json_schema(k)} if kind == 2 else
               {"type": ("text", "json_object")[k % 2]})
        return {"type": "completions", "model": "gpt-4o-mini-2024-07-18",
                "source": {"type": "stored_completions", "limit": 100, "metadata": {"feature": "support"},
                           "model": "gpt-4o-mini-2024-07-18", **window} if kind == 2 else by_file,
                "input_messages": template if kind == 2 else ref,
                "sampling_params": {"max_completion_tokens": 256, "reasoning_effort": "minimal", "seed": 1,
                                    "temperature": 0.2, "top_p": 1.0, "response_format": fmt,
                                    "tools": [{"type": "function", "function": function_def(k)}]}}
    from openai.types.evals.run_list_response import DataSourceResponsesSamplingParams

    params = DataSourceResponsesSamplingParams.model_fields
    return {"type": "responses", "model": "gpt-4.1-2025-04-14",
            "source": {"type": "responses", "instructions_search": "refund", "metadata": {"feature": "support"},
                       "model": "gpt-4.1-2025-04-14", "reasoning_effort": "medium", "temperature": 1.0,
                       "tools": ["web_search", "file_search"], "top_p": 1.0, "users": ["user-abc"], **window}
            if kind == 4 else inline,
            "input_messages": {"type": "template", "template": [
                {"role": "system", "content": {"type": "input_text", "text": "Answer briefly."}, "type": "message"},
                {"role": "user", "content": _AUDIO, "type": "message"}]} if kind == 4 else ref,
            "sampling_params": {"max_completion_tokens": 1024, "reasoning_effort": "high", "seed": 3,
                                "temperature": 0.7, "top_p": 0.9,
                                "text": {"format": every_member(params["text"].annotation, k // 6)["format"]},
                                "tools": every_member(params["tools"].annotation, k // 6)}}


def function_def(k: int) -> dict[str, Any]:
    return {"name": "lookup_order", "description": "Find an order by its number",
            "parameters": {"type": "object", "properties": {"order": {"type": "string"}}}, "strict": k % 2 == 0}


def json_schema(k: int) -> dict[str, Any]:
    return {"name": "answer", "description": "A short answer", "strict": True,
            "schema": {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}}


def per_model_usage(model: str, n: int) -> list[dict[str, Any]]:
    prompt, completion = 120 * n, 30 * n
    return [{"model_name": model, "invocation_count": n, "prompt_tokens": prompt, "completion_tokens": completion,
             "total_tokens": prompt + completion, "cached_tokens": 40 * n}]


def ft_method(i: int) -> dict[str, Any]:
    """Supervised, DPO or reinforcement (half the jobs), the last with each kind of grader in turn, and a multi
    grader combining each kind."""
    kind = ("supervised", "reinforcement", "dpo", "reinforcement")[i % 4]
    if kind == "supervised":
        return {"type": kind, "supervised": {"hyperparameters": {"batch_size": 4, "learning_rate_multiplier": 1.8,
                                                                 "n_epochs": 3}}}
    if kind == "dpo":
        return {"type": kind, "dpo": {"hyperparameters": {"batch_size": 8, "beta": 0.1,
                                                          "learning_rate_multiplier": 0.5, "n_epochs": 2}}}
    q = i // 2
    single = ("string_check", "text_similarity", "python", "score_model")[(q // 2) % 4]
    return {"type": kind, "reinforcement": {
        "grader": grader("multi", q, inner=q // 2) if q % 2 else grader(single, q),
        "hyperparameters": {"batch_size": 16, "compute_multiplier": 1.0, "eval_interval": 10, "eval_samples": 20,
                            "learning_rate_multiplier": 1.0, "n_epochs": 1, "reasoning_effort": "medium"}}}


def ft_integrations(i: int) -> list[dict[str, Any]] | None:
    if i % 2:
        return None
    return [{"type": "wandb", "wandb": {"project": "fine-tunes", "entity": "acme-ml", "name": f"job-{i}",
                                        "tags": ["openai", "sft"]}}]


def chat_extras(i: int, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """What some stored completions carry beyond a plain answer: (the message's extras, the choice's extras)."""
    kind = i % 5
    message: dict[str, Any] = {}
    choice: dict[str, Any] = {}
    if kind == 1:
        message["tool_calls"] = [
            {"id": f"call_{i:x}a", "type": "function",
             "function": {"name": "lookup_order", "arguments": '{"order":"A1"}'}},
            {"id": f"call_{i:x}b", "type": "custom", "custom": {"name": "sql", "input": "SELECT 1"}}]
        message["function_call"] = {"name": "lookup_order", "arguments": '{"order":"A1"}'}  # the deprecated form
    elif kind == 2:
        message["annotations"] = [{"type": "url_citation", "url_citation": {
            "url": "https://docs.example.com/refunds", "title": "Refunds", "start_index": 0, "end_index": len(text)}}]
    elif kind == 3:
        message["audio"] = {"id": f"audio_{i:x}", "data": "UklGRiQAAABXQVZF", "expires_at": 1_900_000_000,
                            "transcript": text}
    elif kind == 4:
        top = [{"token": "Answer", "logprob": -0.01, "bytes": [65, 110, 115, 119, 101, 114]}]
        choice["logprobs"] = {"content": [{**top[0], "top_logprobs": top}],
                              "refusal": [{"token": "No", "logprob": -3.2, "bytes": [78, 111],
                                           "top_logprobs": [{"token": "No", "logprob": -3.2, "bytes": [78, 111]}]}]}
    return message, choice


def moderation(i: int) -> dict[str, Any] | None:
    if i % 7:
        return None
    result = {"type": "moderation_result", "model": "omni-moderation-2024-09-26", "flagged": False,
              "categories": {"harassment": False, "violence": False},
              "category_scores": {"harassment": 0.0012, "violence": 0.0003},
              "category_applied_input_types": {"harassment": ["text"], "violence": ["text", "image"]}}
    ok = {"type": "moderation_results", "model": "omni-moderation-2024-09-26", "results": [result]}
    err = {"type": "error", "code": "moderation_unavailable", "message": "The moderation service timed out."}
    return {"input": err if (i // 7) % 3 == 2 else ok, "output": err if i % 14 else ok}


def video_error(i: int) -> dict[str, Any]:
    if i % 2:
        return {"code": "moderation_blocked", "message": "The prompt was blocked.", "type": "invalid_request_error",
                "param": "prompt", "headers": {"x-request-id": f"req_{i:x}"}}
    return {"code": "misaligned_request", "message": "The request was stopped for review.", "param": None,
            "type": "server_error", "misalignment": {
                "detailed_explanation": "The prompt asks to reproduce private data.",
                "error_type": "potentially_unintended_data_access", "review_target": "prompt",
                "steer": {"message": "Describe the scene without personal details."}}}


def assistant_extras(i: int) -> dict[str, Any]:
    kind = i % 4
    if kind == 0:
        return {"tools": [], "response_format": "auto", "tool_resources": {}}
    if kind == 1:
        return {"tools": [{"type": "code_interpreter"}],
                "tool_resources": {"code_interpreter": {"file_ids": [f"file-ci{i}"]}},
                "response_format": {"type": "json_object"}}
    if kind == 2:
        ranking = {"ranker": "default_2024_08_21", "score_threshold": 0.5}
        return {"tools": [{"type": "file_search", "file_search": {"max_num_results": 20, "ranking_options": ranking}}],
                "tool_resources": {"file_search": {"vector_store_ids": [f"vs_{i}"]}},
                "response_format": {"type": "json_schema", "json_schema": json_schema(i)}}
    return {"tools": [{"type": "function", "function": function_def(i)}], "response_format": {"type": "text"},
            "tool_resources": None}


# ---- from the SDK's types -----------------------------------------------------------------------------------------
def every_member(annotation: Any, k: int) -> Any:
    """An example of a field's type: a list holds one item of each member of its union."""
    return example(annotation, k, "")


def example(ann: Any, k: int, name: str, depth: int = 0) -> Any:
    """A value of an SDK annotation with every field set: unions pick a member by `k`, except in lists, which
    hold one of each; strings and numbers are plausible for the field's name."""
    from pydantic import BaseModel

    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        return example(args[0], k, name, depth)
    if origin is typing.Literal:
        return args[0]  # the first value: the oldest, which every version of the API knows
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        models = [a for a in members if _is_model(a)] or members
        # the member depends on the field too, so that two unions of one object do not always turn together
        return example(models[(k + sum(map(ord, name)) + depth) % len(models)], k, name, depth)
    if origin is list:
        item = args[0]
        inner = typing.get_args(item)[0] if typing.get_origin(item) is typing.Annotated else item
        members = [a for a in typing.get_args(inner) if _is_model(a)] if typing.get_origin(inner) in (
            typing.Union, types.UnionType) else []
        if members and depth < 6:
            return [example(m, k, name, depth + 1) for m in members]
        return [example(item, k, name, depth + 1)]
    if origin is dict:
        return {"key": example(args[1], k, "value", depth + 1)} if len(args) == 2 else {}
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        if depth > 8:
            return {}
        return {f.alias or n: example(f.annotation, k, n, depth + 1) for n, f in ann.model_fields.items()}
    if ann is bool:
        return k % 2 == 0
    if ann is int:
        return 1 + k % 3  # small: the API bounds many counts (partial_images at most 3)
    if ann is float:
        return 0.5
    if ann is str:
        if name.endswith("_id"):
            return f"{name[:-3]}_{'0123456789abcdefghijklmnopqrstuv'[k % 32:] + 'a' * (k % 32)}"
        return f"https://example.com/{name}" if "url" in name else f"{name or 'value'}-{k % 10}"
    return {}


def _is_model(a: Any) -> bool:
    from pydantic import BaseModel

    return isinstance(a, type) and issubclass(a, BaseModel)
