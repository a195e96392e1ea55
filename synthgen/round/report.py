"""Per-round table (rich, in the terminal) and the run's report (markdown and HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

# Short headers, no outer edge: the table fits an 80-column terminal (a cut header reads "sampl…").
HEADERS = ["round", "samples", "verified", "yield", "solved", "SFT", "pairs", "pass@1", "wall s"]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def table_rows(metrics: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for m in metrics:
        gen = m.get("generate") or {}
        sft = (m.get("train") or {}).get("sft") or {}
        solved = f"{gen['prompts_solved']}/{gen['prompts']}" if gen else "-"
        rows.append([
            str(m["round"]), _fmt(gen.get("samples")), _fmt(gen.get("passed")), _fmt(gen.get("verified_yield")),
            solved, _fmt(sft.get("rows")), _fmt(gen.get("dpo_pairs")),
            f"{m['eval']['pass_at_1']:.3f}",
            f"{sum(m.get('wall_s', {}).values()):.0f}",
        ])
    return rows


def print_table(metrics: list[dict[str, Any]], console: Console, *, title: str | None) -> None:
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for h in HEADERS:
        table.add_column(h, justify="right", no_wrap=True)
    for row in table_rows(metrics):
        table.add_row(*row)
    console.print(table)


def _stage_times(metrics: list[dict[str, Any]]) -> list[list[str]]:
    stages = ["generate", "train_rm", "train_sft", "train_dpo", "eval"]
    return [[str(m["round"])] + [_fmt(m.get("wall_s", {}).get(s)) for s in stages] for m in metrics]


def markdown(name: str, metrics: list[dict[str, Any]]) -> str:
    def md_table(headers: list[str], rows: list[list[str]]) -> str:
        out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)

    first, last = metrics[0]["eval"]["pass_at_1"], metrics[-1]["eval"]["pass_at_1"]
    total = sum(sum(m.get("wall_s", {}).values()) for m in metrics)
    return "\n\n".join([
        f"# Round report: {name}",
        ("Columns: `samples` = K answers sampled for the round's fresh prompts; `verified` = those the "
         "verifiers passed; `yield` = verified / samples; `solved` = prompts with at least one verified "
         "answer; `SFT` = rows the round's SFT trained on; `pairs` = DPO pairs built; `pass@1` = "
         "greedy held-out pass@1 of the round's new policy."),
        f"Held-out pass@1 went from {first:.3f} after round 0 to {last:.3f} after round {metrics[-1]['round']}.",
        md_table(HEADERS, table_rows(metrics)),
        "## Wall time per stage (s)",
        md_table(["round", "generate", "train_rm", "train_sft", "train_dpo", "eval"], _stage_times(metrics)),
        (f"Total: {total:.0f} s of stage wall time (stages finished in an earlier, interrupted attempt count "
         "with the time they took then)."),
        *_processing_md(metrics, md_table),
    ]) + "\n"


def _processing_md(metrics: list[dict[str, Any]], md_table: Any) -> list[str]:
    """Per round: what the processing stage kept and its data-mix table (rounds with `process:` only)."""
    from synthgen.processing.mix import MIX_HEADERS, mix_table_rows

    out = []
    for m in metrics:
        gen = m.get("generate") or {}
        if "processed_kept" not in gen:
            continue
        dropped = ", ".join(f"{k} {v}" for k, v in gen.get("processed_steps", {}).items())
        out.append(f"## Round {m['round']}: processing\n\n{gen['processed_kept']} records kept for export "
                   f"(dropped per step: {dropped}).")
        if gen.get("mix"):
            out.append(md_table(MIX_HEADERS, mix_table_rows({"rows": gen["mix"]})))
    return out


def html_report(name: str, metrics: list[dict[str, Any]]) -> str:
    """Charts of pass@1, yield and stage times per round (synthgen.report_html), then the tables."""
    from synthgen.report_html import render_round_report, table

    tables = ("<h2>Per round</h2>" + table(HEADERS, table_rows(metrics))
              + "<h2>Wall time per stage (s)</h2>"
              + table(["round", "generate", "train_rm", "train_sft", "train_dpo", "eval"], _stage_times(metrics)))
    return render_round_report(name, metrics, tables_html=tables)


def write_reports(run_dir: Path, name: str, metrics: list[dict[str, Any]]) -> tuple[Path, Path]:
    md = run_dir / "report.md"
    md.write_text(markdown(name, metrics))
    page = run_dir / "report.html"
    page.write_text(html_report(name, metrics))
    return md, page
