"""The tool-use example pipelines end to end: on the tiny model (which never writes a call: the runs complete
and report their drops) and with a scripted policy and judge (traces executed, judged, exported in the OpenAI
tool-call form with a `tools` column, and one SFT step trained on that export with the tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgen.config import PipelineConfig, load_pipeline_config
from synthgen.registry import Registry
from synthgen.runner import run_pipeline
from tests.generators.conftest import EXAMPLES
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests

pytestmark = pytest.mark.slow


def _example(name: str, sandbox_backend: str, limit: int, **options) -> PipelineConfig:
    """The example as shipped: its tool paths stay relative to the pipeline file's folder."""
    loaded = load_pipeline_config(EXAMPLES / f"{name}.yaml")
    data = loaded.model_dump()
    data["sandbox"]["backend"] = sandbox_backend
    data["sources"][0]["limit"] = limit
    data["generator"]["options"].update(options)
    cfg = PipelineConfig.model_validate(data)
    cfg._base_dir = loaded._base_dir
    return cfg


def _jsonl(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name, options", [
    ("tool_traces", {"k": 1, "max_tokens": 16, "max_steps": 2, "prompt_max_tokens": 16}),
    ("tool_function_calling", {"k": 1, "max_tokens": 16, "query_max_tokens": 24}),
])
def test_examples_run_on_the_tiny_model_and_count_every_drop(tmp_path, sandbox_backend, name, options):
    cfg = _example(name, sandbox_backend, 2, **options)
    summary = run_pipeline(cfg, runs_dir=tmp_path, progress=False)
    assert summary.counts["records"] == 2 and summary.counts["failed_records"] == 0
    dropped = sum(v for k, v in summary.stages.items() if k.startswith("dropped:"))
    assert dropped >= 1 and summary.counts["sft_rows"] == 0, summary.stages
    assert all(Path(p).exists() for p in summary.exports.values())


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from synthgen.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


def test_scripted_traces_are_judged_exported_with_tools_and_train_one_sft_step(tmp_path, sandbox_backend,
                                                                               tiny_model):
    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    policy_rules = [
        {"context": ["True"], "responses": [("Yes. The Fermat test with base 3 passes, so 2^61 - 1 is (very likely) "
                                             "prime; it is in fact the Mersenne prime 2305843009213693951.")]},
        {"last_user": "2^61 - 1", "responses": ["I test it with Python.\n" + json.dumps(
            {"name": "python", "arguments": {"code": "n = 2**61 - 1\nprint(pow(3, n - 1, n) == 1)"}})]},
        {"context": ["x = [2, 3]"], "responses": ["The roots are 2 and 3, so their sum is 5."]},
        {"last_user": "x^2 - 5x + 6", "responses": [json.dumps(
            {"name": "math", "arguments": {"operation": "solve", "expression": "x^2 - 5*x + 6 = 0"}})]},
    ]
    cfg = _example("tool_traces", sandbox_backend, 2, k=2)
    cfg.llms = {}
    data = cfg.model_dump()
    data["llms"] = {
        "policy": {"backend": "scripted_policy_for_tests", "options": {"rules": policy_rules}},
        "judge": {"backend": "scripted_policy_for_tests",
                  "options": {"default": '{"uses_tool_outputs": 1, "answers_question": 1, "reason": "ok"}'}},
    }
    scripted = PipelineConfig.model_validate(data)
    scripted._base_dir = cfg._base_dir  # the example's relative corpus and files paths
    summary = run_pipeline(scripted, runs_dir=tmp_path, progress=False, registry=registry)
    assert summary.stages["traces"] == 4 and summary.stages["executed"] == 4 and summary.stages["calls"] == 4
    assert summary.counts["passed_candidates"] == 4 and summary.counts["sft_rows"] == 2
    rows = _jsonl(summary.exports["sft"])
    row = next(r for r in rows if "2^61" in r["messages"][0]["content"])
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "tool", "assistant"]
    call = row["messages"][1]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "python"
    assert json.loads(call["function"]["arguments"]) == {"code": "n = 2**61 - 1\nprint(pow(3, n - 1, n) == 1)"}
    assert row["messages"][2] == {"role": "tool", "content": "True\n", "tool_call_id": "call_0_0"}
    assert [t["function"]["name"] for t in json.loads(row["tools"])] == ["python"]

    from trainers.sft_config import SFTTrainConfig
    from trainers.sft_trainer import build_sft_trainer

    trainer = build_sft_trainer(SFTTrainConfig(
        model=tiny_model, dataset=summary.exports["sft"], output_dir=tmp_path / "sft", max_steps=1,
        per_device_train_batch_size=2, logging_steps=1, learning_rate=1e-3, warmup_ratio=0.0))
    batch = next(iter(trainer.get_train_dataloader()))
    tokenizer = trainer.processing_class
    for ids, labels in zip(batch["input_ids"], batch["labels"]):
        text = tokenizer.decode(ids[ids != tokenizer.pad_token_id].tolist())
        assert "Environment: ipython" in text and '"name": "' in text  # the tools column was rendered
        assert "<|start_header_id|>ipython<|end_header_id|>" in text  # the tool turn
        trained = tokenizer.decode(ids[labels != -100].tolist())
        assert "<|python_tag|>" in trained and "Environment" not in trained  # calls and answers are learned
    result = trainer.train()
    assert result.global_step == 1 and result.training_loss > 0
