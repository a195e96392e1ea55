"""The processing stage inside a round: the round's verified samples are cleaned and resampled before
SFT, the SFT/DPO data are what the stage kept, and the round report carries the data-mix table."""

import json

from synthgen.registry import Registry
from synthgen.round import RoundLoop, load_round_config
from tests.round.policy_for_tests import ScriptedPolicyForTests
from tests.round.test_loop import SMALL, _write


def test_the_round_processes_its_samples_before_training(tmp_path):
    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    data = {**SMALL, "name": "processed",
            "generation": {"llm": {"backend": "scripted_policy_for_tests", "options": {"correct_of_k": 1}},
                           "k": 4, "max_tokens": 20},
            # the scripted answers all end in "\\boxed{sum}": clean rewrites that sentence away in half of
            # them, so the exported SFT rows show whether training reads the processed data
            "process": [{"name": "clean", "options": {"phrases": ["\\boxed"], "phrases_target": 0.5,
                                                      "emoji_target": None, "exclamation_target": None}},
                        {"name": "mix", "options": {"tokenizer": "words"}}]}
    cfg = load_round_config(_write(tmp_path, data))
    metrics = RoundLoop(cfg, runs_dir=tmp_path / "runs", registry=registry, progress=False).run()
    gen = metrics[1]["generate"]
    assert gen["processed_kept"] == 12 and gen["processed_steps"] == {"clean": 0, "mix": 0}
    assert {r["group"] for r in gen["mix"]} == {"math", "Total"}
    total = next(r for r in gen["mix"] if r["group"] == "Total")
    assert total["examples"] == gen["sft_rows"] == 12 and total["comparisons"] == gen["dpo_pairs"]
    run_dir = tmp_path / "runs" / "processed"
    sft = (run_dir / "round_1" / "generate" / "export" / "sft.jsonl").read_text().splitlines()
    assert len(sft) == 12 and metrics[1]["train"]["sft"]["rows"] == 40 + 12
    assert sum("boxed" not in row for row in sft) == 6
    assert "% examples" in (run_dir / "report.md").read_text()
    summary = json.loads((run_dir / "round_1" / "generate" / "generate" / "summary.json").read_text())
    assert summary["process"]["kept"] == 12
    assert "<h2>Processing</h2>" in (run_dir / "round_1" / "generate" / "generate" / "report.html").read_text()
