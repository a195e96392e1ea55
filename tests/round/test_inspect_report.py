"""`synthgen inspect` and `synthgen report` accept a round run, one of its rounds and each stage."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.round.test_loop import finished_run  # noqa: F401 - the module's finished tiny round run

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "synthgen", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def test_find_round_target_names_run_round_and_stage(finished_run, tmp_path):  # noqa: F811
    from synthgen.round.inspect import find_round_target

    run_dir, _ = finished_run
    assert find_round_target(run_dir).round is None
    t = find_round_target(run_dir / "round_1")
    assert (t.round, t.stage, t.run_dir) == (1, None, None)
    t = find_round_target(run_dir / "round_1" / "generate")
    assert (t.stage, t.run_dir) == ("generate", run_dir / "round_1" / "generate" / "generate")
    assert find_round_target(run_dir / "round_1" / "train_sft").run_dir is None
    assert find_round_target(run_dir / "data") is None and find_round_target(tmp_path) is None


@pytest.mark.slow
def test_inspect_a_round_run_a_round_and_its_stages(finished_run):  # noqa: F811
    run_dir, metrics = finished_run
    res = cli("inspect", str(run_dir))
    assert res.returncode == 0, res.stderr
    assert "per-round metrics" in res.stdout and "round_1/generate/generate" in res.stdout
    assert f"pass@1 {metrics[1]['eval']['pass_at_1']:.3f} on 10 prompts" in res.stdout
    assert max(len(line) for line in res.stdout.splitlines() if "directories are under" not in line) <= 80
    res = cli("inspect", str(run_dir / "round_1"))
    assert res.returncode == 0 and "round_0" not in res.stdout and "train_sft" in res.stdout
    res = cli("inspect", str(run_dir / "round_1" / "generate"), "--samples", "1")
    assert res.returncode == 0 and "records" in res.stdout and "What is" in res.stdout
    res = cli("inspect", str(run_dir / "round_1" / "train_sft"))
    assert res.returncode == 0 and "4 steps" in res.stdout and "train.log" in res.stdout


@pytest.mark.slow
def test_report_a_round_run_a_round_and_its_stages(finished_run):  # noqa: F811
    run_dir, _ = finished_run
    (run_dir / "report.html").unlink()
    res = cli("report", str(run_dir))
    assert res.returncode == 0, res.stderr
    assert "data-chart='pass-at-1'" in (run_dir / "report.html").read_text()
    for page in (run_dir / "round_1" / "generate" / "generate" / "report.html",
                 run_dir / "round_1" / "eval" / "eval" / "report.html"):
        page.unlink()
    res = cli("report", str(run_dir / "round_1"))
    assert res.returncode == 0 and (run_dir / "round_1" / "eval" / "eval" / "report.html").is_file()
    assert (run_dir / "round_1" / "generate" / "generate" / "report.html").is_file()
    res = cli("report", str(run_dir / "round_1" / "train_sft"))
    assert res.returncode == 0 and "training stage" in res.stdout
    res = cli("report", str(run_dir / "data"))
    assert res.returncode == 2 and "round_<r>" in res.stderr


@pytest.mark.slow
def test_round_report_charts_draw_in_chromium(finished_run, tmp_path):  # noqa: F811
    from tests.synthgen.test_report_browser import assert_charts_drew, chromium

    chromium()
    run_dir, _ = finished_run
    assert_charts_drew(run_dir / "report.html", tmp_path / "round_report.png", {"pass-at-1", "yield", "stage-times"})
