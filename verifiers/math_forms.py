"""How answers are written, read without sympy: normal form, words, choices, clock times, numbers, lists.

Rules worth knowing (they decide verdicts):

- **Thousands separators vs decimal commas.** ``1,000`` and ``12,345,678`` (a first group of 1-3
  digits that is not ``0``, then groups of exactly three) are thousands separators everywhere. Any
  other comma between two digits (``0,111``, ``1,22``, ``3,5``) is a decimal comma, but only when
  the reference is a single number; against a list, set or tuple it separates items. A comma
  followed by a space (``1, 5``) always separates items.
- **Words vs letters.** An answer is words (compared case- and space-insensitively as text) when
  one of its tokens is a word: three or more letters and not a function or constant name
  (``sin``, ``pi``), or a short English word (``no``). ``p - q``, ``ab`` and ``x`` are algebra.
- **Multiple-choice letters**: ``B``, ``(B)``, ``\\text{(B)}``, ``(b)``, also ``(B) 12`` (the
  choice followed by its value). A bare ``e`` is Euler's number, not choice E.
- **Clock times** (``12:00``, ``3:45 p.m.``) compare as times, and ratios (``1:2``) as written;
  neither is a division (``12:00`` would be 12/0).
"""

from __future__ import annotations

import re
from fractions import Fraction

_TEXT_RE = re.compile(r"^\\(?:text|textbf|mathrm|mbox|textit|mathbf)\{([^{}]*)\}$")
_PHRASE_RE = re.compile(r"^[A-Za-z][A-Za-z \-']*$")
_CHOICE_RE = re.compile(r"^(?:\(([A-Ea-e])\)|([A-E])(?=$|[.):]))(.*)$")
_UNIT_WORDS_RE = re.compile(r"^([+-]?(?:\d+(?:\.\d+)?|\d+/\d+))\s+([A-Za-z][A-Za-z.]*(?:\s+[A-Za-z][A-Za-z.]*){0,2})$")
_THOUSANDS_RE = re.compile(r"(?<![\d.,])[1-9]\d{0,2}(?:,\d{3})+(?![\d,])")
_DECIMAL_COMMA_RE = re.compile(r"^([+-]?\d+),(\d+)$")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:\\text\{\s*)?([ap])?\.?\s*(?:m\.?)?\}?$", re.IGNORECASE)
_RATIO_RE = re.compile(r"^\d+(?:\.\d+)?(?:\s*:\s*\d+(?:\.\d+)?)+$")
_PLAIN_INT = re.compile(r"^[+-]?\d+$")
_PLAIN_DEC = re.compile(r"^[+-]?\d*\.\d+$")
_PLAIN_FRAC = re.compile(r"^([+-]?)(?:\\frac\{([+-]?\d+)\}\{(\d+)\}|(\d+)/(\d+))$")
_SHORT_UNITS = {"cm", "mm", "km", "m", "kg", "g", "mg", "s", "ms", "h", "hr", "min", "ml", "l", "ft", "in", "yd",
                "mi", "lb", "lbs", "oz", "mph", "kmh"}
_MATH_WORDS = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "sqrt", "pi", "arcsin", "arccos",
               "arctan", "sinh", "cosh", "tanh", "max", "min", "gcd", "lcm", "mod", "det", "e", "i"}
_SHORT_WORDS = {"no", "or", "of", "is", "an", "it", "to", "by", "if", "so", "up", "on", "at"}
_CONNECTOR_RE = re.compile(r"\s*(?:\\text\{\s*(?:or|and)\s*\}|\\(?:quad|qquad)|\bor\b|\band\b)\s*")


def normalise(answer: str) -> str:
    """A canonical spelling for string comparison: no delimiters, spaces, ``\\left``, thousands commas."""
    s = answer.strip().replace("\u2212", "-").replace("\\$", "")
    s = re.sub(r"^\$+|\$+$", "", s).strip()
    s = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", s).strip()
    for old, new in (("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\left", ""), ("\\right", ""),
                     ("\\displaystyle", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\ ", " "), ("{,}", ",")):
        s = s.replace(old, new)
    s = strip_thousands(s)
    s = s.rstrip(".").strip()
    return re.sub(r"\s+", "", s)


def strip_thousands(s: str) -> str:
    """``1,234,567`` -> ``1234567``; ``0,111`` and ``1,22`` are left alone (not thousands groups)."""
    return _THOUSANDS_RE.sub(lambda m: m.group(0).replace(",", ""), s)


def decimal_comma(answer: str) -> str | None:
    """``1,22`` -> ``1.22`` when the comma cannot be a thousands separator; else None."""
    if re.search(r",\s", answer):
        return None  # "1, 5" is a list
    m = _DECIMAL_COMMA_RE.match(normalise(answer))
    return f"{m.group(1)}.{m.group(2)}" if m else None


def _is_word(token: str) -> bool:
    t = token.lower().strip("'-")
    return (len(t) >= 3 and t not in _MATH_WORDS) or t in _SHORT_WORDS


def as_text(answer: str) -> str | None:
    """The answer as a lower-case phrase when it is words, not mathematics; else None."""
    s = answer.strip().strip("$").strip()
    m = _TEXT_RE.match(s)
    if m:
        s = m.group(1)
    s = s.strip().rstrip(".")
    if _PHRASE_RE.match(s) and any(_is_word(t) for t in re.split(r"[\s\-]+", s) if t):
        return " ".join(s.lower().split())
    return None


def choice(answer: str) -> str | None:
    """The multiple-choice letter, upper-case, of ``B``, ``(B)``, ``\\text{(B)}``, ``(B) 12``; else None."""
    s = answer.strip().strip("$").strip()
    m = _TEXT_RE.match(s)
    s = (m.group(1) if m else s).strip()
    m = _CHOICE_RE.match(s)
    if not m:
        return None
    rest = m.group(3).strip()
    if m.group(2) and rest and not rest.startswith((".", ")", ":")):
        return None
    if re.search(r"\(([A-Ea-e])\)|\b[A-E]\b", rest.lstrip(".):")):
        return None  # "(C) or (D)": two choices are no choice
    return (m.group(1) or m.group(2)).upper()


def clock_time(answer: str) -> tuple[int, int, int, str] | None:
    """(hours, minutes, seconds, 'a'|'p'|'') for ``3:45``, ``3:45 p.m.``, ``12:00:30``; else None."""
    m = _TIME_RE.match(normalise_spaces(answer))
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), (m.group(4) or "").lower()


def normalise_spaces(answer: str) -> str:
    s = answer.strip().strip("$").strip().replace("\\ ", " ").replace("~", " ")
    return " ".join(s.rstrip(".").split())


def is_ratio(answer: str) -> bool:
    return bool(_RATIO_RE.match(normalise_spaces(answer)))


def without_unit_words(answer: str) -> str:
    """``"12 dollars"`` -> ``"12"``: a plain number followed by up to three words that are not
    mathematics (a unit, a noun). Anything else is returned unchanged."""
    m = _UNIT_WORDS_RE.match(answer.strip().rstrip("."))
    if m and all(_is_unit_word(w.rstrip(".")) for w in m.group(2).split()):
        return m.group(1)
    return answer


def _is_unit_word(word: str) -> bool:
    w = word.lower()
    return w in _SHORT_UNITS or (len(w) >= 3 and w not in _MATH_WORDS)


def plain_number(normalised: str) -> tuple[Fraction, bool] | None:
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


def _split_top(s: str, sep: str) -> list[str]:
    """Split on ``sep`` outside (), [], {} and ``\\{ \\}``."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        ch = s[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and s.startswith(sep, i):
            parts.append(s[start:i])
            start = i + len(sep)
        i += 1
    parts.append(s[start:])
    return [p.strip() for p in parts]


def items(answer: str) -> tuple[list[str], str]:
    """(items, kind) of an answer that lists several values.

    kind: ``set`` for ``\\{a, b\\}`` or a bare list ``a, b`` (the solutions of an equation, any
    order), ``ordered`` for ``(a, b)`` / ``[a, b]`` (a point, a vector; may also be an interval,
    which a caller compares whole first), ``single`` otherwise. A leading ``x =`` of a bare list
    is dropped (``x = 2, -3``); ``or`` / ``and`` between values separate items like commas.
    """
    s = strip_thousands(answer.strip().strip("$").strip().replace("\\left", "").replace("\\right", ""))
    s = s.rstrip(".").strip()
    if s.startswith("\\{") and s.endswith("\\}"):
        inner = s[2:-2]
        return [p for p in _split_top(inner, ",") if p], "set"
    if len(s) > 2 and s[0] in "([" and s[-1] in ")]" and _closes_at_end(s):
        inner = _split_top(s[1:-1], ",")
        if len(inner) > 1:
            return inner, "ordered"
    s = re.sub(r"^[A-Za-z]\s*(?:=|\\in)\s*(?=[^=]*,)", "", s)
    parts = [p for chunk in _split_top(s, ",") for p in _CONNECTOR_RE.split(chunk) if p and p.strip()]
    parts = [p.strip() for p in parts if p.strip()]
    if len(parts) > 1:
        return parts, "set"
    return [answer.strip()], "single"


def _closes_at_end(s: str) -> bool:
    """True when the bracket opening ``s`` is the one closing it (``(1,2)`` yes, ``(1)(2)`` no)."""
    depth = 0
    for i, ch in enumerate(s):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0:
            return i == len(s) - 1
    return False
