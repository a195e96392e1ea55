"""math_cot with the real math verifier (and the real llm_judge for step filtering), scripted policy."""

from __future__ import annotations

import asyncio

import pytest

from generators.math.cot import CotItem, MathCotConfig, MathCotGenerator
from synthgen.context import RunContext, TimedLLM, Timers
from synthgen.errors import ConfigError
from synthgen.registry import Registry
from synthgen.verify_chain import VerifierChain
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig

MATH = ("math", {"isolation": "thread"})


def policy(*rules, default="I cannot help with that."):
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=list(rules), default=default))


def context(roles: dict, verifiers=(MATH,)):
    timers, registry = Timers(), Registry()
    chain = VerifierChain([registry.create("verifier", n, o) for n, o in verifiers])
    run = RunContext(run_name="test", llm={r: TimedLLM(r, b, timers, asyncio.Semaphore(8)) for r, b in roles.items()},
                     chain=chain, timers=timers, generator_name="math_cot", generator_version="0.1")
    return run.for_item("item-1")


async def test_passage_becomes_deduplicated_problems_with_majority_references():
    passage_reply = ("Problem 1: What is 3*4?\nAnswer 1: 12\n\n"
                     "Problem 2: What is 3 times 4?\nAnswer 2: 12\n\n"  # repeats problem 1
                     "Problem 3: Why does multiplication commute?\nAnswer 3: because of how groups of things work\n\n"
                     "Problem 4: What is half of 9?\nAnswer 4: \\boxed{4.5}\n")
    p = policy({"last_user": "Read the passage", "responses": [passage_reply]},
               {"last_user": "What is 3*4?", "responses": ["Step 1: 3*4 = 12.\n\nStep 2: \\boxed{12}", "\\boxed{12}",
                                                           "\\boxed{13}"]},
               {"last_user": "half of 9", "responses": ["\\boxed{9/2}", "\\boxed{4.5}", "\\boxed{5}"]})
    gen = MathCotGenerator(MathCotConfig(k=3, problems_per_passage=4))
    records = await gen.generate(CotItem(id="p1", passage="Multiplication is repeated addition."),
                                 context({"policy": p}))
    assert [r.metadata["question"] for r in records] == ["What is 3*4?", "What is half of 9?"]
    info = records[0].metadata["passage_generation"]
    assert info["repeats"] == 1 and len(info["dropped"]) == 1
    first, second = records
    assert first.metadata["reference_source"] == "majority" and first.metadata["answer"] == "12"
    assert first.metadata["self_consistency"]["model_answer_agrees"] is True
    assert [c.passed for c in first.candidates] == [True, True, False]
    assert first.metadata["stages"] == {"problems": 1, "samples": 3, "answered": 3, "verified": 2, "kept": 2,
                                        "no_majority": 0}
    assert second.metadata["votes"][0]["count"] == 2  # 9/2 and 4.5 are one vote
    assert first.provenance.sampling["self_consistency"]["share"] == pytest.approx(2 / 3, abs=1e-3)


async def test_passage_without_parseable_problem_is_a_recorded_reason():
    p = policy({"last_user": "Read the passage", "responses": ["I like this passage a lot."]})
    records = await MathCotGenerator().generate(CotItem(id="p2", passage="Some text."), context({"policy": p}))
    assert len(records) == 1 and not records[0].candidates
    assert "no problem with a parseable answer" in records[0].metadata["problem_error"]


async def test_majority_vote_counts_equivalent_forms_as_one_answer():
    p = policy({"last_user": "half", "responses": ["\\boxed{1/2}", "The answer is 0.5", "\\boxed{\\frac12}",
                                                   "\\boxed{3}"]})
    (rec,) = await MathCotGenerator(MathCotConfig(k=4)).generate(CotItem(id="q", question="What is half of one?"),
                                                                 context({"policy": p}))
    assert rec.metadata["reference_source"] == "majority"
    assert rec.metadata["votes"][0]["count"] == 3 and rec.metadata["self_consistency"]["share"] == 0.75
    assert [c.passed for c in rec.candidates] == [True, True, True, False]


async def test_no_majority_fails_every_candidate_with_the_reason():
    p = policy({"last_user": "guess", "responses": ["\\boxed{1}", "\\boxed{2}", "\\boxed{3}", "no idea"]})
    (rec,) = await MathCotGenerator(MathCotConfig(k=4)).generate(CotItem(id="g", question="guess a number"),
                                                                 context({"policy": p}))
    assert rec.metadata["answer"] is None and rec.metadata["stages"]["no_majority"] == 1
    assert not any(c.passed for c in rec.candidates)
    assert "below the threshold" in rec.candidates[0].verdict("self_consistency").feedback


async def test_given_reference_is_used_without_voting():
    p = policy({"last_user": "7+5", "responses": ["\\boxed{12}", "\\boxed{13}", "\\boxed{13}"]})
    (rec,) = await MathCotGenerator(MathCotConfig(k=3)).generate(CotItem(question="What is 7+5?", answer=12),
                                                                 context({"policy": p}))
    assert rec.metadata["reference_source"] == "given" and "votes" not in rec.metadata
    assert [c.passed for c in rec.candidates] == [True, False, False]  # the wrong majority does not win


async def test_step_filter_drops_a_right_answer_reached_through_a_wrong_step():
    good = "Step 1: 7 * 8 = 56.\n\nStep 2: 56 + 4 = 60.\n\nStep 3: So the total is \\boxed{60}"
    bad = "Step 1: 7 * 8 = 54.\n\nStep 2: 54 + 6 = 60.\n\nStep 3: So the total is \\boxed{60}"
    p = policy({"last_user": "boxes", "responses": [good, bad]})
    judge = policy({"context": ["7 * 8 = 54"], "responses": ['{"step_correct": 0, "reason": "7*8 is 56"}']},
                   default='{"step_correct": 1, "reason": "fine"}')
    ctx = context({"policy": p, "judge": judge}, verifiers=(MATH, ("llm_judge", {"rubric": "math_step"})))
    gen = MathCotGenerator(MathCotConfig(k=2, steps={"verifier": "llm_judge"}))
    (rec,) = await gen.generate(CotItem(question="7 boxes of 8 apples and 4 more: how many?", answer="60"), ctx)
    ok, dropped = rec.candidates
    assert ok.passed and ok.scores["outcome"] == 1.0 and ok.metadata["step_scores"] == [1.0, 1.0, 1.0]
    assert not dropped.passed
    sf = dropped.verdict("step_filter")
    assert not sf.passed and sf.feedback.startswith("step 1 of 3 scored 0.000")
    assert rec.metadata["stages"]["verified"] == 2 and rec.metadata["stages"]["kept"] == 1
    # each prefix was judged once: 2 prefixes + the whole solution, per candidate
    assert len(judge.calls) == 6


async def test_step_verifier_must_be_in_the_chain():
    gen = MathCotGenerator(MathCotConfig(steps={"verifier": "reward_score"}))
    with pytest.raises(ConfigError, match="reward_score"):
        await gen.generate(CotItem(question="1+1?", answer="2"), context({"policy": policy()}))
