"""A chain of verifiers from the pipeline config: all must pass (default), or a weighted score.

In ``all`` mode verifiers run in order and the chain stops at the first failure when
``short_circuit`` is on (a cheap static check spares the sandbox run). In ``weighted`` mode every
verifier runs and the candidate passes when the weighted mean score reaches ``threshold``; the
combined score is stored as ``candidate.scores['verify']``.

A verifier that raises (a bug, a missing dependency) fails the candidate with a verdict whose
``details['error']`` is ``VERIFIER_ERROR``: the run counts these apart from failed verdicts
(:mod:`synthgen.run_stats`), prints them and exits non-zero. Time spent is kept in the run's timers
(``verify:<name>``), never in the verdict, so the same outputs give byte-identical records.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Sequence

from synthgen.errors import TransientError
from synthgen.plugins import Verifier
from synthgen.records import Candidate, Record, Verdict

if TYPE_CHECKING:
    from synthgen.context import Context

VERIFIER_ERROR = "verifier_error"  # details['error'] of the verdict standing for a verifier that raised


@dataclass
class VerifierChain:
    verifiers: Sequence[Verifier]
    mode: Literal["all", "weighted"] = "all"
    weights: dict[str, float] = field(default_factory=dict)
    threshold: float = 0.5
    short_circuit: bool = True

    async def verify(self, record: Record, candidate: Candidate, ctx: "Context",
                     *, only: Sequence[str] | None = None) -> list[Verdict]:
        new: list[Verdict] = []
        for verifier in self.verifiers:
            if only is not None and verifier.name not in only:
                continue
            verdict = await self._one(verifier, record, candidate, ctx)
            verdicts = candidate.verdicts
            if verdicts:  # a verifier run again replaces its earlier verdict
                candidate.verdicts = [v for v in verdicts if v.verifier != verdict.verifier] + [verdict]
            else:
                candidate.verdicts = [verdict]
            new.append(verdict)
            if self.mode == "all" and self.short_circuit and not verdict.passed:
                break
        if self.mode == "weighted" and new:
            total = sum(self.weights.get(v.verifier, 1.0) for v in new)
            score = sum(self.weights.get(v.verifier, 1.0) * _score(v) for v in new) / total
            candidate.scores["verify"] = score
            candidate.verdicts.append(Verdict(verifier="chain", passed=score >= self.threshold, score=score))
        return new

    @staticmethod
    async def _one(verifier: Verifier, record: Record, candidate: Candidate, ctx: "Context") -> Verdict:
        # Timers.time inlined: a context manager per verdict costs as much as a cheap verifier
        timers, key, start = ctx.timers, _timer_key(verifier.name), time.perf_counter()
        try:
            return await verifier.verify(record, candidate, ctx)
        except TransientError:
            raise  # the runner retries the item
        except Exception as exc:  # a crashing verifier fails the candidate, with the reason
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return Verdict(verifier=verifier.name, passed=False, feedback=f"verifier error: {message}",
                           details={"error": VERIFIER_ERROR, "message": message[:500]})
        finally:
            timers.seconds[key] += time.perf_counter() - start
            timers.calls[key] += 1

    async def close(self) -> None:
        for v in self.verifiers:
            await v.close()


@functools.lru_cache(maxsize=256)
def _timer_key(name: str) -> str:
    return f"verify:{name}"


def _score(v: Verdict) -> float:
    return v.score if v.score is not None else (1.0 if v.passed else 0.0)
