"""The processing stage: the processors of ``process:`` in order, between selection and export.

Each step reads the previous step's kept records (the first step reads the run's records) in
batches of ``batch_size`` from disk, asks its processor for one decision per record, and appends
the batch's kept records, dropped records with their reasons, and counters to its decision log
(:mod:`synthgen.processing.decisions`) before the next batch: memory holds one batch, except where
a processor needs the whole dataset (``global_view``: quartiles, clusters, shares), and then only
what that view needs. A killed stage resumes at the first batch it had not written; a step whose
config (or any earlier step's, or the input) changed is redone from its start.

Records that teach nothing (failed records, records with no selected response or pair) pass every
step untouched. A record with an empty response or non-text content is dropped by the step that
meets it first, with the reason; a processor that drops a record without a reason stops the stage.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from synthgen.config import LLMRef, PluginRef, RunnerConfig
from synthgen.context import Context, RunContext, TimedLLM, Timers
from synthgen.errors import PluginError, SynthgenError
from synthgen.plugins import Decision, Processor
from synthgen.processing.decisions import StepLog, _atomic_write
from synthgen.processing.dialogs import input_problem, primary
from synthgen.records import Record
from synthgen.registry import Registry
from synthgen.store import RunStore

DEFAULT_BATCH_SIZE = 256


@dataclass
class ProcessContext:
    """What a processor receives: LLM roles (``ctx.for_record(id).generate``), the run seed, a private
    work folder for its first pass, and the shared embedding model."""

    run: RunContext
    workdir: Path
    step: str
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    embedders: dict[str, Any] = field(default_factory=dict)
    cache_dir: Path | None = None  # survives a step being redone (embeddings per record id)

    def __post_init__(self) -> None:
        if self.cache_dir is None:
            self.cache_dir = self.workdir.parent.parent / "cache"

    @property
    def seed(self) -> int:
        return self.run.seed

    def for_record(self, record_id: str) -> Context:
        return self.run.for_item(record_id)

    def has_role(self, role: str) -> bool:
        return role in self.run.llm

    def embedder(self, model: str | None, *, field: str) -> Any:
        """One embedding model per path for the whole stage; on Ray actors with ``executor: ray``."""
        from synthgen.processing.embeddings import LocalEmbedder, RayEmbedder, resolve_model_path

        path = resolve_model_path(model, field=field)
        key = str(path)
        if key not in self.embedders:
            if self.runner.executor == "ray":
                rc = self.runner.ray
                self.embedders[key] = RayEmbedder(path, num_workers=rc.num_workers,
                                                  num_cpus_per_worker=rc.num_cpus_per_worker, address=rc.address)
            else:
                self.embedders[key] = LocalEmbedder(path)
        return self.embedders[key]


class _LazyLLMs(Mapping[str, TimedLLM]):
    """The pipeline's LLM roles, each built on first use: a run's `llms` include the policy, which the
    processors never call, and building a backend can load a tokenizer or open connections."""

    def __init__(self, refs: dict[str, LLMRef], registry: Registry, timers: Timers) -> None:
        self.refs, self.registry, self.timers = refs, registry, timers
        self.made: dict[str, TimedLLM] = {}

    def __getitem__(self, role: str) -> TimedLLM:
        if role not in self.made:
            import asyncio

            ref = self.refs[role]
            backend = self.registry.create("llm", ref.backend, ref.options, where=f"llms.{role}.options")
            self.made[role] = TimedLLM(role, backend, self.timers, asyncio.Semaphore(ref.max_concurrency))
        return self.made[role]

    def __iter__(self) -> Iterator[str]:
        return iter(self.refs)

    def __len__(self) -> int:
        return len(self.refs)


def batches(records: Iterator[Record], size: int) -> Iterator[tuple[int, list[Record]]]:
    batch: list[Record] = []
    number = 0
    for rec in records:
        batch.append(rec)
        if len(batch) == size:
            yield number, batch
            number, batch = number + 1, []
    if batch:
        yield number, batch


def _hash(data: Any) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


class ProcessingStage:
    def __init__(self, run_dir: Path, steps: list[PluginRef], *, llms: dict[str, LLMRef] | None = None,
                 seed: int = 0, runner: RunnerConfig | None = None, registry: Registry | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE, progress: bool = False, console: Console | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / "process"
        self.steps, self.llms, self.seed = steps, dict(llms or {}), seed
        self.runner = runner or RunnerConfig()
        self.registry = registry or Registry()
        self.batch_size = batch_size
        self.console = console or Console(stderr=True, quiet=not progress)
        self.logs = [StepLog(self.dir / f"{i:02d}-{ref.name}") for i, ref in enumerate(steps)]

    # --- inputs ------------------------------------------------------------------------------
    def _input_signature(self) -> list[tuple[str, int]]:
        store = RunStore(self.run_dir)
        return [(p.name, p.stat().st_size) for p in store.shards()]

    def _input(self, index: int) -> Iterator[Record]:
        return RunStore(self.run_dir).records() if index == 0 else self.logs[index - 1].kept()

    def validate(self) -> None:
        """Every processor loads and its options validate, before any work (no models loaded)."""
        from pydantic import ValidationError

        from synthgen.config import format_validation_error

        if not self.steps:
            raise SynthgenError("`process:` is empty: list processors, e.g. [{name: clean}, {name: dedup}]")
        for i, ref in enumerate(self.steps):
            cls = self.registry.load("processor", ref.name)
            try:
                cls.Config.model_validate(ref.options or {})
            except ValidationError as exc:
                raise PluginError(format_validation_error(exc, prefix=f"process.{i}.options")) from None

    # --- running -----------------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        self.validate()
        if not RunStore(self.run_dir).exists():
            raise SynthgenError(f"{self.run_dir}: not a run directory (no meta.json)")
        RunStore(self.run_dir).repair()
        self.dir.mkdir(parents=True, exist_ok=True)
        current = {log.dir.name for log in self.logs}
        for stale in self.dir.iterdir():  # steps of an earlier, different `process:` list
            if stale.is_dir() and stale.name not in current and stale.name != "cache":
                import shutil

                shutil.rmtree(stale)
        timers = Timers()
        llms = _LazyLLMs(self.llms, self.registry, timers)
        run_ctx = RunContext(run_name=self.run_dir.name, seed=self.seed, llm=llms, timers=timers)
        embedders: dict[str, Any] = {}
        steps_info = []
        chain: list[Any] = [self._input_signature(), self.seed, self.batch_size,
                            {k: v.model_dump(mode="json") for k, v in sorted(self.llms.items())}]
        try:
            for i, ref in enumerate(self.steps):
                chain.append(ref.model_dump(mode="json"))
                info = await self._step(i, ref, _hash(chain), run_ctx, embedders)
                steps_info.append(info)
        finally:
            for emb in embedders.values():
                await emb.close()
            for llm in llms.made.values():
                await llm.backend.close()
        summary = {"steps": steps_info, "kept": steps_info[-1]["totals"].get("kept", 0) if steps_info else 0,
                   "timings": timers.as_dict()}
        _atomic_write(self.dir / "summary.json", orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
        return summary

    async def _step(self, index: int, ref: PluginRef, fingerprint: str, run_ctx: RunContext,
                    embedders: dict[str, Any]) -> dict[str, Any]:
        log = self.logs[index]
        log.open(fingerprint, {"processor": ref.name, "options": ref.options, "batch_size": self.batch_size})
        done = log.done()
        if done is not None:
            self.console.print(f"[dim]process {index + 1}/{len(self.steps)} {ref.name}: done earlier[/]")
            return done
        started = time.perf_counter()
        proc: Processor = self.registry.create("processor", ref.name, ref.options, where=f"process.{index}.options")
        ctx = ProcessContext(run=run_ctx, workdir=log.work, step=ref.name, runner=self.runner, embedders=embedders)
        try:
            if proc.global_view:
                await proc.prepare((self._active(b) for _, b in batches(self._input(index), self.batch_size)), ctx)
            finished = log.done_batches()
            writer = log.writer()
            try:
                for number, batch in batches(self._input(index), self.batch_size):
                    if number not in finished:
                        kept, dropped, stats = await self._batch(proc, batch, ctx)
                        writer.write_batch(number, kept, dropped, stats)
            finally:
                writer.close()
            totals, reasons = log.totals()
            info = {"processor": ref.name, "totals": dict(totals), "dropped_by_reason": dict(reasons.most_common()),
                    "report": proc.report(dict(totals)), "wall_s": round(time.perf_counter() - started, 3)}
        finally:
            await proc.close()
        if getattr(proc, "report_file", None):
            _atomic_write(self.dir / proc.report_file,  # type: ignore[attr-defined]
                          orjson.dumps(info["report"], option=orjson.OPT_INDENT_2).decode())
        log.mark_done(info)
        self.console.print(f"process {index + 1}/{len(self.steps)} {ref.name}: kept {totals.get('kept', 0)}, "
                           f"dropped {totals.get('dropped', 0)} ({info['wall_s']:.1f} s)")
        return info

    @staticmethod
    def _active(batch: list[Record]) -> list[Record]:
        return [r for r in batch if primary(r) is not None and input_problem(r) is None]

    async def _batch(self, proc: Processor, batch: list[Record], ctx: ProcessContext
                     ) -> tuple[list[Record], list[tuple[Record, str]], dict[str, float]]:
        dropped: list[tuple[Record, str]] = []
        active: list[Record] = []
        keep_as_is: set[str] = set()
        for rec in batch:
            problem = input_problem(rec)
            if problem is not None:
                dropped.append((rec, f"bad input: {problem}"))
            elif primary(rec) is None:
                keep_as_is.add(rec.id)  # teaches nothing: nothing to score or clean
            else:
                active.append(rec)
        decisions = await proc.process(active, ctx) if active else []
        if len(decisions) != len(active) or not all(isinstance(d, Decision) for d in decisions):
            raise PluginError(f"processor {proc.name} returned {len(decisions)} decisions for {len(active)} "
                              "records; it must return one Decision per record, in order")
        verdict = {r.id: d for r, d in zip(active, decisions)}
        for r, d in zip(active, decisions):
            if not d.kept:
                if not d.reason.strip():
                    raise PluginError(f"processor {proc.name} dropped record {r.id} without a reason")
                dropped.append((r, d.reason))
        dropped_ids = {r.id for r, _ in dropped}
        kept = [r for r in batch if r.id not in dropped_ids and (r.id in keep_as_is or verdict[r.id].kept)]
        stats = {k: float(v) for k, v in proc.batch_stats(active, decisions).items()}
        return kept, dropped, stats


def processed_records(run_dir: Path) -> Iterator[Record]:
    """The records the finished stage kept (the last step's output), in stage order."""
    logs = step_logs(run_dir)
    if not logs or any(log.done() is None for log in logs):
        raise SynthgenError(f"{run_dir}: the processing stage has not finished; run `synthgen process` again")
    return logs[-1].kept()


def dropped_records(run_dir: Path) -> Iterator[Record]:
    """Every record a step dropped, with ``metadata['dropped'] = {processor, reason}``."""
    for log in step_logs(run_dir):
        name = log.dir.name.split("-", 1)[1]
        for rec, reason in log.dropped():
            rec.metadata["dropped"] = {"processor": name, "reason": reason}
            yield rec


def step_logs(run_dir: Path) -> list[StepLog]:
    """Step logs of the last stage configuration (steps listed in process/summary.json order)."""
    folder = Path(run_dir) / "process"
    if not folder.is_dir():
        return []
    return [StepLog(p) for p in sorted(folder.iterdir()) if p.is_dir() and (p / "step.json").is_file()]
