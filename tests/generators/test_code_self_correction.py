"""The execution-feedback loop with a scripted policy, the real verifiers and the real sandbox."""

from __future__ import annotations

import pytest

from generators.code._checks import failure_feedback
from generators.code._common import clip
from generators.code.self_correction import CodeSelfCorrectionGenerator, SelfCorrectionConfig, SnippetItem
from synthgen.config import SelectionConfig
from synthgen.export import dpo_rows, sft_rows
from synthgen.selection import select
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig

PROBLEM = ("Problem: write a Python function add(a, b) that returns the sum of the integers a and b. "
           "Example: add(2, 3) == 5.")
RIGHT = "```python\ndef add(a, b):\n    # the sum of both arguments\n    return a + b\n```"
WRONG = "```python\ndef add(a, b):\n    return a - b\n```"
SYNTAX_ERROR = "```python\ndef add(a, b)\n    return a + b\n```"
UNDEFINED_NAME = "```python\ndef add(a, b):\n    return a + c\n```"
GOOD_TESTS = "```python\nassert add(2, 3) == 5\nassert add(-1, 1) == 0\n```"
WRONG_TESTS = "```python\nassert add(2, 3) == 6\nassert add(0, 0) == 0\n```"
FIXED_TESTS = "Fix: tests\nThe expected value was wrong.\n```python\nassert add(2, 3) == 5\nassert add(0, 0) == 0\n```"
FIX_SOLUTION = "Fix: solution\n" + RIGHT
SNIPPET = SnippetItem(id="snip", snippet="def plus(x, y):\n    return x + y\n", snippet_language="python")


def rules(solutions, *, tests=GOOD_TESTS, fixes=()):
    """Problem -> solutions (sample i gets solutions[i]) -> tests -> fixes matched on the dialog's content."""
    return [{"last_user": "Write a new, self-contained programming problem", "responses": [PROBLEM]},
            {"last_user": "Now write unit tests", "responses": [tests]},
            *fixes,
            {"last_user": "Solve this problem", "responses": list(solutions)}]


def policy(rule_list):
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=rule_list))


async def generate(make_context, rule_list, **options):
    gen = CodeSelfCorrectionGenerator(SelfCorrectionConfig(**{"k": 1, "max_rounds": 2, **options}))
    model = policy(rule_list)
    records = await gen.generate(SNIPPET, make_context(model, generator=gen, item_id="snip"))
    assert len(records) == len(gen.languages)
    return records[0], model


def dialogs(record):
    return [c for c in record.candidates if c.metadata["kind"] == "dialog"]


async def test_a_faulty_solution_gets_the_real_feedback_and_is_fixed(make_context):
    fixes = [{"last_user": "The checks failed", "context": ["return a - b"], "responses": [FIX_SOLUTION]}]
    record, model = await generate(make_context, rules([WRONG], fixes=fixes))
    (dialog,) = dialogs(record)
    roles = [m["role"] for m in dialog.messages]
    assert roles == ["assistant", "user", "assistant", "user", "assistant"]  # solution, tests, feedback, fix
    assert dialog.passed and dialog.metadata["corrected_after"] == 1 and dialog.metadata["fixes"] == ["solution"]
    faulty = record.candidate(record.pairs[0].rejected)
    fixed = record.candidate(record.pairs[0].chosen)
    # the feedback turn carries the verifier's own words about the faulty run (the failing assert)
    feedback = clip(failure_feedback(faulty.verdicts), 2000)
    assert feedback and "assert add(2, 3) == 5" in feedback
    assert feedback in dialog.messages[3]["content"]
    fix_prompt = model.calls[-1][0]
    assert fix_prompt[-1]["content"] == dialog.messages[3]["content"]
    assert "return a - b" in "".join(m["content"] for m in fix_prompt)  # it saw its faulty solution
    # DPO: faulty first solution rejected, fixed solution chosen, single assistant turns
    assert not faulty.passed and fixed.passed
    assert "a - b" in faulty.text and "a + b" in fixed.text
    stages = record.metadata["stages"]
    assert stages["passed"] == 1 and stages["corrected_after_1"] == 1 and stages["passed_first_try"] == 0
    assert stages["solution_corrected"] == 1


async def test_a_wrong_test_is_fixed_instead_of_the_solution(make_context):
    fixes = [{"last_user": "The checks failed", "context": ["assert add(2, 3) == 6"], "responses": [FIXED_TESTS]}]
    record, _ = await generate(make_context, rules([RIGHT], tests=WRONG_TESTS, fixes=fixes))
    (dialog,) = dialogs(record)
    assert dialog.passed and dialog.metadata["fixes"] == ["tests"]
    assert dialog.metadata["tests"].startswith("assert add(2, 3) == 5")
    assert "AssertionError" in dialog.messages[3]["content"] or "assert add(2, 3) == 6" in dialog.messages[3]["content"]
    assert record.pairs == []  # the solution never changed: no faulty/fixed code pair
    assert record.metadata["stages"]["solution_corrected"] == 0


async def test_the_loop_stops_at_the_round_limit(make_context):
    never = [{"last_user": "The checks failed", "responses": [FIX_SOLUTION.replace("a + b", "a * b")]}]
    record, model = await generate(make_context, rules([WRONG], fixes=never), max_rounds=2)
    (dialog,) = dialogs(record)
    feedback_turns = [m for m in dialog.messages if m["role"] == "user" and m["content"].startswith("The checks")]
    assert len(feedback_turns) == 2 and dialog.metadata["rounds"] == 2
    assert not dialog.passed and dialog.metadata["corrected_after"] is None
    assert record.metadata["stages"]["unresolved"] == 1 and record.metadata["stages"]["correction_turns"] == 2
    assert len(model.calls) == 1 + 1 + 1 + 2  # problem, solution, tests, two fixes


async def test_static_failures_are_fed_back_before_any_test_runs(make_context):
    fixes = [{"last_user": "The checks failed", "responses": [RIGHT]}]
    record, _ = await generate(make_context, rules([SYNTAX_ERROR, UNDEFINED_NAME], fixes=fixes), k=2)
    for dialog in dialogs(record):
        assert dialog.passed and dialog.metadata["corrected_after"] == 1
        # the first feedback came from the static checks, before tests were requested
        assert dialog.messages[1]["content"].startswith("The checks failed")
        assert "Now write unit tests" in dialog.messages[3]["content"]
    assert record.metadata["stages"]["parsed"] == 0 and record.metadata["stages"]["passed"] == 2


async def test_malformed_output_is_a_failed_stage_never_a_crash(make_context):
    garbage = ["", "no code here at all", "```rust\nfn add() {}\n```", "\x00\x01```python\n\n```"]
    record, _ = await generate(make_context, rules(garbage), k=4, max_rounds=1)
    assert len(dialogs(record)) == 4 and not any(c.passed for c in record.candidates)
    stages = record.metadata["stages"]
    assert stages["generated"] == 4 and stages["extracted"] == 0 and stages["unresolved"] == 4
    assert all(c.verdicts and c.verdicts[-1].feedback for c in dialogs(record))


async def test_a_garbage_problem_gives_an_empty_record_with_its_reason(make_context):
    record, model = await generate(make_context, [{"last_user": "programming problem", "responses": ["  ok "]}])
    assert record.candidates == [] and "problem statement" in record.metadata["problem_error"]
    assert record.metadata["stages"]["problems"] == 0 and len(model.calls) == 1


async def test_only_passing_dialogs_are_exported_and_pairs_are_faulty_vs_fixed(make_context):
    fixes = [{"last_user": "The checks failed", "context": ["return a - b"], "responses": [FIX_SOLUTION]},
             {"last_user": "The checks failed", "responses": ["still nothing"]}]
    record, _ = await generate(make_context, rules([RIGHT, WRONG, "no code"], fixes=fixes), k=3)
    select(record, SelectionConfig(keep_top_k=3))
    kinds = {c.id: c.metadata["kind"] for c in record.candidates}
    passing = [c for c in dialogs(record) if c.passed]
    assert len(passing) == 2 and record.metadata["stages"]["passed_first_try"] == 1
    assert all(kinds[cid] == "dialog" for cid in record.selected[:2])
    assert [(kinds[p.chosen], kinds[p.rejected]) for p in record.pairs] == [("dpo_fixed", "dpo_faulty")]
    rows = list(dpo_rows([record]))
    assert len(rows) == 1 and rows[0]["prompt"] == record.messages
    assert "a + b" in rows[0]["chosen"][0]["content"] and "a - b" in rows[0]["rejected"][0]["content"]
    sft = list(sft_rows([record]))
    assert sft and all(r["messages"][: len(record.messages)] == record.messages for r in sft)


async def test_without_a_fixed_sample_the_pair_is_passing_vs_failed_single_turns(make_context):
    fixes = [{"last_user": "The checks failed", "responses": ["still no code"]}]
    record, _ = await generate(make_context, rules([RIGHT, "garbage reply"], fixes=fixes), k=2, max_rounds=1)
    (pair,) = record.pairs
    chosen, rejected = record.candidate(pair.chosen), record.candidate(pair.rejected)
    assert chosen.passed and not rejected.passed
    assert chosen.messages == [{"role": "assistant", "content": RIGHT}]
    assert rejected.messages == [{"role": "assistant", "content": "garbage reply"}]
    assert record.ranking == [pair.chosen, pair.rejected]
    select(record, SelectionConfig())
    assert record.pairs == [pair]  # the selection stage keeps the generator's pairs


async def test_provenance_is_complete(make_context):
    record, _ = await generate(make_context, rules([RIGHT]), system_prompt="Answer tersely.")
    assert record.messages[0] == {"role": "system", "content": "Answer tersely."}
    prov = record.provenance
    assert prov.generator == "code_self_correction" and prov.generator_version
    assert prov.models == {"policy": "scripted-policy-for-tests"} and prov.parents == ["snip"]
    assert prov.sampling["n"] == 1 and prov.seed is not None and prov.run == "test"
    assert isinstance(prov.sampling["seed"], int)  # the sampling seed actually used, not just the item seed
    gen_meta = record.metadata["problem_generation"]
    assert gen_meta["messages"][-1]["content"] == PROBLEM and gen_meta["sampling"]["temperature"] == 0.9
    for cand in record.candidates:
        assert cand.provenance is not None and cand.provenance.parents == [record.id]
        assert cand.verdicts
    (dialog,) = dialogs(record)
    later_turns = sum(m["role"] == "assistant" for m in dialog.messages) - 1
    assert len(dialog.metadata["turn_sampling"]) == later_turns == 1  # the tests turn
    assert dialog.metadata["turn_sampling"][0]["temperature"] == 0.4


@pytest.mark.parametrize("language", ["javascript"])
async def test_another_language_runs_through_the_same_loop(make_context, require_languages, language):
    require_languages(language)
    js = "```javascript\n// sum of two numbers\nfunction add(a, b) {\n  return a + b;\n}\n```"
    js_tests = ("```javascript\nconst assert = require('assert');\nassert.strictEqual(add(2, 3), 5);\n"
                "assert.strictEqual(add(-1, 1), 0);\n```")
    record, _ = await generate(make_context, rules([js], tests=js_tests), languages=[language])
    (dialog,) = dialogs(record)
    assert record.metadata["language"] == "javascript"
    assert dialog.passed, dialog.verdicts
