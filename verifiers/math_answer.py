"""The ``math`` verifier: is the candidate's final answer the reference answer?

Reads:
- the reference from ``record.metadata[answer_field]`` (default ``"answer"``; a string such as
  ``"\\frac{1}{2}"`` or a number);
- the response from ``candidate.text`` (the last assistant message).

The final answer is extracted (``\\boxed{}``, "The answer is", last number, in ``extract_order``) and
compared with :func:`verifiers.math_equiv.equivalent` (math-verify, then sympy for what it misses).
Each check runs in a worker with a deadline (``timeout_s``), so a hostile expression cannot stall a
run. ``strict_equations`` also evaluates every ``expression = number`` equation on the response's
final line and fails on a false one ("12 + 30 = 43").

Details: ``answer``, ``strategy``, ``method`` (how equality was decided), ``reason``, ``false_equations``.
"""

from __future__ import annotations

import re
import time
from typing import Any, ClassVar, Literal

from pydantic import Field

from synthgen.plugins import PluginConfig, Verifier
from synthgen.records import Candidate, Record, Verdict
from verifiers._deadline import DeadlineExceeded, DeadlinePool

Strategy = Literal["boxed", "answer_is", "last_number"]

# A chain of arithmetic expressions joined by "=" ("2 * (3 + 4) = 2 * 7 = 14"): numbers, operators,
# brackets and spaces only, so the text cannot smuggle names or calls into sympy. A "." counts only
# between digits, so "2+2=4. 3+3=7" is two chains, not "4. 3".
_NUM = r"\d+(?:\.\d+)?"
_ATOM = rf"(?:{_NUM}|[ \t()+\-*/×÷·^])"
_CHAIN_RE = re.compile(rf"(?<![\w.]){_ATOM}+(?:={_ATOM}+)+")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_OPERATOR_RE = re.compile(r"\d\s*[+\-*/×÷·^]\s*[\d(]")


class MathConfig(PluginConfig):
    answer_field: str = Field("answer", description="record.metadata key holding the reference answer")
    extract_order: list[Strategy] = Field(default_factory=lambda: ["boxed", "answer_is", "last_number"])
    float_rounding: int = Field(6, ge=0, le=15, description="decimal places math-verify rounds floats to")
    timeout_s: float = Field(5.0, gt=0, description="deadline for one check")
    workers: int = Field(2, ge=1)
    isolation: Literal["process", "thread"] = "process"
    strict_equations: bool = Field(False, description="fail when an 'expr = number' on the final line is false")
    reveal_reference: bool = Field(False, description="put the reference answer in the feedback")


def false_equations(text: str) -> list[dict[str, str]]:
    """Equalities on the last non-empty line of ``text`` that do not hold.

    Every link of a chain ``a = b = c`` is checked where one of its sides does arithmetic ("x = 3"
    and "42 = 42" claim nothing). A side written as a decimal with d digits may be rounded
    ("1/3 = 0.33" holds). A side sympy cannot read (an unbalanced bracket from prose) is no claim.
    """
    from sympy import Abs, nsimplify
    from sympy.parsing.sympy_parser import parse_expr

    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return []

    def value(side: str) -> Any:
        expr = side.replace("×", "*").replace("·", "*").replace("÷", "/").replace("^", "**")
        try:
            return nsimplify(parse_expr(expr, evaluate=True), rational=True)
        except Exception:  # noqa: BLE001 - not an expression sympy can read: no claim to check
            return None

    def tolerance(side: str) -> float:
        decimals = re.fullmatch(r"-?\d+\.(\d+)", side)
        return 0.5 * 10 ** -len(decimals.group(1)) if decimals else 0.0

    wrong = []
    for match in _CHAIN_RE.finditer(_THOUSANDS_RE.sub("", lines[-1])):
        # a leading "- " is a dash in prose ("Total - 2 + 3 = 5"), not a minus sign
        sides = [re.sub(r"^(?:-\s+|[+*/×÷·^]+)", "", side.strip()).strip() for side in match.group(0).split("=")]
        for lhs_text, rhs_text in zip(sides, sides[1:]):
            if not (_OPERATOR_RE.search(lhs_text) or _OPERATOR_RE.search(rhs_text)):
                continue
            lhs, rhs = value(lhs_text), value(rhs_text)
            if lhs is None or rhs is None or not (lhs.is_number and rhs.is_number):
                continue
            try:
                slack = max(tolerance(lhs_text), tolerance(rhs_text), 1e-9 * max(1.0, abs(float(rhs))))
                holds = bool(Abs(lhs - rhs) <= slack)
            except (TypeError, ValueError, OverflowError):  # complex or infinite: nothing we can compare
                continue
            if not holds:
                side, val = (lhs_text, lhs) if _OPERATOR_RE.search(lhs_text) else (rhs_text, rhs)
                wrong.append({"equation": f"{lhs_text} = {rhs_text}", "side": side, "value": str(val)})
    return wrong


def check(response: str, reference: str, order: list[str], float_rounding: int, strict: bool) -> dict[str, Any]:
    """The whole check for one response; runs in a worker process. Returns plain data."""
    from verifiers.math_equiv import equivalent
    from verifiers.math_extract import extract_answer

    answer, strategy = extract_answer(response, order)
    result = equivalent(reference, answer or "", float_rounding=float_rounding)
    out: dict[str, Any] = {"answer": answer, "strategy": strategy, "equal": result.equal,
                           "method": result.method, "reason": result.reason}
    if strict:
        out["false_equations"] = false_equations(response)
    return out


def _warm() -> None:
    import math_verify  # noqa: F401 - pay the import once per worker, not on the first check
    import sympy  # noqa: F401


class MathVerifier(Verifier):
    name: ClassVar[str] = "math"
    Config: ClassVar[type[MathConfig]] = MathConfig

    def __init__(self, config: MathConfig | None = None) -> None:
        super().__init__(config)
        self.config: MathConfig
        self._pool = DeadlinePool(self.config.workers, self.config.isolation, initializer=_warm)

    async def verify(self, record: Record, candidate: Candidate, ctx: Any = None) -> Verdict:
        cfg = self.config
        start = time.perf_counter()
        reference = record.metadata.get(cfg.answer_field)
        if reference is None or str(reference).strip() == "":
            return Verdict(verifier=self.name, passed=False,
                           feedback=f"the record has no reference answer in metadata[{cfg.answer_field!r}]",
                           details={"error": "no_reference"})
        text = candidate.text
        try:
            out = await self._pool.call(check, text, str(reference), list(cfg.extract_order),
                                        cfg.float_rounding, cfg.strict_equations, timeout=cfg.timeout_s)
        except DeadlineExceeded:
            return Verdict(verifier=self.name, passed=False, score=0.0,
                           feedback=f"the answer could not be checked within {cfg.timeout_s:g}s; "
                                    "state the final answer in a simple closed form inside \\boxed{}",
                           details={"error": "timeout", "seconds": time.perf_counter() - start})
        out["reference"] = str(reference)
        out["seconds"] = round(time.perf_counter() - start, 4)
        wrong = out.get("false_equations") or []
        passed = bool(out["equal"]) and not wrong
        return Verdict(verifier=self.name, passed=passed, score=1.0 if passed else 0.0,
                       feedback="" if passed else self._feedback(out, wrong), details=out)

    def _feedback(self, out: dict[str, Any], wrong: list[dict[str, str]]) -> str:
        if not out["answer"]:
            return "no final answer found: end with 'The answer is X' or put it in \\boxed{X}"
        parts = []
        if not out["equal"]:
            msg = f"the final answer {out['answer']!r} is incorrect"
            if self.config.reveal_reference:
                msg += f" (expected {out['reference']!r})"
            if out["method"] == "none" and "parsed" in out["reason"]:
                msg += f": {out['reason']}"
            parts.append(msg)
        for eq in wrong:
            parts.append(f"the equation {eq['equation']} is false: {eq['side']} is {eq['value']}")
        return "; ".join(parts)

    async def close(self) -> None:
        self._pool.close()
