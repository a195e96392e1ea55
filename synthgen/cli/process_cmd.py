"""`synthgen process RUN|DATASET CONFIG`: the processing stage alone, over a run or an SFT/DPO dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from pydantic import Field
from rich.console import Console
from rich.table import Table

from synthgen.cli.main import app
from synthgen.config import ExportRef, LLMRef, PluginRef, RunnerConfig, _Strict
from synthgen.errors import SynthgenError

out = Console()


class ProcessConfig(_Strict):
    """A processing config: the `process:` list and what it needs (a full pipeline YAML works too)."""

    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                             description="run directory for a dataset; default: <dataset stem>-processed")
    seed: int = 0
    llms: dict[str, LLMRef] = Field(default_factory=dict)
    process: list[PluginRef] = Field(..., min_length=1)
    export: list[ExportRef] = Field(default_factory=list)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)


def load_process_config(path: Path) -> ProcessConfig:
    from synthgen.config import load_pipeline_config, parse_yaml, validate_model

    data = parse_yaml(path)
    if isinstance(data, dict) and "generator" in data:  # a pipeline file: take its processing part
        cfg = load_pipeline_config(path)
        if not cfg.process:
            raise SynthgenError(f"{path}: the pipeline has no `process:` list; add processors to it")
        return ProcessConfig(name=cfg.name, seed=cfg.seed, llms=cfg.llms, process=cfg.process, export=cfg.export,
                             runner=cfg.runner)
    return validate_model(ProcessConfig, data, path)


def _is_run(path: Path) -> bool:
    return path.is_dir() and (path / "meta.json").is_file()


@app.command("process")
def process(
    target: Path = typer.Argument(..., help="a run directory (runs/<name>) or an SFT/DPO dataset file or dir"),
    config: Path = typer.Argument(..., help="YAML with `process:` (and `llms:`, `export:`), or a pipeline YAML"),
    runs_dir: Path = typer.Option(Path("runs"), help="where a dataset's run directory is made"),
    batch_size: int = typer.Option(256, min=1, help="records per batch (the unit of resume)"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Clean, tag, score, deduplicate and report the mix of a finished run or a dataset; resumable."""
    from synthgen.processing.run import export_processed, finish_processed, process_run

    cfg = load_process_config(config)
    exports = list(cfg.export)
    if _is_run(target):
        run_dir = target
        if not exports:  # re-export what the run exported, now processed
            saved = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").is_file() else {}
            exports = [ExportRef(format=f, path=p) for f, p in saved.get("exports", {}).items()] or [
                ExportRef(format="sft")]
    elif target.exists():
        from synthgen.processing.datasets_in import import_dataset

        run_dir = runs_dir / (cfg.name or f"{target.stem}-processed")
        info = import_dataset(target, run_dir, seed=cfg.seed)
        out.print(f"imported {target}: {info['kinds']} -> {run_dir}")
        if not exports:
            kinds = [k for k in ("sft", "dpo") if info["kinds"].get(k)] or ["sft"]
            exports = [ExportRef(format=k) for k in kinds]
    else:
        raise SynthgenError(f"{target}: no such run directory or dataset")
    info = process_run(run_dir, cfg.process, llms=cfg.llms, seed=cfg.seed, runner=cfg.runner,
                       batch_size=batch_size, progress=progress)
    written = export_processed(run_dir, exports)
    finish_processed(run_dir, info, written)
    print_stage(info)
    for fmt, path in written.items():
        out.print(f"exported {fmt}: {path}")
    out.print(f"report: {run_dir / 'report.html'}")


def print_stage(info: dict[str, Any], console: Console = out) -> None:
    from synthgen.processing.mix import MIX_HEADERS, mix_table_rows

    table = Table(title="processing")
    for h in ("step", "kept", "dropped", "top reasons"):
        table.add_column(h, justify="left" if h in ("step", "top reasons") else "right")
    for s in info["steps"]:
        reasons = "; ".join(f"{k} ({v})" for k, v in list(s.get("dropped_by_reason", {}).items())[:2])
        table.add_row(s["processor"], str(s["totals"].get("kept", 0)), str(s["totals"].get("dropped", 0)), reasons)
    console.print(table)
    for s in info["steps"]:
        rep = s.get("report", {})
        if s["processor"] == "clean":
            shares = ", ".join(f"{c} {v['before']:.1%} -> {v['after']:.1%}" for c, v in rep.get("shares", {}).items())
            console.print(f"clean shares (before -> after): {shares}")
        if s["processor"] == "mix":
            mix = Table(title=f"data mix per {rep.get('group_by')} (tokens: {rep.get('tokenizer')})")
            for h in MIX_HEADERS:
                mix.add_column(h, justify="left" if h == "group" else "right")
            for row in mix_table_rows(rep):
                mix.add_row(*row)
            console.print(mix)
