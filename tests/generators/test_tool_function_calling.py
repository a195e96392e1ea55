"""function_calling with a scripted policy on functions mined from the example source tree: single, parallel
and nested calls checked by the real tool_call verifier against references, runnable functions executed in
the real sandbox, multi-turn follow-ups, and unusable queries dropped with their reason."""

from __future__ import annotations

import json

import pytest

from generators.tools._mining import items_from_tree
from generators.tools.function_calling import FunctionCallingConfig, FunctionCallingGenerator
from synthgen.errors import ConfigError
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig
from tests.tools.conftest import TOOLS_DATA

ITEMS = {item["path"]: item for item in items_from_tree(TOOLS_DATA / "src")}


def call(name: str, **arguments) -> dict:
    return {"name": name, "arguments": arguments}


def calls_text(*calls) -> str:
    return "\n".join(json.dumps(c) for c in calls)


def policy(spec: dict, *rules) -> ScriptedPolicyForTests:
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=[
        {"last_user": "Here are the functions", "responses": [json.dumps(spec)]}, *rules]))


async def run(make_context, pol, path: str, **item_fields):
    gen = FunctionCallingGenerator(FunctionCallingConfig(k=2))
    ctx = make_context(pol, verifiers=("tool_call",), generator=gen)
    (record,) = await gen.generate(gen.Item.model_validate({**ITEMS[path], **item_fields}), ctx)
    return record


async def test_single_call_right_and_wrong_answers_with_the_result_in_the_dialog(make_context):
    spec = {"query": "What is the area of a circle of radius 2?", "calls": [call("circle_area", radius=2)]}
    pol = policy(spec,
                 {"context": ["12.57"], "responses": ["The area is about 12.57."]},
                 {"last_user": "radius 2", "responses": [calls_text(call("circle_area", radius=2.0)),
                                                        calls_text(call("circle_area", radius=3))]})
    record = await run(make_context, pol, "python/geometry.py", shape="single", multi_turn=False)
    good, bad = record.candidates
    assert good.passed and not bad.passed
    assert [m["role"] for m in good.messages] == ["assistant", "tool", "assistant"]
    assert good.messages[1]["content"] == "12.57" and good.messages[2]["content"] == "The area is about 12.57."
    assert "radius" in bad.verdict("tool_call").feedback and len(bad.messages) == 1
    assert record.metadata["stages"]["passed_step_0"] == 1 and record.metadata["stages"]["executed_calls"] == 1
    assert record.metadata["expected_tool_calls"] == [call("circle_area", radius=2)]


async def test_parallel_calls_are_matched_in_any_order_and_run_in_node(make_context, require_languages):
    require_languages("javascript")
    spec = {"query": "Convert 100 F and 300 K to Celsius.",
            "calls": [call("convertTemperature", value=100, **{"from": "F"}),
                      call("convertTemperature", value=300, **{"from": "K", "to": "C"})]}
    swapped = calls_text(call("convertTemperature", value=300, **{"from": "K"}),
                         call("convertTemperature", value=100, **{"from": "F", "to": "C"}))
    pol = policy(spec, {"context": ["37.78", "26.85"], "responses": ["100 F is 37.78 C and 300 K is 26.85 C."]},
                 {"last_user": "Convert", "responses": [swapped, calls_text(spec["calls"][0])]})
    record = await run(make_context, pol, "javascript/units.js", shape="parallel", multi_turn=False)
    both, one = record.candidates
    assert both.passed, both.verdicts
    assert [m["content"] for m in both.messages if m["role"] == "tool"] == ["26.85", "37.78"]
    assert not one.passed and "missing call" in one.verdict("tool_call").feedback


async def test_nested_call_reference_gets_the_inner_result_from_the_sandbox(make_context):
    spec = {"query": "A circle has a radius equal to the perimeter of a 1-2 segment pair. Its area?",
            "calls": [call("polygon_perimeter", sides=[1, 2]), call("circle_area", radius="$0")]}
    pol = policy(spec,
                 {"context": ["28.27"], "responses": ["The area is 28.27."]},
                 {"context": ["3.0"], "responses": [calls_text(call("circle_area", radius=3))]},
                 {"last_user": "Its area", "responses": [calls_text(call("polygon_perimeter", sides=[1, 2]))]})
    record = await run(make_context, pol, "python/geometry.py", shape="nested", multi_turn=False)
    assert record.metadata["reference_steps"][1] == [call("circle_area", radius=3.0)]
    cand = record.candidates[0]
    assert cand.passed, cand.verdicts
    assert [m["role"] for m in cand.messages] == ["assistant", "tool", "assistant", "tool", "assistant"]
    assert len(cand.verdict("tool_call").details["steps"]) == 2


async def test_nested_answer_that_skips_the_inner_call_fails(make_context):
    spec = {"query": "Area of a circle whose radius is the perimeter of sides 1 and 2?",
            "calls": [call("polygon_perimeter", sides=[1, 2]), call("circle_area", radius="$0")]}
    pol = policy(spec, {"last_user": "Area of a circle", "responses": [calls_text(call("circle_area", radius=3))]})
    record = await run(make_context, pol, "python/geometry.py", shape="nested", multi_turn=False)
    assert not any(c.passed for c in record.candidates)


async def test_multi_turn_follow_up_uses_the_previous_result(make_context):
    spec = {"query": "How many words are in 'the cat sat on the mat'?", "calls": [call("word_count",
                                                                                          text="the cat sat on the mat")],
            "follow_up": "And how long would that many words take to read slowly?",
            "follow_up_calls": [call("reading_time", words="$0", speed="slow")]}
    pol = policy(spec,
                 {"context": ["0.04"], "responses": ["About 0.04 minutes."]},
                 {"last_user": "read slowly", "responses": [calls_text(call("reading_time", words=6, speed="slow"))]},
                 {"context": ["6"], "absent": ["0.04"], "responses": ["There are 6 words."]},
                 {"last_user": "How many words", "responses": [calls_text(spec["calls"][0])]})
    record = await run(make_context, pol, "python/text_stats.py", shape="single", multi_turn=True)
    assert record.metadata["follow_up"]["calls"] == [call("reading_time", words=6, speed="slow")]
    cand = record.candidates[0]
    assert cand.passed, cand.verdicts
    assert [m["role"] for m in cand.messages] == ["assistant", "tool", "assistant", "user", "assistant", "tool",
                                                  "assistant"]


async def test_java_methods_are_checked_without_execution(make_context):
    spec = {"query": "Put 40 units of SKU A-17 in cold storage.",
            "calls": [call("Inventory_addStock", sku="A-17", quantity=40, zone="COLD")]}
    pol = policy(spec, {"last_user": "cold storage", "responses": [calls_text(spec["calls"][0]),
                                                                  calls_text(call("Inventory_addStock", sku="A-17",
                                                                                  quantity=40, zone="FROZEN"))]})
    record = await run(make_context, pol, "java/Inventory.java", shape="single", multi_turn=False)
    good, bad = record.candidates
    assert good.passed and len(good.messages) == 1 and record.metadata["stages"]["executed_calls"] == 0
    assert not bad.passed and "FROZEN" in bad.verdict("tool_call").feedback


@pytest.mark.parametrize("path, shape, spec, reason", [
    ("python/geometry.py", "single", {"query": "q", "calls": [call("nope", x=1)]}, "query_unusable"),
    ("python/geometry.py", "single", {"query": "q", "calls": [call("circle_area", radius="big")]}, "query_unusable"),
    ("python/geometry.py", "parallel", {"query": "q", "calls": [call("circle_area", radius=1)]}, "query_unusable"),
    ("java/Inventory.java", "nested", {"query": "q", "calls": [
        call("Inventory_orderPrice", unitPrice=2, quantity=3),
        call("Inventory_addStock", sku="A", quantity="$0", zone="DRY")]}, "not_runnable"),
    ("python/geometry.py", "nested", {"query": "q", "calls": [
        call("circle_area", radius=-1), call("circle_area", radius="$0")]}, "reference_failed"),
])
async def test_unusable_queries_are_dropped_with_their_reason(make_context, path, shape, spec, reason):
    record = await run(make_context, policy(spec), path, shape=shape, multi_turn=False)
    assert record.metadata["dropped"] == reason and not record.candidates
    assert record.metadata["stages"][f"dropped:{reason}"] == 1


async def test_a_pipeline_without_the_tool_call_verifier_is_refused(make_context):
    gen = FunctionCallingGenerator()
    ctx = make_context(policy({"query": "q", "calls": []}), verifiers=(), generator=gen)
    with pytest.raises(ConfigError, match="tool_call"):
        await gen.generate(gen.Item.model_validate(ITEMS["python/geometry.py"]), ctx)
