"""The steerability generator: system prompts from the taxonomy or the item, checkable parts verified by
the instructions verifier, the rest by the judge; multi-turn dialogs continue from an adherent response."""

from __future__ import annotations

import asyncio

import pytest

from generators.knowledge.steerability import SteerabilityConfig, SteerabilityGenerator, SteerabilityItem
from synthgen.config import SelectionConfig
from synthgen.context import RunContext, TimedLLM, Timers
from synthgen.selection import select
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig

GOOD_JUDGE = '{"adherence": 1, "helpfulness": 1, "reason": "keeps every rule"}'
ITEM = {"id": "s1", "system_prompt": "You are a terse assistant. Do not use any commas.",
        "instructions": [{"id": "no_commas"}], "prompt": "Name three fruits."}


def _scripted(rules=None, default="x") -> ScriptedPolicyForTests:
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=rules or [], default=default))


def _run(policy, item=ITEM, judge_llm=None, **options):
    gen = SteerabilityGenerator(SteerabilityConfig(**{"k": 3, **options}))
    timers = Timers()
    judge = judge_llm or _scripted(default=GOOD_JUDGE)
    llm = {"policy": TimedLLM("policy", policy, timers, asyncio.Semaphore(8)),
           "judge": TimedLLM("judge", judge, timers, asyncio.Semaphore(8))}
    ctx = RunContext(run_name="t", llm=llm, timers=timers, generator_name=gen.name).for_item(item.get("id", "i"))
    records = asyncio.run(gen.generate(SteerabilityItem.model_validate(item), ctx))
    for r in records:
        select(r, SelectionConfig())
    return records, judge


def test_best_adherent_response_is_kept_and_paired_over_a_violation():
    policy = _scripted([{"last_user": "Name three fruits", "responses": [
        "Apples, pears, plums.", "Apples pears and plums.", "Sure, apples."]}])
    (rec,), judge = _run(policy)
    assert rec.messages[0] == {"role": "system", "content": ITEM["system_prompt"]}
    assert [c.passed for c in rec.candidates] == [False, True, False]
    assert rec.selected == [rec.candidates[1].id]
    assert rec.pairs and rec.pairs[0].chosen == rec.candidates[1].id
    failed = rec.candidates[0].verdict("instructions")
    assert "no_commas" in failed.feedback and "without any comma" in failed.feedback
    assert "Do not use any commas" in judge.calls[0][0][-1]["content"]  # the judge sees the system prompt
    assert rec.metadata["stages"]["adherent"] == 1 and rec.metadata["stages"]["instructions_failed"] == 2


def test_the_judge_decides_the_parts_no_instruction_checks():
    policy = _scripted([{"last_user": "Name three fruits", "responses": ["Apples pears and plums."]}])
    (rec,), _ = _run(policy, judge_llm=_scripted(default='{"adherence": 0, "helpfulness": 1, "reason": "not terse"}'))
    assert not any(c.passed for c in rec.candidates) and rec.selected == []
    assert rec.candidates[0].verdict("instructions").passed and not rec.candidates[0].verdict("llm_judge").passed
    (rec,), _ = _run(policy, judge_llm=_scripted(default="no JSON here"))
    assert "could not be used" in rec.candidates[0].verdict("llm_judge").feedback
    (rec,), _ = _run(policy, judge_llm=_scripted(default="nonsense"), judge=False)  # only the checks decide
    assert all(c.passed for c in rec.candidates)


def test_multi_turn_dialog_continues_from_an_adherent_response_and_stops_without_one():
    item = {**ITEM, "turns": ["Name three fruits.", "Now three vegetables.", "And three nuts."]}
    item.pop("prompt")
    policy = _scripted([
        {"last_user": "Name three fruits", "responses": ["Apples, pears.", "Apples and pears."]},
        {"last_user": "three vegetables", "responses": ["Leeks, beans, peas."]},
    ])
    records, _ = _run(policy, item=item)
    assert len(records) == 2  # turn 2 had no adherent response: the dialog stops there
    second = records[1]
    assert [m["role"] for m in second.messages] == ["system", "user", "assistant", "user"]
    assert second.messages[2]["content"] == "Apples and pears."  # the adherent answer is the history
    assert second.metadata["turn"] == 1 and second.metadata["stages"]["dialogs_stopped"] == 1


def test_taxonomy_builds_system_prompts_with_checkable_parts():
    policy = _scripted(default="ok")
    seen = set()
    for i in range(8):
        (rec,), _ = _run(policy, item={"id": f"p{i}", "prompt": "Explain tides."}, dimensions_per_prompt=3,
                         min_checkable=2)
        meta = rec.metadata
        assert len(meta["taxonomy"]) == 3 and len(meta["instructions"]) >= 2
        assert rec.messages[0]["content"] == " ".join(meta["taxonomy"].values())
        seen |= set(meta["taxonomy"])
    assert len(seen) >= 4  # dimensions vary between items


def test_custom_taxonomy_and_bad_configs():
    cfg = SteerabilityConfig(taxonomy={"style": ["Speak like a poet."],
                                       "shape": [{"instructions": [{"id": "title"}]}]}, dimensions_per_prompt=2)
    assert cfg.taxonomy["shape"][0].sentence().startswith("Give the answer a title")
    with pytest.raises(ValueError, match="unknown instruction id 'titel'"):
        SteerabilityConfig(taxonomy={"shape": [{"instructions": [{"id": "titel"}]}]})
    with pytest.raises(ValueError, match="valid integer"):
        SteerabilityConfig(taxonomy={"len": [{"instructions": [{"id": "word_count", "args": {"count": "ten"}}]}]})
    with pytest.raises(ValueError, match="exactly one of `prompt`"):
        SteerabilityItem.model_validate({"prompt": "a", "turns": ["b"]})
    with pytest.raises(ValueError, match="unknown instruction id"):
        SteerabilityItem.model_validate({"prompt": "a", "instructions": [{"id": "nope"}]})
