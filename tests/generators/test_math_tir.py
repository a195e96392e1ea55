"""math_tir on the real sandbox (PythonKernel) and the real math verifier, with a scripted policy."""

from __future__ import annotations

import json

from generators.math.solutions import MathItem
from generators.math.tir import MathTirConfig, MathTirGenerator
from synthgen.export import sft_rows
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig

MATH = [("math", {"isolation": "thread"})]
FAST = {"wall_time_s": 1.5, "cpu_time_s": 3, "output_bytes": 2048}


def policy(*rules):
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=list(rules)))


async def test_state_carries_across_blocks_and_an_error_is_repaired(make_context):
    p = policy(
        {"context": ["56089"], "responses": ["So 123*456 = 56088. \\boxed{56088}"]},
        {"context": ["ZeroDivisionError"], "responses": ["Dividing was wrong.\n```python\nprint(x + 1)\n```\n"]},
        {"context": ["56088"], "responses": ["```python\ny = x / 0\n```\n"]},
        {"last_user": "123 * 456", "responses": ["Let me compute.\n```python\nx = 123 * 456\nprint(x)\n```\n"]},
    )
    gen = MathTirGenerator(MathTirConfig(k=1, limits=FAST))
    ctx = make_context(p, MATH, generator=gen)
    (rec,) = await gen.generate(MathItem(question="What is 123 * 456?", answer="56088"), ctx)
    (cand,) = rec.candidates
    assert cand.passed, cand.verdicts
    roles = [m["role"] for m in cand.messages]
    assert roles == ["assistant", "tool", "assistant", "tool", "assistant", "tool", "assistant"]
    assert cand.messages[0]["content"] == "Let me compute."
    assert cand.messages[0]["tool_calls"][0]["function"] == {"name": "python",
                                                             "arguments": {"code": "x = 123 * 456\nprint(x)\n"}}
    assert cand.messages[1]["content"] == "56088" and cand.messages[1]["tool_call_id"] == "call_1"
    assert "ZeroDivisionError: division by zero" in cand.messages[3]["content"]
    assert cand.messages[5]["content"] == "56089"  # x from block 1 survived the failed block 2
    assert {k: cand.metadata[k] for k in ("blocks", "executions", "errors", "repaired")} == \
        {"blocks": 3, "executions": 3, "errors": 1, "repaired": True}
    assert "sandbox_seconds" not in cand.metadata and ctx.timers.seconds["sandbox:tir_kernel"] > 0  # not in records
    assert rec.metadata["stages"] == {"problems": 1, "samples": 1, "ran_code": 1, "structured": 1, "verified": 1}
    # exported the way tool calls are: arguments as a JSON string, tool turns kept
    rec.selected = [cand.id]
    (row,) = sft_rows([rec])
    call = row["messages"][2]["tool_calls"][0]["function"]
    assert json.loads(call["arguments"]) == {"code": "x = 123 * 456\nprint(x)\n"}


async def test_unrepaired_error_flood_and_hang_fail_only_their_chain(make_context):
    p = policy(
        {"context": ["Traceback", "boom"], "responses": ["\\boxed{4}"]},
        {"context": ["output limit"], "responses": ["\\boxed{4}"]},
        {"context": ["timeout"], "responses": ["\\boxed{4}"]},
        {"context": ["\n4"], "responses": ["\\boxed{4}"]},
        {"last_user": "2+2", "responses": [
            "```python\nraise RuntimeError('boom')\n```\n",
            "```python\nwhile True:\n    print('x' * 1000)\n```\n",
            "```python\nimport time\ntime.sleep(60)\n```\n",
            "```python\nprint(2 + 2)\n```\n",
        ]},
    )
    gen = MathTirGenerator(MathTirConfig(k=4, limits=FAST))
    (rec,) = await gen.generate(MathItem(question="What is 2+2?", answer="4"), make_context(p, MATH, generator=gen))
    err, flood, hang, good = rec.candidates
    for bad in (err, flood, hang):
        assert not bad.passed
        assert bad.verdict("tir").feedback == "a code block failed and no later block repaired it"
        assert bad.metadata["errors"] == 1
    assert "output limit" in flood.messages[1]["content"] and len(flood.messages[1]["content"]) <= 1600
    assert "timeout" in hang.messages[1]["content"]
    assert good.passed and good.metadata["errors"] == 0
    assert rec.metadata["stages"]["structured"] == 1 and rec.metadata["stages"]["verified"] == 1


async def test_never_closed_block_and_too_many_blocks_are_recorded(make_context):
    p = policy({"last_user": "never", "responses": ["```python\nprint(1)\n"]},
               {"last_user": "loop", "responses": ["```python\nprint(1)\n```\n"]})
    gen = MathTirGenerator(MathTirConfig(k=1, block_stop=[], max_blocks=2, limits=FAST))
    ctx = make_context(p, MATH, generator=gen)
    (rec,) = await gen.generate(MathItem(question="never closes", answer="1"), ctx)
    assert rec.candidates[0].verdict("tir").feedback == "the code block was never closed (```)"
    assert rec.candidates[0].metadata["executions"] == 0
    (rec,) = await gen.generate(MathItem(question="loop forever", answer="1"), ctx)
    assert rec.candidates[0].verdict("tir").feedback == "the model kept writing code after 2 blocks"
    assert rec.candidates[0].metadata["executions"] == 2


async def test_tool_call_json_as_a_chat_template_renders_it(make_context):
    p = policy({"context": ["42"], "responses": ["6*7=42. \\boxed{42}"]},
               {"last_user": "6*7", "responses": ['{"name": "python", "parameters": {"code": "print(6*7)"}}']})
    gen = MathTirGenerator(MathTirConfig(k=1, limits=FAST))
    (rec,) = await gen.generate(MathItem(question="What is 6*7?", answer=42), make_context(p, MATH, generator=gen))
    assert rec.candidates[0].passed
    assert rec.candidates[0].messages[1] == {"role": "tool", "tool_call_id": "call_1", "name": "python",
                                             "content": "42"}
