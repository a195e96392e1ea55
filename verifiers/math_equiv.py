"""Decide whether a model's answer equals the reference: math-verify first, then sympy checks.

``equivalent(reference, answer)`` never raises and never counts a parse failure as a pass. Order:

1. normalised strings equal -> equal (``"1,000"`` vs ``"1000"``, spacing, ``\\dfrac`` vs ``\\frac``);
2. text answers (``\\text{Yes}``, ``"north"``, a multiple-choice letter) compare as words, because
   math-verify reads ``yes`` as the product ``y*e*s`` (so ``"yes"`` would equal ``"sey"``);
3. math-verify (``parse`` with LaTeX delimiters added, ``verify``), which handles fractions vs
   decimals, percentages, units in ``\\text{}``, sets, tuples, intervals, matrices, equations;
4. what it misses, with sympy: numeric values that need evaluation (``e^{i\\pi}`` vs ``-1``),
   ``oo``/``inf`` and ``1e3`` spellings, an inequality vs the interval it describes, and
   expressions equal at random points (when ``simplify`` is too weak or too slow).

This module runs in the math verifier's worker processes, which enforce the time limit, so the
math-verify calls here disable their own signal-based timeouts.
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass
from fractions import Fraction

logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns once that we disabled its timeout

_TEXT_RE = re.compile(r"^\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}$")
_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z \-']*$")
_CHOICE_RE = re.compile(r"^(?:\(([A-Ea-e])\)|([A-E]))$")  # "B", "(B)", "(b)"; a bare "e" is Euler's number
_UNIT_WORDS_RE = re.compile(r"^([+-]?(?:\d+(?:\.\d+)?|\d+/\d+))\s+([A-Za-z][A-Za-z.]*(?:\s+[A-Za-z][A-Za-z.]*){0,2})$")
_SCI_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w])")
_INF_RE = re.compile(r"(?<![\\\w])(?:oo|inf|infinity|Infinity|∞)(?![\w])")
_SHORT_UNITS = {"cm", "mm", "km", "m", "kg", "g", "mg", "s", "ms", "h", "hr", "min", "ml", "l", "ft", "in", "yd",
                "mi", "lb", "lbs", "oz", "mph", "kmh"}
_MATH_WORDS = {"sin", "cos", "tan", "log", "ln", "exp", "sqrt", "pi", "e", "i", "x", "y", "z", "n"}


@dataclass(frozen=True)
class Equivalence:
    equal: bool
    method: str  # string | text | math_verify | numeric | relation | sampling | none
    reason: str = ""


def normalise(answer: str) -> str:
    s = answer.strip()
    s = re.sub(r"^\$+|\$+$", "", s).strip()
    s = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", s).strip()
    for old, new in (("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\left", ""), ("\\right", ""),
                     ("\\displaystyle", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\ ", " ")):
        s = s.replace(old, new)
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s)  # thousands separators
    s = s.rstrip(".").strip()
    return re.sub(r"\s+", "", s)


def _as_text(answer: str) -> str | None:
    """The answer as a lower-case phrase when it is words, not mathematics."""
    s = answer.strip().strip("$").strip()
    m = _TEXT_RE.match(s)
    if m:
        s = m.group(1)
    s = s.strip().rstrip(".")
    if _WORD_RE.match(s) and len(s.replace(" ", "")) > 1 and s.lower() not in _MATH_WORDS:
        return " ".join(s.lower().split())
    return None


_PLAIN_INT = re.compile(r"^[+-]?\d+$")
_PLAIN_DEC = re.compile(r"^[+-]?\d*\.\d+$")
_PLAIN_FRAC = re.compile(r"^([+-]?)(?:\\frac\{([+-]?\d+)\}\{(\d+)\}|(\d+)/(\d+))$")


def _choice(answer: str) -> str | None:
    """The multiple-choice letter, upper-case, of ``B``, ``(B)``, ``\\text{(B)}``; else None."""
    s = answer.strip().strip("$").strip()
    m = _TEXT_RE.match(s)
    m = _CHOICE_RE.match((m.group(1) if m else s).strip())
    return (m.group(1) or m.group(2)).upper() if m else None


def _without_unit_words(answer: str) -> str:
    """``"12 dollars"`` -> ``"12"``: a plain number followed by up to three words that are not
    mathematics (a unit, a noun). Anything else is returned unchanged."""
    m = _UNIT_WORDS_RE.match(answer.strip().rstrip("."))
    if m and all(_is_unit_word(w.rstrip(".")) for w in m.group(2).split()):
        return m.group(1)
    return answer


def _is_unit_word(word: str) -> bool:
    """A word after a number that is not mathematics: 3+ letters and not a function or constant
    name ("dollars", "apples"), or a short unit ("cm", "kg"). "7 ab" stays a product."""
    w = word.lower()
    return w in _SHORT_UNITS or (len(w) >= 3 and w not in _MATH_WORDS)


def _plain_number(normalised: str) -> tuple[Fraction, bool] | None:
    """(value, written as a decimal) for a bare integer, decimal or simple fraction; else None."""
    s = normalised.replace("{,}", "")
    if _PLAIN_INT.match(s) or _PLAIN_DEC.match(s):
        return Fraction(s), "." in s
    m = _PLAIN_FRAC.match(s)
    if m:
        num, den = (m.group(2), m.group(3)) if m.group(2) is not None else (m.group(4), m.group(5))
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        return (-value if m.group(1) == "-" else value), False
    return None


def _plain_equal(reference: str, answer: str, float_rounding: int) -> bool | None:
    """Decide two plain numbers without sympy (most answers are integers); None when not both plain.

    Same rule as math-verify: exact for integers and fractions; when either side is written as a
    decimal, both are rounded to ``float_rounding`` places (1/3 equals 0.333333, not 0.333).
    """
    a, b = (_plain_number(normalise(_without_unit_words(x))) for x in (reference, answer))
    if a is None or b is None:
        return None
    if a[1] or b[1]:
        return round(float(a[0]), float_rounding) == round(float(b[0]), float_rounding)
    return a[0] == b[0]


def _prepare(answer: str) -> str:
    s = answer.strip().strip("$").strip()
    s = _INF_RE.sub(r"\\infty", s)
    s = _SCI_RE.sub(r"\1\\times 10^{\2}", s)
    return s


def _parse(answer: str):
    from math_verify import parse

    return parse(f"${_prepare(answer)}$", parsing_timeout=None)


def _is_set_or_relation(value) -> bool:
    from sympy import Set
    from sympy.logic.boolalg import Boolean

    return isinstance(value, (Set, Boolean))


def _sympy_value(parsed):
    from sympy import Basic, MatrixBase

    for item in parsed:
        if isinstance(item, (Basic, MatrixBase)):
            return item
    return None


def _numeric_equal(a, b, rel_tol: float) -> bool | None:
    """Equal as complex numbers (None when either is not a closed-form number)."""
    from sympy import Basic, I, N

    if not (isinstance(a, Basic) and isinstance(b, Basic)):
        return None
    # math-verify leaves the imaginary unit as a symbol named i.
    a = a.subs({s: I for s in a.free_symbols if getattr(s, "name", "") == "i"})
    b = b.subs({s: I for s in b.free_symbols if getattr(s, "name", "") == "i"})
    if a.free_symbols or b.free_symbols or not (a.is_number and b.is_number):
        return None
    if a.is_finite is False or b.is_finite is False:  # oo - (-oo) is no small difference
        return a == b
    try:
        va, vb = complex(N(a, 30)), complex(N(b, 30))
    except (TypeError, ValueError):
        return None
    return abs(va - vb) <= rel_tol * max(1.0, abs(va))


def _sampled_equal(a, b, rel_tol: float, points: int = 4) -> bool | None:
    """Equal at random points of their common variables (None when not comparable that way)."""
    from sympy import Expr, N

    if not (isinstance(a, Expr) and isinstance(b, Expr)):
        return None
    symbols = sorted(a.free_symbols | b.free_symbols, key=str)
    if not symbols or a.free_symbols != b.free_symbols:
        return None
    # math-verify already tried simplify(); random points catch what it could not simplify
    rng = random.Random(0)
    for _ in range(points):
        subs = {s: rng.uniform(0.5, 2.5) for s in symbols}
        try:
            va, vb = complex(N(a.subs(subs))), complex(N(b.subs(subs)))
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        if abs(va - vb) > rel_tol * max(1.0, abs(va)):
            return False
    return True


def equivalent(reference: str, answer: str, *, float_rounding: int = 6, rel_tol: float = 1e-9) -> Equivalence:
    """Whether ``answer`` is mathematically the reference. Never raises; a parse failure is unequal."""
    if not answer or not answer.strip():
        return Equivalence(False, "none", "no answer found")
    if not reference or not str(reference).strip():
        return Equivalence(False, "none", "the record has no reference answer")
    if normalise(reference) == normalise(answer):
        return Equivalence(True, "string")
    ref_choice = _choice(reference)
    if ref_choice:
        ok = _choice(answer) == ref_choice
        return Equivalence(ok, "text", "" if ok else f"expected choice {ref_choice}")
    ref_text = _as_text(reference)
    if ref_text is not None:
        ok = _as_text(answer) == ref_text
        return Equivalence(ok, "text", "" if ok else f"expected the words {ref_text!r}")

    plain = _plain_equal(reference, answer, float_rounding)
    if plain is not None:
        return Equivalence(plain, "numeric", "" if plain else "a different value from the reference")

    from math_verify import verify

    try:
        gold, pred = _parse(reference), _parse(answer)
    except Exception as exc:  # noqa: BLE001 - math-verify's parser may raise on hostile input
        return Equivalence(False, "none", f"could not parse: {type(exc).__name__}")
    if not gold:
        return Equivalence(False, "none", f"the reference {reference!r} could not be parsed")
    if not pred:
        return Equivalence(False, "none", f"the answer {answer!r} could not be parsed as mathematics")
    if _as_text(answer) is not None:  # a word against a mathematical reference
        return Equivalence(False, "text", f"the answer {answer!r} is words, expected a mathematical value")
    try:
        if verify(gold, pred, float_rounding=float_rounding, timeout_seconds=None):
            return Equivalence(True, "math_verify")
    except Exception:  # noqa: BLE001, S110 - fall through to our own checks
        pass
    g, p = _sympy_value(gold), _sympy_value(pred)
    if g is None or p is None:
        return Equivalence(False, "none", "not equal to the reference")
    numeric = _numeric_equal(g, p, rel_tol)
    if numeric is not None:
        return Equivalence(numeric, "numeric", "" if numeric else "a different value from the reference")
    if _is_set_or_relation(g) or _is_set_or_relation(p):
        try:  # an inequality that describes the reference interval (or the other way round)
            if verify(gold, pred, allow_set_relation_comp=True, float_rounding=float_rounding,
                      timeout_seconds=None):
                return Equivalence(True, "relation")
        except Exception:  # noqa: BLE001, S110
            pass
    sampled = _sampled_equal(g, p, rel_tol)
    if sampled:
        return Equivalence(True, "sampling")
    return Equivalence(False, "none", "not equal to the reference")
