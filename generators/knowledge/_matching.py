"""Short-answer matching (SQuAD-style normalisation, exact match, token F1), decline detection and
snippet splitting for the factuality generator.

The normalisation is the one the SQuAD evaluation made standard (lower case, drop punctuation and
the articles a/an/the, collapse white space); the functions are ours.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | {"\u2018", "\u2019", "\u201c", "\u201d", "\u2013", "\u2014"}


def normalise(text: str) -> str:
    text = "".join(" " if ch in _PUNCT else ch for ch in text.lower())
    return " ".join(_ARTICLES.sub(" ", text).split())


def tokens(text: str) -> list[str]:
    return normalise(text).split()


def exact_match(prediction: str, reference: str) -> bool:
    return normalise(prediction) == normalise(reference)


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains(haystack: str, needle: str) -> bool:
    """Whether ``needle``'s normalised tokens occur contiguously in ``haystack``'s (whole tokens only)."""
    hay, nee = f" {normalise(haystack)} ", normalise(needle)
    return bool(nee) and f" {nee} " in hay


DEFAULT_DECLINE_PATTERNS = (
    r"\bi (?:do not|don't|dont) know\b", r"\bi(?: am|'m) not (?:sure|certain|aware)\b", r"\bnot sure\b",
    r"\bi (?:can ?not|can't|am unable to|'m unable to|could not|couldn't) (?:answer|say|tell|confirm|find|recall|"
    r"determine|verify|provide)\b",
    r"\bi (?:do not|don't) have (?:enough |reliable |any )?(?:information|data|knowledge|details)\b",
    r"\b(?:no|not enough) (?:reliable )?information\b", r"\bunknown to me\b", r"\bi have no (?:idea|knowledge)\b",
    r"\bi would (?:rather not|not want to) guess\b", r"\bwithout guessing\b", r"\bi(?:'d| would) be guessing\b",
)


@dataclass(frozen=True)
class DeclineDetector:
    patterns: tuple[str, ...] = DEFAULT_DECLINE_PATTERNS

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile("|".join(f"(?:{p})" for p in self.patterns), re.I))

    def declines(self, text: str) -> bool:
        return bool(self._regex.search(text.replace("\u2019", "'")))  # type: ignore[attr-defined]


def split_snippets(text: str, min_chars: int, max_chars: int) -> list[str]:
    """Paragraph-aligned windows of ``min_chars``..``max_chars`` characters; a paragraph longer than
    ``max_chars`` is cut at sentence ends. Pieces shorter than ``min_chars`` join their neighbour."""
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    pieces: list[str] = []
    for p in paras:
        if len(p) <= max_chars:
            pieces.append(p)
            continue
        current = ""
        for sent in re.split(r"(?<=[.!?])\s+", p):
            if current and len(current) + len(sent) + 1 > max_chars:
                pieces.append(current)
                current = ""
            current = f"{current} {sent}".strip()
        if current:
            pieces.append(current)
    out: list[str] = []
    for piece in pieces:
        if out and (len(out[-1]) < min_chars) and len(out[-1]) + len(piece) + 2 <= max_chars:
            out[-1] = f"{out[-1]}\n\n{piece}"
        else:
            out.append(piece[:max_chars])
    if len(out) > 1 and len(out[-1]) < min_chars and len(out[-2]) + len(out[-1]) + 2 <= max_chars:
        out[-2:] = [f"{out[-2]}\n\n{out[-1]}"]
    return out
