"""The processing stage inside `synthgen run`, `synthgen round` and `synthgen process`.

``run_with_processing`` runs a pipeline (generation, verification, selection) without its exports,
then the stage over its records, then exports what the stage kept and rewrites the summary and the
report (with the processing and data-mix sections). A pipeline without ``process:`` is run as before.
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


def export_processed(run_dir: Path, exports: list[ExportRef]) -> dict[str, str]:
    from synthgen.export import default_export_path, export_records
    from synthgen.processing.stage import processed_records

    written = {}
    for exp in exports:
        path = Path(exp.path) if exp.path else default_export_path(run_dir, exp.format, exp.file_format)
        export_records(processed_records(run_dir), exp.format, path, exp.file_format, exp.include_failed_records)
        written[exp.format] = str(path)
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
    records = store.records()  # streamed: the tallies do not depend on the order
    summary = RunSummary(run_dir=run_dir, timings=saved.get("timings", {}), exports=saved["exports"])
    from synthgen.run_stats import RunStats

    stats = RunStats.of(records)
    summary.counts, summary.stages = stats.summary()
    write_report(store, stats, summary)


def run_with_processing(cfg: PipelineConfig, *, runs_dir: Path | str = "runs", registry: Registry | None = None,
                        force: bool = False, progress: bool = True):
    from synthgen.runner import run_pipeline

    if not cfg.process:
        return run_pipeline(cfg, runs_dir=runs_dir, registry=registry, force=force, progress=progress)
    from synthgen.processing.stage import ProcessingStage

    registry = registry or Registry()
    ProcessingStage(Path(runs_dir) / cfg.name, cfg.process, registry=registry).validate()  # before generating
    summary = run_pipeline(cfg.model_copy(update={"export": []}), runs_dir=runs_dir, registry=registry,
                           force=force, progress=progress)
    info = process_run(summary.run_dir, cfg.process, llms=cfg.llms, seed=cfg.seed, runner=cfg.runner,
                       registry=registry, progress=progress)
    summary.exports = export_processed(summary.run_dir, cfg.export)
    finish_processed(summary.run_dir, info, summary.exports)
    summary.counts["processed_kept"] = info["kept"]
    return summary
