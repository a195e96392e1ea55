import asyncio
import json

import pytest

from synthgen.records import Record
from tests.verifiers.conftest import FIXTURES, make_pair
from verifiers.tool_call import ToolCallConfig, ToolCallVerifier, find_tool_calls
from verifiers.tool_call_parse import python_calls

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
        }}}},
    {"type": "function", "function": {
        "name": "book_flight",
        "parameters": {"type": "object", "required": ["origin", "destination", "passenger"], "properties": {
            "origin": {"type": "string"}, "destination": {"type": "string"},
            "passenger": {"type": "object", "required": ["name", "age"], "properties": {
                "name": {"type": "string"}, "age": {"type": "integer"}}},
            "seats": {"type": "array", "items": {"type": "string"}},
        }}}},
]


def call(name, args, as_string=True):
    return {"id": "c", "type": "function",
            "function": {"name": name, "arguments": json.dumps(args) if as_string else args}}


def verdict_of(calls=None, content="", expected=None, **cfg):
    meta = {"tools": TOOLS}
    if expected is not None:
        meta["expected_tool_calls"] = expected
    record, cand = make_pair(content, metadata=meta, tool_calls=calls)
    return asyncio.run(ToolCallVerifier(ToolCallConfig(**cfg)).verify(record, cand, None))


GOOD = [
    [call("get_weather", {"city": "Paris"})],
    [call("get_weather", {"city": "Paris", "unit": "fahrenheit", "days": 3}, as_string=False)],
    [call("book_flight", {"origin": "SFO", "destination": "JFK", "passenger": {"name": "Ann", "age": 31},
                          "seats": ["12A"]})],
    [call("get_weather", {"city": "Paris"}), call("get_weather", {"city": "Rome"})],  # parallel
]

BAD = [
    ([call("get_weather", {"city": 42})], "city: 42 is not of type 'string'"),
    ([call("get_weather", {})], "'city' is a required property"),
    ([call("get_weather", {"city": "Paris", "unit": "kelvin"})], "'kelvin' is not one of"),
    ([call("get_weather", {"city": "Paris", "days": "3"})], "days: '3' is not of type 'integer'"),
    ([call("get_weather", {"city": "Paris", "days": 9})], "days: 9 is greater than the maximum"),
    ([call("get_weather", {"city": "Paris", "country": "FR"})], "unknown parameter(s) 'country'"),
    ([call("get_time", {"zone": "UTC"})], "unknown function"),
    ([{"type": "function", "function": {"name": "get_weather", "arguments": "{city: Paris"}}], "not valid JSON"),
    ([call("get_weather", ["Paris"])], "must be a JSON object"),
    ([call("book_flight", {"origin": "SFO", "destination": "JFK", "passenger": {"name": "Ann"}})],
     "passenger: 'age' is a required property"),
    ([call("book_flight", {"origin": "SFO", "destination": "JFK",
                           "passenger": {"name": "Ann", "age": "31"}})], "passenger/age: '31' is not of type"),
    ([call("book_flight", {"origin": "SFO", "destination": "JFK", "passenger": {"name": "A", "age": 3},
                           "seats": [12]})], "seats/0: 12 is not of type 'string'"),
    ([call("get_weather", {"city": "Paris"}), call("get_weather", {"town": "Rome"})], "call 2 (get_weather)"),
]


@pytest.mark.parametrize("calls", GOOD)
def test_valid_calls_pass(calls):
    v = verdict_of(calls)
    assert v.passed and v.score == 1.0, v.feedback


@pytest.mark.parametrize("calls,message", BAD)
def test_invalid_calls_fail_with_actionable_feedback(calls, message):
    v = verdict_of(calls)
    assert not v.passed and message in v.feedback, v.feedback
    assert v.details["errors"]


def test_unknown_params_allowed_when_configured():
    assert verdict_of([call("get_weather", {"city": "Paris", "country": "FR"})], allow_unknown_params=True).passed


def test_no_call_fails_unless_none_expected():
    v = verdict_of(None, content="The weather is nice.")
    assert not v.passed and "no tool call found" in v.feedback and "get_weather" in v.feedback
    assert verdict_of(None, content="Hi!", expected=[]).passed
    assert not verdict_of([call("get_weather", {"city": "Paris"})], expected=[]).passed


@pytest.mark.parametrize("content", [
    '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',
    'Calling the tool:\n```json\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n```',
    '[{"name": "get_weather", "arguments": {"city": "Paris"}}]',
])
def test_calls_in_content_are_found(content):
    v = verdict_of(None, content=content, expected=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    assert v.passed, v.feedback
    assert v.details["source"] == "content"


def test_llama3_semicolon_separated_parallel_calls():
    msg = {"role": "assistant", "content": '<|python_tag|>{"name": "a", "parameters": {}}; '
                                           '{"name": "b", "parameters": {"x": 1}}'}
    calls, source = find_tool_calls(msg)
    assert [c["name"] for c in calls] == ["a", "b"] and source == "content"


EXPECTED = [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}},
            {"name": "get_weather", "arguments": {"city": "Rome", "days": 3}}]


@pytest.mark.parametrize("calls", [
    [call("get_weather", {"city": "Paris", "days": 3}), call("get_weather", {"city": "Rome", "days": 3})],
    [call("get_weather", {"city": "Rome", "days": 3}), call("get_weather", {"city": "Paris", "days": 3})],
    # the default unit filled in on one side only
    [call("get_weather", {"city": "Paris", "days": 3, "unit": "celsius"}),
     call("get_weather", {"city": "Rome ", "days": 3})],
])
def test_ground_truth_matches_semantically(calls):
    v = verdict_of(calls, expected=EXPECTED)
    assert v.passed and v.score == 1.0, v.feedback


def test_numeric_string_in_ground_truth_equals_number():
    expected = [{"name": "get_weather", "arguments": {"city": "Paris", "days": "3"}}]
    assert verdict_of([call("get_weather", {"city": "Paris", "days": 3})], expected=expected).passed
    assert not verdict_of([call("get_weather", {"city": "Paris", "days": 3})], expected=expected,
                          numeric_strings=False).passed


def test_case_folding_is_an_option():
    expected = [{"name": "get_weather", "arguments": {"city": "paris"}}]
    assert not verdict_of([call("get_weather", {"city": "Paris"})], expected=expected).passed
    assert verdict_of([call("get_weather", {"city": "Paris"})], expected=expected, case_insensitive=True).passed


@pytest.mark.parametrize("calls,message,score", [
    ([call("get_weather", {"city": "Paris", "days": 3})], "missing call get_weather", 0.5),
    ([call("get_weather", {"city": "Paris", "days": 3}), call("get_weather", {"city": "Rome", "days": 4})],
     "'days' expected 3, got 4", 0.5),
    ([call("get_weather", {"city": "Paris", "days": 3}), call("get_weather", {"city": "Rome", "days": 3}),
      call("get_weather", {"city": "Oslo", "days": 3})], "beyond the expected 2", 2 / 3),
    ([call("get_weather", {"city": "Paris", "days": 3, "unit": "fahrenheit"}),
      call("get_weather", {"city": "Rome", "days": 3})], "'unit' expected 'celsius', got 'fahrenheit'", 0.5),
])
def test_ground_truth_mismatches_fail(calls, message, score):
    v = verdict_of(calls, expected=EXPECTED)
    assert not v.passed and message in v.feedback, v.feedback
    if len(calls) == len(EXPECTED):  # a wrong argument is not also reported as an extra call
        assert "beyond" not in v.feedback
    assert v.score == pytest.approx(score)


def test_hostile_content_does_not_crash():
    for content in ["{" * 5000, '{"name": 5}', "null", '"just a string"', "[1, 2, 3]", "\x00\xff"]:
        v = verdict_of(None, content=content)
        assert not v.passed


# Forms from public function-calling suites (BFCL's Python-call text and possible answers with
# their type names, OpenAI tool_calls, Llama 3 python_tag, Hermes tags, xLAM JSON lists) and
# issue 10, written both ways; see "source" and "note" in each line.
PUBLIC = [json.loads(line) for line in (FIXTURES / "tool_calls_public_forms.jsonl").read_text().splitlines()]


def test_public_forms_cover_each_class_both_ways():
    assert len(PUBLIC) >= 80 and len({c["source"] for c in PUBLIC}) >= 6
    for cls in {c["class"] for c in PUBLIC} - {"bad_input"}:
        assert {c["passed"] for c in PUBLIC if c["class"] == cls} == {True, False}, cls


@pytest.mark.parametrize("case", PUBLIC, ids=[f"{c['class']}-{i}-{c['note']}" for i, c in enumerate(PUBLIC)])
async def test_public_form(case):
    record = Record(id="t", metadata={"tools": case["tools"], "expected_tool_calls": case["expected"]})
    cand = record.add_candidate([case["message"]])
    verdict = await ToolCallVerifier().verify(record, cand, None)
    assert verdict.passed is case["passed"], verdict.feedback
    if not verdict.passed:
        assert verdict.feedback and verdict.score < 1.0
        assert case.get("feedback_contains", "") in verdict.feedback
    else:
        assert verdict.score == 1.0


@pytest.mark.parametrize("text,expected", [
    ("f(a=1, b='x')", [("f", {"a": 1, "b": "x"}, [])]),
    ("[f(a=1), g.h(b=[1, 2.5], c={'k': None})]", [("f", {"a": 1}, []), ("g.h", {"b": [1, 2.5], "c": {"k": None}}, [])]),
    ("f(1, 'two', c=-3)", [("f", {"c": -3}, [1, "two"])]),
    ("f(a=true, b=null)", [("f", {"a": True, "b": None}, [])]),
    ("f(a=(1, 2))", [("f", {"a": [1, 2]}, [])]),
    ("x = f(a=1)", []),
    ("print('hi'); f(a=1)", [("print", {}, ["hi"]), ("f", {"a": 1}, [])]),
    ("not python at all", []),
])
def test_python_call_text(text, expected):
    calls = python_calls(text)
    assert [(c["name"], c["arguments"], c.get("positional", [])) for c in calls] == expected


def test_python_call_values_are_never_evaluated(tmp_path):
    marker = tmp_path / "ran"
    (call,) = python_calls(f"f(a=open({str(marker)!r}, 'w'))")
    assert "not a literal" in call["error"] and not marker.exists()


@pytest.mark.parametrize("schema_type,value,ok", [
    ("dict", {"a": 1}, True), ("dict", [1], False), ("float", 2, True), ("float", "2", False),
    ("tuple", [1, 2], True), ("any", "x", True), ("any", [1], True), ("list[int]", [1], True),
    ("int", 2, True), ("int", 2.0, False), ("str", "s", True), ("bool", True, True), ("bool", 1, False),
    ("array", [], True), ("String", "s", True), (["integer", "null"], None, True),
])
async def test_type_names_are_mapped(schema_type, value, ok):
    tools = [{"name": "f", "parameters": {"type": "dict", "properties": {"p": {"type": schema_type}},
                                          "required": ["p"]}}]
    record = Record(id="t", metadata={"tools": tools})
    cand = record.add_candidate([{"role": "assistant", "content": json.dumps({"name": "f", "arguments": {"p": value}})}])
    verdict = await ToolCallVerifier().verify(record, cand, None)
    assert verdict.passed is ok, verdict.feedback


@pytest.mark.parametrize("tools,expected", [
    ([{"name": "f", "parameters": {"type": "object", "properties": {"p": {"type": "tensor"}}}}], None),
    ([{"name": "f", "parameters": "not a schema"}], None),
    ([{"name": "f", "parameters": {"type": "object", "properties": {"p": {"type": 5}}}}], None),
    ([{"name": "f", "parameters": {"type": "object", "properties": {"p": {"type": "integer"}}}}], "f(p=1)"),
    ([{"name": "f", "parameters": {"type": "object", "properties": {"p": {"type": "integer"}}}}], [{"f": 1}]),
    ([{"name": "f", "parameters": {"type": "object", "properties": {"p": {"type": "integer"}}}}],
     [{"name": "f", "arguments": "{broken"}]),
    ("tools is a string", None),
])
async def test_bad_schemas_and_references_are_failed_verdicts(tools, expected):
    meta = {"tools": tools}
    if expected is not None:
        meta["expected_tool_calls"] = expected
    record = Record(id="t", metadata=meta)
    cand = record.add_candidate([{"role": "assistant", "content": "f(p=1)"}])
    verdict = await ToolCallVerifier().verify(record, cand, None)
    assert not verdict.passed and verdict.feedback


def test_dotted_names_from_openai_style_underscores():
    tools = [{"name": "math.hypot", "parameters": {"type": "object", "properties": {}}},
             {"name": "math_hypot2", "parameters": {"type": "object", "properties": {}}}]
    record = Record(id="t", metadata={"tools": tools, "expected_tool_calls": [{"name": "math.hypot", "arguments": {}}]})
    cand = record.add_candidate([{"role": "assistant", "content": '{"name": "math_hypot", "arguments": {}}'}])
    assert asyncio.run(ToolCallVerifier().verify(record, cand, None)).passed
