"""The ``math`` tool: a computer-algebra engine on sympy (solve, simplify, integrate, evaluate).

The Llama 3 paper used Wolfram Alpha; this is the offline stand-in. Expressions are plain math
(``x^2 - 4 = 0``, ``sin(x)**2 + cos(x)**2``, ``integrate`` with optional bounds). Two guards, since
the text comes from a model:

- **Nothing but math is parsed.** The expression is checked against a whitelist of syntax
  (numbers, names, arithmetic, calls of known math functions; no attributes, strings, subscripts,
  lambdas or dunders) before sympy sees it, because sympy's parser evaluates Python.
- **A deadline, outside the engine's process.** The computation runs in
  :class:`verifiers._deadline.DeadlinePool` worker processes (the pool the math verifier uses); a
  call past ``timeout_s`` kills the worker (sympy can run forever on a hostile integral) and the
  call ends as a ``timeout``.
"""

from __future__ import annotations

import ast
from typing import Any, ClassVar, Literal

from pydantic import Field

from synthgen.plugins import PluginConfig, Tool, ToolResult
from verifiers._deadline import DeadlineExceeded, DeadlinePool

OPERATIONS = ("solve", "simplify", "integrate", "evaluate", "differentiate", "factor", "expand")
_FUNCTIONS = frozenset({
    "sqrt", "cbrt", "root", "exp", "log", "ln", "sin", "cos", "tan", "cot", "sec", "csc", "asin", "acos", "atan",
    "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "Abs", "abs", "floor", "ceiling", "factorial",
    "binomial", "gamma", "gcd", "lcm", "Min", "Max", "min", "max", "sign", "re", "im", "conjugate", "erf",
    "Rational", "isprime", "prime", "mod", "Mod",
})
_CONSTANTS = frozenset({"pi", "E", "I", "oo", "e"})
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load, ast.Constant, ast.Compare,
          ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.FloorDiv, ast.USub, ast.UAdd, ast.Eq,
          ast.Tuple)


def check_expression(text: str) -> str:
    """'' when ``text`` is plain math the engine may parse, else why not."""
    if len(text) > 2000:
        return "expression longer than 2000 characters"
    source = text.replace("^", "**")
    if source.count("=") == 1 and "==" not in source:
        source = source.replace("=", "==")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        return f"not a valid expression: {exc.msg}"
    for node in ast.walk(tree):
        if not isinstance(node, _NODES):
            return f"{type(node).__name__} is not allowed in a math expression"
        if isinstance(node, ast.Constant) and (isinstance(node.value, bool)
                                               or not isinstance(node.value, (int, float))):
            return "only numbers are allowed as literals"
        if isinstance(node, ast.Name) and (node.id.startswith("_") or len(node.id) > 12):
            return f"name {node.id!r} is not allowed"
        if isinstance(node, ast.Call) and (not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS
                                           or node.keywords):
            return "only known math functions may be called (sqrt, sin, log, ...)"
        if isinstance(node, ast.Compare) and (len(node.ops) != 1 or not isinstance(node.ops[0], ast.Eq)):
            return "only one '=' is allowed"
    return ""


def _parse(text: str, names: dict[str, Any]) -> Any:
    import sympy
    from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

    transformations = standard_transformations + (convert_xor,)
    text = text.replace("==", "=")
    if text.count("=") == 1:
        left, right = text.split("=")
        return sympy.Eq(parse_expr(left, local_dict=names, transformations=transformations),
                        parse_expr(right, local_dict=names, transformations=transformations))
    return parse_expr(text, local_dict=names, transformations=transformations)


def compute(operation: str, expression: str, variable: str | None, lower: str | None, upper: str | None,
            digits: int) -> tuple[bool, str]:
    """Run in a worker process: (ok, text the model reads)."""
    import sympy

    for part in (expression, lower or "0", upper or "0", variable or "x"):
        problem = check_expression(part)
        if problem:
            return False, problem
    names: dict[str, Any] = {"e": sympy.E, "ln": sympy.log, "mod": sympy.Mod, "abs": sympy.Abs,
                             "min": sympy.Min, "max": sympy.Max}
    try:
        expr = _parse(expression, names)
        free = sorted(expr.free_symbols, key=str)
        var = sympy.Symbol(variable) if variable else (free[0] if free else sympy.Symbol("x"))
        if operation == "solve":
            solutions = sympy.solve(expr, var, dict=False)
            return True, f"{var} = {solutions}" if solutions != [] else f"no solution for {var}"
        if operation == "simplify":
            return True, str(sympy.simplify(expr))
        if operation == "factor":
            return True, str(sympy.factor(expr))
        if operation == "expand":
            return True, str(sympy.expand(expr))
        if operation == "differentiate":
            return True, str(sympy.diff(expr, var))
        if operation == "integrate":
            if (lower is None) != (upper is None):
                return False, "give both lower and upper, or neither"
            if lower is not None:
                value = sympy.integrate(expr, (var, _parse(lower, names), _parse(upper, names)))
                return True, f"{value} (~ {sympy.N(value, digits)})" if value.free_symbols == set() else str(value)
            return True, f"{sympy.integrate(expr, var)} + C"
        value = sympy.N(expr, digits)
        return True, str(value)
    except Exception as exc:  # noqa: BLE001 - every sympy failure is the caller's answer, not our crash
        return False, f"{type(exc).__name__}: {str(exc)[:300]}"


def _warm() -> bool:
    """Import sympy in a fresh worker, so a call's deadline covers its computation, not the start-up."""
    import sympy  # noqa: F401
    from sympy.parsing import sympy_parser  # noqa: F401

    return True


class MathToolConfig(PluginConfig):
    timeout_s: float = Field(5.0, gt=0, description="a computation past this is killed (timeout)")
    digits: int = Field(15, ge=1, le=100, description="significant digits of numeric results")
    workers: int = Field(1, ge=1, description="worker processes of the deadline pool")


class MathTool(Tool):
    name: ClassVar[str] = "math"
    description: ClassVar[str] = (
        "A computer-algebra engine. Operations: solve an equation for a variable, simplify, factor, expand, "
        "differentiate, integrate (indefinite, or definite with lower/upper), evaluate numerically. "
        "Write plain math: x^2 - 4 = 0, sqrt(2)*pi, sin(x)^2 + cos(x)^2.")
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "operation": {"type": "string", "enum": list(OPERATIONS)},
            "expression": {"type": "string", "description": "the expression or equation"},
            "variable": {"type": "string", "description": "the variable (default: the first symbol)"},
            "lower": {"type": "string", "description": "lower bound of a definite integral"},
            "upper": {"type": "string", "description": "upper bound of a definite integral"},
        },
        "required": ["operation", "expression"],
    }
    Config: ClassVar[type[MathToolConfig]] = MathToolConfig

    def __init__(self, config: MathToolConfig | None = None) -> None:
        super().__init__(config)
        self._pool = DeadlinePool(self.config.workers, "process")
        self._warm = False  # False after a deadline killed the workers: the next pool starts cold

    async def call(self, arguments: dict[str, Any], ctx: Any) -> ToolResult:
        cfg: MathToolConfig = self.config
        operation: Literal["solve"] = arguments["operation"]
        expression = str(arguments["expression"])
        problem = check_expression(expression)  # refuse early: no worker for obvious non-math
        if problem:
            return ToolResult(output=problem, error=problem)
        try:
            if not self._warm:
                await self._pool.call(_warm, timeout=60.0)
                self._warm = True
            ok, text = await self._pool.call(compute, operation, expression, arguments.get("variable"),
                                             arguments.get("lower"), arguments.get("upper"), cfg.digits,
                                             timeout=cfg.timeout_s)
        except DeadlineExceeded:
            self._warm = False
            msg = f"the computation did not finish within {cfg.timeout_s:g}s"
            return ToolResult(output=msg, error=msg, details={"reason": "timeout"})
        return ToolResult(output=text) if ok else ToolResult(output=text, error=text)

    async def close(self) -> None:
        self._pool.close()
