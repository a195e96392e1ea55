"""Run summaries and the HTML report: counts per stage, pass rates per verifier and language,
score histograms, failures with their reasons. One self-contained file a person opens in a browser.

The data comes from :class:`synthgen.run_stats.RunStats`, gathered while the records stream past;
this module only renders it (``write_report`` still accepts records, which it tallies first)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Iterable

from synthgen.records import Record
from synthgen.run_stats import RunStats

if TYPE_CHECKING:
    from synthgen.runner import RunSummary
    from synthgen.store import RunStore


def summarise(records: Iterable[Record]) -> tuple[dict[str, int], dict[str, float]]:
    """Counts (records, failures, candidates, passes, selections, pairs) and summed generator stages."""
    return RunStats.of(records).summary()


def verifier_table(records: Iterable[Record]) -> list[tuple[str, str, int, int]]:
    """(verifier, language, passed, total) over every candidate verdict."""
    return RunStats.of(records).verifier_table()


def score_histograms(records: Iterable[Record], bins: int = 10) -> dict[str, list[int]]:
    return RunStats.of(records).score_histograms(bins)


def _table(headers: list[str], rows: list[list[object]]) -> str:
    from synthgen.report_html import table

    return table(headers, [list(r) for r in rows])


def write_report(store: "RunStore", stats: RunStats | Iterable[Record], summary: "RunSummary") -> None:
    """report.html: the charts and tables of :mod:`synthgen.report_html`, drawn from the run's tallies."""
    from synthgen.report_html import render_run_report, run_report_data

    if not isinstance(stats, RunStats):
        stats = RunStats.of(stats)
    data = run_report_data(stats, name=store.dir.name, timings=summary.timings, exports=summary.exports)
    (store.dir / "report.html").write_text(render_run_report(data, extra_html=processing_section(store.dir)))


def processing_section(run_dir) -> str:
    """The processing stage (kept/dropped per step, clean shares) and the data-mix table, from
    ``process/summary.json``; empty when the run had no `process:`. Self-contained on purpose."""
    import json

    path = run_dir / "process" / "summary.json"
    if not path.is_file():
        return ""
    from synthgen.processing.mix import MIX_HEADERS, mix_table_rows

    info = json.loads(path.read_text())
    rows = [[s["processor"], s["totals"].get("kept", 0), s["totals"].get("dropped", 0),
             "; ".join(f"{k} ({v})" for k, v in list(s.get("dropped_by_reason", {}).items())[:3])] for s in info["steps"]]
    out = "<h2>Processing</h2>" + _table(["step", "kept", "dropped", "top reasons"], rows)
    for s in info["steps"]:
        rep = s.get("report") or {}
        if s["processor"] == "clean":
            out += "<h3>clean: share of records before and after</h3>" + _table(
                ["category", "target", "before", "after", "rewritten"],
                [[c, v["target"], f"{v['before']:.2%}", f"{v['after']:.2%}", v["rewritten"]]
                 for c, v in rep.get("shares", {}).items()])
        if s["processor"] == "mix":
            out += (f"<h3>Data mix per {html.escape(rep.get('group_by', 'capability'))}</h3>"
                    + _table(MIX_HEADERS, mix_table_rows(rep)))
    return out
