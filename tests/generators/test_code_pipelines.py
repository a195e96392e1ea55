"""The example pipelines end to end through `run_pipeline` and export: the real tiny model (which never
writes valid code: the run completes and reports it) and the scripted policy (which shows non-zero yields
reach the exported SFT and DPO files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthgen.config import PipelineConfig, load_pipeline_config
from synthgen.registry import Registry
from synthgen.runner import run_pipeline
from synthgen.store import RunStore
from tests.generators.conftest import EXAMPLES
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests

pytestmark = pytest.mark.slow


def _example(name: str, sandbox_backend: str, **generator_options) -> PipelineConfig:
    cfg = load_pipeline_config(EXAMPLES / f"{name}.yaml")
    data = cfg.model_dump()
    data["sandbox"]["backend"] = sandbox_backend
    data["sources"][0]["limit"] = 1
    data["generator"]["options"].update(generator_options)
    return PipelineConfig.model_validate(data)


def _jsonl(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name, options, first_stage", [
    ("code_translation", {"target_languages": ["javascript"], "k": 2, "max_tokens": 24}, "generated"),
    ("code_backtranslation", {"k": 2, "max_tokens": 24, "regenerate": {"max_tokens": 24}}, "generated"),
    ("code_self_correction", {"languages": ["python"], "k": 1, "max_rounds": 1, "max_tokens": 24,
                              "problem": {"max_tokens": 48}, "min_problem_chars": 1}, "problems"),
])
def test_example_pipeline_runs_on_the_tiny_model_and_reports_zero_yield(tmp_path, sandbox_backend, name, options,
                                                                        first_stage):
    cfg = _example(name, sandbox_backend, **options)
    summary = run_pipeline(cfg, runs_dir=tmp_path, progress=False)
    assert summary.counts["records"] >= 1 and summary.counts["failed_records"] == 0
    assert summary.stages[first_stage] >= 1  # the model was asked ...
    assert summary.stages.get("passed", 0) == 0 and summary.counts["sft_rows"] == 0  # ... and nothing random passed
    records = list(RunStore(summary.run_dir).records())
    assert all(c.verdicts for r in records for c in r.candidates)  # every sample carries why it failed
    assert set(summary.exports) == {"sft", "dpo"} and all(Path(p).exists() for p in summary.exports.values())
    resources = summary.timings["resources"]
    assert any(k.startswith("llm:") for k in resources)


def test_scripted_self_correction_pipeline_exports_dialogs_and_pairs(tmp_path, sandbox_backend):
    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    problem = "Problem: write a Python function add(a, b) that returns the sum of a and b. Example: add(2, 3) == 5."
    rules = [
        {"last_user": "Write a new, self-contained programming problem", "responses": [problem]},
        {"last_user": "Now write unit tests", "responses": ["```python\nassert add(2, 3) == 5\n```"]},
        {"last_user": "The checks failed", "responses": [("Fix: solution\n```python\ndef add(a, b):\n"
                                                          "    # add both\n    return a + b\n```")]},
        {"last_user": "Solve this problem", "responses": ["```python\ndef add(a, b):\n    return a - b\n```",
                                                          "```python\ndef add(a, b):\n    return b + a\n```"]},
    ]
    cfg = _example("code_self_correction", sandbox_backend, languages=["python"], k=2, max_rounds=2)
    data = cfg.model_dump()
    data["llms"] = {"policy": {"backend": "scripted_policy_for_tests", "options": {"rules": rules}}}
    summary = run_pipeline(PipelineConfig.model_validate(data), runs_dir=tmp_path, progress=False, registry=registry)
    assert summary.stages["passed"] == 2 and summary.stages["corrected_after_1"] == 1
    assert summary.stages["passed_first_try"] == 1
    sft, dpo = _jsonl(summary.exports["sft"]), _jsonl(summary.exports["dpo"])
    assert len(sft) == 1 and len(dpo) == 1
    assert "a - b" in dpo[0]["rejected"][0]["content"] and "a + b" in dpo[0]["chosen"][0]["content"]
    assert sft[0]["messages"][0]["role"] == "system" and sft[0]["messages"][-1]["role"] == "assistant"
    assert {"sandbox", "llm:policy"} <= set(summary.timings["resources"])
