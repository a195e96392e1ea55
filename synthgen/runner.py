"""The runner: a generator over source items as async tasks, durably stored, resumable exactly.

Each source item is one task: validate the row against the generator's ``Item`` model, call
``generate(item, ctx)``, verify candidates the generator left unverified, apply selection, and
append the item's records to the run store in one line. Concurrency is bounded per resource (items,
each LLM role, the sandbox); transient failures are retried with exponential backoff; a failure that
persists becomes a failed record carrying its reason, so nothing is ever dropped.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import ValidationError

from synthgen.config import PipelineConfig, format_validation_error
from synthgen.context import RunContext, TimedLLM, TimedSandbox, Timers
from synthgen.errors import LLMError, SynthgenError, TransientError
from synthgen.export import default_export_path, export_records
from synthgen.plugins import Generator
from synthgen.records import Record, content_hash, failed_record
from synthgen.registry import Registry
from synthgen.selection import select
from synthgen.sources import SourceItem, SourceProblem, iter_items
from synthgen.store import RunStore
from synthgen.verify_chain import VerifierChain


@dataclass
class RunSummary:
    run_dir: Path
    counts: dict[str, int] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)
    source_problems: int = 0


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (TransientError, asyncio.TimeoutError, ConnectionError)):
        return True
    return isinstance(exc, LLMError) and exc.transient


class _Tally:
    """Live counts for the progress display."""

    def __init__(self) -> None:
        self.items = self.records = self.failed = self.candidates = self.passed = 0

    def add(self, records: list[Record]) -> None:
        self.items += 1
        for r in records:
            self.records += 1
            self.failed += r.status == "failed"
            self.candidates += len(r.candidates)
            self.passed += sum(c.passed for c in r.candidates)


async def _process_item(item: SourceItem, generator: Generator, run_ctx: RunContext,
                        cfg: PipelineConfig) -> list[Record]:
    fail_id = content_hash("failed", cfg.generator.name, item.id)
    prov = dict(generator=generator.name, generator_version=generator.version, round=cfg.round,
                run=cfg.name, parents=[item.id], seed=run_ctx.for_item(item.id).seed)
    from synthgen.records import Provenance

    try:
        parsed = generator.Item.model_validate(item.row)
    except ValidationError as exc:
        msg = format_validation_error(exc).replace("\n", "; ")
        return [failed_record(fail_id, source_id=item.id, capability=generator.capability,
                              error=f"source row {item.where} does not fit {generator.name}'s item: {msg}",
                              provenance=Provenance(**prov))]
    attempts = cfg.runner.retries + 1
    last_error = ""
    for attempt in range(attempts):
        ctx = run_ctx.for_item(item.id)
        try:
            coro = _generate_and_verify(parsed, generator, ctx, cfg)
            records = await (asyncio.wait_for(coro, cfg.runner.item_timeout_s) if cfg.runner.item_timeout_s else coro)
            return records
        except SynthgenError:
            raise  # a user mistake (missing role, bad plugin config) stops the run with its message
        except Exception as exc:  # noqa: BLE001 - every other failure is recorded, never dropped
            last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if not _is_transient(exc) or attempt == attempts - 1:
                break
            delay = cfg.runner.backoff_s * (2 ** attempt) * (1 + random.random() * 0.25)
            await asyncio.sleep(delay)
    return [failed_record(fail_id, source_id=item.id, capability=generator.capability,
                          error=f"failed after {attempt + 1} attempt(s): {last_error}", provenance=Provenance(**prov))]


async def _generate_and_verify(item: Any, generator: Generator, ctx, cfg: PipelineConfig) -> list[Record]:
    records = await generator.generate(item, ctx)
    if not isinstance(records, list) or not all(isinstance(r, Record) for r in records):
        raise TypeError(f"generator {generator.name} must return list[Record], got {type(records).__name__}")
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids) or not all(ids):
        raise ValueError(f"generator {generator.name} returned records with empty or duplicate ids")
    for r in records:
        r.source_id = r.source_id or ctx.item_id
        if cfg.verify.run_after_generate and ctx.run.chain is not None:
            for cand in r.candidates:
                if not cand.verdicts:
                    await ctx.verify(r, cand)
        select(r, cfg.selection)
    return records


def build_run_context(cfg: PipelineConfig, registry: Registry, timers: Timers) -> tuple[Generator, RunContext]:
    generator = registry.create("generator", cfg.generator.name, cfg.generator.options, where="generator.options")
    missing = [role for role in generator.roles if role not in cfg.llms]
    if missing:
        raise SynthgenError(f"generator '{generator.name}' needs LLM role(s) {', '.join(missing)}: "
                            f"add them under `llms:` in the config")
    llms = {}
    for role, ref in cfg.llms.items():
        backend = registry.create("llm", ref.backend, ref.options, where=f"llms.{role}.options")
        llms[role] = TimedLLM(role, backend, timers, asyncio.Semaphore(ref.max_concurrency))
    sandbox = None
    if cfg.sandbox is not None:
        sb = registry.create("sandbox", cfg.sandbox.backend, cfg.sandbox.options, where="sandbox.options")
        sandbox = TimedSandbox(sb, timers, asyncio.Semaphore(cfg.sandbox.max_concurrency))
    verifiers = [registry.create("verifier", v.name, v.options, where=f"verifiers.{i}.options")
                 for i, v in enumerate(cfg.verifiers)]
    chain = VerifierChain(verifiers, mode=cfg.verify.mode, weights=cfg.verify.weights,
                          threshold=cfg.verify.threshold, short_circuit=cfg.verify.short_circuit) if verifiers else None
    run_ctx = RunContext(run_name=cfg.name, seed=cfg.seed, round=cfg.round, llm=llms, sandbox=sandbox, chain=chain,
                         timers=timers, generator_name=generator.name, generator_version=generator.version)
    return generator, run_ctx


async def _close(run_ctx: RunContext) -> None:
    for llm in run_ctx.llm.values():
        await llm.backend.close()
    if run_ctx.sandbox is not None:
        await run_ctx.sandbox.sandbox.close()
    if run_ctx.chain is not None:
        await run_ctx.chain.close()


async def run_pipeline_async(cfg: PipelineConfig, *, runs_dir: Path | str = "runs", registry: Registry | None = None,
                             force: bool = False, progress: bool = True,
                             on_item: Callable[[str, list[Record]], None] | None = None) -> RunSummary:
    registry = registry or Registry()
    timers = Timers()
    # everything a user can get wrong is checked before the run directory is touched
    generator, run_ctx = build_run_context(cfg, registry, timers)
    try:
        problems: list[SourceProblem] = []
        all_items = list(iter_items(cfg.sources, problems))
        store = RunStore(Path(runs_dir) / cfg.name)
        store.initialise(config_yaml=yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False),
                         fingerprint=cfg.fingerprint(), seed=cfg.seed, force=force)
    except BaseException:
        await _close(run_ctx)
        raise
    store.repair()
    done = store.done_items()
    items = [it for it in all_items if it.id not in done]
    store.write_source_problems(problems)
    tally = _Tally()
    started = time.perf_counter()
    writer = store.writer(cfg.runner.fsync_every_s)
    queue: asyncio.Queue[SourceItem | None] = asyncio.Queue()
    for it in items:
        queue.put_nowait(it)
    workers = min(cfg.runner.max_concurrent_items, max(1, len(items)))
    for _ in range(workers):
        queue.put_nowait(None)

    from synthgen.progress import RunProgress

    display = RunProgress(total=len(items), already_done=len(done), enabled=progress, title=cfg.name)

    async def worker() -> None:
        while (item := queue.get_nowait()) is not None:
            records = await _process_item(item, generator, run_ctx, cfg)
            with timers.time("engine:store"):
                writer.write_item(item.id, records)  # durable before it counts as done
            tally.add(records)
            display.update(tally)
            if on_item is not None:
                on_item(item.id, records)

    try:
        with display:
            if problems:
                display.log(f"[yellow]{len(problems)} unreadable source row(s) skipped; "
                            f"see {store.dir / 'source_errors.jsonl'}[/]")
            await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        writer.close()
        await _close(run_ctx)
    elapsed = time.perf_counter() - started
    return finish_run(store, cfg, timers, elapsed, len(problems))


def finish_run(store: RunStore, cfg: PipelineConfig, timers: Timers, elapsed: float, problems: int) -> RunSummary:
    from synthgen.report import summarise, write_report

    records = store.sorted_records()
    summary = RunSummary(run_dir=store.dir, source_problems=problems)
    summary.counts, summary.stages = summarise(records)
    busy = timers.as_dict()
    summary.timings = {"wall_s": round(elapsed, 3), "resources": busy}
    for exp in cfg.export:
        path = Path(exp.path) if exp.path else default_export_path(store.dir, exp.format, exp.file_format)
        export_records(records, exp.format, path, exp.file_format, exp.include_failed_records)
        summary.exports[exp.format] = str(path)
    store.write_json("summary.json", {"counts": summary.counts, "stages": summary.stages,
                                      "timings": summary.timings, "exports": summary.exports})
    write_report(store, records, summary)
    return summary


def run_pipeline(cfg: PipelineConfig, **kwargs: Any) -> RunSummary:
    """Synchronous entry point (CLI, scripts, the round loop)."""
    return asyncio.run(run_pipeline_async(cfg, **kwargs))
