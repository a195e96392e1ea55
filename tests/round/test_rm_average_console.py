"""Rounds use what they train: the previous round's reward model ranks the samples without listing
`reward_score` (and the stage header says so), `average: {runs: N}` trains a stage N times and goes
on with the weight average; and the console between stage headers holds only our own lines."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from synthgen.registry import Registry
from synthgen.round import RoundLoop, load_round_config
from synthgen.round.pipelines import _verifiers, generate_pipeline
from synthgen.round.report import print_table
from tests.round.policy_for_tests import ScriptedPolicyForTests
from tests.round.test_loop import SMALL

_TINY = {"learning_rate": 1e-4, "max_steps": 2, "per_device_train_batch_size": 4, "max_length": 64}


def _cfg(tmp_path: Path, **train):
    data = {**SMALL, "name": "rm-avg", "rounds": 2,
            "generation": {"llm": {"backend": "scripted_policy_for_tests", "options": {"correct_of_k": 2}},
                           "k": 4, "max_tokens": 20},
            "train": {**SMALL["train"], **train}}
    path = tmp_path / "round.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_round_config(path)


def test_the_reward_model_joins_the_chain_unless_turned_off(tmp_path):
    cfg = _cfg(tmp_path, rm=_TINY)
    assert [v.name for v in _verifiers(cfg, None)] == ["math"]  # round 1: no reward model yet
    rm = tmp_path / "round_1" / "train_rm" / "checkpoint"
    pipe = generate_pipeline(cfg, 2, tmp_path / "policy", tmp_path / "p.jsonl", tmp_path / "x", rm)
    assert [(v.name, v.options.get("model")) for v in pipe.verifiers] == [("math", None), ("reward_score", str(rm))]
    off = _cfg(tmp_path, rm=_TINY, rm_selects=False)
    assert [v.name for v in _verifiers(off, rm)] == ["math"]
    # the defaults leave the fingerprint of existing run directories alone
    assert _cfg(tmp_path).fingerprint() == _cfg(tmp_path, rm_selects=True).fingerprint()
    assert _cfg(tmp_path).fingerprint() != _cfg(tmp_path, sft={**SMALL["train"]["sft"], "average": {"runs": 2}}
                                                ).fingerprint()


@pytest.mark.slow
def test_rm_ranks_next_round_and_sft_is_averaged_with_a_quiet_console(tmp_path, capfd):
    from safetensors.torch import load_file

    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    cfg = _cfg(tmp_path, rm=_TINY, sft={**SMALL["train"]["sft"], "average": {"runs": 2}})
    console_text = io.StringIO()
    console = Console(file=console_text, width=200)
    metrics = RoundLoop(cfg, runs_dir=tmp_path / "runs", registry=registry, progress=True, console=console).run()
    run_dir = tmp_path / "runs" / "rm-avg"

    # round 2's verified samples carry round 1's reward and selection kept the best-scoring one
    from synthgen.store import RunStore

    recs = list(RunStore(run_dir / "round_2" / "generate" / "generate").records())
    passed = [c for r in recs for c in r.candidates if c.passed]
    assert passed and all(isinstance(c.scores.get("reward"), float) for c in passed)
    for r in recs:
        ok = [c for c in r.candidates if c.passed]
        if len(ok) == 2 and ok[0].scores["reward"] != ok[1].scores["reward"]:
            best = max(ok, key=lambda c: c.scores["reward"])
            assert r.selected[0] == best.id
    out = console_text.getvalue()
    assert "round 2 · generate · 12 prompts × 4 samples, verify, select by reward model round_1" in out
    assert "select by reward model" not in out.split("round 2 · generate")[0]

    # SFT of round 1 trained twice (seeds 1, 1001) and went on with the average
    sft = metrics[1]["train"]["sft"]
    assert [r["seed"] for r in sft["averaged_runs"]] == [cfg.seed + 1, cfg.seed + 1001]
    runs = [load_file(str(Path(r["checkpoint"]) / "model.safetensors")) for r in sft["averaged_runs"]]
    avg = load_file(str(Path(sft["checkpoint"]) / "model.safetensors"))
    name = next(k for k in avg if not runs[0][k].equal(runs[1][k]))
    assert avg[name].allclose((runs[0][name] + runs[1][name]) / 2, atol=1e-6)
    assert Path(metrics[2]["policy"]) == run_dir / "round_2" / "train_sft" / "checkpoint"

    # the console: our headers and one line per training run, no library output in between
    captured = capfd.readouterr()
    everything = out + captured.out + captured.err
    for noise in ("{'loss'", "it/s]", "LOAD REPORT", "\r", "\x1b[", "Tokenizing", "Map:", "Warning"):
        assert noise not in everything, (noise, everything[-3000:])
    assert re.search(r"train sft: 4/4 loss [\d.]+ → [\d.]+ .*library log: .*train\.log", captured.err)
    assert "train rm: 2/2" in captured.err
    log = (run_dir / "round_1" / "train_rm" / "checkpoint" / "train.log").read_text()
    assert "LOAD REPORT" in log  # the library's report went to the file instead


def test_round_table_fits_80_columns():
    metrics = [{"round": 0, "eval": {"pass_at_1": 0.123}, "wall_s": {"train_sft": 40.0}},
               {"round": 12, "eval": {"pass_at_1": 0.4}, "wall_s": {"generate": 15000.0},
                "generate": {"samples": 24000, "passed": 12345, "verified_yield": 0.5142, "prompts": 3000,
                             "prompts_solved": 2500, "dpo_pairs": 1200}, "train": {"sft": {"rows": 15340}}}]
    buf = io.StringIO()
    print_table(metrics, Console(file=buf, width=80), title="demo-round: per-round metrics")
    lines = buf.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in buf.getvalue()
    assert lines[1].split() == ["round", "samples", "verified", "yield", "solved", "SFT", "pairs", "pass@1",
                                "wall", "s"]


def test_progress_written_to_a_log_is_plain_lines_within_80_columns(capsys):
    from types import SimpleNamespace

    from synthgen.progress import RunProgress, StepProgress

    tally = SimpleNamespace(items=700, records=700, passed=2879, candidates=5600, failed=0)
    with RunProgress(total=700, title="generate") as progress:
        progress._start -= 62.6  # as if a minute went by
        progress.update(tally)
    with StepProgress(total=250, title="train sft") as steps:
        for step in range(1, 251):
            steps.update(step, loss=1.0 / step)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 2 and "\r" not in err and "\x1b" not in err
    assert lines[0].startswith("generate: 700/700 passed 2879/5600 cand | failed 0 | 11.2 items/s")
    assert len(lines[0]) <= 80 and lines[1].startswith("train sft: 250/250 loss 1 → 0.004")
