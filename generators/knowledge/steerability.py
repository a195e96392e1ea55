"""Steerability: responses that keep to a system prompt, over one or several turns.

Llama 3 trains steerability with system prompts that set style and behaviour, used in rejection
sampling, SFT and DPO. One source item is a user prompt (``prompt``) or several user turns
(``turns``), optionally with its own ``system_prompt`` and the ``instructions`` (ids of the
``instructions`` verifier) that make parts of it checkable. Per item:
1. The system prompt: the item's own, or built from the taxonomy (``dimensions_per_prompt``
   dimensions drawn at random, one option each, at least ``min_checkable`` of them checkable);
   ``taxonomy_mode: always`` adds taxonomy lines after a given system prompt too.
2. For each user turn: K responses from the ``policy``; each is verified by the ``instructions``
   verifier for the checkable parts and by the ``judge`` role with the ``steerability`` rubric
   (adherence, helpfulness) for the rest. ``scores['verify']`` is the mean of the two scores.
3. One record per turn (the dialog so far as the prompt, the K responses as candidates); the
   pipeline's selection then keeps the best adherent response (SFT) and pairs an adherent response
   over a non-adherent one (DPO). The next turn continues from the best adherent response, so the
   system prompt must keep holding; with none adherent the dialog stops there (counted).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from generators.knowledge._taxonomy import DEFAULT_TAXONOMY, TaxonomyOption
from synthgen.context import Context
from synthgen.llm.base import SamplingParams
from synthgen.plugins import Generator, PluginConfig
from synthgen.records import Candidate, Message, Record, content_hash
from verifiers.instructions import InstructionList, InstructionsConfig, InstructionsVerifier
from verifiers.llm_judge import JudgeConfig, LLMJudgeVerifier


class SteerabilityItem(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | None = None
    prompt: str | None = None
    turns: list[str] | None = None
    system_prompt: str | None = None
    instructions: InstructionList = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_prompt(self) -> SteerabilityItem:
        if (self.prompt is None) == (self.turns is None):
            raise ValueError("give exactly one of `prompt` (one user turn) or `turns` (a list of user turns)")
        if self.turns is not None and (not self.turns or not all(t.strip() for t in self.turns)):
            raise ValueError("`turns` must be a non-empty list of non-empty user messages")
        return self

    def user_turns(self) -> list[str]:
        return self.turns if self.turns is not None else [self.prompt or ""]


class SteerabilityConfig(PluginConfig):
    taxonomy: dict[str, list[TaxonomyOption]] = Field(
        default_factory=lambda: {k: [TaxonomyOption.model_validate(o) for o in v] for k, v in DEFAULT_TAXONOMY.items()},
        description="dimension -> options (text for the judge, or checkable instructions)")
    taxonomy_mode: Literal["when_missing", "always", "never"] = Field(
        "when_missing", description="build the system prompt from the taxonomy when the item has none / always "
        "(appended to the item's) / never (items must bring one)")
    dimensions_per_prompt: int = Field(3, ge=1)
    min_checkable: int = Field(1, ge=0, description="drawn options that carry checkable instructions, at least")
    k: int = Field(4, ge=1, le=256, description="responses per turn")
    temperature: float = Field(1.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(512, ge=1)
    max_turns: int = Field(4, ge=1, description="user turns used per item")
    instructions_mode: Literal["strict", "loose"] = "strict"
    judge: bool = Field(True, description="judge adherence and helpfulness with the `judge_role` model")
    judge_role: str = "judge"
    judge_threshold: float = Field(1.0, ge=0, le=1)
    judge_retries: int = Field(1, ge=0)
    judge_max_tokens: int = Field(256, ge=16, description="the judge answers with one short JSON object")

    @model_validator(mode="after")
    def _dimensions(self) -> SteerabilityConfig:
        empty = [k for k, v in self.taxonomy.items() if not v]
        if empty:
            raise ValueError(f"taxonomy dimension(s) without options: {', '.join(empty)}")
        return self


class SteerabilityGenerator(Generator):
    name: ClassVar[str] = "steerability"
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = "steerability"
    Config: ClassVar[type[BaseModel]] = SteerabilityConfig
    Item: ClassVar[type[BaseModel]] = SteerabilityItem
    roles: ClassVar[tuple[str, ...]] = ("policy", "judge")

    def __init__(self, config: BaseModel | None = None) -> None:
        super().__init__(config)
        cfg: SteerabilityConfig = self.config
        self.checker = InstructionsVerifier(InstructionsConfig(mode=cfg.instructions_mode))
        self.judge = LLMJudgeVerifier(JudgeConfig(role=cfg.judge_role, rubric="steerability",
                                                  threshold=cfg.judge_threshold, retries=cfg.judge_retries,
                                                  max_tokens=cfg.judge_max_tokens))

    def draw(self, ctx: Context) -> list[tuple[str, TaxonomyOption]]:
        """One option from each of ``dimensions_per_prompt`` random dimensions, ``min_checkable`` checkable."""
        cfg: SteerabilityConfig = self.config
        dims = sorted(cfg.taxonomy)
        ctx.rng.shuffle(dims)
        checkable_dims = [d for d in dims if any(o.checkable for o in cfg.taxonomy[d])]
        chosen = checkable_dims[: cfg.min_checkable]
        chosen += [d for d in dims if d not in chosen][: max(0, cfg.dimensions_per_prompt - len(chosen))]
        picks = []
        for dim in sorted(chosen, key=dims.index):
            options = cfg.taxonomy[dim]
            if dim in checkable_dims[: cfg.min_checkable]:
                options = [o for o in options if o.checkable]
            picks.append((dim, options[ctx.rng.randrange(len(options))]))
        return picks

    def system_prompt(self, item: SteerabilityItem, ctx: Context) -> tuple[str, list[dict[str, Any]], dict[str, str]]:
        cfg: SteerabilityConfig = self.config
        parts, instructions, drawn = [], list(item.instructions), {}
        if item.system_prompt:
            parts.append(item.system_prompt.strip())
        if cfg.taxonomy_mode == "always" or (cfg.taxonomy_mode == "when_missing" and not item.system_prompt):
            for dim, option in self.draw(ctx):
                parts.append(option.sentence())
                instructions += option.instructions
                drawn[dim] = option.sentence()
        return " ".join(parts), instructions, drawn

    async def generate(self, item: SteerabilityItem, ctx: Context) -> list[Record]:
        cfg: SteerabilityConfig = self.config
        item_id = item.id or content_hash(item.model_dump())
        system, instructions, drawn = self.system_prompt(item, ctx)
        if not system:
            raise ValueError("no system prompt: the item has none and taxonomy_mode is 'never'")
        history: list[Message] = [{"role": "system", "content": system}]
        turns = item.user_turns()[: cfg.max_turns]
        params = SamplingParams(n=cfg.k, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens)
        records: list[Record] = []
        for t, user in enumerate(turns):
            history = history + [{"role": "user", "content": user}]
            (outs,) = await ctx.generate("policy", [history], params, seed_key=("turn", t))
            record = Record(id=content_hash(self.name, item_id, t, system), capability=self.capability, source_id=item_id,
                            messages=[dict(m) for m in history],
                            metadata={"system_prompt": system, "instructions": instructions, "taxonomy": drawn,
                                      "turn": t, "checkable": bool(instructions)},
                            provenance=ctx.provenance(roles=("policy", cfg.judge_role), params=params, parents=[item_id]))
            for s, out in enumerate(outs):
                record.add_candidate([{"role": "assistant", "content": out.text}],
                                     metadata={"sample": s, "finish_reason": out.finish_reason})
            await asyncio.gather(*(self._verify(record, c, ctx) for c in record.candidates))
            adherent = sorted((c for c in record.candidates if c.passed), key=lambda c: -c.scores["verify"])
            record.metadata["stages"] = {"prompts": int(t == 0), "turns": 1, "responses": len(outs),
                                         "adherent": len(adherent), "instructions_checked": len(instructions) * len(outs),
                                         "instructions_failed": sum(_failed(c) for c in record.candidates),
                                         "judged_non_adherent": sum(_judge_failed(c) for c in record.candidates)}
            records.append(record)
            if not adherent:
                if t + 1 < len(turns):
                    record.metadata["stages"]["dialogs_stopped"] = 1
                break
            history = history + [dict(adherent[0].messages[-1])]  # the system prompt must hold from here on
        return records

    async def _verify(self, record: Record, cand: Candidate, ctx: Context) -> None:
        verdicts = [self.checker.verify_text(record, cand.text)]
        if self.config.judge:
            verdicts.append(await self.judge.verify(record, cand, ctx))
        cand.verdicts.extend(verdicts)
        cand.scores["verify"] = sum(v.score or 0.0 for v in verdicts) / len(verdicts)


def _failed(c: Candidate) -> int:
    v = c.verdict("instructions")
    return sum(not r["strict" if v.details.get("mode") == "strict" else "loose"]
               for r in v.details.get("results", [])) if v else 0


def _judge_failed(c: Candidate) -> int:
    v = c.verdict("llm_judge")
    return int(v is not None and not v.passed)
