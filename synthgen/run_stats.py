"""What a run's summary and report say about its records, gathered one record at a time.

:class:`RunStats` holds only tallies, never records: counts, summed generator stages, pass counts
per verifier and language, score histograms and failure reasons. Its memory does not grow with the
number of records (histograms keep exact value counts up to ``_EXACT_VALUES`` distinct values per
score, then round the values to fewer digits), so a run of millions of records is summarised in
one streaming pass. :mod:`synthgen.report` renders it; it reads no records itself.

Two things are told apart from ordinary failures because they call for a different fix: a verifier
that raised (``verifier_errors``: a bug or a missing dependency, not a wrong answer) and samples in
which a verifier found nothing to check (``candidates_unparseable``: no code block, no final answer;
when every sample is like that the model or its prompt format is the problem, see
:mod:`synthgen.run_outcome`).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Iterable

from synthgen.records import Candidate, Record, stored_form
from synthgen.verify_chain import VERIFIER_ERROR

_EXACT_VALUES = 4096
_MAX_REASONS = 10_000
_EXAMPLES = 100  # reasons whose first full message is kept (the outcome names the top few)
# details['error'] values by which verifiers say the sample held nothing to check
_NOTHING_PARSED = {"no_code", "no_answer", "unparseable", "no_json", "no_tool_call"}
_ATTEMPTS = re.compile(r"(failed after \d+ attempt\(s\)): ([A-Za-z_][\w.]*)(?::|$)")


def failure_reason(error: str) -> str:
    """A failed record's reason, grouped: the kind of failure without the item-specific message."""
    m = _ATTEMPTS.match(error)
    if m:
        return f"{m[1]}: {m[2]}"
    if error.startswith("source row "):
        return "source row does not fit the generator's item"
    return error.split(":")[0][:120]


def nothing_parsed(v: dict) -> bool:
    """The verifier found nothing to check in the sample (no code block, no final answer); ``v`` is a
    verdict in its stored form."""
    details = v.get("details") or {}
    error = details.get("error")
    # the math verifier's details: the extracted answer is None when the response states none
    return error in _NOTHING_PARSED or ("equal" in details and "answer" in details and details["answer"] is None)


def _truncated(c: dict) -> bool:
    return (c.get("metadata") or {}).get("finish_reason") == "length" or any(
        (v.get("details") or {}).get("error") == "truncated" for v in c.get("verdicts") or ())


class ScoreHistogram:
    """Counts of score values; past ``_EXACT_VALUES`` distinct values they are rounded coarser."""

    def __init__(self) -> None:
        self.values: Counter[float] = Counter()
        self.digits: int | None = None  # None: exact values
        self.lo = float("inf")
        self.hi = float("-inf")

    def add(self, value: float) -> None:
        value = float(value)
        self.lo, self.hi = min(self.lo, value), max(self.hi, value)
        self.values[value if self.digits is None else round(value, self.digits)] += 1
        if len(self.values) > _EXACT_VALUES:
            self._coarsen()

    def _coarsen(self) -> None:
        digits = 6 if self.digits is None else self.digits
        while len(self.values) > _EXACT_VALUES // 4:
            digits -= 1
            merged: Counter[float] = Counter()
            for v, n in self.values.items():
                merged[round(v, digits)] += n
            self.values = merged
        self.digits = digits

    def bins(self, bins: int = 10) -> list[int]:
        width = (self.hi - self.lo) / bins or 1.0
        counts = [0] * bins
        for v, n in self.values.items():
            counts[max(0, min(bins - 1, int((v - self.lo) / width)))] += n
        return counts


class RunStats:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.stages: dict[str, float] = defaultdict(float)
        self.verifiers: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        self.scores: dict[str, ScoreHistogram] = {}
        self.reasons: Counter[str] = Counter()
        self.reason_examples: dict[str, str] = {}  # reason -> its first full error message
        self.verifier_errors: Counter[str] = Counter()  # verifier -> candidates it raised on
        self.first_verifier_error: dict[str, str] = {}  # verifier, message, record
        self.items = 0  # source items (lines of the store): counted by whoever reads entries

    def add_entry(self, records: Iterable[dict | Record]) -> None:
        """One stored item and its records."""
        self.items += 1
        for r in records:
            self.add(r)

    @classmethod
    def of(cls, records: Iterable[dict | Record]) -> "RunStats":
        stats = cls()
        for r in records:
            stats.add(r)
        return stats

    def add(self, r: dict | Record) -> None:
        """One record, in its stored form (a dict as ``Record.to_json`` writes it, defaults left out:
        the end of a run tallies the stored lines without building a model per record) or a Record."""
        r = stored_form(r)
        counts = self.counts
        cands = r.get("candidates") or ()
        passed = [Candidate.stored_passed(c) for c in cands]
        failed = r.get("status") == "failed"
        meta = r.get("metadata") or {}
        ranking = r.get("ranking") or ()
        counts["records"] += 1
        counts["failed_records"] += failed
        counts["candidates"] += len(cands)
        counts["passed_candidates"] += sum(passed)
        counts["records_with_pass"] += any(passed)
        counts["sft_rows"] += len(r.get("selected") or ())
        counts["dpo_pairs"] += len(r.get("pairs") or ())
        counts["rm_rows"] += len(ranking) >= 2
        for key, value in (meta.get("stages") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.stages[key] += value
        lang = str(meta.get("language", meta.get("target_language", "-")))
        for c in cands:
            unparsed = False
            for v in c.get("verdicts") or ():
                details = v.get("details") or {}
                if details.get("error") == VERIFIER_ERROR:  # counted apart: not a verdict on the answer
                    self.verifier_errors[v["verifier"]] += 1
                    if not self.first_verifier_error:
                        self.first_verifier_error = {"verifier": v["verifier"], "record": r["id"],
                                                     "message": str(details.get("message") or v.get("feedback", ""))}
                    continue
                unparsed = unparsed or nothing_parsed(v)
                t = self.verifiers[(v["verifier"], lang)]
                t[0] += v["passed"]
                t[1] += 1
            if unparsed:
                counts["candidates_unparseable"] += 1
            if _truncated(c):
                counts["candidates_truncated"] += 1
            for key, val in (c.get("scores") or {}).items():
                if not isinstance(val, (int, float)):  # a NaN score is stored as null
                    continue
                hist = self.scores.get(key)
                if hist is None:
                    hist = self.scores[key] = ScoreHistogram()
                hist.add(val)
        if failed:
            error = r.get("error", "")
            reason = failure_reason(error)
            if reason in self.reasons or len(self.reasons) < _MAX_REASONS:
                self.reasons[reason] += 1
                if reason not in self.reason_examples and len(self.reason_examples) < _EXAMPLES:
                    self.reason_examples[reason] = error[:500]
            else:
                self.reasons["(other reasons)"] += 1

    def summary(self) -> tuple[dict[str, int], dict[str, float]]:
        """(counts, stages) as summary.json has them."""
        counts = dict(self.counts)
        if self.verifier_errors:
            counts["verifier_errors"] = sum(self.verifier_errors.values())
        return counts, dict(self.stages)

    def outcome_info(self) -> dict:
        """What the end-of-run outcome and the report say beyond the counts (JSON-ready)."""
        return {"items": self.items, "verifier_errors": dict(self.verifier_errors),
                "first_verifier_error": self.first_verifier_error,
                "reasons": self.reasons.most_common(10),
                "reason_examples": {k: self.reason_examples.get(k, "") for k, _ in self.reasons.most_common(3)}}

    def verifier_table(self) -> list[tuple[str, str, int, int]]:
        """(verifier, language, passed, total) over every candidate verdict."""
        return [(k[0], k[1], v[0], v[1]) for k, v in sorted(self.verifiers.items())]

    def score_histograms(self, bins: int = 10) -> dict[str, list[int]]:
        return {f"{key} [{h.lo:.3g}, {h.hi:.3g}]": h.bins(bins) for key, h in self.scores.items()}
