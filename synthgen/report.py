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
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(store: "RunStore", stats: RunStats | Iterable[Record], summary: "RunSummary") -> None:
    if not isinstance(stats, RunStats):
        stats = RunStats.of(stats)
    parts = [f"<h1>synthgen run: {html.escape(store.dir.name)}</h1>"]
    parts.append("<h2>Counts</h2>" + _table(["what", "count"], [[k, v] for k, v in sorted(summary.counts.items())]))
    if summary.stages:
        parts.append("<h2>Generator stages</h2>" + _table(["stage", "count"], [[k, v] for k, v in summary.stages.items()]))
    rows = [[v, lang, p, t, f"{p / t:.1%}" if t else "-"] for v, lang, p, t in stats.verifier_table()]
    parts.append("<h2>Pass rates per verifier and language</h2>" + _table(["verifier", "language", "passed", "total", "rate"], rows))
    for name, counts in stats.score_histograms().items():
        peak = max(counts) or 1
        bars = "".join(f'<div class="bar" style="height:{100 * c / peak:.0f}px" title="{c}"></div>' for c in counts)
        parts.append(f"<h3>score {html.escape(name)}</h3><div class='hist'>{bars}</div>")
    res = summary.timings.get("resources", {})
    parts.append(f"<h2>Time</h2><p>wall {summary.timings.get('wall_s')} s; busy seconds per resource "
                 "(summed over concurrent calls)</p>"
                 + _table(["resource", "seconds", "calls"], [[k, v["seconds"], v["calls"]] for k, v in res.items()]))
    reasons = stats.reasons
    if reasons:
        parts.append("<h2>Failed records</h2>" + _table(["reason", "count"], [[k, v] for k, v in reasons.most_common(20)]))
    parts.append(processing_section(store.dir))
    if summary.exports:
        parts.append("<h2>Exports</h2>" + _table(["format", "path"], [[k, v] for k, v in summary.exports.items()]))
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}.hist{display:flex;align-items:flex-end;"
             "height:110px;gap:2px}.bar{width:18px;background:#4a7bd0}")
    doc = f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>{''.join(parts)}</body></html>"
    (store.dir / "report.html").write_text(doc)


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
