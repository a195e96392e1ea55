"""The factuality and steerability examples end to end through `run_pipeline`: the tiny model (runs
complete, funnel counted) and the scripted policy (non-zero yields reach exports that `datasets` loads
and the SFT and DPO trainers train on for one step)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgen.config import PipelineConfig, load_pipeline_config
from synthgen.registry import Registry
from synthgen.runner import run_pipeline
from tests.generators.conftest import EXAMPLES
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests

pytestmark = pytest.mark.slow


def _scripted(cfg: PipelineConfig, policy_rules: list[dict], judge_default: str, **generator) -> PipelineConfig:
    data = cfg.model_dump()
    data["llms"] = {"policy": {"backend": "scripted_policy_for_tests", "options": {"rules": policy_rules}},
                    "judge": {"backend": "scripted_policy_for_tests", "options": {"default": judge_default}}}
    data["generator"]["options"].update(generator)
    data["export"] = [{"format": "sft", "file_format": "parquet"}, {"format": "dpo", "file_format": "parquet"}]
    return PipelineConfig.model_validate(data)


def _registry() -> Registry:
    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    return registry


def test_factuality_example_on_the_tiny_model_counts_its_funnel(tmp_path):
    cfg = load_pipeline_config(EXAMPLES / "factuality.yaml")
    data = cfg.model_dump()
    data["sources"][0]["limit"] = 2
    data["sources"][1]["limit"] = 2
    data["generator"]["options"].update(k=2, max_tokens=6)
    summary = run_pipeline(PipelineConfig.model_validate(data), runs_dir=tmp_path, progress=False)
    assert summary.stages["snippets"] == 4 and summary.stages["questions"] == 2  # the hand-written ones
    assert summary.counts["records"] == 4
    assert all(Path(p).exists() for p in summary.exports.values())


def test_factuality_scripted_pipeline_exports_train_one_sft_and_one_dpo_step(tmp_path):
    from datasets import load_dataset

    from synthgen.tiny_model import build_tiny_model
    from trainers.dpo_config import DPOTrainConfig
    from trainers.dpo_trainer import train_dpo
    from trainers.sft_config import SFTTrainConfig
    from trainers.sft_trainer import train_sft

    rules = [{"last_user": "Read the passage", "responses": ["NONE"]},  # writer: corpus snippets have no fact
             {"last_user": "You do not reliably know", "responses": ["I'm not sure, and I'd rather not guess."]},
             {"last_user": "boil", "responses": ["100", "100 degrees"]},  # known
             {"last_user": "Opticks", "responses": ["1704", "1666"]},  # mixed
             {"last_user": "Lornmouth", "responses": ["1899", "Tom Ashby"]}]  # unknown: the invented town
    cfg = _scripted(load_pipeline_config(EXAMPLES / "factuality.yaml"), rules, '{"correct": 0, "informative": 1}',
                    k=2, known_min_correct=0.8)
    summary = run_pipeline(cfg, runs_dir=tmp_path, progress=False, registry=_registry())
    st = summary.stages
    assert st["known"] >= 1 and st["mixed"] >= 1 and st["unknown"] >= 2 and st["refusals_policy"] >= 2
    assert summary.counts["failed_records"] == 12  # the 12 corpus snippets: "no checkable fact"
    sft = load_dataset("parquet", data_files=summary.exports["sft"], split="train")
    dpo = load_dataset("parquet", data_files=summary.exports["dpo"], split="train")
    assert len(sft) >= 3 and len(dpo) >= 3 and set(dpo.column_names) >= {"prompt", "chosen", "rejected"}
    assert any("rather not guess" in row["chosen"][0]["content"] for row in dpo)
    model = build_tiny_model(tmp_path / "tiny")
    common = dict(model=model, max_steps=1, per_device_train_batch_size=2, logging_steps=1, warmup_ratio=0.0)
    assert (train_sft(SFTTrainConfig(dataset=sft, output_dir=tmp_path / "sft", **common)) / "config.json").exists()
    assert (train_dpo(DPOTrainConfig(dataset=dpo, output_dir=tmp_path / "dpo", **common)) / "config.json").exists()


def test_steerability_scripted_pipeline_exports_loadable_rows(tmp_path):
    from datasets import load_dataset

    cfg = load_pipeline_config(EXAMPLES / "steerability.yaml")
    rules = [{"last_user": "museum", "responses": ["Start with the dinosaurs and then the minerals.",
                                                   "Start with the dinosaurs, then the minerals."]},
             {"last_user": "", "responses": ["sure, here you go."]}]
    cfg = _scripted(cfg, rules, '{"adherence": 1, "helpfulness": 1}')
    summary = run_pipeline(cfg, runs_dir=tmp_path, progress=False, registry=_registry())
    assert summary.stages["prompts"] == 8 and summary.stages["adherent"] >= 1
    sft = load_dataset("parquet", data_files=summary.exports["sft"], split="train")
    dpo = load_dataset("parquet", data_files=summary.exports["dpo"], split="train")
    museum = [r for r in dpo if "museum" in r["prompt"][-1]["content"]]
    assert museum and museum[0]["chosen"][0]["content"] == "Start with the dinosaurs and then the minerals."
    assert all(r["messages"][0]["role"] == "system" for r in sft)
