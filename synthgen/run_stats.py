"""What a run's summary and report say about its records, gathered one record at a time.

:class:`RunStats` holds only tallies, never records: counts, summed generator stages, pass counts
per verifier and language, score histograms and failure reasons. Its memory does not grow with the
number of records (histograms keep exact value counts up to ``_EXACT_VALUES`` distinct values per
score, then round the values to fewer digits), so a run of millions of records is summarised in
one streaming pass. :mod:`synthgen.report` renders it; it reads no records itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Iterable

from synthgen.records import Record

_EXACT_VALUES = 4096
_MAX_REASONS = 10_000


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

    @classmethod
    def of(cls, records: Iterable[Record]) -> "RunStats":
        stats = cls()
        for r in records:
            stats.add(r)
        return stats

    def add(self, r: Record) -> None:
        counts = self.counts
        passed = [c.passed for c in r.candidates]
        counts["records"] += 1
        counts["failed_records"] += r.status == "failed"
        counts["candidates"] += len(r.candidates)
        counts["passed_candidates"] += sum(passed)
        counts["records_with_pass"] += any(passed)
        counts["sft_rows"] += len(r.selected)
        counts["dpo_pairs"] += len(r.pairs)
        counts["rm_rows"] += len(r.ranking) >= 2
        for key, value in (r.metadata.get("stages") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.stages[key] += value
        lang = str(r.metadata.get("language", r.metadata.get("target_language", "-")))
        for c in r.candidates:
            for v in c.verdicts:
                t = self.verifiers[(v.verifier, lang)]
                t[0] += v.passed
                t[1] += 1
            for key, val in c.scores.items():
                hist = self.scores.get(key)
                if hist is None:
                    hist = self.scores[key] = ScoreHistogram()
                hist.add(val)
        if r.status == "failed":
            reason = r.error.split(":")[0][:120]
            if reason in self.reasons or len(self.reasons) < _MAX_REASONS:
                self.reasons[reason] += 1
            else:
                self.reasons["(other reasons)"] += 1

    def summary(self) -> tuple[dict[str, int], dict[str, float]]:
        """(counts, stages) as summary.json has them."""
        return dict(self.counts), dict(self.stages)

    def verifier_table(self) -> list[tuple[str, str, int, int]]:
        """(verifier, language, passed, total) over every candidate verdict."""
        return [(k[0], k[1], v[0], v[1]) for k, v in sorted(self.verifiers.items())]

    def score_histograms(self, bins: int = 10) -> dict[str, list[int]]:
        return {f"{key} [{h.lo:.3g}, {h.hi:.3g}]": h.bins(bins) for key, h in self.scores.items()}
