"""report.html pages: charts (synthgen.report_charts) and tables in one self-contained file.

plotly.js is inlined once in the page head, so a report opens from a laptop with no network and
every chart draws (a few MB per page, the price of working offline). The run page is rendered
from a plain dict (:func:`run_report_data` builds it from a run's tallies), so anything that has
the numbers can draw the same page.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from synthgen import report_charts as charts

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from synthgen.run_stats import RunStats

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
    "td.n{text-align:right}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:1em}"
    ".chart{border:1px solid #e4e4e4;border-radius:4px;min-height:220px;min-width:0;overflow:hidden}.none{color:#777}"
)
# Each chart is drawn while the page is still being parsed, at the width its grid cell had then (a
# lone first cell spans the row); once laid out, every chart takes its cell's final width.
_RESIZE = ("addEventListener('load',()=>document.querySelectorAll('.plotly-graph-div')"
           ".forEach(d=>Plotly.Plots.resize(d)))")
# plotly's per-chart toolbar is noise in a report; the charts still resize with the window
_PLOT_CONFIG = {"displayModeBar": False, "responsive": True}


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def chart_div(fig: go.Figure | None, chart_id: str, *, empty: str = "") -> str:
    """One chart (a div and its Plotly.newPlot call), or a line saying why there is none."""
    if fig is None:
        return f"<p class='none'>{html.escape(empty)}</p>" if empty else ""
    body = fig.to_html(full_html=False, include_plotlyjs=False, div_id=chart_id, config=_PLOT_CONFIG)
    return f"<div class='chart' data-chart='{html.escape(chart_id)}'>{body}</div>"


def table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(c: Any) -> str:
        c = charts.as_count(c)
        num = isinstance(c, (int, float)) and not isinstance(c, bool)
        text = f"{c:,}" if isinstance(c, int) and not isinstance(c, bool) else str(c)
        return f"<td class='n'>{html.escape(text)}</td>" if num else f"<td>{html.escape(text)}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style><script type='text/javascript'>{_plotly_js()}</script></head>"
            f"<body><h1>{html.escape(title)}</h1>{body}<script>{_RESIZE}</script></body></html>\n")


# -- a run's page --------------------------------------------------------------------------------
# The run-level funnel, in pipeline order: generated, kept by the verifiers, kept by selection.
# Counted in records (one per prompt) so each bar is a share of the first; candidates are in the text.
FUNNEL = [("records", "prompts (records)"), ("records_ok", "generated"), ("records_with_pass", "a candidate verified"),
          ("sft_rows", "selected (SFT rows)")]


def run_report_data(stats: RunStats, *, name: str, timings: dict[str, Any] | None = None,
                    exports: dict[str, str] | None = None) -> dict[str, Any]:
    """The plain numbers the run page draws, from a run's tallies."""
    counts = {k: int(v) for k, v in stats.counts.items()}
    counts["records_ok"] = counts.get("records", 0) - counts.get("failed_records", 0)
    gen = [(k, charts.as_count(v)) for k, v in stats.stages.items()]
    return {
        "name": name,
        "counts": counts,
        "funnel": [(label, counts.get(key, 0)) for key, label in FUNNEL],
        "generator_stages": [(k, v) for k, v in gen if not k.startswith("dropped:")],
        "generator_dropped": sorted(((k.split(":", 1)[1], v) for k, v in gen if k.startswith("dropped:")),
                                    key=lambda kv: -kv[1]),
        "verifiers": [{"verifier": v, "language": lang, "passed": p, "total": t}
                      for v, lang, p, t in stats.verifier_table()],
        "scores": [{"name": key, "lo": h.lo, "hi": h.hi, "counts": h.bins(20)} for key, h in stats.scores.items()],
        "reasons": stats.reasons.most_common(30),
        # a verifier that raised is a bug, not a verdict: its own section, counted apart from the pass rates
        "verifier_errors": sorted(stats.verifier_errors.items(), key=lambda kv: -kv[1]),
        "first_verifier_error": dict(stats.first_verifier_error),
        "timings": timings or {},
        "exports": exports or {},
    }


def render_run_report(data: dict[str, Any], *, extra_html: str = "") -> str:
    """The run's report page; ``extra_html`` (e.g. the processing section) goes before the exports."""
    c = data["counts"]
    parts = ["<h2>From source to training data</h2><div class='grid'>",
             chart_div(charts.funnel(data["funnel"], "Records through the pipeline"), "funnel",
                       empty="no records yet"),
             chart_div(charts.funnel(data["generator_stages"], "Generator stages, in order"), "generator-stages"),
             "</div>"]
    parts.append(f"<p>{c.get('records', 0):,} records ({c.get('failed_records', 0):,} failed), "
                 f"{c.get('candidates', 0):,} candidates, {c.get('passed_candidates', 0):,} verified; "
                 f"selected: {c.get('sft_rows', 0):,} SFT rows, {c.get('dpo_pairs', 0):,} DPO pairs, "
                 f"{c.get('rm_rows', 0):,} RM rankings.</p>")
    errors = data.get("verifier_errors") or []
    if errors:
        first = data.get("first_verifier_error") or {}
        parts.append("<h2>Verifier errors</h2>"
                     f"<p>{sum(n for _, n in errors):,} candidates failed because a verifier raised (a bug or a "
                     "missing dependency, not a wrong answer; not counted in the pass rates below). First: "
                     f"<code>{html.escape(str(first.get('verifier', '')))}</code> on record "
                     f"<code>{html.escape(str(first.get('record', '')))}</code>: "
                     f"<code>{html.escape(str(first.get('message', ''))[:500])}</code></p>"
                     + chart_div(charts.reasons(errors, "Candidates a verifier raised on, per verifier"),
                                 "verifier-errors"))
    rows = data["verifiers"]
    parts.append("<h2>Verifiers</h2>" + chart_div(charts.pass_rates(rows), "pass-rates", empty="no verdicts"))
    parts.append(table(["verifier", "language", "passed", "total", "rate"],
                       [[r["verifier"], r["language"], r["passed"], r["total"],
                         f"{r['passed'] / r['total']:.1%}" if r["total"] else "-"] for r in rows]))
    if data["scores"]:
        parts.append("<h2>Scores</h2><div class='grid'>" + "".join(
            chart_div(charts.score_histogram(s["name"], s["lo"], s["hi"], s["counts"]), f"score-{i}")
            for i, s in enumerate(data["scores"])) + "</div>")
    parts.append("<h2>Failures</h2><div class='grid'>"
                 + chart_div(charts.reasons(data["reasons"], "Failed records by reason"), "reasons",
                             empty="no failed records")
                 + chart_div(charts.reasons(data["generator_dropped"], "Dropped by the generator, by reason"),
                             "dropped")
                 + "</div>")
    t = data["timings"]
    res = t.get("resources", {})
    if t:
        parts.append(f"<h2>Time</h2><p>wall {t.get('wall_s', '-')} s; busy seconds per resource "
                     "(summed over concurrent calls)</p>"
                     + table(["resource", "seconds", "calls"], [[k, v["seconds"], v["calls"]] for k, v in res.items()]))
    parts.append(extra_html)
    if data["exports"]:
        parts.append("<h2>Exports</h2>" + table(["format", "path"], [[k, v] for k, v in data["exports"].items()]))
    return page(f"synthgen run: {data['name']}", "".join(parts))


# -- a round run's page --------------------------------------------------------------------------
def render_round_report(name: str, metrics: list[dict[str, Any]], *, tables_html: str = "") -> str:
    """Yield and pass@1 per round (charts), stage times, then the tables."""
    rounds = [m["round"] for m in metrics]
    gen = [m.get("generate") or {} for m in metrics]
    pass1 = [m["eval"]["pass_at_1"] for m in metrics]
    sampled = [(m["round"], g) for m, g in zip(metrics, gen) if g]  # round 0 samples nothing
    yields = [g.get("verified_yield") for _, g in sampled]
    solved = [g["prompts_solved"] / g["prompts"] if g.get("prompts") else None for _, g in sampled]
    stages = ["generate", "train_rm", "train_sft", "train_dpo", "eval"]
    times = {s: [m.get("wall_s", {}).get(s) for m in metrics] for s in stages}
    body = ("<div class='grid'>"
            + chart_div(charts.per_round(rounds, {"pass@1 (held-out, greedy)": pass1}, "Held-out pass@1 per round",
                                         y="pass@1"), "pass-at-1")
            + chart_div(charts.per_round([r for r, _ in sampled], {"verified yield": yields, "prompts solved": solved},
                                         "Yield of the sampled answers per round", y="share"), "yield",
                        empty="round 0 samples nothing; yield starts at round 1")
            + "</div>"
            + chart_div(charts.stacked_times(rounds, times, "Wall time per stage"), "stage-times")
            + tables_html)
    return page(f"Round report: {name}", body)
