"""tool_traces with a scripted policy on the real sandbox, search index and math engine: each trace shape,
and each way a trace ends early, recorded with its reason."""

from __future__ import annotations

import base64
import json
from typing import ClassVar

import pytest

from generators.tools.traces import ToolTracesConfig, ToolTracesGenerator
from synthgen.plugins import Tool, ToolResult
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig
from tests.tools.conftest import TOOLS_DATA
from tools import Toolbox

SEARCH = {"name": "search", "options": {"corpus": str(TOOLS_DATA / "corpus.jsonl"), "top_k": 1}}
PYTHON = {"name": "python", "options": {"timeout_s": 2}}


def call(name: str, **arguments) -> str:
    return json.dumps({"name": name, "arguments": arguments})


def policy(*rules) -> ScriptedPolicyForTests:
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=[dict(r) for r in rules]))


def generator(**options) -> ToolTracesGenerator:
    options.setdefault("tools", [PYTHON, SEARCH])
    options.setdefault("k", 1)
    return ToolTracesGenerator(ToolTracesConfig.model_validate(options))


async def run(gen, pol, make_context, **item):
    ctx = make_context(pol, verifiers=(), generator=gen)
    (record,) = await gen.generate(gen.Item.model_validate(item), ctx)
    return record


async def test_single_step_trace_is_executed_and_left_for_the_judge(make_context):
    pol = policy({"context": ["391"], "responses": ["17 times 23 is 391."]},
                 {"last_user": "17 * 23", "responses": ["Let me compute it.\n" + call("python", code="print(17 * 23)")]})
    record = await run(generator(shape="single", k=2), pol, make_context, prompt="What is 17 * 23?")
    assert record.metadata["stages"] == {"traces": 2, "executed": 2, "calls": 2}
    assert [t["name"] for t in record.metadata["tools"] and [s["function"] for s in record.metadata["tools"]]] == \
        ["python", "search"]
    cand = record.candidates[0]
    assistant, tool, final = cand.messages
    assert assistant["content"] == "Let me compute it." and assistant["tool_calls"][0]["function"] == \
        {"name": "python", "arguments": '{"code": "print(17 * 23)"}'}
    assert tool == {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"], "name": "python",
                    "content": "391\n"}
    assert final == {"role": "assistant", "content": "17 times 23 is 391."}
    assert not cand.verdicts  # complete: the chain's judge decides
    system = pol.calls[0][0][0]
    assert system["role"] == "system" and '"name": "search"' in system["content"]


async def test_multi_step_trace_interleaves_reasoning_and_calls(make_context):
    pol = policy(
        {"context": ["1,642", "502.0"], "responses": ["Lake Baikal is 1,642 m deep, about 502 m more than 1,140 m."]},
        {"context": ["1,642"], "responses": ["Baikal is 1,642 m deep. Now the difference.\n"
                                             + call("python", code="print(1642 - 1140.0)")]},
        {"last_user": "Baikal", "responses": ["First I look up the depth.\n" + call("search", query="Lake Baikal depth")]},
    )
    record = await run(generator(shape="multi", max_steps=4), pol, make_context,
                       prompt="How much deeper is Lake Baikal than 1,140 m?")
    cand = record.candidates[0]
    assert record.metadata["stages"]["executed"] == 1 and cand.metadata["calls"] == 2
    roles = [m["role"] for m in cand.messages]
    assert roles == ["assistant", "tool", "assistant", "tool", "assistant"]
    assert "Lake Baikal" in cand.messages[1]["content"] and cand.messages[3]["content"].strip() == "502.0"


PNG_CODE = """import struct, zlib, csv
rows = list(csv.DictReader(open('sales.csv')))
north = [int(r['units']) for r in rows if r['region'] == 'north']
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
w, h = len(north), max(north) // 10
raw = b''.join(b'\\x00' + bytes(0 if h - y <= v // 10 else 255 for v in north) for y in range(h))
png = b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))
png += chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
open('north_units.png', 'wb').write(png)
print(len(north), 'months, peak', max(north))"""


async def test_file_upload_plot_lands_in_the_kernel_and_the_plot_comes_back_as_an_artifact(make_context):
    pol = policy(
        {"last_user": "Write the user's message", "responses": ["Please plot the north region's monthly units."]},
        {"context": ["peak 170"], "responses": ["The chart is in north_units.png: units rose to a peak of 170 in May."]},
        {"last_user": "plot", "responses": ["I read the CSV and draw the chart.\n" + call("python", code=PNG_CODE)]},
    )
    record = await run(generator(files_root=str(TOOLS_DATA / "files")), pol, make_context,
                       file_paths=["sales.csv"], task="plot")
    assert record.metadata["shape"] == "file" and record.metadata["files"] == ["sales.csv"]
    assert record.messages == [{"role": "user", "content": "Please plot the north region's monthly units."}]
    assert "month,region,units,price" in pol.calls[0][0][0]["content"]  # the policy saw the file's start
    cand = record.candidates[0]
    assert record.metadata["stages"]["executed"] == 1, cand.metadata
    png = base64.b64decode(cand.metadata["artifacts"]["north_units.png"])
    assert png.startswith(b"\x89PNG") and "sales.csv" in pol.calls[1][0][0]["content"]


async def test_policy_writes_the_prompt_from_a_topic(make_context):
    pol = policy({"last_user": "Topic: geography", "responses": ["How long is the Danube?"]},
                 {"context": ["2,850"], "responses": ["The Danube is 2,850 km long."]},
                 {"last_user": "Danube", "responses": [call("search", query="Danube length")]})
    record = await run(generator(), pol, make_context, topic="geography")
    assert record.metadata["stages"]["prompts_written"] == 1 and record.metadata["stages"]["executed"] == 1
    assert record.messages[-1]["content"] == "How long is the Danube?"
    assert "python, search" in record.metadata["prompt_generation"]["messages"][0]["content"]


class RaisingToolForTests(Tool):
    name = "broken"
    parameters: ClassVar[dict] = {"type": "object", "properties": {}}

    async def call(self, arguments, ctx) -> ToolResult:
        raise RuntimeError("bug in the tool")


FAILURES = [
    ("unknown_tool", {}, [call("weather", city="Paris")]),
    ("bad_arguments", {}, [call("python", source="print(1)")]),
    ("malformed_call", {}, ['<|python_tag|>{"name": "python", "arguments": {"code": "print(1)"']),
    ("call_failed", {}, [call("python", code="1/0")]),
    ("tool_timeout", {}, [call("python", code="while True: pass")]),
    ("tool_output_flood", {}, [call("python", code="print('x' * 10**7)")]),
    ("too_few_calls", {"shape": "multi"}, ["I just know: 42."]),
    ("no_final_answer", {"max_steps": 1}, [call("python", code="print(1)")]),
    ("truncated_answer", {"max_tokens": 3}, ["x"]),
]


@pytest.mark.parametrize("reason, options, responses", FAILURES, ids=[f[0] for f in FAILURES])
async def test_each_failure_ends_the_trace_with_its_reason(make_context, reason, options, responses):
    pol = policy({"last_user": "Question", "responses": responses})
    if reason == "truncated_answer":
        pol.config.rules[0].responses = ["x"]
        original = pol.generate

        async def truncated(prompts, params):
            out = await original(prompts, params)
            for row in out:
                for completion in row:
                    completion.finish_reason = "length"
            return out

        pol.generate = truncated
    record = await run(generator(**options), pol, make_context, prompt="Question: what is six times seven?")
    cand = record.candidates[0]
    assert cand.metadata["dropped"] == reason, cand.metadata
    assert record.metadata["stages"][f"dropped:{reason}"] == 1 and record.metadata["stages"]["executed"] == 0
    verdict = cand.verdict("tool_trace")
    assert verdict is not None and not verdict.passed and verdict.details["reason"] == reason


async def test_loops_too_many_calls_raising_tools_and_a_down_search_provider(make_context, monkeypatch):
    from tests.fixtures.processes import free_port

    same = call("python", code="print(1)")
    loop = await run(generator(shape="multi", max_steps=5), policy({"last_user": "Q", "responses": [same]}), make_context, prompt="Q?")
    assert loop.candidates[0].metadata["dropped"] == "repeated_call"

    twice = policy({"context": ["1\n"], "responses": [call("python", code="print(2)")]},
                   {"last_user": "Q", "responses": [same]})
    assert (await run(generator(shape="single"), twice, make_context, prompt="Q?")).candidates[0].metadata[
        "dropped"] == "too_many_calls"

    gen = generator()
    gen.toolbox = Toolbox([RaisingToolForTests()])
    raised = await run(gen, policy({"last_user": "Q", "responses": [call("broken")]}), make_context, prompt="Q?")
    assert raised.candidates[0].metadata["dropped"] == "tool_raised"
    assert "bug in the tool" in raised.candidates[0].metadata["error"]

    monkeypatch.setenv("SEARCH_KEY_FOR_TESTS", "k")
    down = generator(tools=[{"name": "search", "options": {
        "provider": "http", "url": f"http://127.0.0.1:{free_port()}/s", "api_key_env": "SEARCH_KEY_FOR_TESTS",
        "retries": 1, "backoff_s": 0.01}}])
    rec = await run(down, policy({"last_user": "Q", "responses": [call("search", query="x")]}), make_context,
                    prompt="Q?")
    assert rec.candidates[0].metadata["dropped"] == "tool_unavailable"
    assert rec.candidates[0].metadata["call_log"][0]["reason"] == "tool_unavailable"


async def test_an_unusable_policy_prompt_is_counted_not_crashed(make_context):
    record = await run(generator(), policy({"last_user": "Topic", "responses": ["ok"]}), make_context, topic="x")
    assert record.metadata["dropped"] == "prompt_unusable" and not record.candidates
    assert record.metadata["stages"]["dropped:prompt_unusable"] == 1
