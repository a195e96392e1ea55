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


class _Memo:
    """Each candidate's response text, tokens and pass flag, computed once per record: selection
    asks for them several times per candidate (by object id: the candidates outlive the memo)."""

    def __init__(self, cands: list[Candidate]) -> None:
        self.text = {id(c): response_text(c) for c in cands}
        self.passed = {id(c): c.passed for c in cands}
        self._tokens: dict[int, set[str]] = {}

    def tokens(self, c: Candidate) -> set[str]:
        got = self._tokens.get(id(c))
        if got is None:
            got = self._tokens[id(c)] = _tokens(self.text[id(c)])
        return got

    def similarity(self, a: Candidate, b: Candidate) -> float:
        return _jaccard(self.tokens(a), self.tokens(b))


def _ranked(cands: list[Candidate], key: str) -> list[Candidate]:
    # stable: equal scores keep generation order, so results do not depend on dict/set order
    return sorted(cands, key=lambda c: -candidate_score(c, key))


def _distinct(cands: list[Candidate], memo: _Memo) -> list[Candidate]:
    seen, out = set(), []
    for c in cands:
        text = memo.text[id(c)].strip()
        if text not in seen:
            seen.add(text)
            out.append(c)
    return out


def select(record: Record, cfg: SelectionConfig) -> Record:
    """Fill ``record.selected``, ``record.pairs`` and ``record.ranking`` (in place; returns the record)."""
    if record.status != "ok" or not record.candidates:
        return record
    key = cfg.score_key
    memo = _Memo(record.candidates)
    usable = [c for c in record.candidates if memo.text[id(c)].strip()]
    passed = _ranked([c for c in usable if memo.passed[id(c)]], key)
    failed = _ranked([c for c in usable if not memo.passed[id(c)]], key)
    record.selected = [c.id for c in _distinct(passed, memo)[: cfg.keep_top_k]]
    if not record.pairs:  # a generator that knows better (faulty vs fixed) sets its own pairs
        record.pairs = _pairs(passed, failed, cfg, memo)
    if not record.ranking:
        record.ranking = _ranking(record, passed, failed, cfg, memo)
    return record


def _pairs(passed: list[Candidate], failed: list[Candidate], cfg: SelectionConfig,
           memo: _Memo) -> list[PreferencePair]:
    key = cfg.score_key
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
        margin = candidate_score(chosen, key) - candidate_score(rejected, key)
        chosen_passed, rejected_passed = memo.passed[id(chosen)], memo.passed[id(rejected)]
        if chosen_passed == rejected_passed and margin < cfg.min_margin:
            continue
        if memo.similarity(chosen, rejected) >= cfg.similarity_threshold:
            continue
        reason = "passed vs failed" if chosen_passed and not rejected_passed else "score"
        pairs.append(PreferencePair(chosen=chosen.id, rejected=rejected.id, margin=round(margin, 6), reason=reason))
        if len(pairs) >= cfg.max_pairs_per_record:
            break
    return pairs


def _ranking(record: Record, passed: list[Candidate], failed: list[Candidate], cfg: SelectionConfig,
             memo: _Memo) -> list[str]:
    edited = [c for c in passed if c.metadata.get("edited")]
    rest = [c for c in passed if not c.metadata.get("edited")]
    if not (edited or rest) or not failed:
        return []  # an RM row needs a preferred and a dispreferred response
    top = _distinct(edited[:1] + rest, memo)
    worst = failed[-1]
    ranked = top[: cfg.ranking_size - 1] + [worst]
    for a, b in zip(ranked, ranked[1:]):
        if memo.similarity(a, b) >= cfg.similarity_threshold:
            return []
    return [c.id for c in ranked]
