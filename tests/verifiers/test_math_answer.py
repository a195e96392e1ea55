import asyncio
import json
import threading

import pytest

from tests.verifiers.conftest import FIXTURES, make_pair
from verifiers.math_answer import MathConfig, MathVerifier, false_equations
from verifiers.math_extract import extract_answer

PAIRS = [json.loads(line) for line in (FIXTURES / "math_pairs.jsonl").read_text().splitlines()]
# Forms taken from public answer-equivalence suites (math-verify's tests, the PRM800K and
# Qwen2.5-Math graders, Minerva's normaliser, GSM8K) and issue 10, written both ways; see "source".
PUBLIC = [json.loads(line) for line in (FIXTURES / "math_public_forms.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier(MathConfig(timeout_s=20))
    yield v
    asyncio.run(v.close())


def test_fixture_set_is_large_and_balanced():
    assert len(PAIRS) >= 80
    assert 0.3 < sum(p["equal"] for p in PAIRS) / len(PAIRS) < 0.8


@pytest.mark.parametrize("pair", PAIRS, ids=[f"{i}-{p['note'] or p['reference']}" for i, p in enumerate(PAIRS)])
async def test_fixture_pair(verifier, ctx, pair):
    record, cand = make_pair(pair["response"], metadata={"answer": pair["reference"]})
    verdict = await verifier.verify(record, cand, ctx)
    assert verdict.passed is pair["equal"], verdict
    if not verdict.passed:
        assert verdict.feedback and verdict.score == 0.0


def test_public_forms_cover_every_class_both_ways():
    classes = {p["class"] for p in PUBLIC}
    assert len(PUBLIC) >= 150 and len({p["source"] for p in PUBLIC}) >= 5
    for cls in classes - {"fallback", "truncation"}:
        verdicts = {p["equal"] for p in PUBLIC if p["class"] == cls}
        assert verdicts == {True, False}, cls


@pytest.mark.parametrize("pair", PUBLIC, ids=[f"{p['class']}-{i}-{p['note']}" for i, p in enumerate(PUBLIC)])
async def test_public_form(verifier, ctx, pair):
    meta = {"finish_reason": pair["finish_reason"]} if "finish_reason" in pair else {}
    record, cand = make_pair(pair["response"], metadata={"answer": pair["reference"]}, candidate_metadata=meta)
    verdict = await verifier.verify(record, cand, ctx)
    assert verdict.passed is pair["equal"], verdict
    if not verdict.passed:
        assert verdict.feedback and verdict.score == 0.0


@pytest.mark.parametrize("text,expected", [
    ("so \\boxed{\\frac{a}{\\sqrt{b}}} done", "\\frac{a}{\\sqrt{b}}"),
    ("\\boxed{\\{1,2\\}}", "\\{1,2\\}"),
    ("first \\boxed{1} then \\boxed{2}", "1; 2"),
    ("\\boxed{3} and again \\boxed{ 3 }", "3"),
    ("\\boxed{3} then \\boxed{4", None),  # the last box is cut: no answer, not the earlier box
    ("It costs \\$36, so $x = 36$ dollars.", "x = 36"),
    ("Weekly: \\$5 and \\$7.", None),  # escaped dollars open no formula
    ("so \\[ y = 2x \\] holds", "y = 2x"),
    ("Profit is 9 * 2 = 18.\n#### 18", "18"),
    ("The answer is $\\frac{1}{2}$. Next", "\\frac{1}{2}"),
    ("The final answer is 3.5.", "3.5"),
    ("**Final Answer:** 17", "17"),
    ("we got 3 then -4.25 finally", None),  # no last-number fallback by default
    ("\\boxed 7", "7"),
])
def test_extraction(text, expected):
    assert extract_answer(text)[0] == expected


def test_extraction_order_is_configurable():
    text = "The answer is 5. \\boxed{6}"
    assert extract_answer(text, ["answer_is", "boxed"]) == ("5", "answer_is")
    assert extract_answer(text, ["boxed", "answer_is"]) == ("6", "boxed")
    assert extract_answer("no numbers here", ["boxed", "last_number"]) == (None, "")
    assert extract_answer("we got 3 then -4.25 finally", ["last_number"]) == ("-4.25", "last_number")
    assert extract_answer("totals 1,234,567 units", ["last_number"])[0] == "1,234,567"


async def test_last_number_fallback_only_when_configured(ctx):
    record, cand = make_pair("Adding them: 12 + 30 = 42", metadata={"answer": "42"})
    default = MathVerifier(MathConfig(isolation="thread"))
    fallback = MathVerifier(MathConfig(isolation="thread", extract_order=["boxed", "answer_is", "last_number"]))
    try:
        verdict = await default.verify(record, cand, ctx)
        assert not verdict.passed and "no final answer found" in verdict.feedback
        assert (await fallback.verify(record, cand, ctx)).passed
    finally:
        await default.close()
        await fallback.close()


async def test_truncated_response_fails_unless_allowed(ctx):
    record, cand = make_pair("so \\boxed{10}. Let me double-check by", metadata={"answer": "10"},
                             candidate_metadata={"finish_reason": "length"})
    default = MathVerifier(MathConfig(isolation="thread"))
    lenient = MathVerifier(MathConfig(isolation="thread", allow_truncated=True))
    try:
        verdict = await default.verify(record, cand, ctx)
        assert not verdict.passed and verdict.details["error"] == "truncated"
        assert "token limit" in verdict.feedback
        assert (await lenient.verify(record, cand, ctx)).passed
    finally:
        await default.close()
        await lenient.close()


async def test_several_boxes_feedback_names_the_count(verifier, ctx):
    record, cand = make_pair("maybe \\boxed{1} or \\boxed{2}", metadata={"answer": "2"})
    verdict = await verifier.verify(record, cand, ctx)
    assert not verdict.passed and verdict.details["answers"] == ["1", "2"]
    assert "2 different answers" in verdict.feedback


async def test_missing_reference_fails(verifier, ctx):
    record, cand = make_pair("\\boxed{1}", metadata={})
    verdict = await verifier.verify(record, cand, ctx)
    assert not verdict.passed and "reference" in verdict.feedback


async def test_reference_field_is_configurable(ctx):
    v = MathVerifier(MathConfig(answer_field="gold", isolation="thread"))
    try:
        record, cand = make_pair("\\boxed{4}", metadata={"gold": 4})
        assert (await v.verify(record, cand, ctx)).passed
    finally:
        await v.close()


async def test_feedback_hides_reference_unless_asked(ctx):
    record, cand = make_pair("\\boxed{5}", metadata={"answer": "7"})
    hidden = MathVerifier(MathConfig(isolation="thread"))
    shown = MathVerifier(MathConfig(isolation="thread", reveal_reference=True))
    v1, v2 = await hidden.verify(record, cand, ctx), await shown.verify(record, cand, ctx)
    assert "'5'" in v1.feedback and "7" not in v1.feedback
    assert "expected '7'" in v2.feedback
    assert v1.details["answer"] == "5" and v1.details["strategy"] == "boxed"


async def test_strict_equations_catch_false_arithmetic(ctx):
    text = "Adding the two numbers: 12 + 30 = 43. The answer is 43"
    record, cand = make_pair(text, metadata={"answer": "43"})
    lenient = MathVerifier(MathConfig(isolation="thread"))
    strict = MathVerifier(MathConfig(isolation="thread", strict_equations=True))
    assert (await lenient.verify(record, cand, ctx)).passed
    verdict = await strict.verify(record, cand, ctx)
    assert not verdict.passed
    assert "12 + 30 = 43 is false" in verdict.feedback and "42" in verdict.feedback
    record, cand = make_pair("12 + 30 = 42. The answer is 42", metadata={"answer": "42"})
    assert (await strict.verify(record, cand, ctx)).passed


@pytest.mark.parametrize("text, false", [
    ("The perimeter is 2 * (33 + 24) = 2 * 57 = 114 cm.", []),  # every link of a chain holds
    ("2 * (33 + 24) = 2 * 56 = 112", ["2 * (33 + 24) = 2 * 56"]),
    ("2 * (33 + 24) = 2 * 57 = 115", ["2 * 57 = 115"]),
    ("14 = 2 * 8", ["14 = 2 * 8"]),  # arithmetic on the right side is a claim too
    ("2+2=4. 3+3=7", ["3+3 = 7"]),  # a sentence's full stop ends the chain
    ("x = 3, 4 + 5 = 9", []),  # a comma and space separate, they are not a thousands separator
    ("x = 3, 4 + 5 = 10", ["4 + 5 = 10"]),
    ("1,000 + 2,000 = 3,000", []),
    ("1/3 = 0.33", []),  # a decimal may be rounded to its digits
    ("1/3 = 0.30", ["1/3 = 0.30"]),
    ("Total - 2 + 3 = 5", []),  # a dash in prose, not a minus sign
    ("f(3) = 9", []),  # not arithmetic
    ("so 2x = 10 and x = 5", []),
    ("60% of 600 is 600 * 60 / 100 = 360.", []),
    ("3 × 4 = 13", ["3 × 4 = 13"]),
    ("2^10 = 1024", []),
    ("12 + 30 = 43\nThe answer is 42", []),  # only the final line is checked
])
def test_false_equations(text, false):
    assert [eq["equation"] for eq in false_equations(text)] == false


async def test_hostile_expression_hits_deadline_and_pool_recovers(ctx):
    # math-verify/sympy never finish 9^(9^(9^9)); the worker process is killed at the deadline.
    v = MathVerifier(MathConfig(timeout_s=3, workers=1))
    try:
        record, cand = make_pair("\\boxed{9^{9^{9^{9}}}}", metadata={"answer": "2"})
        verdict = await v.verify(record, cand, ctx)
        assert not verdict.passed and verdict.details["error"] == "timeout"
        assert "within 3s" in verdict.feedback
        record, cand = make_pair("\\boxed{2}", metadata={"answer": "2"})
        assert (await v.verify(record, cand, ctx)).passed
    finally:
        await v.close()


def test_thread_safe_across_event_loops(verifier):
    from synthgen.context import RunContext

    results: list[bool] = []

    def worker(i: int) -> None:
        record, cand = make_pair(f"\\boxed{{{i}/2}}", metadata={"answer": str(i / 2)})
        results.append(asyncio.run(verifier.verify(record, cand, RunContext().for_item(str(i)))).passed)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 6
