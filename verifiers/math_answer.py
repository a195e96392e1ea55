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

# An arithmetic left side (digits, operators, brackets) equal to a number. Only these characters
# reach sympy, so the text cannot smuggle in names or calls.
_EQUATION_RE = re.compile(r"(?<![\w.])([\d.,\s+\-*/×÷·^()]*\d[\d.\s+\-*/×÷·^()]*?)\s*=\s*(-?\d+(?:\.\d+)?)(?![\d.]*\d)")


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
    """Equations ``lhs = number`` on the last non-empty line of ``text`` that do not hold."""
    from sympy import Abs, nsimplify
    from sympy.parsing.sympy_parser import parse_expr

    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return []
    wrong = []
    for match in _EQUATION_RE.finditer(lines[-1]):
        lhs_text, rhs_text = match.group(1).strip(), match.group(2)
        if not re.search(r"\d\s*[+\-*/×÷·^]\s*[\d(]", lhs_text):
            continue  # "x = 3" or "42 = 42": nothing to evaluate
        expr = lhs_text.replace(",", "").replace("×", "*").replace("·", "*").replace("÷", "/").replace("^", "**")
        try:
            lhs = parse_expr(expr, evaluate=True)
            rhs = nsimplify(rhs_text, rational=True)
            holds = bool(Abs(lhs - rhs) <= 1e-9 * max(1, abs(float(rhs))))
        except Exception:  # noqa: BLE001, S112 - not an equation sympy can read: no claim to check
            continue
        if not holds:
            wrong.append({"equation": f"{lhs_text} = {rhs_text}", "lhs_value": str(lhs)})
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
            parts.append(f"the equation {eq['equation']} is false: the left side is {eq['lhs_value']}")
        return "; ".join(parts)

    async def close(self) -> None:
        self._pool.close()
