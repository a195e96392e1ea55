"""The sympy math tool: results, refusal of anything but math, and the deadline outside our process."""

from __future__ import annotations

import time

import pytest

from tools.math_tool import MathTool, MathToolConfig, check_expression


@pytest.fixture(scope="module")
def math_tool():
    tool = MathTool(MathToolConfig(timeout_s=1.5))  # one worker pool for the module: start-up costs ~2 s
    yield tool
    tool._pool.close()


@pytest.mark.parametrize("arguments, expected", [
    ({"operation": "solve", "expression": "x^2 - 4 = 0"}, "x = [-2, 2]"),
    ({"operation": "solve", "expression": "2*y + 3 = 11", "variable": "y"}, "y = [4]"),
    ({"operation": "simplify", "expression": "sin(x)^2 + cos(x)^2"}, "1"),
    ({"operation": "integrate", "expression": "x^2", "lower": "0", "upper": "3"}, "9 (~ 9.00000000000000)"),
    ({"operation": "integrate", "expression": "2*x"}, "x**2 + C"),
    ({"operation": "evaluate", "expression": "sqrt(2) * pi"}, "4.44288293815837"),
    ({"operation": "factor", "expression": "x^2 - 5*x + 6"}, "(x - 3)*(x - 2)"),
])
async def test_operations(math_tool, arguments, expected):
    result = await math_tool.call(arguments, None)
    assert result.ok and result.output == expected


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch /tmp/pwned')", "x.__class__", "(lambda: 1)()", "open('f')", "[1, 2][0]",
    "'abc'", "exec('1')", "sqrt(x, evaluate=False)",
])
def test_anything_but_math_is_refused_before_sympy_sees_it(text):
    assert check_expression(text)


async def test_hostile_expression_gets_an_error_not_an_execution(math_tool, tmp_path):
    marker = tmp_path / "pwned"
    result = await math_tool.call({"operation": "evaluate", "expression": f"__import__('os').system('touch {marker}')"},
                                  None)
    assert not result.ok and not marker.exists()


async def test_a_hanging_computation_is_killed_at_the_deadline_and_the_tool_recovers(math_tool):
    start = time.perf_counter()
    result = await math_tool.call({"operation": "integrate", "expression": "exp(sin(x)^3)*tan(x)^5*sqrt(x)"}, None)
    assert result.details.get("reason") == "timeout" and time.perf_counter() - start < 10
    after = await math_tool.call({"operation": "evaluate", "expression": "2^10"}, None)
    assert after.ok and after.output.startswith("1024")


async def test_math_errors_are_the_calls_error(math_tool):
    result = await math_tool.call({"operation": "integrate", "expression": "x", "lower": "0"}, None)
    assert not result.ok and "both lower and upper" in result.error
