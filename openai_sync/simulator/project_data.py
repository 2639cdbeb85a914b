"""One project's own objects (what a project API key reads), built on first use of the project.

State follows the clock: a batch is in progress until its finish time and completed after it, a run's
output items appear when it completes, a deleted file disappears at its deletion time, and so on.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import rng, variants
from .constants import BASE_MODELS, COMPLETION_PRICES, DAY, HORIZON, HOUR
from .seq import Item, Seq

if TYPE_CHECKING:
    from .world import Project, World

PURPOSES = ["assistants", "batch", "fine-tune", "user_data", "vision", "batch_output"]


class ProjectData:
    def __init__(self, world: World, project: Project) -> None:
        self.w = world
        self.p = project
        self.seed = world.seed
        self.t0 = project.created_at
        # objects of archived projects stop at the archive time; others go on to the horizon
        end = project.archived_at if project.archived_at and project.archived_at <= world.now0 else None
        self.t1 = end or world.now0 + HORIZON

    def _id(self, prefix: str, n: int, *parts: object) -> str:
        return prefix + rng.token(n, self.seed, self.p.id, *parts)

    def _u(self, *parts: object) -> float:
        return rng.unit(self.seed, self.p.id, *parts)

    def _rotation(self, i: int, n: int) -> int:
        """Object i of n in this project, counted across the organization: variants turn through every project."""
        return self.p.index * n + i

    def _spread(self, i: int, n: int) -> int:
        """Creation time of object i of n, spread over the project's life (monotonic in i)."""
        return self.t0 + int((self.t1 - self.t0) * (i + 0.5) / max(n, 1))

    # ---- files (lazy: a project can hold 100k of them) -------------------------------------------
    @cached_property
    def n_files(self) -> int:
        sz = self.w.size
        return sz.big_project_files if self.p.index == 0 and sz.big_project_files else sz.files_per_project

    def file_id(self, i: int) -> str:
        return f"file-{rng.token(10, self.seed, self.p.id, 'f', i)}{i:x}"

    @cached_property
    def files_seq(self) -> Seq:
        n = self.n_files

        def created(i: int) -> int:
            return self._spread(i, n)

        # Whatever the draw, the newest file that exists a day before the initial clock is deleted within
        # a day after it, so that a test advancing the clock always sees a deletion.
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            if created(mid) <= self.w.now0 - DAY:
                lo = mid + 1
            else:
                hi = mid
        victim = lo - 1

        def make(i: int) -> Item:
            fid = self.file_id(i)
            c = created(i)
            purpose = PURPOSES[rng.h64(self.seed, self.p.id, "fp", i) % len(PURPOSES)]
            gone = None
            if i == victim:
                gone = self.w.now0 + rng.randint(2 * HOUR, 20 * HOUR, self.seed, self.p.id, "fdv")
            elif self._u("fdel", i) < 0.03:
                gone = c + rng.randint(HOUR, 30 * DAY, self.seed, self.p.id, "fdt", i)
            size = rng.randint(200, 5_000_000, self.seed, self.p.id, "fb", i)
            expiring = purpose == "batch" and i % 7 == 3  # uploaded with an expiry (expires_after)
            return Item(fid, c, gone, lambda now: {
                "id": fid, "object": "file", "bytes": size, "created_at": c,
                "filename": f"{purpose.replace('-', '_')}_{i}.jsonl", "purpose": purpose,
                **({"expires_at": c + 30 * DAY} if expiring else {}),
                # a file that failed validation says why (the deprecated status_details)
                **({"status": "error", "status_details": "Invalid JSON on line 3."} if i % 11 == 5
                   else {"status": "processed"})},
                {"purpose": purpose})

        def index_of(fid: str) -> int | None:
            try:
                i = int(fid[15:], 16)
            except ValueError:
                return None
            return i if 0 <= i < n and self.file_id(i) == fid else None

        return Seq(n, make, index_of, created)

    # ---- batches ---------------------------------------------------------------------------------
    @cached_property
    def batches_seq(self) -> Seq:
        n = self.w.size.batches_per_project
        items = []
        for i in range(n):
            bid = self._id("batch_", 24, "b", i)
            c = self._spread(i, n)
            dur = rng.randint(20 * 60, 20 * HOUR, self.seed, self.p.id, "bd", i)
            fate = self._u("bf", i)
            total = rng.randint(10, 5000, self.seed, self.p.id, "bt", i)
            in_file = self.file_id(i % max(1, self.n_files))
            model = list(COMPLETION_PRICES)[i % len(COMPLETION_PRICES)]

            def render(now: int, bid=bid, c=c, dur=dur, fate=fate, total=total, in_file=in_file, model=model):
                expires = 0.1 <= fate < 0.15  # still running when its 24 h window closes
                done = c + DAY if expires else c + dur
                b: dict[str, Any] = {
                    "id": bid, "object": "batch", "endpoint": "/v1/chat/completions", "model": model,
                    "input_file_id": in_file, "completion_window": "24h", "created_at": c,
                    "expires_at": c + DAY, "metadata": {"job": f"nightly-{bid[-4:]}"}}
                if now < c + 60:
                    b["status"] = "validating"
                    b["request_counts"] = {"total": 0, "completed": 0, "failed": 0}
                    return b
                b["in_progress_at"] = c + 60
                if now < done:
                    frac = (now - c) / (done - c)
                    b["status"] = "in_progress"
                    goal = total // 2 if expires else total
                    b["request_counts"] = {"total": total, "completed": int(goal * frac), "failed": 0}
                    return b
                if fate < 0.1:
                    b.update(status="failed", failed_at=done,
                             errors={"object": "list", "data": [{"code": "invalid_json",
                                                                 "message": "Bad line",
                                                                   "line": 1, "param": None}]},
                             request_counts={"total": 0, "completed": 0, "failed": 0})
                elif fate < 0.15:
                    b.update(status="expired", expired_at=c + DAY,
                             request_counts={"total": total, "completed": total // 2, "failed": 0})
                elif fate < 0.2:  # cancelled by its owner: cancelling, then cancelled ten minutes later
                    b.update(cancelling_at=done - 600, request_counts={"total": total, "completed": total // 3,
                                                                       "failed": 0})
                    b["status"] = "cancelling" if now < done + 600 else "cancelled"
                    if now >= done + 600:
                        b["cancelled_at"] = done + 600
                else:
                    failed = total // 50
                    b.update(status="completed", finalizing_at=done - 30, completed_at=done,
                             output_file_id="file-" + rng.token(24, self.seed, bid, "out"),

                             request_counts={"total": total, "completed": total - failed, "failed": failed},
                             **({"error_file_id": "file-" + rng.token(24, self.seed, bid, "err")} if failed else {}),
                             usage={"input_tokens": total * 300, "output_tokens": total * 120,
                                    "total_tokens": total * 420,
                                    "input_tokens_details": {"cached_tokens": 0},
                                    "output_tokens_details": {"reasoning_tokens": 0}})
                return b
            items.append(Item(bid, c, None, render))
        return Seq.of(items)

    # ---- evals, runs, output items ---------------------------------------------------------------
    @cached_property
    def evals(self) -> list[tuple[str, int]]:
        n = self.w.size.evals_per_project
        return [(self._id("eval_", 24, "e", i), self._spread(i, n)) for i in range(n)]

    @cached_property
    def evals_seq(self) -> Seq:
        items = []
        for i, (eid, c) in enumerate(self.evals):
            items.append(Item(eid, c, None, lambda now, eid=eid, c=c, i=i: {
                "object": "eval", "id": eid, "name": f"eval-{i}", "created_at": c, "metadata": {"team": "ml"},
                "data_source_config": variants.data_source_config(self._rotation(i, len(self.evals))),
                "testing_criteria": [variants.grader("string_check", 0),
                                     variants.testing_criterion(self._rotation(i, len(self.evals)))]}))
        return Seq.of(items)

    def _runs(self, eval_id: str) -> list[tuple[str, int, int, int]] | None:
        found = [c for eid, c in self.evals if eid == eval_id]
        if not found:
            return None
        ec = found[0]
        n = self.w.size.runs_per_eval
        out = []
        for j in range(n):
            c = ec + int((self.t1 - ec) * (j + 0.5) / n)
            dur = rng.randint(10 * 60, 6 * HOUR, self.seed, eval_id, "rd", j)
            n_items = self.w.size.output_items_per_run
            out.append((f"evalrun_{rng.token(24, self.seed, eval_id, 'r', j)}", c, c + dur, n_items))
        return out

    def runs_seq(self, eval_id: str) -> Seq | None:
        runs = self._runs(eval_id)
        if runs is None:
            return None
        items = []
        e = next(i for i, (eid, _c) in enumerate(self.evals) if eid == eval_id)
        criteria = [variants.grader("string_check", 0)["name"],
                    variants.testing_criterion(self._rotation(e, len(self.evals)))["name"]]
        for j, (rid, c, done, n_items) in enumerate(runs):
            def render(now: int, rid=rid, c=c, done=done, n_items=n_items, j=j) -> dict[str, Any]:
                status = "queued" if now < c + 60 else "in_progress" if now < done else "completed"
                passed = n_items * 3 // 4 if status == "completed" else 0
                failed = n_items - passed if status == "completed" else 0
                model = list(COMPLETION_PRICES)[j % len(COMPLETION_PRICES)]
                return {
                    "object": "eval.run", "id": rid, "eval_id": eval_id, "status": status,
                    "model": model, "name": f"run-{j}", "created_at": c,
                    "report_url": f"https://platform.openai.com/evaluations/{eval_id}?run_id={rid}",
                    "result_counts": {"total": passed + failed, "errored": 0, "failed": failed,
                                      "passed": passed},
                    "per_model_usage": variants.per_model_usage(model, passed + failed) if passed + failed else [],
                    "per_testing_criteria_results": [{"testing_criteria": name, "passed": passed, "failed": failed}
                                                     for name in criteria] if passed + failed else [],
                    "data_source": variants.run_data_source(self._rotation(e, len(self.evals)) * len(runs) + j,
                                                            self.file_id(0), c),
                    "metadata": {}, "error": {"code": "", "message": ""}}
            items.append(Item(rid, c, None, render))
        return Seq.of(items)

    def output_items_seq(self, eval_id: str, run_id: str) -> Seq | None:
        runs = self._runs(eval_id)
        run = next((r for r in runs or [] if r[0] == run_id), None)
        if run is None:
            return None
        rid, _c, done, n_items = run
        items = []
        for k in range(n_items):
            oid = f"outputitem_{rng.token(24, self.seed, rid, 'o', k)}"
            ok = rng.unit(self.seed, rid, "ok", k) < 0.75
            items.append(Item(oid, done, None, lambda now, oid=oid, ok=ok, k=k: {
                "object": "eval.run.output_item", "id": oid, "run_id": rid, "eval_id": eval_id,
                "created_at": done, "status": "pass" if ok else "fail", "datasource_item_id": k,
                "datasource_item": {"input": f"question {k}", "expected": "42"},
                "results": [{"name": "exact", "type": "string_check", "score": 1.0 if ok else 0.0, "passed": ok},
                            # a model grader's result carries what the grading model was asked and answered
                            *([{"name": "quality", "type": "score_model", "score": 0.9 if ok else 0.2, "passed": ok,
                                "sample": {"input": [{"role": "user", "content": f"Grade: question {k}"}],
                                           "output": [{"role": "assistant", "content": "0.9" if ok else "0.2"}]}}]
                              if k % 2 else [])],
                "sample": {"input": [{"role": "user", "content": f"question {k}"}],
                           "output": [{"role": "assistant", "content": "42" if ok else "41"}],
                           "finish_reason": "stop", "model": "gpt-4o-mini-2024-07-18",
                           "usage": {"total_tokens": 30, "completion_tokens": 5, "prompt_tokens": 25,
                                     "cached_tokens": 0},
                           "error": {"code": "", "message": ""}, "temperature": 1.0,
                           "max_completion_tokens": 256,
                           "top_p": 1.0, "seed": 42}}))
        return Seq.of(items)

    # ---- skills and versions ---------------------------------------------------------------------
    def _skill_versions(self, i: int, sid: str, c: int) -> list[tuple[str, int]]:
        n = 1 + rng.randint(0, 2, self.seed, self.p.id, "sv", i)
        vs, t = [], c
        for v in range(n):  # version numbers follow publication times
            t += v and rng.randint(DAY, 10 * DAY, self.seed, sid, "svt", v)
            vs.append((str(v + 1), t))
        if self._u("svf", i) < 0.5:  # a new version published after the clock advances
            later = self.w.now0 + rng.randint(HOUR, 3 * DAY, self.seed, sid, "svn")
            vs.append((str(n + 1), max(t + HOUR, later)))
        return vs

    @cached_property
    def skills(self) -> list[tuple[str, int, list[tuple[str, int]]]]:
        n = self.w.size.skills_per_project
        out = []
        for i in range(n):
            sid = self._id("skill_", 24, "s", i)
            c = self._spread(i, n)
            out.append((sid, c, self._skill_versions(i, sid, c)))
        return out

    @cached_property
    def skills_seq(self) -> Seq:
        items = []
        for i, (sid, c, versions) in enumerate(self.skills):
            def render(now: int, sid=sid, c=c, versions=versions, i=i) -> dict[str, Any]:
                live = [v for v, t in versions if t <= now] or [versions[0][0]]
                return {"id": sid, "object": "skill", "name": f"skill-{i}",
                        "description": f"Skill number {i}",
                        "created_at": c, "default_version": "1", "latest_version": live[-1]}
            items.append(Item(sid, c, None, render))
        return Seq.of(items)

    def skill_versions_seq(self, skill_id: str) -> Seq | None:
        sk = next((s for s in self.skills if s[0] == skill_id), None)
        if sk is None:
            return None
        sid, _c, versions = sk
        return Seq.of([Item(f"skillver_{rng.token(20, self.seed, sid, v)}", t, None,
                            lambda now, v=v, t=t: {"object": "skill.version",
                                                   "id": f"skillver_{rng.token(20, self.seed, sid, v)}",
                                                   "skill_id": sid, "version": v, "created_at": t,
                                                   "name": f"{sid[-6:]}-v{v}", "description": f"Version {v}"})
                       for v, t in versions])

    # ---- fine-tuning -----------------------------------------------------------------------------
    @cached_property
    def ft_jobs(self) -> list[tuple[str, int, int, str]]:
        n = self.w.size.ft_jobs_per_project
        out = []
        for i in range(n):
            c = self._spread(i, n)
            dur = rng.randint(30 * 60, 12 * HOUR, self.seed, self.p.id, "ftd", i)
            out.append((self._id("ftjob-", 24, "ft", i), c, c + dur, "gpt-4o-mini-2024-07-18"))
        return out

    def ft_model_name(self, job_id: str) -> str:
        return f"ft:gpt-4o-mini-2024-07-18:{self.w.org_id[4:12].lower()}::{job_id[-8:]}"

    @cached_property
    def ft_jobs_seq(self) -> Seq:
        items = []
        for i, (jid, c, done, model) in enumerate(self.ft_jobs):
            failed = self._u("ftf", i) < 0.15

            def render(now: int, jid=jid, c=c, done=done, model=model, failed=failed, i=i) -> dict[str, Any]:
                status = "validating_files" if now < c + 60 else "running" if now < done else (
                    "failed" if failed else "succeeded")
                fin = status in ("failed", "succeeded")
                return {
                    "object": "fine_tuning.job", "id": jid, "created_at": c, "model": model,
                    "organization_id": self.w.org_id, "status": status,
                    "error": {"code": "invalid_training_file", "message": "Bad file",
                              "param": "training_file"}
                    if status == "failed" else None,
                    "fine_tuned_model": self.ft_model_name(jid) if status == "succeeded" else None,
                    "finished_at": done if fin else None,
                    "hyperparameters": {"batch_size": 4, "learning_rate_multiplier": 1.8, "n_epochs": 3},
                    "result_files": [f"file-{rng.token(24, self.seed, jid, 'res')}"]
                    if status == "succeeded" else [],
                    "trained_tokens": 120_000 if status == "succeeded" else None,
                    "training_file": self.file_id(0), "validation_file": None, "seed": 42,
                    "estimated_finish": None if fin else done, "integrations": variants.ft_integrations(i),
                    "method": variants.ft_method(self._rotation(i, len(self.ft_jobs))), "metadata": None}
            items.append(Item(jid, c, None, render))
        return Seq.of(items)

    def _job(self, job_id: str) -> tuple[str, int, int, str] | None:
        return next((j for j in self.ft_jobs if j[0] == job_id), None)

    def ft_events_seq(self, job_id: str) -> Seq | None:
        job = self._job(job_id)
        if job is None:
            return None
        jid, c, done, _m = job
        n = 10
        items = []
        for k in range(n):
            t = c + (done - c) * k // (n - 1)
            eid = f"ftevent-{rng.token(24, self.seed, jid, 'ev', k)}"
            msg = ("Validating training file" if k == 0 else "The job has finished" if k == n - 1
                   else f"Step {k * 10}")
            items.append(Item(eid, t, None, lambda now, eid=eid, t=t, msg=msg, k=k: {
                "object": "fine_tuning.job.event", "id": eid, "created_at": t, "level": "info",
                "message": msg, "type": "metrics" if 0 < k < n - 1 else "message",
                **({"data": {"step": k * 10, "train_loss": 1.0 / (k + 1)}} if 0 < k < n - 1 else {})}))
        return Seq.of(items)

    def ft_checkpoints_seq(self, job_id: str) -> Seq | None:
        job = self._job(job_id)
        if job is None:
            return None
        jid, _c, done, _m = job
        items = []
        for k in range(3):
            t = done - (2 - k) * 60
            cid = f"ftckpt_{rng.token(24, self.seed, jid, 'ck', k)}"
            items.append(Item(cid, t, None, lambda now, cid=cid, t=t, k=k: {
                "object": "fine_tuning.job.checkpoint", "id": cid, "created_at": t, "fine_tuning_job_id": jid,
                "fine_tuned_model_checkpoint": f"{self.ft_model_name(jid)}:ckpt-step-{(k + 1) * 100}",
                "step_number": (k + 1) * 100, "metrics": {
                    "step": (k + 1) * 100, "train_loss": 0.5 / (k + 1), "train_mean_token_accuracy": 0.8 + k * 0.05,
                    "valid_loss": 0.6 / (k + 1), "valid_mean_token_accuracy": 0.78 + k * 0.05,
                    **({"full_valid_loss": 0.55, "full_valid_mean_token_accuracy": 0.9} if k == 2 else {})}}))
        return Seq.of(items)

    # ---- vector stores and their files -----------------------------------------------------------
    @cached_property
    def vector_stores(self) -> list[tuple[str, int, int | None]]:
        n = self.w.size.vector_stores_per_project
        out = []
        for i in range(n):
            c = self._spread(i, n)
            gone = self.w.now0 + rng.randint(HOUR, 3 * DAY, self.seed, self.p.id, "vsg", i) \
                if i == n - 1 and n > 1 and self._u("vsd") < 0.5 else None
            out.append((self._id("vs_", 24, "vs", i), c, gone))
        return out

    def _vs_files(self, vs_id: str, vs_created: int) -> list[tuple[str, int, int]]:
        n = self.w.size.files_per_vector_store
        out = []
        for k in range(n):
            fi = rng.randint(0, max(0, self.n_files - 1), self.seed, vs_id, "vf", k)
            t = vs_created + k * 60
            ready = t + rng.randint(30, 2 * HOUR, self.seed, vs_id, "vfr", k)
            out.append((self.file_id(fi), t, ready))
        # a file can be attached once: keep the first attachment of each id
        seen, uniq = set(), []
        for f in out:
            if f[0] not in seen:
                seen.add(f[0])
                uniq.append(f)
        return uniq

    @cached_property
    def vector_stores_seq(self) -> Seq:
        items = []
        for i, (vid, c, gone) in enumerate(self.vector_stores):
            files = self._vs_files(vid, c)

            def render(now: int, vid=vid, c=c, files=files, i=i) -> dict[str, Any]:
                live = [f for f in files if f[1] <= now]
                done = sum(1 for f in live if f[2] <= now)
                return {"id": vid, "object": "vector_store", "created_at": c, "name": f"kb-{i}",
                        "usage_bytes": done * 4096,
                        "status": "completed" if done == len(live) else "in_progress",
                        "file_counts": {"in_progress": len(live) - done, "completed": done, "failed": 0,
                                        "cancelled": 0, "total": len(live)},
                        "last_active_at": max([c, *[f[2] for f in live if f[2] <= now]]), "metadata": {},
                        **({"expires_after": {"anchor": "last_active_at", "days": 30},
                            "expires_at": max([c, *[f[2] for f in live if f[2] <= now]]) + 30 * DAY}
                           if i % 2 else {})}
            items.append(Item(vid, c, gone, render))
        return Seq.of(items)

    def vector_store_files_seq(self, vs_id: str) -> Seq | None:
        vs = next((v for v in self.vector_stores if v[0] == vs_id), None)
        if vs is None:
            return None
        def status(fid: str, now: int, ready: int) -> str:
            return "in_progress" if now < ready else "failed" if rng.unit(self.seed, fid, "vsff") < 0.05 \
                else "completed"

        return Seq.of([Item(fid, t, vs[2], lambda now, fid=fid, t=t, ready=ready: {
            "id": fid, "object": "vector_store.file", "usage_bytes": 4096 if now >= ready else 0,
            "created_at": t, "vector_store_id": vs_id, "status": status(fid, now, ready),
            "last_error": {"code": "unsupported_file", "message": "The file type is not supported."}
            if status(fid, now, ready) == "failed" else None,
            "chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 800,
                                                               "chunk_overlap_tokens": 400}},
            "attributes": {}}) for fid, t, ready in self._vs_files(vs_id, vs[1])])

    # ---- containers ------------------------------------------------------------------------------
    @cached_property
    def containers(self) -> list[tuple[str, int]]:
        n = self.w.size.containers_per_project
        return [(self._id("cntr_", 24, "c", i), self._spread(i, n)) for i in range(n)]

    @cached_property
    def containers_seq(self) -> Seq:
        return Seq.of([Item(cid, c, None, lambda now, cid=cid, c=c, i=i: {
            "id": cid, "object": "container", "name": f"sandbox-{i}", "created_at": c,
            "status": "running" if now - c < 20 * 60 else "expired", "last_active_at": c,
            "expires_after": {"anchor": "last_active_at", "minutes": 20}, "memory_limit": "1g",
            **({"network_policy": {"type": "allowlist", "allowed_domains": ["pypi.org", "files.pythonhosted.org"]}}
               if i % 2 else {})})
            for i, (cid, c) in enumerate(self.containers)])

    def container_files_seq(self, container_id: str) -> Seq | None:
        ct = next((c for c in self.containers if c[0] == container_id), None)
        if ct is None:
            return None
        cid, c = ct
        return Seq.of([Item(f"cfile_{rng.token(24, self.seed, cid, k)}", c + k * 30, None,
                            lambda now, k=k: {"id": f"cfile_{rng.token(24, self.seed, cid, k)}",
                                              "object": "container.file", "container_id": cid,
                                              "created_at": c + k * 30, "bytes": 1000 + k,
                                              "path": f"/mnt/data/out_{k}.csv",
                                              "source": "assistant" if k % 2 else "user"})
                       for k in range(rng.randint(1, 6, self.seed, cid, "n"))])

    # ---- assistants, models, stored chat completions ---------------------------------------------
    @cached_property
    def assistants_seq(self) -> Seq:
        n = self.w.size.assistants_per_project
        items = []
        for i in range(n):
            aid = self._id("asst_", 24, "a", i)
            c = self._spread(i, n)
            items.append(Item(aid, c, None, lambda now, aid=aid, c=c, i=i: {
                "id": aid, "object": "assistant", "created_at": c, "name": f"helper-{i}",
                "description": None, "model": "gpt-4o-2024-08-06", "instructions": "You are helpful.",
                "metadata": {}, "temperature": 1.0, "top_p": 1.0, **variants.assistant_extras(i)}))
        return Seq.of(items)

    @cached_property
    def videos_seq(self) -> Seq:
        """Generated videos: queued, then rendering, then completed (one in six fails); the newest is made after the
        initial clock, and one is deleted after it."""
        n = 2 + self.p.index % 3
        items = []
        for i in range(n):
            vid = self._id("video_", 24, "vid", i)
            c = self._spread(i, n) if i < n - 1 else max(self.t0, self.w.now0) + rng.randint(
                HOUR, DAY, self.seed, vid, "c")
            took = rng.randint(120, 1800, self.seed, vid, "took")
            gone = self.w.now0 + rng.randint(HOUR, 2 * DAY, self.seed, vid, "gone") if i == 0 and n > 2 else None
            items.append(Item(vid, c, gone, lambda now, vid=vid, c=c, took=took, i=i: self._video(vid, c, took, i,
                                                                                                 now)))
        return Seq.of(items)

    def _video(self, vid: str, c: int, took: int, i: int, now: int) -> dict[str, Any]:
        failed = self._u("vidf", i) < 1 / 6
        done = now >= c + took
        status = "queued" if now < c + 30 else "in_progress" if not done else "failed" if failed else "completed"
        return {"object": "video", "id": vid, "created_at": c, "model": ("sora-2", "sora-2-pro")[i % 2],
                "status": status, "progress": 100 if done else min(99, (now - c) * 100 // took),
                "seconds": ("4", "8", "12")[i % 3], "size": ("720x1280", "1280x720", "1024x1792")[i % 3],
                "prompt": f"A short clip {i}", "completed_at": c + took if done and not failed else None,
                "expires_at": c + took + DAY if done and not failed else None,
                "error": variants.video_error(i) if done and failed else None,
                "remixed_from_video_id": self._id("video_", 24, "vid", 0) if i == 2 else None}

    def models_json(self, now: int) -> list[dict[str, Any]]:
        # the oldest base model has a shutdown date announced (a date, not a timestamp); the others none yet
        out = [{"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "system",
                "shutdown_date": "2027-03-31" if k == 0 else None} for k, m in enumerate(BASE_MODELS)]
        out += [{"id": name, "object": "model", "created": done, "owned_by": self.w.org_id}
                for name, done in self.ft_models() if done <= now]
        return out

    def ft_models(self) -> list[tuple[str, int]]:
        """The fine-tuned models of the jobs that succeed, with when each becomes usable."""
        return [(self.ft_model_name(jid), done) for i, (jid, _c, done, _m) in enumerate(self.ft_jobs)
                if self._u("ftf", i) >= 0.15]  # the same draw that decides the job's fate

    def chat_id(self, i: int) -> str:
        return f"chatcmpl-{rng.token(12, self.seed, self.p.id, 'cc', i)}{i:x}"

    @cached_property
    def chat_seq(self) -> Seq:
        n = self.w.size.chat_completions_per_project

        def created(i: int) -> int:
            return self._spread(i, n)

        def make(i: int) -> Item:
            cid = self.chat_id(i)
            c = created(i)
            model = list(COMPLETION_PRICES)[rng.h64(self.seed, self.p.id, "ccm", i) % len(COMPLETION_PRICES)]
            pt, ct = rng.randint(20, 2000, self.seed, cid, "pt"), rng.randint(5, 800, self.seed, cid, "ct")
            # one stored completion in ten is deleted later (DELETE /chat/completions/{id}), within three days
            gone = max(c, self.w.now0) + rng.randint(HOUR, 3 * DAY, self.seed, cid, "gone") \
                if rng.unit(self.seed, cid, "del") < 0.1 else None
            text = f"Answer number {i}."
            message, choice = variants.chat_extras(i, text)
            cached, image = pt // 4 if i % 3 else 0, 85 if i % 5 == 3 else 0
            return Item(cid, c, gone, lambda now: {
                "id": cid, "object": "chat.completion", "created": c, "model": model,
                "metadata": {"feature": ["chat", "summarize", "classify"][i % 3]}, "service_tier": "default",
                "system_fingerprint": "fp_" + rng.token(10, self.seed, "fp", model),
                "choices": [{"index": 0, "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
                             "logprobs": None, **choice,
                             "message": {"role": "assistant", "content": text, "refusal": None, "annotations": [],
                                         **message}}],
                "moderation": variants.moderation(i),
                "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct,
                          "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0,
                                                    "cache_write_tokens": pt - cached if i % 3 == 1 else 0,
                                                    "image_tokens": image, "text_tokens": pt - image},
                          "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                        "accepted_prediction_tokens": 0,
                                                        "rejected_prediction_tokens": 0, "text_tokens": ct}}},
                {"model": model})

        def index_of(cid: str) -> int | None:
            try:
                i = int(cid[21:], 16)
            except ValueError:
                return None
            return i if 0 <= i < n and self.chat_id(i) == cid else None

        return Seq(n, make, index_of, created)
