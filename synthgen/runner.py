"""The runner: a generator over source items as async tasks, durably stored, resumable exactly.

Each source item is one task (:mod:`synthgen.item_processor`): validate the row against the
generator's ``Item`` model, call ``generate(item, ctx)``, verify candidates the generator left
unverified, apply selection; the runner appends the item's records to the run store in one line
before the item counts as done. Concurrency is bounded per resource (items, each LLM role, the
sandbox); transient failures are retried with backoff; a failure that persists becomes a failed
record carrying its reason, so nothing is ever dropped. ``runner.executor: ray`` runs the same
items on Ray actors (a local cluster or an existing one); the driver still writes every record.

``retry_failed`` re-processes exactly the items whose stored line holds a failed record (an endpoint
that was down): each gets a new line in this run's shard, which replaces the failed one when the
store is read (:mod:`synthgen.store_index`), so ids, exports and their order are those of a run that
never failed. When the config has ``process:``, the processing stage runs after generation and the
exports are of what it kept: the Python API and ``synthgen run`` give the same result. Every run
ends with :class:`RunSummary` carrying what :mod:`synthgen.run_outcome` says about it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from synthgen.config import PipelineConfig, changed_fields
from synthgen.context import Timers
from synthgen.export import StreamingExport, export_path
from synthgen.item_processor import LocalItemProcessor, validate_plugins
from synthgen.records import Record
from synthgen.registry import Registry
from synthgen.run_state import (
    check_sources,
    estimate_items,
    sources_signature,
    unchanged_finished_run,
    write_finished,
)
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
    resumed: int = 0  # items done by an earlier run of this directory
    retried: int = 0  # failed items re-processed (retry_failed)
    outcome: dict[str, Any] = field(default_factory=dict)  # RunStats.outcome_info(): reasons, verifier errors
    export_rows: dict[str, int] = field(default_factory=dict)  # rows per export format


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
                             force: bool = False, progress: bool = True, retry_failed: bool = False,
                             on_item: Callable[[str, list[Record]], None] | None = None) -> RunSummary:
    registry = registry or Registry()
    # everything a user can get wrong is checked before the run directory is touched
    validate_plugins(cfg, registry)
    check_sources(cfg.sources)
    stage = None
    if cfg.process:
        from synthgen.processing.stage import ProcessingStage

        stage = ProcessingStage(Path(runs_dir) / cfg.name, cfg.process, registry=registry)
        stage.validate()  # before generating
    summary = await _generate(cfg.model_copy(update={"export": []}) if cfg.process else cfg, runs_dir=runs_dir,
                              registry=registry, force=force, progress=progress, retry_failed=retry_failed,
                              on_item=on_item)
    if cfg.process:
        from synthgen.processing.run import export_processed, finish_processed

        info = await ProcessingStage(summary.run_dir, cfg.process, llms=cfg.llms, seed=cfg.seed, runner=cfg.runner,
                                     registry=registry, progress=progress).run()
        summary.export_rows = {}
        summary.exports = export_processed(summary.run_dir, cfg.export, summary.export_rows)
        finish_processed(summary.run_dir, info, summary.exports)
        summary.counts["processed_kept"] = info["kept"]
    return summary


async def _generate(cfg: PipelineConfig, *, runs_dir: Path | str, registry: Registry, force: bool, progress: bool,
                    retry_failed: bool, on_item: Callable[[str, list[Record]], None] | None) -> RunSummary:
    store = RunStore(Path(runs_dir) / cfg.name)
    fingerprint = cfg.fingerprint(registry)
    config = cfg.model_dump(mode="json")
    store.initialise(config_yaml=yaml.safe_dump(config, sort_keys=False), fingerprint=fingerprint, seed=cfg.seed,
                     force=force, also_accept=(cfg.legacy_fingerprint(),),
                     changed=lambda old: changed_fields(yaml.safe_load(old), config, registry))
    started = time.perf_counter()
    store.repair()
    # the items to redo: their stored line holds a failed record (read once, 16 bytes per id)
    failed = store.failed_items() if retry_failed else None
    sources_sig = sources_signature(cfg.sources)
    if not failed:
        finished = unchanged_finished_run(store, cfg, sources_sig, fingerprint)
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
    retrying = len(failed) if failed else 0
    display = RunProgress(total=max(0, total - len(done)) + retrying if total else 0, enabled=progress, title=cfg.name)
    message = _resume_message(len(done), total, retrying, retry_failed)
    if message:
        display.log(message)
    holder: dict[str, Any] = {}
    writer = store.writer(cfg.runner.fsync_every_s)
    streamed = {"items": 0, "retried": 0}

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
        digests = [id_digest(it.id) for it in chunk]
        is_done = done.contains_many(digests) if len(done) else None
        redo = failed.contains_many(digests) if failed else None
        for i, item in enumerate(chunk):
            if redo is not None and redo[i]:
                streamed["retried"] += 1  # a failed item, done again; its new line replaces the old one
            elif is_done is not None and is_done[i]:
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
            start = time.perf_counter()  # Timers.time inlined: one context manager per item shows
            writer.write_encoded(item.id, encoded)  # durable before it counts as done
            engine.seconds["engine:store"] += time.perf_counter() - start
            engine.calls["engine:store"] += 1
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
    resumed = len(done)
    done = failed = None  # type: ignore[assignment]  # 20 MB at 1M items: not held through the merge
    complete = streamed["items"] == resumed + tally.items - streamed["retried"]
    summary = finish_run(store, cfg, resources, time.perf_counter() - started, len(problems),
                         sources_sig=sources_sig if complete else None, fingerprint=fingerprint)
    summary.resumed, summary.retried = resumed, streamed["retried"]
    return summary


def _resume_message(done: int, total: int, retrying: int, retry_failed: bool) -> str:
    """What a resumed run (or a retry) will do, before it does it."""
    if retry_failed and not retrying:
        return "retry: no failed items in this run directory; nothing to retry"
    if not done:
        return ""
    of = f"{done:,} of {total:,} items done" if total else f"{done:,} items done, the rest of the source follows"
    if retrying:
        rest = f", the other {done - retrying:,} are skipped as the source streams past" if done > retrying else ""
        return f"resuming: {of}; retrying the {retrying:,} failed one(s){rest}"
    return f"resuming: {of}; the done items are skipped as the source streams past"


def finish_run(store: RunStore, cfg: PipelineConfig, resources: dict[str, Any], elapsed: float,
               problems: int, sources_sig: list | None = None, fingerprint: str | None = None) -> RunSummary:
    """Summary, exports and report in one streaming pass over the stored records."""
    from synthgen.report import write_report
    from synthgen.run_stats import RunStats

    summary = RunSummary(run_dir=store.dir, source_problems=problems)
    paths = {exp.format: export_path(store.dir, exp)
             for exp in cfg.export}
    exports = [StreamingExport(exp.format, paths[exp.format], exp.file_format, exp.include_failed_records,
                               provenance=exp.provenance) for exp in cfg.export]
    stats = RunStats()
    try:
        for entry in store.raw_entries():  # records in their stored form: no model built per record
            records = entry["records"]
            stats.add_entry(records)
            for record in records:
                for export in exports:
                    export.add(record)
        for export in exports:
            summary.exports[export.fmt] = str(export.finish())
            summary.export_rows[export.fmt] = export.rows
    finally:
        for export in exports:
            export.discard()
    summary.counts, summary.stages = stats.summary()
    summary.outcome = stats.outcome_info()
    summary.timings = {"wall_s": round(elapsed, 3), "resources": resources}
    store.write_json("summary.json", {"counts": summary.counts, "stages": summary.stages, "outcome": summary.outcome,
                                      "timings": summary.timings, "exports": summary.exports,
                                      "export_rows": summary.export_rows, "source_problems": problems})
    write_report(store, stats, summary)
    write_finished(store, cfg, sources_sig, summary, fingerprint)
    return summary


def run_pipeline(cfg: PipelineConfig, **kwargs: Any) -> RunSummary:
    """Synchronous entry point (CLI, scripts, the round loop): generation, verification, selection,
    the processing stage when the config has ``process:``, exports and the report."""
    return asyncio.run(run_pipeline_async(cfg, **kwargs))
