"""The ``math`` verifier: is the candidate's final answer the reference answer?

Reads:
- the reference from ``record.metadata[answer_field]`` (default ``"answer"``; a string such as
  ``"\\frac{1}{2}"`` or a number);
- the response from ``candidate.text`` (the last assistant message), and
  ``candidate.metadata["finish_reason"]``: a response cut by the token limit (``"length"``) fails
  with reason ``truncated`` unless ``allow_truncated``.

The final answer is extracted (``\\boxed{}``, "The answer is", the last ``$...$`` formula, in
``extract_order``; see :mod:`verifiers.math_extract`; the last-number fallback is available but
off by default) and compared with :func:`verifiers.math_equiv.equivalent` (our reading rules,
math-verify, then sympy). Several distinct boxes are one answer with several values. Each check
runs in a worker with a deadline (``timeout_s``), so a hostile expression cannot stall a run; the
workers start with the verifier. ``strict_equations`` also evaluates every ``expression = number``
equation on the response's final line and fails on a false one ("12 + 30 = 43").

One answer outside a pipeline (a plain script needs no ``__main__`` guard)::

    from verifiers.math_answer import check_answer
    check_answer("... so the answer is \\boxed{0.5}", "\\frac{1}{2}").passed   # True

Details: ``answer``, ``answers`` (the parts when several), ``strategy``, ``method`` (how equality
was decided), ``reason``, ``false_equations``, ``error`` (``no_reference``, ``truncated``, ``timeout``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import Field

from synthgen.plugins import PluginConfig, Verifier
from synthgen.records import Candidate, Record, Verdict
from verifiers._deadline import DeadlineExceeded, DeadlinePool

Strategy = Literal["boxed", "answer_is", "last_latex", "last_number"]

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
    extract_order: list[Strategy] = Field(
        default_factory=lambda: ["boxed", "answer_is", "last_latex"],
        description="where to look for the final answer, first hit wins; add 'last_number' to accept any "
                    "text whose last number matches (off by default: it passes truncated and garbled samples)")
    allow_truncated: bool = Field(False, description="check responses cut by the token limit "
                                                     "(finish_reason 'length') instead of failing them")
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
    from verifiers.math_equiv import equivalent_parts
    from verifiers.math_extract import extract_answers

    parts, strategy = extract_answers(response, order)
    result = equivalent_parts(reference, parts, float_rounding=float_rounding)
    out: dict[str, Any] = {"answer": "; ".join(parts) or None, "strategy": strategy, "equal": result.equal,
                           "method": result.method, "reason": result.reason}
    if len(parts) > 1:
        out["answers"] = parts
    if strict:
        out["false_equations"] = false_equations(response)
    return out


def _warm() -> None:
    """Pay the imports and math-verify's first parse once per worker, not on the first check."""
    from verifiers.math_equiv import equivalent

    equivalent("\\frac{1}{2}", "x^2 + 1")


class MathVerifier(Verifier):
    name: ClassVar[str] = "math"
    Config: ClassVar[type[MathConfig]] = MathConfig

    def __init__(self, config: MathConfig | None = None) -> None:
        super().__init__(config)
        self.config: MathConfig
        self._pool = DeadlinePool(self.config.workers, self.config.isolation, initializer=_warm)
        self._pool.start()  # workers import sympy now, not during the first check

    async def verify(self, record: Record, candidate: Candidate, ctx: Any = None) -> Verdict:
        cfg = self.config
        reference = record.metadata.get(cfg.answer_field)
        if reference is None or str(reference).strip() == "":
            return Verdict(verifier=self.name, passed=False,
                           feedback=f"the record has no reference answer in metadata[{cfg.answer_field!r}]",
                           details={"error": "no_reference"})
        text = candidate.text
        if candidate.metadata.get("finish_reason") == "length" and not cfg.allow_truncated:
            return Verdict(verifier=self.name, passed=False, score=0.0,
                           feedback="the response was cut by the token limit (finish_reason 'length'), so its "
                                    "final answer is not trusted; finish the solution within the limit",
                           details={"error": "truncated", "reference": str(reference)})
        try:
            out = await self._pool.call(check, text, str(reference), list(cfg.extract_order),
                                        cfg.float_rounding, cfg.strict_equations, timeout=cfg.timeout_s)
        except DeadlineExceeded:
            return Verdict(verifier=self.name, passed=False, score=0.0,
                           feedback=f"the answer could not be checked within {cfg.timeout_s:g}s; "
                                    "state the final answer in a simple closed form inside \\boxed{}",
                           details={"error": "timeout"})
        out["reference"] = str(reference)
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
            if (out["method"] == "none" and "parsed" in out["reason"]) or "where one is expected" in out["reason"]:
                msg += f": {out['reason']}"  # says what to fix without revealing the reference
            parts.append(msg)
        for eq in wrong:
            parts.append(f"the equation {eq['equation']} is false: {eq['side']} is {eq['value']}")
        return "; ".join(parts)

    async def close(self) -> None:
        self._pool.close()


@dataclass(frozen=True)
class AnswerCheck:
    """The verdict of :func:`check_answer`."""

    passed: bool
    answer: str | None  # what was read as the final answer (None: nothing found)
    method: str  # how equality was decided (string, numeric, math_verify, items, ...) or "timeout"
    reason: str = ""  # why not, when not passed
    details: dict[str, Any] = field(default_factory=dict)


_SHARED: dict[str, Any] = {}
_SHARED_LOCK = threading.Lock()


def check_answer(response: str, reference: str | float, *, timeout_s: float = 5.0,
                 extract_order: list[str] | None = None, float_rounding: int = 6) -> AnswerCheck:
    """Check one response against one reference answer, synchronously, as the ``math`` verifier does.

    For scripts and notebooks outside a pipeline. The check runs in a shared worker process (started
    on the first call, stopped at exit) under a ``timeout_s`` deadline, so a hostile expression
    cannot hang the caller; the workers never re-run the caller's script, so no
    ``if __name__ == "__main__":`` guard is needed. To compare two bare answers in-process, without a
    deadline, use :func:`verifiers.math_equiv.equivalent`.
    """
    order = list(extract_order or MathConfig().extract_order)
    with _SHARED_LOCK:
        pool = _SHARED.get("pool")
        if pool is None:
            import atexit

            pool = _SHARED["pool"] = DeadlinePool(2, "process", initializer=_warm)
            pool.start()
            atexit.register(pool.close)
    try:
        out = pool.run(check, response, str(reference), order, float_rounding, False, timeout=timeout_s)
    except DeadlineExceeded:
        return AnswerCheck(False, None, "timeout", f"not decided within {timeout_s:g}s")
    return AnswerCheck(bool(out["equal"]), out["answer"], out["method"],
                       "" if out["equal"] else (out["reason"] or "not equal to the reference"), out)
