"""A worked example of a verifier plugin: the response must stay within a word budget.

A verifier is a class with a ``name``, a pydantic ``Config`` and ``async verify(record, candidate,
ctx) -> Verdict``. It reads what it needs from the record (prompt, references in ``metadata``) and
the candidate (``candidate.text`` is the last assistant message), and returns a Verdict: ``passed``,
an optional ``score`` in 0..1, ``feedback`` a model can act on, and structured ``details``. It never
raises for bad model output.

Use it in code::

    from synthgen.registry import Registry
    registry = Registry()
    registry.register("verifier", WordLimitVerifier)
    verifier = registry.create("verifier", "word_limit", {"max_words": 50})

or, copied into your own package (say ``my_verifiers/word_limit.py``), with one line in that
package's ``pyproject.toml``::

    [project.entry-points."synthgen.verifiers"]
    word_limit = "my_verifiers.word_limit:WordLimitVerifier"

and then in a pipeline config: ``verifiers: [{name: word_limit, options: {max_words: 50}}]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from synthgen.plugins import PluginConfig, Verifier
from synthgen.records import Candidate, Record, Verdict


class WordLimitConfig(PluginConfig):
    max_words: int = Field(100, ge=1, description="budget when the record does not set one")
    field: str = Field("max_words", description="record.metadata key that overrides the budget")


class WordLimitVerifier(Verifier):
    name: ClassVar[str] = "word_limit"
    Config: ClassVar[type[WordLimitConfig]] = WordLimitConfig

    async def verify(self, record: Record, candidate: Candidate, ctx: Any) -> Verdict:
        limit = int(record.metadata.get(self.config.field, self.config.max_words))
        words = len(candidate.text.split())
        passed = 0 < words <= limit
        if words == 0:
            feedback = "the response is empty"
        elif not passed:
            feedback = f"the response has {words} words; shorten it to at most {limit}"
        else:
            feedback = ""
        # score: 1 within the budget, falling linearly to 0 at twice the budget
        score = 1.0 if passed else max(0.0, 1.0 - (words - limit) / limit) if words else 0.0
        return Verdict(verifier=self.name, passed=passed, score=score, feedback=feedback,
                       details={"words": words, "limit": limit})
