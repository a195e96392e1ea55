"""Rejection sampling and preference building over one record's verified candidates.

- SFT (rejection sampling): among candidates that passed every verifier, rank by the reward-model
  score (``candidate.scores['reward']``, set by the ``reward_score`` verifier) and keep the best
  ``keep_top_k`` distinct responses (the paper keeps the best of K = 10..30).
- DPO pairs: a passing candidate (chosen) against a failed one (rejected), or best vs worst by score;
  pairs whose scores differ by less than ``min_margin`` or whose responses are near-identical
  (token Jaccard >= ``similarity_threshold``) are dropped, as the paper drops similar responses.
- RM rows: up to 3 responses ranked best first; an edited response (``metadata['edited']``)
  ranks above the rest (edited > chosen > rejected).
Empty responses (no content and no tool calls) are never selected, paired or ranked: there is no
sequence to train on, and trainers refuse such rows.
Every choice refers to candidate ids, so exports keep provenance back to the candidates.
"""

from __future__ import annotations

import re

from synthgen.config import SelectionConfig
from synthgen.records import Candidate, PreferencePair, Record

_TOKEN = re.compile(r"\w+|[^\w\s]")


def candidate_score(c: Candidate, key: str) -> float:
    """The ranking score: the configured key, then the chain's weighted score, then mean verdict score."""
    if key in c.scores:
        return c.scores[key]
    if "verify" in c.scores:
        return c.scores["verify"]
    scores = [v.score if v.score is not None else float(v.passed) for v in c.verdicts]
    return sum(scores) / len(scores) if scores else 0.0


def response_text(c: Candidate) -> str:
    parts = []
    for m in c.messages:
        parts.append(str(m.get("content") or ""))
        for call in m.get("tool_calls") or []:
            parts.append(str(call))
    return "\n".join(parts)


def similarity(a: Candidate, b: Candidate) -> float:
    return _jaccard(_tokens(response_text(a)), _tokens(response_text(b)))


def _tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text))


def _jaccard(ta: set[str], tb: set[str]) -> float:
    if not ta and not tb:
        return 1.0
    return len(ta & tb) / len(ta | tb)


class _Cand:
    """One candidate as selection sees it, computed once per record: its response text (stripped),
    pass flag and ranking score; its token set on first use (only near-duplicate checks need it)."""

    __slots__ = ("c", "id", "text", "passed", "score", "_tokens")

    def __init__(self, c: Candidate, key: str) -> None:
        self.c, self.id = c, c.id
        self.text = response_text(c).strip()
        self.passed = c.passed
        self.score = candidate_score(c, key)
        self._tokens: set[str] | None = None

    def tokens(self) -> set[str]:
        if self._tokens is None:
            self._tokens = _tokens(self.text)
        return self._tokens


def _similar(a: _Cand, b: _Cand, threshold: float) -> bool:
    return _jaccard(a.tokens(), b.tokens()) >= threshold


def _ranked(cands: list[_Cand]) -> list[_Cand]:
    # stable: equal scores keep generation order, so results do not depend on dict/set order
    return sorted(cands, key=lambda c: -c.score) if len(cands) > 1 else cands


def _distinct(cands: list[_Cand]) -> list[_Cand]:
    seen, out = set(), []
    for c in cands:
        if c.text not in seen:
            seen.add(c.text)
            out.append(c)
    return out


def select(record: Record, cfg: SelectionConfig) -> Record:
    """Fill ``record.selected``, ``record.pairs`` and ``record.ranking`` (in place; returns the record)."""
    if record.status != "ok" or not record.candidates:
        return record
    key = cfg.score_key
    usable = [m for m in (_Cand(c, key) for c in record.candidates) if m.text]
    passed = _ranked([m for m in usable if m.passed])
    failed = _ranked([m for m in usable if not m.passed])
    top = _distinct(passed)
    record.selected = [m.id for m in top[: cfg.keep_top_k]]
    if not record.pairs:  # a generator that knows better (faulty vs fixed) sets its own pairs
        record.pairs = _pairs(passed, failed, cfg)
    if not record.ranking:
        record.ranking = _ranking(passed, failed, cfg)
    return record


def _pairs(passed: list[_Cand], failed: list[_Cand], cfg: SelectionConfig) -> list[PreferencePair]:
    if cfg.pairs == "none" or cfg.max_pairs_per_record == 0:
        return []
    if cfg.pairs == "best_vs_worst":
        everyone = passed + failed  # passing candidates outrank failing ones whatever their scores
        options = [(everyone[0], everyone[-1])] if len(everyone) >= 2 else []
    elif cfg.pairs == "passed_vs_failed":
        options = [(passed[0], f) for f in reversed(failed)] if passed else []  # worst failure first
    else:  # all_passed_vs_failed
        options = [(p, f) for p in passed for f in reversed(failed)]
    pairs: list[PreferencePair] = []
    for chosen, rejected in options:
        margin = chosen.score - rejected.score
        if chosen.passed == rejected.passed and margin < cfg.min_margin:
            continue
        if _similar(chosen, rejected, cfg.similarity_threshold):
            continue
        reason = "passed vs failed" if chosen.passed and not rejected.passed else "score"
        pairs.append(PreferencePair(chosen=chosen.id, rejected=rejected.id, margin=round(margin, 6), reason=reason))
        if len(pairs) >= cfg.max_pairs_per_record:
            break
    return pairs


def _ranking(passed: list[_Cand], failed: list[_Cand], cfg: SelectionConfig) -> list[str]:
    if not passed or not failed:
        return []  # an RM row needs a preferred and a dispreferred response
    edited = [m for m in passed if m.c.metadata.get("edited")]
    top = _distinct(edited[:1] + [m for m in passed if not m.c.metadata.get("edited")])
    ranked = top[: cfg.ranking_size - 1] + [failed[-1]]
    for a, b in zip(ranked, ranked[1:]):
        if _similar(a, b, cfg.similarity_threshold):
            return []
    return [m.id for m in ranked]
