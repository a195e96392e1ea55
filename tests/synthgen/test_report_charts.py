"""The report's numbers and charts without a browser: pipeline order, integer counts, one chart per
kind with labelled axes, and an empty run that still renders."""

from __future__ import annotations

from synthgen import report_charts as charts
from synthgen.records import Candidate, Record, Verdict
from synthgen.report_html import render_run_report, run_report_data
from synthgen.run_stats import RunStats


def _record(i: int, lang: str, passed: list[bool], *, failed: bool = False) -> Record:
    r = Record(id=f"r{i}", capability="code", messages=[{"role": "user", "content": "q"}],
               metadata={"language": lang, "stages": {"problems": 1.0, "samples": float(len(passed)),
                                                      "dropped:no_code": 1.0}})
    if failed:
        r.status, r.error = "failed", "endpoint down: connection refused"
        return r
    for j, ok in enumerate(passed):
        r.candidates.append(Candidate(id=f"c{i}-{j}", messages=[{"role": "assistant", "content": "a"}],
                                      verdicts=[Verdict(verifier="code_exec", passed=ok)],
                                      scores={"reward": 0.1 * j}))
    return r


def _stats() -> RunStats:
    return RunStats.of([_record(0, "python", [True, False]), _record(1, "python", [False, False]),
                        _record(2, "rust", [True, True]), _record(3, "rust", [], failed=True)])


def test_data_is_integers_in_pipeline_order():
    data = run_report_data(_stats(), name="x")
    assert [label for label, _ in data["funnel"]] == ["prompts (records)", "generated", "a candidate verified",
                                                      "selected (SFT rows)"]
    assert [n for _, n in data["funnel"]][:3] == [4, 3, 2]
    # generator stages keep the generator's order and are counts, not 32.0-style floats
    assert data["generator_stages"] == [("problems", 4), ("samples", 6)]
    assert all(type(n) is int for _, n in data["generator_stages"])
    assert data["generator_dropped"] == [("no_code", 4)]
    assert {(r["language"], r["passed"], r["total"]) for r in data["verifiers"]} == {("python", 1, 4),
                                                                                     ("rust", 2, 2)}
    assert data["reasons"] == [("endpoint down", 1)]


def test_charts_have_axes_and_integer_labels():
    data = run_report_data(_stats(), name="x")
    fig = charts.pass_rates(data["verifiers"])
    assert {t.name for t in fig.data} == {"python", "rust"}
    assert fig.layout.xaxis.title.text == "verifier" and fig.layout.yaxis.tickformat == ".0%"
    s = data["scores"][0]
    hist = charts.score_histogram(s["name"], s["lo"], s["hi"], s["counts"])
    assert hist.layout.xaxis.title.text == "reward" and hist.layout.yaxis.title.text == "candidates"
    assert sum(hist.data[0].y) == 6
    funnel = charts.funnel(data["generator_stages"], "g")
    assert list(funnel.data[0].x) == [4, 6] and ",d" in funnel.data[0].texttemplate
    assert charts.reasons([], "none") is None and charts.funnel([("a", 0)], "none") is None


def test_page_is_self_contained_with_every_chart():
    page = render_run_report(run_report_data(_stats(), name="x", timings={"wall_s": 1.5, "resources": {}}))
    for chart_id in ("funnel", "generator-stages", "pass-rates", "score-0", "reasons", "dropped"):
        assert f"data-chart='{chart_id}'" in page
    assert page.count("Plotly.newPlot") == 6
    assert page.count("<script type='text/javascript'>") == 1  # plotly.js once, in the head
    body = page[page.index("</head>"):]
    assert '"x":[4,6]' in body.replace(" ", "") and "[4.0,6.0]" not in body.replace(" ", "")


def test_empty_run_renders_with_reasons_for_missing_charts():
    page = render_run_report(run_report_data(RunStats(), name="empty"))
    assert "no records yet" in page and "no verdicts" in page and "no failed records" in page
    assert "Plotly.newPlot" not in page


def test_round_page_has_pass_at_1_and_yield():
    from synthgen.report_html import render_round_report

    metrics = [{"round": 0, "eval": {"pass_at_1": 0.1}, "wall_s": {"train_sft": 3.0, "eval": 1.0}},
               {"round": 1, "eval": {"pass_at_1": 0.4}, "wall_s": {"generate": 5.0, "train_sft": 3.0, "eval": 1.0},
                "generate": {"verified_yield": 0.25, "prompts": 10, "prompts_solved": 6}}]
    page = render_round_report("demo", metrics)
    for chart_id in ("pass-at-1", "yield", "stage-times"):
        assert f"data-chart='{chart_id}'" in page
    fig = charts.per_round([0, 1], {"verified yield": [None, 0.25]}, "y", y="share")
    assert list(fig.data[0].y) == [None, 0.25] and list(fig.layout.xaxis.tickvals) == [0, 1]
