"""`synthgen run`, `export`, `inspect`, `report`: running a pipeline and looking at its run directory."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from synthgen.cli.main import app
from synthgen.errors import SynthgenError

out = Console()


def _free_name(runs_dir: Path, name: str) -> str:
    n = 2
    while (runs_dir / f"{name}-{n}").exists():
        n += 1
    return f"{name}-{n}"


@app.command("run")
def run(
    pipeline: Path = typer.Argument(..., help="pipeline YAML file"),
    runs_dir: Path = typer.Option(Path("runs"), help="where run directories live"),
    force: bool = typer.Option(False, "--force", help="go on in an existing run dir made by a different config"),
    new: bool = typer.Option(False, "--new", help="start a fresh run dir (<name>-N) instead of resuming"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="process the failed items again (same ids; "
                                      "their new records replace the failed ones)"),
    allow_verifier_errors: bool = typer.Option(False, "--allow-verifier-errors",
                                               help="exit 0 even when a verifier raised on some candidates"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Run a pipeline; a run that was killed resumes where it stopped when started again.

    Ends with one paragraph on what came out. Exit status: 0 when something was produced, 1 when
    nothing was, 3 when a verifier raised (unless --allow-verifier-errors), 2 for a config mistake."""
    from synthgen.config import load_pipeline_config
    from synthgen.run_outcome import describe_outcome
    from synthgen.runner import run_pipeline

    cfg = load_pipeline_config(pipeline)
    if new and (runs_dir / cfg.name).exists():
        cfg = cfg.model_copy(update={"name": _free_name(runs_dir, cfg.name)})
    summary = run_pipeline(cfg, runs_dir=runs_dir, force=force, progress=progress, retry_failed=retry_failed)
    _print_summary(summary.run_dir, summary.counts, summary.stages, summary.timings, summary.exports)
    outcome = describe_outcome(summary, allow_verifier_errors=allow_verifier_errors)
    out.print(escape(outcome.text), style=None if outcome.exit_code == 0 else "yellow", soft_wrap=False)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _print_summary(run_dir: Path, counts: dict, stages: dict, timings: dict, exports: dict) -> None:
    table = Table(title=f"run {run_dir.name}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for k, v in counts.items():
        table.add_row(k, str(v))
    for k, v in stages.items():
        table.add_row(f"stage: {k}", f"{v:g}")
    out.print(table)
    res = timings.get("resources", {})
    if res:
        busy = ", ".join(f"{k} {v['seconds']:.1f}s" for k, v in res.items())
        out.print(f"wall {timings.get('wall_s', 0):.1f}s; busy: {busy}")
    for fmt, path in exports.items():
        out.print(f"exported {fmt}: {path}")
    out.print(f"report: {run_dir / 'report.html'}")


def _store(run: Path):
    from synthgen.store import RunStore

    store = RunStore(run)
    if not store.exists():
        raise SynthgenError(f"{run}: not a run directory (no meta.json); pass runs/<name>, or of a round run "
                            "runs/<name>, runs/<name>/round_<r> or runs/<name>/round_<r>/<stage>")
    return store


@app.command("export")
def export(
    run: Path = typer.Argument(..., help="run directory, e.g. runs/my-run"),
    format: str = typer.Option(..., "--format", "-f", help="sft, dpo or rm"),
    file_format: str = typer.Option("jsonl", help="jsonl, parquet or disk (save_to_disk)"),
    output: Path = typer.Option(None, "--out", "-o", help="default: RUN/export/<format>.<ext>"),
    include_failed: bool = typer.Option(False, help="include records whose generation failed"),
) -> None:
    """Export a run's finished records as a TRL-ready SFT, DPO or RM dataset."""
    from synthgen.export import default_export_path

    if format not in ("sft", "dpo", "rm"):
        raise SynthgenError(f"--format must be sft, dpo or rm (got '{format}')")
    if file_format not in ("jsonl", "parquet", "disk"):
        raise SynthgenError(f"--file-format must be jsonl, parquet or disk (got '{file_format}')")
    from synthgen.processing.run import records_for_export

    store = _store(run)
    path = output or default_export_path(store.dir, format, file_format)
    # after `process:` ran, what its steps kept; otherwise every record
    from synthgen.export import StreamingExport

    export = StreamingExport(format, path, file_format, include_failed)  # type: ignore[arg-type]
    try:
        for record in records_for_export(store.dir):
            export.add(record)
        written = export.finish()
    finally:
        export.discard()
    if not export.rows:
        out.print(f"nothing to export: {store.dir.name} has no {format} rows (no record has a selected candidate, "
                  f"pair or ranking); wrote an empty {written}, which `datasets.load_dataset` cannot load")
        return
    out.print(f"wrote {written} ({export.rows:,} rows)")


def _round_target(path: Path):
    """A round run, one of its rounds or stages (synthgen.round.inspect), else None."""
    if (path / "meta.json").is_file():
        return None
    from synthgen.round.inspect import find_round_target

    return find_round_target(path)


@app.command("inspect")
def inspect(run: Path = typer.Argument(..., help="run directory, or a round run / round_<r> / round stage"),
            samples: int = typer.Option(2, help="sample records to show")) -> None:
    """Counts per stage and a few sample records of a run (of a round run: its rounds and stages)."""
    from itertools import islice

    from synthgen.run_stats import RunStats

    target = _round_target(run)
    if target is not None and target.run_dir is None:
        from synthgen.round.inspect import print_round_target

        print_round_target(target, out)
        return
    store = _store(target.run_dir if target is not None else run)
    counts, stages = RunStats.of(store.stored_records()).summary()  # one streaming pass, no records held
    summary = json.loads((store.dir / "summary.json").read_text()) if (store.dir / "summary.json").exists() else {}
    _print_summary(store.dir, counts, stages, summary.get("timings", {}), summary.get("exports", {}))
    if not summary:
        out.print("[yellow]run not finished (no summary.json): counts are of the records written so far[/]")
    for rec in islice(store.records(), samples):
        out.rule(f"record {rec.id} ({rec.status})")
        if rec.error:
            out.print(f"[red]error:[/] {rec.error}")
        for m in rec.messages:
            out.print(f"[bold]{m['role']}:[/] {str(m.get('content') or '')[:400]}")
        for c in rec.candidates[:3]:
            verdicts = ", ".join(f"{v.verifier}={'pass' if v.passed else 'fail'}" for v in c.verdicts) or "no verdicts"
            out.print(f"[cyan]candidate {c.id}[/] ({verdicts}): {c.text[:300]!r}")


@app.command("report")
def report(run: Path = typer.Argument(..., help="run directory, or a round run / round_<r> / round stage")) -> None:
    """Rewrite RUN/report.html from the run's records (of a round run: the round report, or the
    reports of a round's generate and eval runs)."""
    target = _round_target(run)
    if target is None:
        _report_run(run)
    elif target.run_dir is not None:
        _report_run(target.run_dir)
    elif target.round is None or (target.stage or "").startswith("train_") or target.stage == "init_model":
        from synthgen.round.inspect import write_round_report

        page = write_round_report(target)
        if target.stage:
            out.print(f"{target.stage} is a training stage without records; its rows, steps and loss are in "
                      "the round report")
        out.print(f"report: {page}")
    else:
        from synthgen.round.inspect import RoundTarget

        runs = [d for d in (RoundTarget(target.root, target.round, s).run_dir for s in ("generate", "eval")
                            if target.stage in (None, s)) if d is not None]
        if not runs:
            raise SynthgenError(f"{run}: no generate or eval run there yet; nothing to report")
        for d in runs:
            _report_run(d)


def _report_run(run: Path) -> None:
    from synthgen.report import write_report
    from synthgen.run_stats import RunStats
    from synthgen.runner import RunSummary

    store = _store(run)
    stats = RunStats.of(store.stored_records())
    summary = RunSummary(run_dir=store.dir)
    summary.counts, summary.stages = stats.summary()
    if (store.dir / "summary.json").exists():
        saved = json.loads((store.dir / "summary.json").read_text())
        summary.timings, summary.exports = saved.get("timings", {}), saved.get("exports", {})
    write_report(store, stats, summary)
    out.print(f"report: {store.dir / 'report.html'}")
