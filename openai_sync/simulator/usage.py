"""Usage and cost buckets.

Model: a usage *stream* is one (project, key, model, ...) combination. Its traffic is a number of
requests F per hour, a pure function of (seed, stream, hour); every metric is F times a per-stream
integer constant (tokens per request, ...). Because metrics are linear in F, 1m, 1h and 1d buckets
agree exactly, and costs (F times a price) agree with usage under the price table in `world`.

- An hour's requests fall in 1 to 4 of its minutes (for 1m buckets and the current partial hour).
- Restatement: an hour that ended less than 24 h before the clock reports fewer requests than its
  final count (10 % fewer when just ended, converging linearly); later reads return the final count.
- Nothing after the clock is reported; the bucket holding the clock is partial.
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from . import rng
from .constants import (
    AUDIO_SPEECH_PRICE,
    CODE_INTERPRETER_PRICE,
    COMPLETION_PRICES,
    DAY,
    EMBEDDING_PRICES,
    FILE_SEARCH_PRICE,
    HOUR,
    IMAGE_PRICES,
    MODERATION_MODELS,
    SPEECH_MODELS,
    TRANSCRIPTION_MODELS,
    TRANSCRIPTION_PRICE,
    WEB_SEARCH_PRICE,
)
from .world import World

WIDTHS = {"1m": 60, "1h": HOUR, "1d": DAY}
# (default, max) buckets per page, by width
USAGE_LIMITS = {"1m": (60, 1440), "1h": (24, 168), "1d": (7, 31)}
COSTS_LIMITS = (7, 180)
COSTS_API_KEY_GROUPING_FROM = 1764979200  # 2025-12-06: costs refuse group_by=api_key_id before this
RESTATE_WINDOW = 24 * HOUR

COMPLETION_METRICS = ["input_tokens", "output_tokens", "input_cached_tokens", "input_uncached_tokens",
                      "input_text_tokens", "output_text_tokens", "input_cached_text_tokens",
                      "input_audio_tokens", "input_cached_audio_tokens", "output_audio_tokens",
                      "input_image_tokens", "input_cached_image_tokens", "output_image_tokens",
                      "input_cache_write_tokens", "input_cache_write_30m_tokens", "input_cache_write_12h_tokens",
                      "num_model_requests"]


@dataclass(frozen=True)
class UsageType:
    name: str
    result_object: str
    dims: tuple[str, ...]  # group_by dimensions, in the API's order
    metrics: tuple[str, ...]
    filters: dict[str, str]  # query filter -> dimension


def _f(*pairs: str) -> dict[str, str]:
    return {f"{d}s": d for d in pairs}


USAGE_TYPES: dict[str, UsageType] = {t.name: t for t in [
    UsageType("completions", "organization.usage.completions.result",
              ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source"),
              tuple(COMPLETION_METRICS), _f("project_id", "user_id", "api_key_id", "model")),
    # Newer than the OpenAPI document; shaped after the installed SDK (usage_decisions_*.py).
    UsageType("decisions", "organization.usage.decisions.result",
              ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source"),
              tuple(COMPLETION_METRICS), _f("project_id", "user_id", "api_key_id", "model")),
    UsageType("embeddings", "organization.usage.embeddings.result",
              ("project_id", "user_id", "api_key_id", "model"), ("input_tokens", "num_model_requests"),
              _f("project_id", "user_id", "api_key_id", "model")),
    UsageType("moderations", "organization.usage.moderations.result",
              ("project_id", "user_id", "api_key_id", "model"), ("input_tokens", "num_model_requests"),
              _f("project_id", "user_id", "api_key_id", "model")),
    UsageType("images", "organization.usage.images.result",
              ("project_id", "user_id", "api_key_id", "model", "size", "source"),
              ("images", "num_model_requests"),
              _f("project_id", "user_id", "api_key_id", "model", "size", "source")),
    UsageType("audio_speeches", "organization.usage.audio_speeches.result",
              ("project_id", "user_id", "api_key_id", "model"), ("characters", "num_model_requests"),
              _f("project_id", "user_id", "api_key_id", "model")),
    UsageType("audio_transcriptions", "organization.usage.audio_transcriptions.result",
              ("project_id", "user_id", "api_key_id", "model"), ("seconds", "num_model_requests"),
              _f("project_id", "user_id", "api_key_id", "model")),
    UsageType("vector_stores", "organization.usage.vector_stores.result", ("project_id",), ("usage_bytes",),
              _f("project_id")),
    UsageType("code_interpreter_sessions", "organization.usage.code_interpreter_sessions.result",
              ("project_id",), ("num_sessions",), _f("project_id")),
    UsageType("file_search_calls", "organization.usage.file_searches.result",
              ("project_id", "user_id", "api_key_id", "vector_store_id"), ("num_requests",),
              _f("project_id", "user_id", "api_key_id", "vector_store_id")),
    UsageType("web_search_calls", "organization.usage.web_searches.result",
              ("project_id", "user_id", "api_key_id", "model", "context_level", "api_source"),
              ("num_model_requests", "num_requests"),
              _f("project_id", "user_id", "api_key_id", "model", "context_level")),
]}
# user_id and api_source are newer than the OpenAPI document (the installed SDK has them)
COST_DIMS = ("project_id", "user_id", "line_item", "api_key_id", "api_source")
API_SOURCES = ("agents_api", "unlabeled")


@dataclass
class Streams:
    """All streams of one usage type, as parallel arrays."""

    dims: list[dict[str, Any]] = field(default_factory=list)
    start: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)  # mean requests per active hour
    p: list[float] = field(default_factory=list)  # probability that an hour is active
    per_req: list[dict[str, int]] = field(default_factory=list)  # metric -> amount per request

    def arrays(self) -> None:
        self.a_start = np.array(self.start, dtype=np.int64)
        self.a_end = np.array(self.end, dtype=np.int64)
        self.a_rate = np.array(self.rate, dtype=np.float64)
        self.a_p = np.array(self.p, dtype=np.float64)


@dataclass
class CostLine:
    stream_type: str
    stream: int
    line_item: str
    unit_cost: float  # USD per request of the stream
    qty_per_req: float
    unit: str


class PageTokenError(ValueError):
    pass


def encode_page(t: int) -> str:
    return "page_" + base64.urlsafe_b64encode(f"v1:{t}".encode()).decode().rstrip("=")


def decode_page(tok: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(tok[5:] + "=" * (-len(tok[5:]) % 4)).decode()
        if not tok.startswith("page_") or not raw.startswith("v1:"):
            raise ValueError
        return int(raw[3:])
    except (ValueError, UnicodeDecodeError) as e:
        raise PageTokenError(tok) from e


class UsageEngine:
    def __init__(self, world: World) -> None:
        self.w = world
        self.streams: dict[str, Streams] = {name: Streams() for name in USAGE_TYPES}
        self.cost_lines: list[CostLine] = []
        self._build()
        self._cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._per_cache: dict[str, np.ndarray] = {}
        self._bases_cache: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
        self._group_cache: dict[tuple[str, tuple[str, ...]], tuple[np.ndarray, list[tuple]]] = {}

    # ---- streams ---------------------------------------------------------------------------------
    def _build(self) -> None:
        w, s = self.w, self.w.seed
        models = list(COMPLETION_PRICES)
        for p in w.projects:
            p_end = p.archived_at or 2**62
            for k in p.api_keys:
                user_id = k.owner_id if k.owner_kind == "user" else None
                end = p_end
                if user_id and w.user_by_id[user_id].removed_at:
                    end = min(end, w.user_by_id[user_id].removed_at)
                if k.deleted_at is not None:
                    end = min(end, k.deleted_at)
                start = max(p.created_at, k.created_at)
                base = {"project_id": p.id, "user_id": user_id, "api_key_id": k.id}

                def add(t: str, dims: dict[str, Any], rate: float, per_req: dict[str, int], pa: float = 0.35,
                        base=base, start=start, end=end) -> int:
                    st = self.streams[t]
                    st.dims.append({**base, **dims})
                    st.start.append(start)
                    st.end.append(end)
                    st.rate.append(rate)
                    st.p.append(pa)
                    st.per_req.append(per_req)
                    return len(st.dims) - 1

                for j in range(w.size.usage_models_per_key):
                    m = models[rng.randint(0, len(models) - 1, s, "um", k.id, j)]
                    batch = rng.unit(s, "ub", k.id, j) < 0.15
                    tier = "default" if batch else rng.choice(["default", "default", "default", "flex",
                                                               "priority"], s, "ut", k.id, j)
                    tin = rng.randint(200, 3000, s, "tin", k.id, j)
                    tc = tin * rng.randint(0, 60, s, "tc", k.id, j) // 100
                    tout = rng.randint(50, 900, s, "tout", k.id, j)
                    per = dict.fromkeys(COMPLETION_METRICS, 0)
                    # prompt caching: some uncached input is written to the cache, for 30 minutes or 12 hours
                    cw = (tin - tc) * rng.randint(0, 30, s, "tcw", k.id, j) // 100
                    per.update(input_tokens=tin, output_tokens=tout, input_cached_tokens=tc,
                               input_uncached_tokens=tin - tc, input_text_tokens=tin, output_text_tokens=tout,
                               input_cached_text_tokens=tc, input_cache_write_tokens=cw,
                               input_cache_write_30m_tokens=cw * 2 // 3, input_cache_write_12h_tokens=cw - cw * 2 // 3,
                               num_model_requests=1)
                    source = "agents_api" if rng.unit(s, "uas", k.id, j) < 0.25 else "unlabeled"
                    idx = add("completions", {"model": m, "batch": batch, "service_tier": tier,
                                              "api_source": source},
                              rng.randint(2, 60, s, "ur", k.id, j), per)
                    pin, pcache, pout = COMPLETION_PRICES[m]
                    self.cost_lines += [
                        CostLine("completions", idx, f"{m}, input", (tin - tc) * pin / 1e6, tin - tc,
                                 "tokens"),
                        CostLine("completions", idx, f"{m}, cached input", tc * pcache / 1e6, tc, "tokens"),
                        CostLine("completions", idx, f"{m}, output", tout * pout / 1e6, tout, "tokens"),
                    ]
                u = rng.unit(s, "uo", k.id)
                if rng.unit(s, "ud", k.id) < 0.2:
                    m = models[rng.randint(0, len(models) - 1, s, "udm", k.id)]
                    tin, tout = rng.randint(100, 1500, s, "udi", k.id), rng.randint(10, 200, s, "udo", k.id)
                    idx = add("decisions", {"model": m, "batch": False, "service_tier": "default",
                                            "api_source": "agents_api"}, rng.randint(1, 30, s, "udr", k.id),
                              {**dict.fromkeys(COMPLETION_METRICS, 0), "input_tokens": tin, "output_tokens": tout,
                               "input_uncached_tokens": tin, "input_text_tokens": tin, "output_text_tokens": tout,
                               "num_model_requests": 1}, 0.25)
                    pin, _pc, pout = COMPLETION_PRICES[m]
                    self.cost_lines += [
                        CostLine("decisions", idx, f"{m}, decisions input", tin * pin / 1e6, tin, "tokens"),
                        CostLine("decisions", idx, f"{m}, decisions output", tout * pout / 1e6, tout, "tokens"),
                    ]
                if u < 0.5:
                    m = rng.choice(list(EMBEDDING_PRICES), s, "em", k.id)
                    tin = rng.randint(100, 8000, s, "etin", k.id)
                    idx = add("embeddings", {"model": m}, rng.randint(5, 80, s, "er", k.id),
                              {"input_tokens": tin, "num_model_requests": 1})
                    self.cost_lines.append(CostLine("embeddings", idx, f"{m}, input",
                                                    tin * EMBEDDING_PRICES[m] / 1e6, tin, "tokens"))
                if u < 0.3:
                    add("moderations", {"model": MODERATION_MODELS[0]}, rng.randint(5, 50, s, "mr", k.id),
                        {"input_tokens": rng.randint(50, 500, s, "mtin", k.id), "num_model_requests": 1})
                if u < 0.2:
                    m = rng.choice(list(IMAGE_PRICES), s, "im", k.id)
                    n_img = rng.randint(1, 4, s, "in", k.id)
                    size = rng.choice(["1024x1024", "1024x1792", "512x512"], s, "isz", k.id)
                    source = rng.choice(["image.generation", "image.edit"], s, "isr", k.id)
                    idx = add("images", {"model": m, "size": size, "source": source},
                              rng.randint(1, 10, s, "ir", k.id), {"images": n_img, "num_model_requests": 1},
                              0.2)
                    self.cost_lines.append(CostLine("images", idx, f"{m}, images", n_img * IMAGE_PRICES[m],
                                                    n_img, "images"))
                if u < 0.1:
                    chars = rng.randint(200, 3000, s, "ac", k.id)
                    idx = add("audio_speeches", {"model": SPEECH_MODELS[0]},
                              rng.randint(1, 10, s, "asr", k.id),
                              {"characters": chars, "num_model_requests": 1}, 0.2)
                    self.cost_lines.append(CostLine("audio_speeches", idx, f"{SPEECH_MODELS[0]}, characters",
                                                    chars * AUDIO_SPEECH_PRICE, chars, "characters"))
                    secs = rng.randint(5, 600, s, "at", k.id)
                    idx = add("audio_transcriptions", {"model": TRANSCRIPTION_MODELS[0]},
                              rng.randint(1, 10, s, "atr", k.id), {"seconds": secs, "num_model_requests": 1},
                              0.2)
                    self.cost_lines.append(CostLine("audio_transcriptions", idx,
                                                    f"{TRANSCRIPTION_MODELS[0]}, seconds",
                                                    secs * TRANSCRIPTION_PRICE, secs, "seconds"))
                if u > 0.7:
                    level = rng.choice(["low", "medium", "high"], s, "wl", k.id)
                    idx = add("web_search_calls", {"model": models[0], "context_level": level,
                                                   "api_source": rng.choice(API_SOURCES, s, "was", k.id)},
                              rng.randint(1, 20, s, "wr", k.id), {"num_model_requests": 1, "num_requests": 1},
                              0.25)
                    self.cost_lines.append(CostLine("web_search_calls", idx, "web search tool calls",
                                                    WEB_SEARCH_PRICE, 1, "requests"))
                if u > 0.8:
                    vs = "vs_" + rng.token(24, s, p.id, "vs", 0)
                    idx = add("file_search_calls", {"vector_store_id": vs}, rng.randint(1, 20, s, "fr", k.id),
                              {"num_requests": 1}, 0.25)
                    self.cost_lines.append(CostLine("file_search_calls", idx, "file search tool calls",
                                                    FILE_SEARCH_PRICE, 1, "requests"))
            # project-level only streams
            pstart, pend = p.created_at, p_end
            if rng.unit(s, "pvs", p.id) < 0.6:
                st = self.streams["vector_stores"]
                st.dims.append({"project_id": p.id})
                st.start.append(pstart)
                st.end.append(pend)
                st.rate.append(rng.randint(1, 5, s, "vsr", p.id))
                st.p.append(0.9)
                st.per_req.append({"usage_bytes": rng.randint(10_000, 5_000_000, s, "vsb", p.id)})
            if rng.unit(s, "pci", p.id) < 0.4:
                st = self.streams["code_interpreter_sessions"]
                st.dims.append({"project_id": p.id})
                st.start.append(pstart)
                st.end.append(pend)
                st.rate.append(rng.randint(1, 6, s, "cir", p.id))
                st.p.append(0.2)
                st.per_req.append({"num_sessions": 1})
                self.cost_lines.append(CostLine("code_interpreter_sessions", len(st.dims) - 1,
                                                "code interpreter sessions", CODE_INTERPRETER_PRICE, 1,
                                                "sessions"))
        for st in self.streams.values():
            st.arrays()
        self.cost_by_type: dict[str, list[int]] = {}
        for i, cl in enumerate(self.cost_lines):
            self.cost_by_type.setdefault(cl.stream_type, []).append(i)

    # ---- requests per hour -----------------------------------------------------------------------
    def _day_final(self, t: str, day: int) -> np.ndarray:
        """Final request counts, shape (streams, 24), for the UTC day starting at `day`."""
        key = (t, day)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        st = self.streams[t]
        n = len(st.dims)
        hours = np.arange(day // HOUR, day // HOUR + 24, dtype=np.int64)
        if n == 0:
            out = np.zeros((0, 24), dtype=np.int64)
        else:
            sid = np.arange(n, dtype=np.int64)
            salt = rng.h64(t) & 0xFFFFFFFF
            u1 = rng.unit_grid(self.w.seed, sid, hours, salt)
            u2 = rng.unit_grid(self.w.seed, sid, hours, salt + 1)
            hod = (hours % 24)
            dow = ((hours // 24) + 3) % 7  # 1970-01-01 was a Thursday (3)
            diurnal = np.where((hod >= 8) & (hod < 20), 1.0, 0.35) * np.where(dow >= 5, 0.5, 1.0)
            active = u1 < st.a_p[:, None] * diurnal[None, :]
            out = np.where(active, np.floor(st.a_rate[:, None] * (0.3 + 1.4 * u2)) + 1, 0).astype(np.int64)
            t0 = hours * HOUR
            alive = (t0[None, :] >= st.a_start[:, None]) & (t0[None, :] < st.a_end[:, None])
            out = np.where(alive, out, 0)
        with self._cache_lock:
            self._cache[key] = out
            if len(self._cache) > 4096:
                self._cache.popitem(last=False)
        return out

    def hourly(self, t: str, h0: int, h1: int, now: int, cut: bool = True) -> np.ndarray:
        """Reported request counts, shape (streams, hours) for hour starts [h0, h1), as seen at `now`.

        The hour that holds `now` counts only the minutes that ended before it (with `cut=False`, its
        whole restated count, for callers that cut it minute by minute themselves).
        """
        days = range(h0 // DAY * DAY, h1, DAY)
        full = np.concatenate([self._day_final(t, d) for d in days], axis=1) if days else np.zeros((0, 0))
        off = (h0 - h0 // DAY * DAY) // HOUR
        f = full[:, off: off + (h1 - h0) // HOUR].copy()
        starts = np.arange(h0, h1, HOUR, dtype=np.int64)
        ends = starts + HOUR
        f[:, starts >= now] = 0
        age_h = np.maximum(0, (now - ends) // HOUR)
        recent = (now - ends) < RESTATE_WINDOW
        if recent.any():
            factor = (24 - age_h[recent]) / 240.0
            f[:, recent] = f[:, recent] - np.floor(f[:, recent] * factor[None, :]).astype(np.int64)
        cur = np.nonzero((starts <= now) & (now < ends))[0] if cut else []
        for c in cur:  # the partial hour: only the minutes before the clock
            mins, vals, rows = self.split_minutes(t, int(starts[c]), f[:, c])
            keep = mins < (now - int(starts[c])) // 60
            col = np.zeros(f.shape[0], dtype=np.int64)
            np.add.at(col, rows[keep], vals[keep])
            f[:, c] = col
        return f

    def split_minutes(self, t: str, hour_start: int,
                      counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Spread each stream's count for one hour over 1-4 of its minutes (sums are preserved)."""
        rows = np.nonzero(counts)[0]
        if len(rows) == 0:
            z = np.zeros(0, dtype=np.int64)
            return z, z, z
        salt = (rng.h64(t, "min") & 0xFFFFFFFF)
        hr = np.array([hour_start // HOUR], dtype=np.int64)
        k = (rng.unit_grid(self.w.seed, rows, hr, salt)[:, 0] * 4).astype(np.int64) + 1
        c = counts[rows]
        base = c // k
        first = c - base * (k - 1)
        mins, vals, rws = [], [], []
        for j in range(4):
            m = (rng.unit_grid(self.w.seed, rows, hr, salt + 1 + j)[:, 0] * 60).astype(np.int64)
            use = j < k
            v = np.where(j == 0, first, base)
            mins.append(m[use])
            vals.append(v[use])
            rws.append(rows[use])
        return np.concatenate(mins), np.concatenate(vals), np.concatenate(rws)

    # ---- grouping --------------------------------------------------------------------------------
    def groups(self, t: str, dims_list: list[dict[str, Any]],
               group_by: tuple[str, ...]) -> tuple[np.ndarray, list[tuple]]:
        key = (t, group_by)
        hit = self._group_cache.get(key)
        if hit is not None:
            return hit
        index: dict[tuple, int] = {}
        gid = np.empty(len(dims_list), dtype=np.int64)
        for i, d in enumerate(dims_list):
            g = tuple(d.get(x) for x in group_by)
            gid[i] = index.setdefault(g, len(index))
        out = (gid, list(index))
        self._group_cache[key] = out
        return out

    # ---- pages -----------------------------------------------------------------------------------
    def bucket_starts(self, start_time: int, end_time: int | None, width: int, now: int) -> list[int]:
        # buckets that start before both end_time (exclusive) and the clock: the one that holds the clock
        # is partial; one that would start exactly at the clock holds nothing yet, with or without end_time
        first = start_time // width * width
        stop = now if end_time is None else min(end_time, now)
        return list(range(first, stop, width)) if first < stop else []

    def usage_buckets(self, t: str, starts: list[int], width: int, group_by: tuple[str, ...],
                      filters: dict[str, set], now: int) -> list[dict[str, Any]]:
        ut = USAGE_TYPES[t]
        st = self.streams[t]
        if not starts:
            return []
        mask = np.ones(len(st.dims), dtype=bool)
        for dim, allowed in filters.items():
            mask &= np.array([d.get(dim) in allowed for d in st.dims], dtype=bool).reshape(len(st.dims))
        counts = self._counts(t, starts, width, now)
        counts[~mask] = 0
        out: list[dict[str, Any]] = [{"object": "bucket", "start_time": s0, "end_time": s0 + width, "results": []}
                                     for s0 in starts]
        s_idx, b_idx = np.nonzero(counts)
        if len(s_idx):
            gid, glist = self.groups(t, st.dims, group_by)
            values = counts[s_idx, b_idx][:, None] * self._per_request(t)[s_idx]
            ub, ug, agg = _aggregate(b_idx, gid[s_idx], len(glist), values)
            bases = self._result_bases(t, ut.result_object, ut.dims, group_by, glist)
            metrics = ut.metrics
            for bi, gi, row in zip(ub.tolist(), ug.tolist(), agg.tolist(), strict=True):
                r = dict(bases[gi])
                r.update(zip(metrics, row, strict=True))
                out[bi]["results"].append(r)
        return out

    def _per_request(self, t: str) -> np.ndarray:
        """Metric amounts per request, shape (streams, metrics), in the type's metric order."""
        hit = self._per_cache.get(t)
        if hit is None:
            metrics = USAGE_TYPES[t].metrics
            st = self.streams[t]
            hit = np.array([[pr.get(m, 0) for m in metrics] for pr in st.per_req],
                           dtype=np.int64).reshape(len(st.dims), len(metrics))
            self._per_cache[t] = hit
        return hit

    def _result_bases(self, t: str, obj: str, dims: tuple[str, ...], group_by: tuple[str, ...],
                      glist: list[tuple]) -> list[dict[str, Any]]:
        """For each group, the result's fixed part: object and dimensions (null unless grouped)."""
        key = (t, group_by)
        hit = self._bases_cache.get(key)
        if hit is None:
            pos = {d: group_by.index(d) for d in dims if d in group_by}
            hit = [{"object": obj, **{d: (g[pos[d]] if d in pos else None) for d in dims}} for g in glist]
            self._bases_cache[key] = hit
        return hit

    def _counts(self, t: str, starts: list[int], width: int, now: int) -> np.ndarray:
        """Reported request counts per stream and bucket, shape (streams, buckets)."""
        n = len(self.streams[t].dims)
        if width >= HOUR:
            f = self.hourly(t, starts[0], starts[-1] + width, now)
            return f.reshape(n, len(starts), width // HOUR).sum(axis=2)
        # minute buckets: spread each hour's whole reported count over its minutes, exactly as `hourly`
        # does for the hour that holds the clock, and keep only the minutes that ended before the clock
        # (so that the minutes of the current hour add up to its partial 1h bucket)
        h0 = starts[0] // HOUR * HOUR
        h1 = (starts[-1] // HOUR + 1) * HOUR
        f = self.hourly(t, h0, h1, now, cut=False)
        out = np.zeros((n, len(starts)), dtype=np.int64)
        for hi, hs in enumerate(range(h0, h1, HOUR)):
            mins, vals, rows = self.split_minutes(t, hs, f[:, hi])
            b = (hs + mins * 60 - starts[0]) // 60
            keep = (b >= 0) & (b < len(starts)) & (hs + (mins + 1) * 60 <= now)
            np.add.at(out, (rows[keep], b[keep]), vals[keep])
        return out

    def cost_buckets(self, starts: list[int], group_by: tuple[str, ...], filters: dict[str, set],
                     now: int) -> list[dict[str, Any]]:
        if not starts:
            return []
        lines = self.cost_lines
        amounts = np.zeros((len(lines), len(starts)))
        qty = np.zeros((len(lines), len(starts)))
        for t, idxs in self.cost_by_type.items():
            counts = self._counts(t, starts, DAY, now)
            rows = np.array([lines[i].stream for i in idxs], dtype=np.int64)
            amounts[idxs] = counts[rows] * np.array([lines[i].unit_cost for i in idxs])[:, None]
            qty[idxs] = counts[rows] * np.array([lines[i].qty_per_req for i in idxs])[:, None]
        dims = self.cost_dims
        mask = np.ones(len(lines), dtype=bool)
        for dim, allowed in filters.items():
            mask &= np.array([d.get(dim) in allowed for d in dims], dtype=bool)
        amounts[~mask] = 0
        out: list[dict[str, Any]] = [{"object": "bucket", "start_time": s0, "end_time": s0 + DAY, "results": []}
                                     for s0 in starts]
        l_idx, b_idx = np.nonzero(amounts > 0)
        if len(l_idx):
            gid, glist = self.groups("costs", dims, group_by)
            values = np.stack([amounts[l_idx, b_idx], qty[l_idx, b_idx]], axis=1)
            ub, ug, agg = _aggregate(b_idx, gid[l_idx], len(glist), values)
            bases = self._result_bases("costs", "organization.costs.result", COST_DIMS, group_by, glist)
            by_line = "line_item" in group_by
            for bi, gi, (amount, quantity) in zip(ub.tolist(), ug.tolist(), agg.tolist(), strict=True):
                r = dict(bases[gi])
                r["amount"] = {"value": round(amount, 10), "currency": "usd"}
                if by_line:
                    r["quantity"] = quantity
                    r["quantity_unit"] = self.unit_of_line[r["line_item"]]
                else:
                    r["quantity"] = None
                    r["quantity_unit"] = None
                out[bi]["results"].append(r)
        return out

    @cached_property
    def unit_of_line(self) -> dict[str, str]:
        return {cl.line_item: cl.unit for cl in self.cost_lines}

    @cached_property
    def cost_dims(self) -> list[dict[str, Any]]:
        out = []
        for cl in self.cost_lines:
            d = self.streams[cl.stream_type].dims[cl.stream]
            out.append({"project_id": d["project_id"], "user_id": d.get("user_id"), "line_item": cl.line_item,
                        "api_key_id": d.get("api_key_id"), "api_source": d.get("api_source", "unlabeled")})
        return out


def _aggregate(bucket: np.ndarray, group: np.ndarray, n_groups: int,
               values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum `values` rows per (bucket, group); returns the pairs (bucket-major order) and their sums."""
    keys = bucket.astype(np.int64) * n_groups + group
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sums = np.add.reduceat(values[order], starts, axis=0)
    uk = keys[starts]
    return uk // n_groups, uk % n_groups, sums
