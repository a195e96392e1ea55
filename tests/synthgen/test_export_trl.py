"""Exports load with `datasets` in every file format and feed TRL's trainers unchanged."""

from __future__ import annotations

import json

import pytest
from datasets import load_dataset, load_from_disk

from synthgen.config import PipelineConfig
from synthgen.export import export_records
from synthgen.records import Record
from synthgen.runner import run_pipeline
from synthgen.store import RunStore
from synthgen.tiny_model import build_tiny_model
from tests.fixtures.plugins_for_tests import registry_for_tests


@pytest.fixture(scope="module")
def run_records(tmp_path_factory) -> list[Record]:
    tmp = tmp_path_factory.mktemp("export")
    src = tmp / "src.jsonl"
    src.write_text("".join(json.dumps({"id": f"i-{i}", "prompt": f"question {i}?"}) + "\n" for i in range(16)))
    cfg = PipelineConfig.model_validate({
        "name": "e", "sources": [{"path": str(src)}], "generator": {"name": "echo_for_tests", "options": {"k": 6}},
        "verifiers": [{"name": "parity_for_tests"}],
        "selection": {"similarity_threshold": 1.0, "max_pairs_per_record": 2}})
    summary = run_pipeline(cfg, runs_dir=tmp / "runs", registry=registry_for_tests(), progress=False)
    return RunStore(summary.run_dir).sorted_records()


@pytest.mark.parametrize("fmt", ["sft", "dpo", "rm"])
@pytest.mark.parametrize("file_format", ["jsonl", "parquet", "disk"])
def test_exports_load_with_datasets(run_records, tmp_path, fmt, file_format):
    path = export_records(run_records, fmt, tmp_path / f"{fmt}.{file_format}", file_format)
    if file_format == "disk":
        ds = load_from_disk(str(path))
    else:
        ds = load_dataset("json" if file_format == "jsonl" else "parquet", data_files=str(path), split="train")
    assert len(ds) > 0
    columns = {"sft": {"messages"}, "dpo": {"prompt", "chosen", "rejected"}, "rm": {"prompt", "responses"}}[fmt]
    assert columns <= set(ds.column_names)
    row = ds[0]
    if fmt == "dpo":
        assert row["prompt"][-1]["role"] == "user" and row["chosen"][0]["role"] == "assistant"
        assert row["chosen"] != row["rejected"]
    if fmt == "rm":
        assert 2 <= len(row["responses"]) <= 3


def test_tool_call_arguments_become_json_strings(tmp_path):
    rec = Record(id="r1", messages=[{"role": "user", "content": "weather?"}])
    call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}
    rec.add_candidate([{"role": "assistant", "content": None, "tool_calls": [call]}])
    rec.selected = [rec.candidates[0].id]
    ds = load_from_disk(str(export_records([rec], "sft", tmp_path / "sft", "disk")))
    args = ds[0]["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(args) == {"city": "Paris", "days": 2}


@pytest.mark.slow
def test_exports_feed_trl_trainers_one_step(run_records, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    model_dir = build_tiny_model(tmp_path / "tiny")
    tok = AutoTokenizer.from_pretrained(model_dir)
    common = dict(max_steps=1, per_device_train_batch_size=2, report_to="none", bf16=False, use_cpu=True,
                  save_strategy="no", logging_steps=1)
    sft_ds = load_dataset("json", data_files=str(export_records(run_records, "sft", tmp_path / "sft.jsonl")),
                          split="train")
    sft = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), processing_class=tok,
                     train_dataset=sft_ds, args=SFTConfig(output_dir=str(tmp_path / "o1"), assistant_only_loss=True,
                                                          **common))
    out = sft.train()
    assert out.training_loss > 0
    dpo_ds = load_dataset("json", data_files=str(export_records(run_records, "dpo", tmp_path / "dpo.jsonl")),
                          split="train")
    dpo = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir), processing_class=tok,
                     train_dataset=dpo_ds, args=DPOConfig(output_dir=str(tmp_path / "o2"), **common))
    out = dpo.train()
    assert out.training_loss > 0
