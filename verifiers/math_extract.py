"""Find the final answer in a model's math solution.

Strategies, tried in the configured order (the first that finds something wins):

- ``boxed``: every ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces balanced), or ``\\boxed 5``
  without braces. Several boxes with different contents are ONE answer made of several parts
  (``\\boxed{1}`` and ``\\boxed{2}`` is the list 1, 2); the same box repeated counts once. When the
  last box is never closed the response was cut inside its answer: no answer.
- ``answer_is``: the text after the last "The answer is", "Final answer:", "Answer:" or GSM8K's
  ``####`` (up to the end of the line, a sentence-ending period, or the end of a ``$...$`` span).
- ``last_latex``: the last ``$...$``, ``$$...$$``, ``\\(...\\)`` or ``\\[...\\]`` span, for solutions
  that end in a formula without saying "the answer is". An escaped ``\\$`` is a dollar sign, not a
  delimiter.
- ``last_number``: the last number in the text (integers, decimals, ``1,000``, ``3/4``, signs). Not
  in the default order: any text whose last number happens to match would pass, a truncated or
  garbled sample included.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

STRATEGIES = ("boxed", "answer_is", "last_latex", "last_number")
DEFAULT_ORDER = ("boxed", "answer_is", "last_latex")

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*")
_ANSWER_IS_RE = re.compile(
    r"(?:the\s+final\s+answer\s+is|the\s+answer\s+is|final\s+answer\s*(?:is)?\s*[:：]?|answer\s*[:：]|####)\s*",
    re.IGNORECASE,
)
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|(?<![\w.])-?\d+(?:\.\d+)?(?:/\d+)?")
# Math spans: $$...$$ and $...$ with unescaped dollars, \[...\], \(...\). Non-greedy, no nesting.
_LATEX_SPAN_RE = re.compile(
    r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$(?!\$)(.+?)(?<!\\)\$", re.DOTALL)


def _balanced(text: str, open_at: int) -> str | None:
    """The text inside the brace group opening at ``open_at`` (``text[open_at] == '{'``)."""
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch in "{}" and i > 0 and text[i - 1] == "\\":
            continue  # \{ and \} are set braces, not groups
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i]
    return None  # unbalanced: a truncated answer is no answer


def extract_boxes(text: str) -> list[str]:
    """Contents of every ``\\boxed{}`` in order, duplicates (same text without spaces) dropped.
    ``[]`` when there is none, or when the last one is cut off (never closed)."""
    found: list[str] = []
    matches = list(_BOX_RE.finditer(text))
    for k, match in enumerate(matches):
        end = match.end()
        inner: str | None = None
        if end < len(text) and text[end] == "{":
            inner = _balanced(text, end)
            if inner is None:
                if k == len(matches) - 1:
                    return []  # the final answer was cut: do not fall back to an earlier box
                continue
        elif end < len(text):
            bare = re.match(r"[^\s$.,;]+", text[end:])  # "\boxed 5"
            inner = bare.group(0) if bare else None
        if inner and inner.strip():
            found.append(inner.strip())
    unique: list[str] = []
    seen: set[str] = set()
    for box in found:
        key = re.sub(r"\s+", "", box)
        if key not in seen:
            seen.add(key)
            unique.append(box)
    return unique


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{}`` with balanced braces, or None."""
    boxes = extract_boxes(text)
    return boxes[-1] if boxes else None


def extract_answer_is(text: str) -> str | None:
    """Text after the last "The answer is" / "Final answer:" / "Answer:" / ``####``, one clause."""
    matches = list(_ANSWER_IS_RE.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end():]
    rest = rest.split("\n", 1)[0].strip().strip("*").strip()
    if rest.startswith("$"):
        inner = re.match(r"\$\$?(.+?)(?<!\\)\$\$?", rest)
        if inner:
            return inner.group(1).strip() or None
    if rest.startswith(("\\boxed", "\\fbox")):
        boxed = extract_boxed(rest)
        if boxed is not None:
            return boxed
    # Sentence end: a period followed by a space or end, but not a decimal point.
    rest = re.split(r"\.(?=\s|$)", rest, maxsplit=1)[0]
    rest = rest.strip().strip("*").strip()
    return rest or None


def extract_last_latex(text: str) -> str | None:
    """The last ``$...$`` / ``$$...$$`` / ``\\(...\\)`` / ``\\[...\\]`` span's content."""
    spans = [next(g for g in m.groups() if g is not None) for m in _LATEX_SPAN_RE.finditer(text)]
    spans = [s.strip() for s in spans if s.strip()]
    return spans[-1] if spans else None


def extract_last_number(text: str) -> str | None:
    numbers = _NUMBER_RE.findall(text)
    return numbers[-1] if numbers else None


_EXTRACTORS = {"boxed": extract_boxed, "answer_is": extract_answer_is, "last_latex": extract_last_latex,
               "last_number": extract_last_number}


def extract_answers(text: str, order: Sequence[str] = DEFAULT_ORDER) -> tuple[list[str], str]:
    """(answer parts, strategy): one part, or one per distinct box; ``([], '')`` when nothing is found."""
    for strategy in order:
        if strategy == "boxed":
            boxes = extract_boxes(text)
            if boxes:
                return boxes, strategy
            continue
        found = _EXTRACTORS[strategy](text)
        if found:
            return [found], strategy
    return [], ""


def extract_answer(text: str, order: Sequence[str] = DEFAULT_ORDER) -> tuple[str | None, str]:
    """(answer, strategy) for the first strategy in ``order`` that finds one; (None, '') if none.
    Several distinct boxes come back joined with ``"; "`` (see :func:`extract_answers`)."""
    parts, strategy = extract_answers(text, order)
    return ("; ".join(parts) if parts else None), strategy
