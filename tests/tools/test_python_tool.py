"""The python tool on the real sandbox: one kernel per trace, uploaded files, artifacts, and each way a
cell ends becoming a reason."""

from __future__ import annotations

import pytest

from tools import Toolbox, ToolContext, ToolRef, ToolSession


@pytest.fixture
def box():
    return Toolbox.from_refs([ToolRef(name="python", options={"timeout_s": 2})])


async def test_state_files_and_artifacts_carry_across_calls_of_one_session(box, tool_ctx):
    async with ToolSession(tool_ctx, {"data.csv": b"a,b\n1,2\n3,4\n"}) as session:
        tctx = ToolContext(tool_ctx, session)
        first = await box.execute("python", {"code": "rows = open('data.csv').read().split()\nprint(len(rows))"}, tctx)
        assert first.ok and first.output.strip() == "3"
        second = await box.execute(
            "python", {"code": "open('summary.csv', 'w').write('rows,' + str(len(rows)))\nprint('saved')"}, tctx)
        assert second.ok and "saved" in second.output
        assert second.artifacts == {"summary.csv": b"rows,3"}
        assert session.artifacts == {"summary.csv": b"rows,3"}
    async with ToolSession(tool_ctx) as other:  # another trace: its own kernel, nothing shared
        third = await box.execute("python", {"code": "print(rows)"}, ToolContext(tool_ctx, other))
        assert third.reason == "call_failed" and "NameError" in third.error


async def test_without_a_session_each_call_is_a_fresh_kernel(box, tool_ctx):
    outcome = await box.execute("python", {"code": "print(6 * 7)"}, tool_ctx)
    assert outcome.ok and outcome.output.strip() == "42"


@pytest.mark.parametrize("code, reason, words", [
    ("1 / 0", "call_failed", "ZeroDivisionError"),
    ("while True:\n    pass", "tool_timeout", "timeout"),
    ("print('x' * 10_000_000)", "tool_output_flood", "output limit"),
    ("import os\nos._exit(3)", "call_failed", "interpreter"),
])
async def test_failing_cells_end_with_their_reason(box, tool_ctx, code, reason, words):
    async with ToolSession(tool_ctx) as session:
        outcome = await box.execute("python", {"code": code}, ToolContext(tool_ctx, session))
    assert outcome.reason == reason and words in outcome.error


async def test_a_bad_call_never_reaches_the_sandbox(box, tool_ctx):
    async with ToolSession(tool_ctx) as session:
        missing = await box.execute("python", {}, ToolContext(tool_ctx, session))
        wrong_type = await box.execute("python", '{"code": 5}', ToolContext(tool_ctx, session))
        extra = await box.execute("python", {"code": "1", "timeout": 3}, ToolContext(tool_ctx, session))
        not_json = await box.execute("python", '{"code": "print(1)"', ToolContext(tool_ctx, session))
        assert not session.kernel_started
    assert missing.reason == wrong_type.reason == extra.reason == not_json.reason == "bad_arguments"
    assert "'code' is a required property" in missing.error and "unknown parameter(s) 'timeout'" in extra.error
    assert "not valid JSON" in not_json.error
