"""``math_cot``: problems (given, or written from passages), K step-by-step solutions, self-consistency,
step-level filtering.

The Llama 3 recipe for math and reasoning (spec "Math and reasoning"): step-wise reasoning traces,
filtered by the correctness of the final answer and by a step-level reward, with self-consistency
where no reference answer exists.

Source items (one of):
- ``{id, question, answer}``: a problem with a reference answer;
- ``{id, question}``: no reference; the majority answer of the K samples becomes the pseudo-reference;
- ``{id, passage}``: a textbook paragraph, worked example or lemma; the policy writes
  ``problems_per_passage`` "Problem k / Answer k" pairs from it (prompts whose answer cannot be
  parsed, or that repeat another, are dropped). Their answers are model-written, so by default
  (``model_reference: majority``) the majority vote decides the reference; the model's own answer
  and whether it agrees are kept in the metadata.

Per problem one record: K samples from one ``n=K`` call, each verified with the pipeline's chain
(the ``math`` verifier against ``metadata['answer']``). Self-consistency groups the K final answers
by mathematical equivalence (``1/2``, ``0.5``, ``\\frac12`` are one vote); when the largest group's
share of K reaches ``majority_threshold`` its answer is the reference and the record says so:
``metadata.reference_source = "majority"``, ``metadata.votes`` (answer, count), and the same under
``provenance.sampling['self_consistency']``. Below the threshold every candidate fails with the reason.

Step filtering (``steps.verifier``: a verifier of the chain, ``reward_score`` for a process/outcome
reward model or ``llm_judge`` with the ``math_step`` rubric): a verified solution is split into
steps (``steps.split``), each prefix is scored through that verifier, a candidate whose weakest
step scores below ``steps.threshold`` fails (verdict ``step_filter``), and the whole solution's
score is the outcome score that ranks the survivors (``candidate.scores['outcome']``; reward_score
also writes ``scores['reward']``, which selection ranks by default).

Funnel (``metadata.stages``): ``problems``, ``samples``, ``answered`` (a final answer found),
``verified`` (passed the chain), ``kept`` (also passed the step filter), ``no_majority``.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from generators.math import _prompts as P
from generators.math._steps import (
    SplitMode,
    Stages,
    dedupe_problems,
    final_answer,
    parse_problems,
    prefixes,
    split_steps,
    vote,
    vote_by_text,
)
from synthgen.context import Context
from synthgen.errors import ConfigError
from synthgen.llm.base import SamplingParams
from synthgen.plugins import Generator, PluginConfig
from synthgen.records import Candidate, Message, Record, Verdict, content_hash
from verifiers.math_equiv import equivalent


class CotItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    question: str | None = None
    answer: str | None = None
    passage: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _answer_text(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("answer"), (int, float)) \
                and not isinstance(data.get("answer"), bool):
            data = {**data, "answer": str(data["answer"])}
        return data

    @model_validator(mode="after")
    def _one_source(self) -> CotItem:
        if (self.question is None) == (self.passage is None):
            raise ValueError("give exactly one of `question` (a problem) or `passage` (text to write problems from)")
        return self


class StepFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verifier: str | None = Field(None, description="chain verifier scoring each step prefix (reward_score | "
                                                   "llm_judge); null = no step filtering")
    split: SplitMode = Field("auto", description="auto | paragraphs | numbered | step_k | lines")
    threshold: float | None = Field(None, description="weakest step must reach this; default 0.0 for reward_score "
                                                      "(a Bradley-Terry logit, sigmoid 0.5), 0.5 otherwise")
    max_steps: int = Field(8, ge=1, description="longer solutions are scored in this many groups of steps")


class MathCotConfig(PluginConfig):
    k: int = Field(8, ge=1, le=256, description="samples per problem (the paper: 10-30 for rejection sampling)")
    temperature: float = Field(1.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=1)
    system_prompt: str | None = Field(P.COT_SYSTEM, description="steers step-by-step answers ending in \\boxed{}")
    problems_per_passage: int = Field(3, ge=1, le=20)
    passage_temperature: float = Field(0.7, ge=0.0)
    passage_max_tokens: int = Field(1024, ge=1)
    model_reference: Literal["majority", "model"] = Field(
        "majority", description="passage problems: the majority vote decides (default) or trust the model's answer")
    majority_threshold: float = Field(0.5, gt=0.0, le=1.0, description="share of the K samples the top answer needs")
    vote_timeout_s: float = Field(20.0, gt=0, description="deadline of the equivalence vote; text vote after it")
    steps: StepFilter = Field(default_factory=StepFilter)


class MathCotGenerator(Generator):
    name: ClassVar[str] = "math_cot"
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = "math"
    Config: ClassVar[type[BaseModel]] = MathCotConfig
    Item: ClassVar[type[BaseModel]] = CotItem
    roles: ClassVar[tuple[str, ...]] = ("policy",)

    async def generate(self, item: CotItem, ctx: Context) -> list[Record]:
        cfg: MathCotConfig = self.config  # type: ignore[assignment]
        names = _chain_names(ctx, self.name)
        if cfg.steps.verifier and cfg.steps.verifier not in names:
            raise ConfigError(f"steps.verifier {cfg.steps.verifier!r} is not in the pipeline's verifiers "
                              f"({', '.join(names)}); add it under `verifiers:`", field="generator.options.steps")
        item_id = item.id or content_hash(item.question, item.passage)
        if item.question is not None:
            source = "given" if item.answer not in (None, "") else "none"
            return [await self._solve(item_id, item.question, item.answer, source, {}, ctx)]
        problems, info = await self._problems(item.passage or "", ctx)
        if not problems:
            record = Record(id=content_hash(self.name, item_id, "passage"), capability=self.capability,
                            source_id=item_id, metadata={"passage": item.passage, "problem_error":
                                                         info["reason"], "passage_generation": info,
                                                         "stages": Stages("problems", "samples").copy()},
                            provenance=ctx.provenance(parents=[item_id]))
            return [record]
        source = "majority" if cfg.model_reference == "majority" else "model"
        return list(await asyncio.gather(*(
            self._solve(item_id, q, a, source, {"passage": item.passage, "passage_generation": info,
                                                "problem_index": i}, ctx)
            for i, (q, a) in enumerate(problems))))

    async def _problems(self, passage: str, ctx: Context) -> tuple[list[tuple[str, str]], dict[str, Any]]:
        cfg: MathCotConfig = self.config  # type: ignore[assignment]
        params = SamplingParams(n=1, temperature=cfg.passage_temperature, max_tokens=cfg.passage_max_tokens)
        prompt = [{"role": "user", "content": P.PASSAGE_REQUEST.format(n=cfg.problems_per_passage, passage=passage)}]
        (reply,) = (await ctx.generate("policy", [prompt], params, seed_key="problems"))[0]
        found, dropped = parse_problems(reply.text)
        unique, repeats = dedupe_problems(found)
        unique = unique[: cfg.problems_per_passage]
        info: dict[str, Any] = {"output": reply.text[:4000], "parsed": len(found), "dropped": dropped,
                                "repeats": repeats, "kept": len(unique)}
        if not unique:
            info["reason"] = ("no problem with a parseable answer in the model's output" if not found
                              else "every problem repeated another")
        return unique, info

    async def _solve(self, item_id: str, question: str, answer: str | None, source: str, extra: dict[str, Any],
                     ctx: Context) -> Record:
        cfg: MathCotConfig = self.config  # type: ignore[assignment]
        messages: list[Message] = ([{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt else [])
        messages.append({"role": "user", "content": question})
        params = SamplingParams(n=cfg.k, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens)
        stages = Stages("problems", "samples", "answered", "verified", "kept", "no_majority")
        stages.add("problems")
        record = Record(id=content_hash(self.name, item_id, question), capability=self.capability,
                        source_id=item_id, messages=messages, metadata={"question": question, **extra},
                        provenance=ctx.provenance(params=params, parents=[item_id]))
        (completions,) = await ctx.generate("policy", [messages], params, seed_key=("solve", question))
        for i, c in enumerate(completions):
            record.add_candidate([{"role": "assistant", "content": c.text}],
                                 metadata={"sample": i, "finish_reason": c.finish_reason},
                                 provenance=ctx.provenance(params=params, parents=[record.id],
                                                           seed=ctx.sample_seed("policy", ("solve", question))))
        stages.add("samples", len(completions))
        answers = [final_answer(c.text) for c in record.candidates]
        stages.add("answered", sum(a is not None for a in answers))
        reference, reference_source = answer, source
        if source != "given" and not (source == "model" and answer):
            reference, reference_source = await self._majority(record, answers, answer, stages), "majority"
        record.metadata.update(answer=reference, reference_source=reference_source if reference is not None else "none")
        if reference is None:
            record.metadata["stages"] = dict(stages)
            return record
        names = [n for n in _chain_names(ctx, self.name) if n != cfg.steps.verifier]
        await asyncio.gather(*(ctx.verify(record, c, only=names) for c in record.candidates))
        verified = [c for c in record.candidates if c.passed]
        stages.add("verified", len(verified))
        if cfg.steps.verifier:
            await asyncio.gather(*(self._step_filter(record, c, ctx) for c in verified))
        stages.add("kept", sum(c.passed for c in record.candidates))
        record.metadata["stages"] = dict(stages)
        return record

    async def _majority(self, record: Record, answers: list[str | None], model_answer: str | None,
                        stages: Stages) -> str | None:
        cfg: MathCotConfig = self.config  # type: ignore[assignment]
        method = "equivalence"
        try:
            votes = await asyncio.wait_for(asyncio.to_thread(vote, answers), cfg.vote_timeout_s)
        except TimeoutError:  # a hostile expression keeps sympy busy: count written forms instead
            votes, method = vote_by_text(answers), "text"
        share = votes[0][1] / len(answers) if votes and answers else 0.0
        info: dict[str, Any] = {"votes": [{"answer": a, "count": n} for a, n in votes], "share": round(share, 4),
                                "threshold": cfg.majority_threshold, "method": method, "k": len(answers)}
        if model_answer:
            info["model_answer"] = model_answer
            info["model_answer_agrees"] = bool(votes) and equivalent(votes[0][0], model_answer).equal
        record.metadata["votes"] = info["votes"]
        record.metadata["self_consistency"] = info
        record.provenance.sampling["self_consistency"] = {k: info[k] for k in ("votes", "share", "threshold")}
        if not votes or share < cfg.majority_threshold - 1e-9:
            stages.add("no_majority")
            reason = (f"no majority answer: the most common answer has {share:.0%} of {len(answers)} samples, "
                      f"below the threshold {cfg.majority_threshold:.0%}") if votes else "no sample has a final answer"
            for c in record.candidates:
                c.verdicts.append(Verdict(verifier="self_consistency", passed=False, score=0.0, feedback=reason))
            record.metadata["reference_error"] = reason
            return None
        return votes[0][0]

    async def _step_filter(self, record: Record, cand: Candidate, ctx: Context) -> None:
        cfg = self.config.steps  # type: ignore[attr-defined]
        name = cfg.verifier
        threshold = cfg.threshold if cfg.threshold is not None else (0.0 if name == "reward_score" else 0.5)
        steps = split_steps(cand.text, cfg.split)
        if len(steps) > cfg.max_steps:  # group consecutive steps so the scoring cost stays bounded
            size = -(-len(steps) // cfg.max_steps)
            steps = ["\n\n".join(steps[i: i + size]) for i in range(0, len(steps), size)]
        partial = prefixes(steps)[:-1]
        probes = [Candidate(id=f"{cand.id}:step{i + 1}", messages=[{"role": "assistant", "content": p}])
                  for i, p in enumerate(partial)]
        results = await asyncio.gather(*(ctx.verify(record, p, only=[name]) for p in probes))
        outcome = await ctx.verify(record, cand, only=[name])  # the whole solution: the outcome score
        scores = [_score(v) for v in [*results, outcome]]
        cand.scores["outcome"] = scores[-1] if scores[-1] is not None else 0.0
        usable = [s if s is not None else float("-inf") for s in scores]
        weakest = min(range(len(usable)), key=lambda i: usable[i])
        low = usable[weakest]
        cand.metadata["step_scores"] = scores
        cand.scores["min_step"] = low if low != float("-inf") else 0.0
        passed = low >= threshold
        feedback = "" if passed else (
            f"step {weakest + 1} of {len(steps)} could not be scored" if low == float("-inf") else
            f"step {weakest + 1} of {len(steps)} scored {low:.3f}, below the threshold {threshold:g}: "
            f"{steps[weakest][:200]!r}")
        cand.verdicts.append(Verdict(verifier="step_filter", passed=passed, score=cand.scores["min_step"],
                                     feedback=feedback, details={"steps": len(steps), "threshold": threshold}))


def _score(verdicts: list[Verdict]) -> float | None:
    return verdicts[0].score if verdicts else None


def _chain_names(ctx: Context, generator: str) -> list[str]:
    chain = ctx.run.chain
    if chain is None or not any(v.name == "math" for v in chain.verifiers):
        raise ConfigError(f"{generator} checks answers with the `math` verifier: add `verifiers: [{{name: math}}]` "
                          "to the pipeline", field="verifiers")
    return [v.name for v in chain.verifiers]
