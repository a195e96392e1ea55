"""Code backtranslation with a scripted policy, the real verifiers and the real sandbox."""

from __future__ import annotations

import json

from generators.code._common import CodeItem
from generators.code.backtranslation import BacktranslationConfig, CodeBacktranslationGenerator
from synthgen.config import SelectionConfig
from synthgen.export import dpo_rows, sft_rows
from synthgen.selection import select
from tests.generators.conftest import EXAMPLES
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig

GCD = CodeItem.model_validate(json.loads((EXAMPLES / "data/code/functions.jsonl").read_text().splitlines()[0]))

GOOD_DOC = ("gcd(a, b) returns the greatest common divisor of two non-negative integers using Euclid's "
            "algorithm: repeatedly replace (a, b) by (b, a mod b) until b is zero, then return a.")
VAGUE_DOC = "It returns a number computed from two numbers."
LEAKY_DOC = "Here is the code:\n```python\ndef gcd(a, b):\n    return a\n```"
RIGHT = "```python\ndef gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n```"
WRONG = "```python\ndef gcd(a, b):\n    return min(a, b)\n```"


def policy(docs, *judge_rules):
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=[
        *judge_rules,
        {"last_user": "Write documentation", "responses": docs},
        {"last_user": "Euclid", "responses": [RIGHT]},
        {"last_user": "computed from two numbers", "responses": [WRONG]},
        {"last_user": "documentation describes", "responses": ["no code, sorry"]},
    ]))


async def test_docs_whose_regenerated_code_passes_the_original_tests_are_kept(make_context):
    model = policy([GOOD_DOC, VAGUE_DOC, LEAKY_DOC, ""])
    gen = CodeBacktranslationGenerator(BacktranslationConfig(k=4))
    (record,) = await gen.generate(GCD, make_context(model, generator=gen, item_id="gcd"))
    good, vague, leaky, empty = record.candidates
    assert good.passed and good.scores["self_verification"] == 1.0
    assert not vague.passed and vague.scores["self_verification"] < 0.8
    assert "prose only" in leaky.verdicts[-1].feedback and "empty" in empty.verdicts[-1].feedback
    assert record.metadata["stages"] == {"generated": 4, "documented": 2, "regenerated": 2, "parsed": 2,
                                         "compiled": 2, "passed": 1, "judged": 0, "kept": 1}
    # the regeneration is a fresh conversation: it sees the docs, never the original code
    regen_prompts = [p for p, _ in model.calls if "documentation describes" in p[-1]["content"]]
    assert len(regen_prompts) == 2
    assert all("a % b" not in m["content"] for p in regen_prompts for m in p)
    assert good.metadata["regeneration"]["code"].startswith("def gcd")
    assert any(v["verifier"] == "code_exec" and v["passed"] for v in good.metadata["regeneration"]["verdicts"])
    # training data: the documentation turn; DPO: good docs vs failed docs
    select(record, SelectionConfig(pairs="passed_vs_failed"))
    assert sft_rows([record])[0]["messages"][-1] == {"role": "assistant", "content": GOOD_DOC}
    assert dpo_rows([record])[0]["chosen"][0]["content"] == GOOD_DOC
    assert record.provenance.generator == "code_backtranslation" and record.provenance.parents == ["gcd"]


async def test_keep_top_fraction_limits_what_is_kept(make_context):
    model = policy([GOOD_DOC, GOOD_DOC + " ", GOOD_DOC + "  ", VAGUE_DOC])
    gen = CodeBacktranslationGenerator(BacktranslationConfig(k=4, keep_top_fraction=0.5))
    (record,) = await gen.generate(GCD, make_context(model, generator=gen, item_id="gcd"))
    assert sum(c.passed for c in record.candidates) == 2
    assert record.metadata["stages"]["passed"] == 3 and record.metadata["stages"]["kept"] == 2
    dropped = [c for c in record.candidates if c.scores["self_verification"] == 1.0 and not c.passed]
    assert len(dropped) == 1 and "top 50%" in dropped[0].verdicts[-1].feedback


async def test_a_regeneration_without_code_is_a_failed_stage(make_context):
    model = policy(["The function computes things for its inputs in an unspecified but careful way."])
    gen = CodeBacktranslationGenerator(BacktranslationConfig(k=1))
    (record,) = await gen.generate(GCD, make_context(model, generator=gen, item_id="gcd"))
    (cand,) = record.candidates
    assert not cand.passed and "regeneration failed" in cand.verdicts[-1].feedback
    assert record.metadata["stages"]["documented"] == 1 and record.metadata["stages"]["regenerated"] == 0


FAITHFULNESS = ("llm_judge", {"role": "policy", "rubric": "custom", "threshold": 0.0,
                              "instructions": "Does the response code do exactly what the reference code does?",
                              "criteria": {"faithful": "1 if the response behaves like the reference, else 0"}})


async def test_the_judge_score_joins_the_test_score(make_context):
    judge = {"last_user": "Does the response code do exactly", "responses": ['{"faithful": 0.6, "reason": "close"}']}
    model = policy([GOOD_DOC, VAGUE_DOC], judge)
    gen = CodeBacktranslationGenerator(BacktranslationConfig(k=2, exec_weight=0.5, judge_weight=0.5, threshold=0.75))
    ctx = make_context(model, ("static", "code_exec", FAITHFULNESS), generator=gen, item_id="gcd")
    (record,) = await gen.generate(GCD, ctx)
    good, vague = record.candidates
    assert good.passed and good.scores["self_verification"] == 0.8  # 0.5 * tests 1.0 + 0.5 * judge 0.6
    assert vague.scores["self_verification"] == 0.0 and not vague.passed
    assert record.metadata["stages"]["judged"] == 1  # failing tests spare the judge call
    # the judge saw the original as the reference and the regenerated code as the response
    judge_prompts = [p for p, _ in model.calls if "Does the response code do exactly" in p[-1]["content"]]
    assert len(judge_prompts) == 1 and all("a % b" in p[-1]["content"] for p in judge_prompts)
    verdicts = {v["verifier"]: v for v in good.metadata["regeneration"]["verdicts"]}
    assert verdicts["llm_judge"]["score"] == 0.6 and verdicts["code_exec"]["passed"]


async def test_a_low_judge_score_keeps_a_passing_regeneration_out(make_context):
    judge = {"last_user": "Does the response code do exactly", "responses": ['{"faithful": 0, "reason": "differs"}']}
    gen = CodeBacktranslationGenerator(BacktranslationConfig(k=1, threshold=0.8))
    ctx = make_context(policy([GOOD_DOC], judge), ("static", "code_exec", FAITHFULNESS), generator=gen, item_id="g")
    (record,) = await gen.generate(GCD, ctx)
    (cand,) = record.candidates
    assert not cand.passed and abs(cand.scores["self_verification"] - 0.7) < 1e-9
    assert "below the threshold" in cand.verdicts[-1].feedback
