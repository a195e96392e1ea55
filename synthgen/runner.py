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
from synthgen.export import default_export_path, export_records
from synthgen.item_processor import LocalItemProcessor, validate_plugins
from synthgen.records import Record
from synthgen.registry import Registry
from synthgen.sources import SourceItem, SourceProblem, iter_items
from synthgen.store import RunStore


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


async def run_pipeline_async(cfg: PipelineConfig, *, runs_dir: Path | str = "runs", registry: Registry | None = None,
                             force: bool = False, progress: bool = True,
                             on_item: Callable[[str, list[Record]], None] | None = None) -> RunSummary:
    registry = registry or Registry()
    # everything a user can get wrong is checked before the run directory is touched
    validate_plugins(cfg, registry)
    problems: list[SourceProblem] = []
    all_items = list(iter_items(cfg.sources, problems))
    store = RunStore(Path(runs_dir) / cfg.name)
    store.initialise(config_yaml=yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False),
                     fingerprint=cfg.fingerprint(), seed=cfg.seed, force=force)
    store.repair()
    done = store.done_items()
    items = [it for it in all_items if it.id not in done]
    store.write_source_problems(problems)
    tally = _Tally()
    engine = Timers()
    started = time.perf_counter()
    queue: asyncio.Queue[SourceItem | None] = asyncio.Queue()
    for it in items:
        queue.put_nowait(it)
    workers = min(cfg.runner.max_concurrent_items, max(1, len(items)))
    for _ in range(workers):
        queue.put_nowait(None)

    from synthgen.progress import RunProgress

    display = RunProgress(total=len(items), already_done=len(done), enabled=progress, title=cfg.name)
    processor = _make_processor(cfg, registry) if items else None
    writer = store.writer(cfg.runner.fsync_every_s)

    async def worker() -> None:
        while (item := queue.get_nowait()) is not None:
            records = await processor.process(item)
            with engine.time("engine:store"):
                writer.write_item(item.id, records)  # durable before it counts as done
            tally.add(records)
            display.update(tally)
            if on_item is not None:
                on_item(item.id, records)

    resources: dict[str, Any] = {}
    try:
        with display:
            if problems:
                display.log(f"[yellow]{len(problems)} unreadable source row(s) skipped; "
                            f"see {store.dir / 'source_errors.jsonl'}[/]")
            if processor is not None:
                await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        writer.close()
        if processor is not None:
            resources = await processor.timings()
            await processor.close()
    resources.update(engine.as_dict())
    return finish_run(store, cfg, resources, time.perf_counter() - started, len(problems))


def finish_run(store: RunStore, cfg: PipelineConfig, resources: dict[str, Any], elapsed: float,
               problems: int) -> RunSummary:
    from synthgen.report import summarise, write_report

    records = store.sorted_records()
    summary = RunSummary(run_dir=store.dir, source_problems=problems)
    summary.counts, summary.stages = summarise(records)
    summary.timings = {"wall_s": round(elapsed, 3), "resources": resources}
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
