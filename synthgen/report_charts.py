"""The report's charts, drawn with plotly from plain numbers (no records, no RunStats).

Each function takes lists/dicts of numbers and returns a ``plotly.graph_objects.Figure``, or None
when there is nothing to draw; :mod:`synthgen.report_html` places them in the page and inlines
plotly.js once, so the report opens offline. Counts are ints on every axis and label (a run's
stage sums arrive as floats; ``32.0`` prompts reads as a bug).
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

_HEIGHT = 320
_BLUE, _GREEN, _RED = "#4a7bd0", "#3a9d5d", "#c8553d"


def as_count(value: Any) -> Any:
    """32.0 -> 32; leaves real fractions (and non-numbers) alone."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _layout(fig: go.Figure, title: str, *, x: str = "", y: str = "", height: int = _HEIGHT) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0, "xanchor": "left"}, height=height, template="plotly_white",
                      margin={"l": 60, "r": 20, "t": 50, "b": 50}, font={"size": 12},
                      legend={"orientation": "h", "y": -0.2})
    fig.update_xaxes(title_text=x, showline=True, linecolor="#888")
    fig.update_yaxes(title_text=y, showline=True, linecolor="#888")
    return fig


def funnel(stages: list[tuple[str, Any]], title: str) -> go.Figure | None:
    """Stages in pipeline order, each bar its count and its share of the first stage."""
    stages = [(name, as_count(n)) for name, n in stages if isinstance(n, (int, float))]
    if not stages or not any(n for _, n in stages):
        return None
    fig = go.Figure(go.Funnel(y=[s for s, _ in stages], x=[n for _, n in stages],
                              textinfo="value+percent initial", marker={"color": _BLUE},
                              texttemplate="%{value:,d} (%{percentInitial:.0%})"
                              if all(isinstance(n, int) for _, n in stages) else None))
    fig = _layout(fig, title, height=max(220, 60 + 42 * len(stages)))
    fig.update_yaxes(showline=False)
    return fig


def pass_rates(rows: list[dict[str, Any]], title: str = "Pass rate per verifier and language") -> go.Figure | None:
    """Grouped bars: x = verifier, one bar per language, y = passed / total (hover: the counts)."""
    rows = [r for r in rows if r["total"]]
    if not rows:
        return None
    fig = go.Figure()
    verifiers = sorted({r["verifier"] for r in rows})
    for lang in sorted({r["language"] for r in rows}):
        mine = {r["verifier"]: r for r in rows if r["language"] == lang}
        xs = [v for v in verifiers if v in mine]
        fig.add_bar(name=lang, x=xs, y=[mine[v]["passed"] / mine[v]["total"] for v in xs],
                    customdata=[[mine[v]["passed"], mine[v]["total"]] for v in xs],
                    text=[f"{mine[v]['passed'] / mine[v]['total']:.0%}" for v in xs], textposition="outside",
                    hovertemplate="%{x} · " + lang + ": %{customdata[0]:,d} of %{customdata[1]:,d} passed<extra></extra>")
    fig = _layout(fig, title, x="verifier", y="candidates passed")
    fig.update_layout(barmode="group")
    fig.update_yaxes(range=[0, 1.12], tickformat=".0%")
    return fig


def score_histogram(name: str, lo: float, hi: float, counts: list[int]) -> go.Figure | None:
    """Pre-binned counts over [lo, hi] as adjacent bars with both axes labelled."""
    total = sum(counts)
    if not total:
        return None
    bins = len(counts)
    width = (hi - lo) / bins if hi > lo else 1.0
    centers = [lo + width * (i + 0.5) for i in range(bins)]
    fig = go.Figure(go.Bar(x=centers, y=counts, width=[width * 0.95] * bins, marker={"color": _BLUE},
                           customdata=[[lo + width * i, lo + width * (i + 1)] for i in range(bins)],
                           hovertemplate="[%{customdata[0]:.3g}, %{customdata[1]:.3g}): %{y:,d}<extra></extra>"))
    fig = _layout(fig, f"Score: {name} ({total:,d} candidates)", x=name, y="candidates")
    fig.update_yaxes(tickformat=",d", rangemode="tozero")
    return fig


def reasons(counts: list[tuple[str, int]], title: str, *, top: int = 15) -> go.Figure | None:
    """Horizontal bars, the most frequent reason on top."""
    counts = [(r, int(n)) for r, n in counts if n][:top]
    if not counts:
        return None
    labels = [r if len(r) <= 60 else r[:57] + "..." for r, _ in counts][::-1]
    fig = go.Figure(go.Bar(x=[n for _, n in counts][::-1], y=labels, orientation="h", marker={"color": _RED},
                           text=[f"{n:,d}" for _, n in counts][::-1], textposition="auto",
                           hovertext=[r for r, _ in counts][::-1], hoverinfo="text+x"))
    fig = _layout(fig, title, x="records", height=max(220, 80 + 30 * len(counts)))
    fig.update_xaxes(tickformat=",d", rangemode="tozero")
    fig.update_yaxes(automargin=True)
    return fig


def per_round(rounds: list[int], series: dict[str, list[float | None]], title: str, *, y: str,
              percent: bool = True) -> go.Figure | None:
    """Lines with markers over rounds (yield, pass@1); a None value is a round without that number."""
    if not rounds or not any(v is not None for vals in series.values() for v in vals):
        return None
    fig = go.Figure()
    colors = [_GREEN, _BLUE, _RED, "#8e6bbf", "#d49a2a"]
    for i, (name, vals) in enumerate(series.items()):
        fig.add_scatter(x=rounds, y=vals, name=name, mode="lines+markers+text", connectgaps=False,
                        text=[f"{v:.1%}" if (percent and v is not None) else ("" if v is None else f"{v:g}")
                              for v in vals],
                        textposition="top center", line={"color": colors[i % len(colors)]})
    fig = _layout(fig, title, x="round", y=y)
    fig.update_xaxes(tickmode="array", tickvals=rounds, ticktext=[str(r) for r in rounds])
    if percent:
        fig.update_yaxes(range=[0, 1.1], tickformat=".0%")
    return fig


def stacked_times(rounds: list[int], stages: dict[str, list[float | None]], title: str) -> go.Figure | None:
    """Wall seconds per stage, stacked per round."""
    if not any(v for vals in stages.values() for v in vals if v):
        return None
    fig = go.Figure()
    for stage, vals in stages.items():
        if any(vals):
            fig.add_bar(name=stage, x=rounds, y=[v or 0 for v in vals])
    fig = _layout(fig, title, x="round", y="seconds")
    fig.update_layout(barmode="stack")
    fig.update_xaxes(tickmode="array", tickvals=rounds, ticktext=[str(r) for r in rounds])
    return fig
