"""Decide whether a model's answer equals the reference: our reading rules, math-verify, then sympy.

``equivalent(reference, answer)`` never raises and never counts a parse failure as a pass. It runs
in the calling thread with no deadline: call it on trusted input, or use
:func:`verifiers.math_answer.check_answer` (killable worker, deadline) on model output. Order:

1. normalised strings equal -> equal (``"1,000"`` vs ``"1000"``, spacing, ``\\dfrac`` vs ``\\frac``);
2. forms read without sympy (rules in :mod:`verifiers.math_forms`): multiple-choice letters,
   words (``\\text{Yes}``; math-verify reads ``yes`` as the product ``y*e*s``), clock times and
   ratios (math-verify reads ``12:00`` as 12/0), plain numbers, decimal commas;
3. several values (boxes, or ``x = 2 or x = -3``) against the reference's items: any order when
   the reference is a set or a bare list, in order for a tuple; a single reference takes one value;
4. math-verify (``parse`` with LaTeX delimiters added, ``verify``): fractions vs decimals,
   percentages, units in ``\\text{}``, sets, tuples, intervals, matrices, equations;
5. what it misses, with sympy: numeric values that need evaluation (``e^{i\\pi}`` vs ``-1``),
   ``oo``/``inf`` and ``1e3`` spellings, an inequality vs the interval it describes (compared as
   exact sets, so ``x < 3`` is ``(-\\infty, 3)`` and never ``(-\\infty, 3]``), and expressions equal
   at random points. An undefined value (division by zero, ``zoo``, ``nan``) equals nothing.

The math-verify calls here disable its signal-based timeouts (they only work in a main thread).
"""

from __future__ import annotations

import itertools
import logging
import random
import re
from dataclasses import dataclass

from verifiers import math_forms as forms
from verifiers.math_forms import normalise

logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns once that we disabled its timeout

_SCI_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w])")
_INF_RE = re.compile(r"(?<![\\\w])(?:oo|inf|infinity|Infinity|∞)(?![\w])")
_MAX_ITEMS = 8  # several-answer matching tries every pairing up to this many items

__all__ = ["Equivalence", "equivalent", "equivalent_parts", "normalise"]


@dataclass(frozen=True)
class Equivalence:
    equal: bool
    method: str  # string | text | time | numeric | items | math_verify | relation | sampling | none
    reason: str = ""


def _plain_equal(reference: str, answer: str, float_rounding: int) -> bool | None:
    """Decide two plain numbers without sympy (most answers are integers); None when not both plain.

    Same rule as math-verify: exact for integers and fractions; when either side is written as a
    decimal, both are rounded to ``float_rounding`` places (1/3 equals 0.333333, not 0.333).
    """
    a = forms.plain_number(normalise(forms.without_unit_words(reference)))
    answer_form = forms.without_unit_words(answer)
    b = forms.plain_number(normalise(answer_form))
    if b is None and a is not None:  # "0,111" against a single number is a decimal comma
        comma = forms.decimal_comma(answer_form)
        b = forms.plain_number(comma) if comma else None
    if a is None or b is None:
        return None
    if a[1] or b[1]:
        return round(float(a[0]), float_rounding) == round(float(b[0]), float_rounding)
    return a[0] == b[0]


def _prepare(answer: str) -> str:
    s = answer.strip().strip("$").strip().replace("\u2212", "-").replace("\\$", "")
    s = forms.strip_thousands(s)
    s = _INF_RE.sub(r"\\infty", s)
    s = _SCI_RE.sub(r"\1\\times 10^{\2}", s)
    return s


def _parse(answer: str):
    from math_verify import parse

    return parse(f"${_prepare(answer)}$", parsing_timeout=None)


def _sympy_value(parsed):
    from sympy import Basic, MatrixBase

    for item in parsed:
        if isinstance(item, (Basic, MatrixBase)):
            return item
    return None


def _undefined(value) -> bool:
    """Division by zero and friends: ``zoo``, ``nan`` anywhere in the value."""
    from sympy import Basic, nan, zoo

    try:
        return isinstance(value, Basic) and (value.has(zoo) or value.has(nan))
    except Exception:  # noqa: BLE001 - an odd object is not undefined, just unknown
        return False


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
    if _undefined(a) or _undefined(b):
        return False
    if a.is_finite is False or b.is_finite is False:  # oo - (-oo) is no small difference
        return a == b
    try:
        va, vb = complex(N(a, 30)), complex(N(b, 30))
    except (TypeError, ValueError):
        return None
    return abs(va - vb) <= rel_tol * max(1.0, abs(va))


def _as_set(value):
    """An inequality (or a chain / union of them) in one variable as the exact set it describes."""
    from sympy import Set
    from sympy.logic.boolalg import Boolean

    if isinstance(value, Set):
        return value
    if isinstance(value, Boolean) and len(value.free_symbols) == 1:
        try:
            return value.as_set()
        except Exception:  # noqa: BLE001 - not a univariate condition sympy can solve
            return None
    return None


def _relation_equal(g, p) -> bool | None:
    """An inequality against an interval, either way round, as exact sets (strictness counts)."""
    from sympy import Set
    from sympy.logic.boolalg import Boolean

    if not (isinstance(g, (Set, Boolean)) and isinstance(p, (Set, Boolean))) or type(g) is type(p):
        return None
    if isinstance(g, Set) == isinstance(p, Set):
        return None  # two relations or two sets: math-verify's comparison stands
    a, b = _as_set(g), _as_set(p)
    if a is None or b is None:
        return None
    try:
        return bool(a == b or a.symmetric_difference(b).is_empty is True)
    except Exception:  # noqa: BLE001
        return None


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


def _text_forms(reference: str, answer: str) -> Equivalence | None:
    """Choices, words, clock times and ratios: decided here, never by sympy."""
    ref_choice = forms.choice(reference)
    if ref_choice:
        ok = forms.choice(answer) == ref_choice
        return Equivalence(ok, "text", "" if ok else f"expected choice {ref_choice}")
    ref_text = forms.as_text(reference)
    if ref_text is not None:
        ok = forms.as_text(answer) == ref_text
        return Equivalence(ok, "text", "" if ok else f"expected the words {ref_text!r}")
    ref_time, ans_time = forms.clock_time(reference), forms.clock_time(answer)
    if ref_time or ans_time:
        ok = bool(ref_time and ans_time and ref_time[:3] == ans_time[:3]
                  and (not ref_time[3] or ref_time[3] == ans_time[3]))
        return Equivalence(ok, "time", "" if ok else "a different time from the reference")
    if forms.is_ratio(reference) or forms.is_ratio(answer):
        ok = normalise(reference) == normalise(answer)
        return Equivalence(ok, "string", "" if ok else "a different ratio from the reference")
    return None


def equivalent_parts(reference: str, parts: list[str], *, float_rounding: int = 6,
                     rel_tol: float = 1e-9) -> Equivalence:
    """Several answer values (distinct boxes, ``x = 2 or x = -3``) against the reference's items."""
    parts = [p for p in parts if p and p.strip()]
    if len(parts) <= 1:
        return equivalent(reference, parts[0] if parts else "", float_rounding=float_rounding, rel_tol=rel_tol)
    ref_items, kind = forms.items(str(reference))
    if kind == "single":  # the same value written twice (3 and 3.0) is one answer; two values are a hedge
        ok = all(equivalent(reference, p, float_rounding=float_rounding, rel_tol=rel_tol).equal for p in parts)
        return Equivalence(ok, "items", "" if ok else f"{len(parts)} different answers given where one is expected")
    if len(ref_items) != len(parts):
        return Equivalence(False, "items", f"{len(parts)} answers given, the reference has {len(ref_items)}")
    if len(parts) > _MAX_ITEMS:
        return Equivalence(False, "items", f"more than {_MAX_ITEMS} answers are not compared")

    def same(i: int, j: int) -> bool:
        return equivalent(ref_items[i], parts[j], float_rounding=float_rounding, rel_tol=rel_tol).equal

    n = len(parts)
    if kind == "ordered":
        ok = all(same(i, i) for i in range(n))
        return Equivalence(ok, "items", "" if ok else "the answers differ from the reference, in order")
    table = [[same(i, j) for j in range(n)] for i in range(n)]
    ok = any(all(table[i][perm[i]] for i in range(n)) for perm in itertools.permutations(range(n)))
    return Equivalence(ok, "items", "" if ok else "the answers are not the reference's values")


def equivalent(reference: str, answer: str, *, float_rounding: int = 6, rel_tol: float = 1e-9) -> Equivalence:
    """Whether ``answer`` is mathematically the reference. Never raises; a parse failure is unequal.

    >>> equivalent("\\\\frac{1}{2}", "0.5").equal
    True
    """
    if not answer or not str(answer).strip():
        return Equivalence(False, "none", "no answer found")
    if reference is None or not str(reference).strip():
        return Equivalence(False, "none", "the record has no reference answer")
    reference, answer = str(reference), str(answer)
    if normalise(reference) == normalise(answer):
        return Equivalence(True, "string")
    decided = _text_forms(reference, answer)
    if decided is not None:
        return decided
    plain = _plain_equal(reference, answer, float_rounding)
    if plain is not None:
        return Equivalence(plain, "numeric", "" if plain else "a different value from the reference")
    if re.search(r"\bor\b|\band\b|\\q?quad", answer):  # "x = 2 or x = -3": several values, read one by one
        ans_items, ans_kind = forms.items(answer)
        if ans_kind == "set" and not any(re.search(r"[<>]|\\[lg]eq?\b|\\neq?\b", x) for x in ans_items):
            return equivalent_parts(reference, ans_items, float_rounding=float_rounding, rel_tol=rel_tol)
    return _sympy_equivalent(reference, answer, float_rounding, rel_tol)


def _sympy_equivalent(reference: str, answer: str, float_rounding: int, rel_tol: float) -> Equivalence:
    from math_verify import verify

    try:
        gold, pred = _parse(reference), _parse(answer)
    except Exception as exc:  # noqa: BLE001 - math-verify's parser may raise on hostile input
        return Equivalence(False, "none", f"could not parse: {type(exc).__name__}")
    if not gold:
        return Equivalence(False, "none", f"the reference {reference!r} could not be parsed")
    if not pred:
        return Equivalence(False, "none", f"the answer {answer!r} could not be parsed as mathematics")
    if forms.as_text(answer) is not None:  # a word against a mathematical reference
        return Equivalence(False, "text", f"the answer {answer!r} is words, expected a mathematical value")
    g, p = _sympy_value(gold), _sympy_value(pred)
    if _undefined(g) or _undefined(p):
        return Equivalence(False, "none", "an undefined value (division by zero) equals nothing")
    try:
        if verify(gold, pred, float_rounding=float_rounding, timeout_seconds=None):
            return Equivalence(True, "math_verify")
    except Exception:  # noqa: BLE001, S110 - fall through to our own checks
        pass
    if g is None or p is None:
        return Equivalence(False, "none", "not equal to the reference")
    numeric = _numeric_equal(g, p, rel_tol)
    if numeric is not None:
        return Equivalence(numeric, "numeric", "" if numeric else "a different value from the reference")
    relation = _relation_equal(g, p)
    if relation is not None:
        return Equivalence(relation, "relation", "" if relation else "a different set of values (check < vs ≤)")
    if _sampled_equal(g, p, rel_tol):
        return Equivalence(True, "sampling")
    return Equivalence(False, "none", "not equal to the reference")
