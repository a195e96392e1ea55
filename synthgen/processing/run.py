"""The processing stage inside `synthgen run`, `synthgen round` and `synthgen process`.

:func:`synthgen.runner.run_pipeline` is the one entry point: with ``process:`` in the config it runs
generation, verification and selection without exports, then the stage over the records, then
exports what the stage kept (:func:`export_processed`) and rewrites the summary and the report with
the processing and data-mix sections (:func:`finish_processed`). ``run_with_processing`` is kept as
another name for it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from synthgen.config import ExportRef, LLMRef, PipelineConfig, PluginRef, RunnerConfig
from synthgen.registry import Registry
from synthgen.store import RunStore


def process_run(run_dir: Path, steps: list[PluginRef], *, llms: dict[str, LLMRef] | None = None, seed: int = 0,
                runner: RunnerConfig | None = None, registry: Registry | None = None,
                batch_size: int | None = None, progress: bool = False) -> dict[str, Any]:
    from synthgen.processing.stage import DEFAULT_BATCH_SIZE, ProcessingStage

    stage = ProcessingStage(run_dir, steps, llms=llms, seed=seed, runner=runner, registry=registry,
                            batch_size=batch_size or DEFAULT_BATCH_SIZE, progress=progress)
    return asyncio.run(stage.run())


def export_processed(run_dir: Path, exports: list[ExportRef], rows: dict[str, int] | None = None) -> dict[str, str]:
    """Export what the stage kept: {format: path}; ``rows`` (when given) gets the rows per format."""
    from synthgen.export import StreamingExport, export_path
    from synthgen.processing.stage import processed_records

    written: dict[str, str] = {}
    rows = {} if rows is None else rows
    for exp in exports:
        path = export_path(run_dir, exp)
        export = StreamingExport(exp.format, path, exp.file_format, exp.include_failed_records,
                                 provenance=exp.provenance)
        try:
            for record in processed_records(run_dir):
                export.add(record)
            written[exp.format], rows[exp.format] = str(export.finish()), export.rows
        finally:
            export.discard()
    return written


def records_for_export(run_dir: Path):
    """What `synthgen export` exports: the processed records when the stage finished, else every record."""
    from synthgen.processing.stage import processed_records, step_logs

    logs = step_logs(run_dir)
    if logs and all(log.done() is not None for log in logs):
        return processed_records(run_dir)
    return RunStore(run_dir).records()


def finish_processed(run_dir: Path, summary_info: dict[str, Any], exports: dict[str, str]) -> None:
    """Record the stage and the new exports in summary.json and rewrite report.html."""
    from synthgen.report import write_report
    from synthgen.runner import RunSummary

    store = RunStore(run_dir)
    path = run_dir / "summary.json"
    saved = json.loads(path.read_text()) if path.is_file() else {}
    saved["exports"] = {**saved.get("exports", {}), **exports}
    saved["process"] = {"kept": summary_info.get("kept"),
                        "steps": [{"processor": s["processor"], "kept": s["totals"].get("kept", 0),
                                   "dropped": s["totals"].get("dropped", 0)} for s in summary_info["steps"]]}
    store.write_json("summary.json", saved)
    records = store.stored_records()  # streamed: the tallies do not depend on the order
    summary = RunSummary(run_dir=run_dir, timings=saved.get("timings", {}), exports=saved["exports"])
    from synthgen.run_stats import RunStats

    stats = RunStats.of(records)
    summary.counts, summary.stages = stats.summary()
    write_report(store, stats, summary)


def run_with_processing(cfg: PipelineConfig, *, runs_dir: Path | str = "runs", registry: Registry | None = None,
                        force: bool = False, progress: bool = True, **kwargs: Any):
    """Another name for :func:`synthgen.runner.run_pipeline`, which runs `process:` itself."""
    from synthgen.runner import run_pipeline

    return run_pipeline(cfg, runs_dir=runs_dir, registry=registry, force=force, progress=progress, **kwargs)
