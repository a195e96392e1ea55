"""The round loop end to end on the real tiny model, resume after SIGKILL, and the scripted-policy
path (selection, cumulative SFT, DPO, policy handover)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from synthgen.registry import Registry
from synthgen.round import RoundLoop, load_round_config
from tests.round.policy_for_tests import ScriptedPolicyForTests

SMALL = {
    "name": "small", "seed": 1, "rounds": 1,
    "model": {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}},
    "task": {"builtin": "arith", "seed_size": 40, "prompts_per_round": 12, "eval_size": 10},
    "generation": {"llm": {"backend": "transformers", "options": {"device": "cpu", "max_batch_size": 128}},
                   "k": 4, "max_tokens": 20},
    "verifiers": [{"name": "math", "options": {"strict_equations": True, "isolation": "thread"}}],
    "train": {"round0_sft": {"learning_rate": 3e-3, "max_steps": 6, "per_device_train_batch_size": 16,
                             "max_length": 64},
              "sft": {"learning_rate": 1e-3, "max_steps": 4, "per_device_train_batch_size": 16, "max_length": 64}},
}


def _write(tmp: Path, data: dict) -> Path:
    path = tmp / "round.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _results(run_dir: Path) -> list[dict]:
    """rounds.json without wall times and paths (they differ between two runs of the same config)."""
    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in ("wall_s", "run", "checkpoint", "policy", "exports")}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj
    return strip(json.loads((run_dir / "rounds.json").read_text())["rounds"])


def _weights(checkpoint: Path) -> bytes:
    from safetensors.torch import load_file

    tensors = load_file(str(checkpoint / "model.safetensors"))
    return b"".join(tensors[k].numpy().tobytes() for k in sorted(tensors))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("round")
    cfg = load_round_config(_write(tmp, SMALL))
    metrics = RoundLoop(cfg, runs_dir=tmp / "runs", progress=False).run()
    return tmp / "runs" / "small", metrics


def test_a_full_tiny_round_runs_end_to_end(finished_run):
    run_dir, metrics = finished_run
    assert [m["round"] for m in metrics] == [0, 1]
    r0, r1 = metrics
    assert r0["train"]["sft"]["rows"] == 40 and r0["eval"]["prompts"] == 10
    gen = r1["generate"]
    assert gen["prompts"] == 12 and gen["samples"] == 48 and gen["failed_records"] == 0
    assert gen["verified_yield"] == round(gen["passed"] / 48, 4)
    assert r1["train"]["sft"]["rows"] == 40 + gen["sft_rows"]  # cumulative: seed + kept
    assert r1["train"]["sft"]["steps"] == 4
    # round 1 generated with round 0's policy and trained from it
    assert Path(r1["policy"]) == run_dir / "round_1" / "train_sft" / "checkpoint"
    assert _weights(Path(r0["policy"])) != _weights(Path(r1["policy"]))
    saved = json.loads((run_dir / "rounds.json").read_text())["rounds"]
    assert [m["eval"]["pass_at_1"] for m in saved] == [m["eval"]["pass_at_1"] for m in metrics]
    report = (run_dir / "report.md").read_text()
    assert "| round | samples |" in report and "| 1 | 48 |" in report
    assert "<table>" in (run_dir / "report.html").read_text()
    # the generate stage is a normal run directory: records carry the round and the policy
    from synthgen.store import RunStore

    rec = next(RunStore(run_dir / "round_1" / "generate" / "generate").records())
    assert rec.provenance.round == 1 and rec.provenance.models["policy"] == r0["policy"]


def test_a_killed_round_resumes_skipping_finished_stages_with_the_same_result(finished_run, tmp_path):
    reference_dir, _ = finished_run
    config = _write(tmp_path, SMALL)
    cmd = [sys.executable, "-m", "synthgen.cli.main", "round", str(config), "--runs-dir", str(tmp_path / "runs"),
           "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120"}
    run_dir = tmp_path / "runs" / "small"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    marker = run_dir / "round_1" / "done" / "generate.json"
    deadline = time.monotonic() + 150
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (run_dir / "round_1" / "done" / "eval.json").exists()

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for stage in ("round 0 · init_model", "round 0 · train_sft", "round 0 · eval", "round 1 · generate"):
        assert f"{stage}: done earlier, skipped" in done.stderr
    assert "round 1 · train_sft: done earlier" not in done.stderr
    assert _results(run_dir) == _results(reference_dir)
    assert _weights(run_dir / "round_1" / "train_sft" / "checkpoint") == \
        _weights(reference_dir / "round_1" / "train_sft" / "checkpoint")


def test_scripted_policy_drives_selection_cumulative_sft_dpo_rm_and_handover(tmp_path, monkeypatch):
    # run as `synthgen round` does by default: from the current folder into a relative runs/ (a
    # relative export path once made the kept samples miss the SFT data with nothing failing)
    monkeypatch.chdir(tmp_path)
    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    ScriptedPolicyForTests.models_seen.clear()
    data = {**SMALL, "name": "scripted", "rounds": 2,
            "verifiers": [*SMALL["verifiers"], {"name": "reward_score", "options": {"device": "cpu"}}],
            "generation": {"llm": {"backend": "scripted_policy_for_tests", "options": {"correct_of_k": 1}},
                           "k": 4, "max_tokens": 20},
            "train": {**SMALL["train"], "dpo": {"learning_rate": 1e-4, "max_steps": 2,
                                                 "per_device_train_batch_size": 4, "max_length": 64},
                      "rm": {"learning_rate": 1e-4, "max_steps": 2, "per_device_train_batch_size": 4,
                             "max_length": 64}}}
    cfg = load_round_config(_write(tmp_path, data))
    metrics = RoundLoop(cfg, runs_dir=Path("runs"), registry=registry, progress=False).run()
    run_dir = Path("runs") / "scripted"
    _, r1, r2 = metrics
    for r in (r1, r2):
        assert r["generate"]["verified_yield"] == 0.25 and r["generate"]["prompts_solved"] == 12
        assert r["generate"]["dpo_pairs"] == 12 and r["train"]["dpo"]["rows"] == 12
        assert r["eval"]["pass_at_1"] == 1.0
    assert r1["train"]["sft"]["rows"] == 40 + 12 and r2["train"]["sft"]["rows"] == 40 + 24
    # each round samples with the previous round's final (DPO) checkpoint
    handed = [Path(m) for m in ScriptedPolicyForTests.models_seen]
    assert run_dir / "round_0" / "train_sft" / "checkpoint" in handed
    assert run_dir / "round_1" / "train_dpo" / "checkpoint" in handed
    assert Path(r2["policy"]) == run_dir / "round_2" / "train_dpo" / "checkpoint"
    assert r2["train"]["dpo"]["steps"] == 2
    # the reward model is trained on the round's ranked rows (best verified first, worst failure last)
    assert r1["generate"]["rm_rows"] == 12 and r1["train"]["rm"]["steps"] == 2
    assert (run_dir / "round_1" / "train_rm" / "checkpoint" / "config.json").is_file()
    assert r2["wall_s"].keys() == {"generate", "train_rm", "train_sft", "train_dpo", "eval"}
    # round 2's samples are scored by round 1's reward model; round 1 had none yet
    from synthgen.store import RunStore

    def rewards(r):  # of verified samples (the chain short-circuits on a failed math check)
        recs = RunStore(run_dir / f"round_{r}" / "generate" / "generate").records()
        return [c.scores.get("reward") for rec in recs for c in rec.candidates if c.passed]

    assert set(rewards(1)) == {None}
    assert len(rewards(2)) == 12 and all(isinstance(x, float) for x in rewards(2))
