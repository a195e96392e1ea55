"""Labelling one factuality answer (correct / incorrect / declined / uninformative / unjudged) and
classifying a question from its answers' labels (known / unknown / mixed / declined / unjudged)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from generators.knowledge._matching import contains, exact_match, token_f1, tokens
from synthgen.records import Candidate, Record

if TYPE_CHECKING:
    from generators.knowledge._prompts import QA
    from generators.knowledge.factuality import FactualityConfig, FactualityGenerator
    from synthgen.context import Context


@dataclass
class AnswerLabel:
    label: str  # correct | incorrect | declined | uninformative | unjudged
    method: str  # pattern | match | judge
    text: str = ""
    score: float = 0.0
    feedback: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.details = {"label": self.label, "method": self.method, **self.details}


async def label_answer(gen: "FactualityGenerator", record: Record, cand: Candidate, qa: "QA", snippet: str,
                       ctx: "Context") -> AnswerLabel:
    cfg: FactualityConfig = gen.config
    text = cand.text.strip()
    if not tokens(text):
        return AnswerLabel("uninformative", "match", text, feedback="the answer is empty")
    f1 = token_f1(text, qa.answer)
    em, inside = exact_match(text, qa.answer), contains(text, qa.answer)
    short = len(tokens(text)) <= cfg.short_answer_words
    match = {"exact_match": em, "token_f1": round(f1, 4), "contains_reference": inside}
    if short and (em or inside or f1 >= cfg.f1_correct):
        return AnswerLabel("correct", "match", text, score=1.0, details=match)
    if gen.declines.declines(text):
        return AnswerLabel("declined", "pattern", text, details=match,
                           feedback="the answer declines to answer")
    if short and f1 == 0.0:
        return AnswerLabel("incorrect", "match", text, details=match,
                           feedback=f"the answer does not match the reference {qa.answer!r}")
    # long or partly matching answers: the judge compares them with the snippet
    probe = Record(id=record.id, messages=record.messages,
                   metadata={"reference": f"Passage:\n{snippet}\n\nReference answer: {qa.answer}"})
    verdict = await gen.judge.verify(probe, cand, ctx)
    judge = {"criteria": verdict.details.get("criteria"), "reason": verdict.details.get("reason", ""),
             "attempts": verdict.details.get("attempts", [])}
    if verdict.score is None:
        return AnswerLabel("unjudged", "judge", text, feedback=verdict.feedback, details={**match, "judge": judge})
    crit = verdict.details["criteria"]
    if crit.get("correct", 0) >= 0.5:
        return AnswerLabel("correct", "judge", text, score=1.0, details={**match, "judge": judge})
    if crit.get("informative", 0) >= 0.5:
        return AnswerLabel("incorrect", "judge", text, details={**match, "judge": judge},
                           feedback=f"judged wrong against the snippet: {judge['reason']}".strip())
    return AnswerLabel("uninformative", "judge", text, details={**match, "judge": judge},
                       feedback="judged not to commit to an answer")


def classify(labels: Sequence[str], cfg: "FactualityConfig") -> str:
    """known / unknown / mixed / declined, or unjudged when too few answers could be labelled."""
    judged = [lab for lab in labels if lab != "unjudged"]
    if not judged or len(judged) < cfg.min_judged * len(labels):
        return "unjudged"
    correct = sum(lab == "correct" for lab in judged) / len(judged)
    wrong = sum(lab == "incorrect" for lab in judged) / len(judged)
    if correct > 0 and correct >= cfg.known_min_correct:
        return "known"
    if correct <= cfg.unknown_max_correct and wrong >= cfg.unknown_min_wrong:
        return "unknown"
    return "mixed" if correct > 0 else "declined"
