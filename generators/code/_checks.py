"""How the code generators ask the pipeline's verifiers to check code.

Code never runs here: it runs through the verifier chain (``static`` then ``code_exec``), which
uses the sandbox. This module holds the few conventions between the generators and those
verifiers: where the language and the tests live on a record, how an ad-hoc program (a solution
plus model-written tests, a regenerated function plus the original's assertions) is handed over,
and how a failure the generator detects itself (no code block) becomes a verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from synthgen.context import Context
from synthgen.errors import ConfigError
from synthgen.records import Candidate, Record, Verdict


def require_chain(ctx: Context, generator: str) -> None:
    """A code generator without verifiers would keep unchecked code: refuse with the fix."""
    if ctx.run.chain is None or not ctx.run.chain.verifiers:
        raise ConfigError(f"the {generator} generator checks code with the pipeline's verifiers: add "
                          "`verifiers: [{name: static}, {name: code_exec}]` (and a `sandbox:`) to the config",
                          field="verifiers")


def verifier_names(ctx: Context) -> list[str]:
    return [v.name for v in ctx.run.chain.verifiers] if ctx.run.chain is not None else []


def tests_metadata(*, cases: Sequence[Any] | None = None, asserts: Sequence[str] | None = None) -> dict[str, Any]:
    """Record metadata that tells ``code_exec`` which tests to run."""
    meta: dict[str, Any] = {}
    if cases:
        meta["tests"] = [{"stdin": c.stdin, "stdout": c.stdout} for c in cases]
        meta["test_kind"] = "stdio"
    elif asserts:
        meta["tests"] = "\n".join(asserts)
        meta["test_kind"] = "assert"
    return meta


def attach_failure(cand: Candidate, check: str, feedback: str, **details: Any) -> Verdict:
    """Record a failure the generator found itself (e.g. no code block) as a verdict on the candidate."""
    verdict = Verdict(verifier=check, passed=False, score=0.0, feedback=feedback, details=dict(details))
    cand.verdicts = [v for v in cand.verdicts if v.verifier != check] + [verdict]
    return verdict


async def run_checks(ctx: Context, record: Record, cand: Candidate, *, only: Sequence[str] | None = None) -> list[Verdict]:
    """Run the pipeline's chain (or the named verifiers of it) on one candidate; verdicts are attached."""
    return await ctx.verify(record, cand, only=only)


def failure_feedback(verdicts: Sequence[Verdict]) -> str:
    """The feedback of the first failing verdict, phrased for a correction turn."""
    for v in verdicts:
        if not v.passed:
            return v.feedback.strip() or f"The {v.verifier} check failed."
    return ""
