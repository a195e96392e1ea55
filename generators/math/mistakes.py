"""``math_mistakes``: learning from mistakes: a wrong solution, the verifier's feedback, a correction.

The Llama 3 recipe (spec "Math and reasoning", learning from mistakes): prompt the model with the
problem, its incorrect attempt and the feedback, keep the corrections the verifier accepts, and
train on them. Source items, any of:

- ``{id, question | messages, answer, attempt, feedback?}``: one failed attempt, given;
- a line of an earlier run's ``records/shard-*.jsonl`` (``{"item": ..., "records": [...]}``): every
  failed candidate of its records, with the feedback of its failed verdicts (up to
  ``max_attempts_per_item``);
- ``{id, question, answer}`` with ``sample_first: true``: K fresh attempts are sampled and verified
  with the pipeline's chain here, and the failed ones are corrected (the same item, no earlier run).

Per failed attempt ``corrections`` samples are drawn for the dialog
``problem -> attempt -> user: feedback + "correct it" -> correction``, each verified with the chain
(the ``math`` verifier against the reference). Per attempt two records:

- ``metadata.kind = "correction_dialog"``: the prompt is the problem, the wrong attempt and the
  feedback; candidates are the corrections. Selection keeps the verified ones: SFT dialogs.
- ``metadata.kind = "correction_pair"`` (only when a correction passed): the prompt is the problem
  alone, candidates the wrong attempt and the best verified correction, ``pairs`` = correction over
  attempt: a DPO pair (and the correction is also an SFT row for the plain problem).

Funnel (``metadata.stages``): attempts, failed_attempts, corrections, verified, pairs.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from generators.math import _prompts as P
from generators.math._steps import Stages
from synthgen.context import Context
from synthgen.errors import ConfigError
from synthgen.llm.base import SamplingParams
from synthgen.plugins import Generator, PluginConfig
from synthgen.records import Candidate, Message, PreferencePair, Record, Verdict, content_hash


class MistakeItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    item: str | None = None  # an earlier run's shard line
    records: list[dict[str, Any]] | None = None
    question: str | None = None
    messages: list[Message] | None = None
    answer: str | None = None
    attempt: str | None = None
    feedback: str | None = None


class MathMistakesConfig(PluginConfig):
    corrections: int = Field(2, ge=1, le=64, description="correction samples per failed attempt")
    temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=1)
    sample_first: bool = Field(False, description="items without an attempt: sample k attempts, correct the failed")
    k: int = Field(4, ge=1, le=256, description="attempts per problem with sample_first")
    system_prompt: str | None = Field(P.COT_SYSTEM, description="for problems given as `question`")
    max_attempts_per_item: int = Field(4, ge=1, description="failed attempts corrected per item")
    feedback_chars: int = Field(1500, ge=100)


class _Attempt(BaseModel):
    prompt: list[Message]
    answer: str
    text: str
    feedback: str
    source: str  # given | run:<record id>:<candidate id> | sampled


class MathMistakesGenerator(Generator):
    name: ClassVar[str] = "math_mistakes"
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = "math"
    Config: ClassVar[type[BaseModel]] = MathMistakesConfig
    Item: ClassVar[type[BaseModel]] = MistakeItem
    roles: ClassVar[tuple[str, ...]] = ("policy",)

    async def generate(self, item: MistakeItem, ctx: Context) -> list[Record]:
        cfg: MathMistakesConfig = self.config  # type: ignore[assignment]
        if ctx.run.chain is None:
            raise ConfigError("math_mistakes keeps only verified corrections: add `verifiers: [{name: math}]`",
                              field="verifiers")
        item_id = item.id or item.item or content_hash(item.model_dump())
        attempts, attempts_seen = await self._attempts(item, item_id, ctx)
        attempts = attempts[: cfg.max_attempts_per_item]
        if not attempts:
            stages = Stages("attempts", "failed_attempts", "corrections", "verified", "pairs")
            stages.add("attempts", attempts_seen)
            return [Record(id=content_hash(self.name, item_id, "none"), capability=self.capability,
                           source_id=item_id, provenance=ctx.provenance(parents=[item_id]),
                           metadata={"kind": "correction_dialog", "stages": dict(stages),
                                     "reason": "no failed attempt to correct"})]
        out = await asyncio.gather(*(self._correct(a, i, item_id, attempts_seen if i == 0 else 0, ctx)
                                     for i, a in enumerate(attempts)))
        return [r for records in out for r in records]

    def _problem(self, item: MistakeItem) -> list[Message]:
        if item.messages:
            return [dict(m) for m in item.messages]
        cfg: MathMistakesConfig = self.config  # type: ignore[assignment]
        system = [{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt else []
        return system + [{"role": "user", "content": item.question or ""}]

    async def _attempts(self, item: MistakeItem, item_id: str, ctx: Context) -> tuple[list[_Attempt], int]:
        """The failed attempts to correct, and how many attempts were looked at."""
        cfg: MathMistakesConfig = self.config  # type: ignore[assignment]
        if item.records is not None:  # an earlier run's shard line
            found, seen = [], 0
            for raw in item.records:
                rec = Record.from_json(raw)
                answer = rec.metadata.get("answer")
                if rec.status != "ok" or answer in (None, ""):
                    continue
                for cand in rec.candidates:
                    seen += 1
                    if cand.passed or not cand.verdicts or not cand.text.strip():
                        continue
                    found.append(_Attempt(prompt=list(rec.messages), answer=str(answer), text=cand.text,
                                          feedback=_feedback(cand), source=f"run:{rec.id}:{cand.id}"))
            return found, seen
        if item.answer in (None, "") or (item.question is None and not item.messages):
            return [], 0
        prompt = self._problem(item)
        if item.attempt is not None:
            return [_Attempt(prompt=prompt, answer=str(item.answer), text=item.attempt,
                             feedback=item.feedback or "the final answer is incorrect", source="given")], 1
        if not cfg.sample_first:
            return [], 0
        params = SamplingParams(n=cfg.k, temperature=max(cfg.temperature, 0.7), top_p=cfg.top_p,
                                max_tokens=cfg.max_tokens)
        (completions,) = await ctx.generate("policy", [prompt], params, seed_key="attempt")
        probe = Record(id=content_hash(self.name, item_id, "attempts"), messages=prompt,
                       metadata={"answer": str(item.answer)})
        cands = [probe.add_candidate([{"role": "assistant", "content": c.text}]) for c in completions]
        await asyncio.gather(*(ctx.verify(probe, c) for c in cands))
        return [_Attempt(prompt=prompt, answer=str(item.answer), text=c.text, feedback=_feedback(c),
                         source="sampled") for c in cands if not c.passed and c.text.strip()], len(cands)

    async def _correct(self, a: _Attempt, index: int, item_id: str, seen: int, ctx: Context) -> list[Record]:
        cfg: MathMistakesConfig = self.config  # type: ignore[assignment]
        feedback = a.feedback if len(a.feedback) <= cfg.feedback_chars else a.feedback[: cfg.feedback_chars] + " [...]"
        dialog = a.prompt + [{"role": "assistant", "content": a.text},
                             {"role": "user", "content": P.CORRECTION_REQUEST.format(feedback=feedback)}]
        params = SamplingParams(n=cfg.corrections, temperature=cfg.temperature, top_p=cfg.top_p,
                                max_tokens=cfg.max_tokens)
        stages = Stages("attempts", "failed_attempts", "corrections", "verified", "pairs")
        stages.add("attempts", seen)
        stages.add("failed_attempts")
        record = Record(id=content_hash(self.name, item_id, a.prompt, a.text), capability=self.capability,
                        source_id=item_id, messages=dialog,
                        metadata={"kind": "correction_dialog", "answer": a.answer, "attempt_source": a.source,
                                  "feedback": feedback, "attempt_index": index},
                        provenance=ctx.provenance(params=params, parents=[item_id]))
        (completions,) = await ctx.generate("policy", [dialog], params, seed_key=("correct", index))
        for i, c in enumerate(completions):
            record.add_candidate([{"role": "assistant", "content": c.text}],
                                 metadata={"sample": i, "finish_reason": c.finish_reason})
        stages.add("corrections", len(completions))
        await asyncio.gather(*(ctx.verify(record, c) for c in record.candidates))
        good = [c for c in record.candidates if c.passed]
        stages.add("verified", len(good))
        records = [record]
        if good:
            stages.add("pairs")
            records.append(self._pair(a, good[0], record, item_id, ctx))
        record.metadata["stages"] = dict(stages)
        return records

    def _pair(self, a: _Attempt, fixed: Candidate, dialog: Record, item_id: str, ctx: Context) -> Record:
        pair = Record(id=content_hash(self.name, "pair", dialog.id), capability=self.capability, source_id=item_id,
                      messages=list(a.prompt), metadata={"kind": "correction_pair", "answer": a.answer,
                                                         "dialog": dialog.id},
                      provenance=ctx.provenance(parents=[item_id, dialog.id, fixed.id]))
        wrong = pair.add_candidate([{"role": "assistant", "content": a.text}], metadata={"kind": "wrong_attempt"})
        wrong.verdicts = [Verdict(verifier="attempt", passed=False, score=0.0, feedback=a.feedback)]
        right = pair.add_candidate(list(fixed.messages), metadata={"kind": "correction"},
                                   verdicts=list(fixed.verdicts))
        pair.pairs = [PreferencePair(chosen=right.id, rejected=wrong.id, margin=1.0, reason="correction over mistake")]
        return pair


def _feedback(cand: Candidate) -> str:
    parts = [v.feedback for v in cand.verdicts if not v.passed and v.feedback]
    return "; ".join(parts) or "the final answer is incorrect"
