"""Find the final answer in a model's math solution.

Strategies, tried in the configured order (first hit wins):

- ``boxed``: the content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces balanced),
  or ``\\boxed 5`` without braces.
- ``answer_is``: the text after the last "The answer is", "Final answer:", "Answer:" (up to the end
  of the line, a sentence-ending period, or the end of a ``$...$`` span).
- ``last_number``: the last number in the text (integers, decimals, ``1,000``, ``3/4``, signs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

STRATEGIES = ("boxed", "answer_is", "last_number")

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*")
_ANSWER_IS_RE = re.compile(
    r"(?:the\s+final\s+answer\s+is|the\s+answer\s+is|final\s+answer\s*(?:is)?\s*[:：]?|answer\s*[:：])\s*",
    re.IGNORECASE,
)
_NUMBER_RE = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|(?<![\w.])-?\d+(?:\.\d+)?(?:/\d+)?")


def _balanced(text: str, open_at: int) -> str | None:
    """The text inside the brace group opening at ``open_at`` (``text[open_at] == '{'``)."""
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            continue  # \{ and \} are set braces, not groups; the next char is skipped below
        if ch in "{}" and i > 0 and text[i - 1] == "\\":
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1:i]
    return None  # unbalanced: a truncated answer is no answer


def extract_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{}`` with balanced braces, or None."""
    for match in reversed(list(_BOX_RE.finditer(text))):
        end = match.end()
        if end < len(text) and text[end] == "{":
            inner = _balanced(text, end)
            if inner is not None:
                return inner.strip()
        elif end < len(text):
            bare = re.match(r"[^\s$.,;]+", text[end:])  # "\boxed 5"
            if bare:
                return bare.group(0)
    return None


def extract_answer_is(text: str) -> str | None:
    """Text after the last "The answer is" / "Final answer:" / "Answer:", trimmed to one clause."""
    matches = list(_ANSWER_IS_RE.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end():]
    rest = rest.split("\n", 1)[0].strip()
    if rest.startswith("$"):
        inner = re.match(r"\$\$?(.+?)\$\$?", rest)
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


def extract_last_number(text: str) -> str | None:
    numbers = _NUMBER_RE.findall(text)
    return numbers[-1] if numbers else None


_EXTRACTORS = {"boxed": extract_boxed, "answer_is": extract_answer_is, "last_number": extract_last_number}


def extract_answer(text: str, order: Sequence[str] = STRATEGIES) -> tuple[str | None, str]:
    """(answer, strategy) for the first strategy in ``order`` that finds one; (None, '') if none."""
    for strategy in order:
        found = _EXTRACTORS[strategy](text)
        if found:
            return found, strategy
    return None, ""
