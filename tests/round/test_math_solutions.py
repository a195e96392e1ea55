"""The math_solutions generator with the math verifier, through the engine's runner."""

import json

import pytest

from synthgen.config import PipelineConfig
from synthgen.registry import Registry
from synthgen.runner import run_pipeline
from synthgen.store import RunStore
from tests.round.policy_for_tests import ScriptedPolicyForTests


def _pipeline(tmp_path, rows, llm, k=4, **gen):
    src = tmp_path / "items.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return PipelineConfig(
        name="math", sources=[{"path": str(src)}], llms={"policy": llm},
        generator={"name": "math_solutions", "options": {"k": k, "max_tokens": 16, **gen}},
        verifiers=[{"name": "math", "options": {"strict_equations": True, "isolation": "thread"}}],
        export=[{"format": "sft", "path": str(tmp_path / "sft.jsonl")},
                {"format": "dpo", "path": str(tmp_path / "dpo.jsonl")}],
    )


ROWS = [{"id": "p1", "question": "What is 12+30?", "answer": 42},
        {"id": "p2", "messages": [{"role": "user", "content": "What is 20+25?"}], "answer": "45"}]


def test_real_tiny_model_output_is_sampled_k_times_and_verified(tmp_path, tiny_digits_model):
    cfg = _pipeline(tmp_path, ROWS, {"backend": "transformers", "options": {"model": str(tiny_digits_model)}},
                    system_prompt="Answer with \\boxed{}.")
    run_pipeline(cfg, runs_dir=tmp_path / "runs", progress=False)
    records = {r.source_id: r for r in RunStore(tmp_path / "runs" / "math").records()}
    assert set(records) == {"p1", "p2"}
    p1, p2 = records["p1"], records["p2"]
    assert p1.metadata["answer"] == "42" and p2.metadata["answer"] == "45"
    assert [m["role"] for m in p1.messages] == ["system", "user"]  # system prompt only for `question` items
    assert [m["role"] for m in p2.messages] == ["user"]
    for rec in (p1, p2):
        assert len(rec.candidates) == 4 and rec.metadata["stages"]["samples"] == 4
        assert all(c.verdict("math") is not None for c in rec.candidates)
        # a random-weight model does not add: every sample is rejected, with a reason
        assert not any(c.passed for c in rec.candidates)
        assert all(c.verdict("math").feedback for c in rec.candidates)
        assert rec.provenance.models["policy"] == str(tiny_digits_model)
        assert rec.provenance.sampling["n"] == 4
    assert (tmp_path / "sft.jsonl").read_text() == ""


def test_verified_samples_are_selected_and_paired(tmp_path):
    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    cfg = _pipeline(tmp_path, ROWS, {"backend": "scripted_policy_for_tests", "options": {"correct_of_k": 2}})
    run_pipeline(cfg, runs_dir=tmp_path / "runs", registry=registry, progress=False)
    for rec in RunStore(tmp_path / "runs" / "math").records():
        assert [c.passed for c in rec.candidates] == [True, True, False, False]
        assert len(rec.selected) == 1 and rec.candidate(rec.selected[0]).passed
        assert rec.pairs and not rec.candidate(rec.pairs[0].rejected).passed
    sft = [json.loads(line) for line in (tmp_path / "sft.jsonl").read_text().splitlines()]
    assert sorted(r["messages"][-1]["content"] for r in sft) == ["12+30=42. \\boxed{42}", "20+25=45. \\boxed{45}"]


@pytest.mark.parametrize("row, reason", [
    ({"id": "a", "question": "What is 1+1?", "messages": [{"role": "user", "content": "x"}], "answer": 2}, "exactly one"),
    ({"id": "b", "question": "What is 1+1?"}, "answer"),
    ({"id": "c", "messages": [], "answer": 1}, "empty"),
])
def test_malformed_items_become_failed_records_with_the_reason(tmp_path, row, reason):
    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    cfg = _pipeline(tmp_path, [row], {"backend": "scripted_policy_for_tests"})
    run_pipeline(cfg, runs_dir=tmp_path / "runs", registry=registry, progress=False)
    (rec,) = RunStore(tmp_path / "runs" / "math").records()
    assert rec.status == "failed" and reason in rec.error and "math_solutions" in rec.error
