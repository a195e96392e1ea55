"""The runner: a generator over source items as async tasks, durably stored, resumable exactly.

Each source item is one task (:mod:`synthgen.item_processor`): validate the row against the
generator's ``Item`` model, call ``generate(item, ctx)``, verify candidates the generator left
unverified, apply selection; the runner appends the item's records to the run store in one line
before the item counts as done. Concurrency is bounded per resource (items, each LLM role, the
sandbox); transient failures are retried with backoff; a failure that persists becomes a failed
record carrying its reason, so nothing is ever dropped. ``runner.executor: ray`` runs the same
items on Ray actors (a local cluster or an existing one); the driver still writes every record.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from synthgen.config import PipelineConfig
from synthgen.context import Timers
from synthgen.export import StreamingExport, default_export_path
from synthgen.item_processor import LocalItemProcessor, validate_plugins
from synthgen.records import Record
from synthgen.registry import Registry
from synthgen.run_state import (check_sources, estimate_items, sources_signature, unchanged_finished_run,
                                write_finished)
from synthgen.sources import SourceItem, SourceProblem, iter_items
from synthgen.store import RunStore
from synthgen.store_index import SeenIds, id_digest


@dataclass
class RunSummary:
    run_dir: Path
    counts: dict[str, int] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)
    source_problems: int = 0


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



def _make_processor(cfg: PipelineConfig, registry: Registry):
    if cfg.runner.executor == "ray":
        from synthgen.ray_executor import RayItemProcessor

        return RayItemProcessor(cfg, registry)
    return LocalItemProcessor(cfg, registry)


_CHUNK = 128  # source items read and checked against the done index at a time (rows held: bounded)


async def run_pipeline_async(cfg: PipelineConfig, *, runs_dir: Path | str = "runs", registry: Registry | None = None,
                             force: bool = False, progress: bool = True,
                             on_item: Callable[[str, list[Record]], None] | None = None) -> RunSummary:
    registry = registry or Registry()
    # everything a user can get wrong is checked before the run directory is touched
    validate_plugins(cfg, registry)
    check_sources(cfg.sources)
    store = RunStore(Path(runs_dir) / cfg.name)
    store.initialise(config_yaml=yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False),
                     fingerprint=cfg.fingerprint(), seed=cfg.seed, force=force)
    started = time.perf_counter()
    store.repair()
    sources_sig = sources_signature(cfg.sources)
    finished = unchanged_finished_run(store, cfg, sources_sig)
    if finished is not None:  # complete, and nothing changed since: no source to read, nothing to write
        return finished
    done = store.done_index()
    problems: list[SourceProblem] = []
    tally = _Tally()
    engine = Timers()
    workers = cfg.runner.max_concurrent_items
    # bounded: the source is read only as fast as items finish (memory independent of its size)
    queue: asyncio.Queue[SourceItem | None] = asyncio.Queue(maxsize=2 * workers)
    from synthgen.progress import RunProgress

    total = estimate_items(cfg.sources)
    display = RunProgress(total=max(0, total - len(done)) if total else 0, already_done=len(done),
                          enabled=progress, title=cfg.name)
    holder: dict[str, Any] = {}
    writer = store.writer(cfg.runner.fsync_every_s)
    streamed = {"items": 0}

    async def produce() -> None:
        try:
            chunk: list[SourceItem] = []
            for item in iter_items(cfg.sources, problems, seen=SeenIds()):
                chunk.append(item)
                if len(chunk) >= _CHUNK:
                    await _enqueue(chunk)
                    chunk = []
            await _enqueue(chunk)
        finally:
            for _ in range(workers):
                await queue.put(None)

    async def _enqueue(chunk: list[SourceItem]) -> None:
        streamed["items"] += len(chunk)
        is_done = done.contains_many([id_digest(it.id) for it in chunk]) if len(done) else None
        for i, item in enumerate(chunk):
            if is_done is not None and is_done[i]:
                continue  # done in an earlier run: skipped as it streams past
            if "processor" not in holder:  # plugins (models, sandboxes) start only if there is work
                holder["processor"] = _make_processor(cfg, registry)
            await queue.put(item)

    async def worker() -> None:
        while (item := await queue.get()) is not None:
            processor = holder["processor"]
            if hasattr(processor, "process_encoded"):  # Ray: store the worker's JSON as it came
                records, encoded = await processor.process_encoded(item)
            else:
                records = await processor.process(item)
                encoded = [r.to_json() for r in records]
            with engine.time("engine:store"):
                writer.write_encoded(item.id, encoded)  # durable before it counts as done
            tally.add(records)
            display.update(tally)
            if on_item is not None:
                on_item(item.id, records)

    resources: dict[str, Any] = {}
    try:
        with display:
            tasks = [asyncio.ensure_future(worker()) for _ in range(workers)]
            try:
                await produce()
                await asyncio.gather(*tasks)
            except BaseException:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            if problems:
                display.log(f"[yellow]{len(problems)} unreadable source row(s) skipped; "
                            f"see {store.dir / 'source_errors.jsonl'}[/]")
    finally:
        writer.close()
        processor = holder.get("processor")
        if processor is not None:
            resources = await processor.timings()
            await processor.close()
    store.write_source_problems(problems)
    resources.update(engine.as_dict())
    complete = streamed["items"] == len(done) + tally.items
    return finish_run(store, cfg, resources, time.perf_counter() - started, len(problems),
                      sources_sig=sources_sig if complete else None)
def finish_run(store: RunStore, cfg: PipelineConfig, resources: dict[str, Any], elapsed: float,
               problems: int, sources_sig: list | None = None) -> RunSummary:
    """Summary, exports and report in one streaming pass over the stored records."""
    from synthgen.report import write_report
    from synthgen.run_stats import RunStats

    summary = RunSummary(run_dir=store.dir, source_problems=problems)
    paths = {exp.format: Path(exp.path) if exp.path else default_export_path(store.dir, exp.format, exp.file_format)
             for exp in cfg.export}
    exports = [StreamingExport(exp.format, paths[exp.format], exp.file_format, exp.include_failed_records)
               for exp in cfg.export]
    stats = RunStats()
    try:
        for record in store.records():
            stats.add(record)
            for export in exports:
                export.add(record)
        for export in exports:
            summary.exports[export.fmt] = str(export.finish())
    finally:
        for export in exports:
            export.discard()
    summary.counts, summary.stages = stats.summary()
    summary.timings = {"wall_s": round(elapsed, 3), "resources": resources}
    store.write_json("summary.json", {"counts": summary.counts, "stages": summary.stages,
                                      "timings": summary.timings, "exports": summary.exports})
    write_report(store, stats, summary)
    write_finished(store, cfg, sources_sig, summary)
    return summary


def run_pipeline(cfg: PipelineConfig, **kwargs: Any) -> RunSummary:
    """Synchronous entry point (CLI, scripts, the round loop)."""
    return asyncio.run(run_pipeline_async(cfg, **kwargs))
