"""Helpers of the math generators: splitting a solution into steps, majority voting by equivalence,
reading problems out of a model's passage answer, a stage counter.

Voting runs in :func:`vote` (module level, so a killable worker process can import it): answers are
grouped by mathematical equivalence (``verifiers.math_equiv.equivalent``), not string equality, so
``1/2``, ``0.5`` and ``\\frac12`` are one vote.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from typing import Literal

from verifiers.math_equiv import equivalent, normalise
from verifiers.math_extract import extract_answer

SplitMode = Literal["auto", "paragraphs", "numbered", "step_k", "lines"]

_STEP_K = re.compile(r"(?im)^\s*(?:\*\*)?step\s*\d+\s*[:.)]")
_NUMBERED = re.compile(r"(?m)^\s*\d+[.)]\s+")


def split_steps(text: str, mode: SplitMode = "auto") -> list[str]:
    """The solution's steps, in order; each keeps its own text. ``auto``: "Step k" markers, then
    numbered lines, then paragraphs, then lines (whichever first gives more than one step)."""
    text = text.strip()
    if not text:
        return []
    modes: list[SplitMode] = ["step_k", "numbered", "paragraphs", "lines"] if mode == "auto" else [mode]
    for m in modes:
        if m == "paragraphs":
            steps = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
        elif m == "lines":
            steps = [ln.strip() for ln in text.splitlines() if ln.strip()]
        else:
            pattern = _STEP_K if m == "step_k" else _NUMBERED
            starts = [mt.start() for mt in pattern.finditer(text)]
            if not starts:
                steps = [text]
            else:
                bounds = ([0] if starts[0] > 0 and text[: starts[0]].strip() else []) + starts + [len(text)]
                steps = [text[a:b].strip() for a, b in itertools.pairwise(bounds) if text[a:b].strip()]
        if len(steps) > 1 or mode != "auto":
            return steps
    return [text]


def prefixes(steps: list[str]) -> list[str]:
    """Step 1, steps 1-2, ...: what a process reward model scores (the last one is the whole solution)."""
    return ["\n\n".join(steps[: i + 1]) for i in range(len(steps))]


def vote(answers: list[str | None], float_rounding: int = 6) -> list[tuple[str, int]]:
    """Clusters of equivalent answers, largest first: [(representative, votes)]; None = no answer."""
    clusters: list[list[str]] = []
    for ans in answers:
        if ans is None or not ans.strip():
            continue
        for cluster in clusters:
            if normalise(cluster[0]) == normalise(ans) or equivalent(cluster[0], ans,
                                                                     float_rounding=float_rounding).equal:
                cluster.append(ans)
                break
        else:
            clusters.append([ans])
    # The representative is the cluster's most common written form (ties: first seen).
    out = [(Counter(c).most_common(1)[0][0], len(c)) for c in clusters]
    return sorted(out, key=lambda x: -x[1])


def vote_by_text(answers: list[str | None]) -> list[tuple[str, int]]:
    """The fallback when equivalence checks ran out of time: normalised text only."""
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    for ans in answers:
        if ans and ans.strip():
            key = normalise(ans)
            counts[key] += 1
            first.setdefault(key, ans)
    return [(first[k], n) for k, n in counts.most_common()]


def final_answer(text: str) -> str | None:
    return extract_answer(text)[0]


_PROBLEM = re.compile(r"(?ims)^\s*(?:#+\s*|\*\*)?(?:problem|question)\s*(\d*)\s*(?:\*\*)?\s*[:.]\s*(.*?)"
                      r"^\s*(?:\*\*)?answer\s*\1\s*(?:\*\*)?\s*[:.]\s*(.*?)(?=^\s*(?:#+\s*|\*\*)?(?:problem|question)"
                      r"\s*\d*\s*(?:\*\*)?\s*[:.]|\Z)")


def parse_problems(text: str, max_answer_chars: int = 80) -> tuple[list[tuple[str, str]], list[str]]:
    """(question, answer) pairs written as "Problem k: ... Answer k: ...", and why others were dropped."""
    found, dropped = [], []
    for match in _PROBLEM.finditer(text):
        question, answer_text = match.group(2).strip(), match.group(3).strip()
        answer = extract_answer(answer_text)[0] or answer_text.splitlines()[0].strip().rstrip(".") \
            if answer_text else ""
        if not question:
            dropped.append("empty question")
        elif not answer or len(answer) > max_answer_chars:
            dropped.append(f"no parseable answer for {question[:60]!r}")
        elif not re.search(r"[\d\\]", answer) and len(answer.split()) > 3:
            # prose, not a value the math verifier could compare ("it depends on the angle")
            dropped.append(f"answer {answer[:40]!r} is not a mathematical value")
        else:
            found.append((question, answer))
    return found, dropped


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def dedupe_problems(problems: list[tuple[str, str]], threshold: float = 0.8) -> tuple[list[tuple[str, str]], int]:
    """Drop a problem whose question repeats an earlier one (token Jaccard >= threshold)."""
    kept: list[tuple[str, str]] = []
    for q, a in problems:
        tq = _tokens(q)
        if any(len(tq & _tokens(k)) / max(1, len(tq | _tokens(k))) >= threshold for k, _ in kept):
            continue
        kept.append((q, a))
    return kept, len(problems) - len(kept)


class Stages(dict):
    """Funnel counters stored as ``record.metadata['stages']``."""

    def __init__(self, *names: str) -> None:
        super().__init__({n: 0 for n in names})

    def add(self, name: str, n: int = 1) -> None:
        self[name] = self.get(name, 0) + n
