"""Math solutions: K sampled answers per problem, checked later by the pipeline's verifier chain.

A source item is ``{id, question | messages, answer}``. The generator builds the prompt (an
optional system prompt, then the question as the user turn, or the item's own ``messages``), draws
K samples from the ``policy`` model in one call, and returns one record whose candidates are the
samples and whose ``metadata["answer"]`` is the reference the math verifier compares against.
It verifies nothing itself: the runner runs the configured chain (e.g. ``math``) on every candidate.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synthgen.context import Context
from synthgen.llm.base import SamplingParams
from synthgen.plugins import Generator, PluginConfig
from synthgen.records import Message, Record, content_hash


class MathItem(BaseModel):
    """One problem: a question (or a full prompt dialog) and its reference answer."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    question: str | None = None
    messages: list[Message] | None = None
    answer: str

    @field_validator("answer", mode="before")
    @classmethod
    def _answer_text(cls, value: Any) -> Any:
        # References in datasets are often numbers; the verifier compares text forms.
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _one_prompt(self) -> MathItem:
        if (self.question is None) == (self.messages is None):
            raise ValueError("give exactly one of `question` (text) or `messages` (a chat prompt)")
        if self.messages is not None and not self.messages:
            raise ValueError("`messages` is empty")
        return self


class MathSolutionsConfig(PluginConfig):
    k: int = Field(8, ge=1, le=1024, description="samples per problem (Llama 3 rejection sampling: 10-30)")
    temperature: float = Field(1.0, ge=0.0, description="0 = greedy (use k=1)")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0, description="0 = off: pure temperature sampling")
    max_tokens: int = Field(512, ge=1)
    stop: list[str] = Field(default_factory=list)
    system_prompt: str | None = Field(None, description="prepended as a system turn to `question` items")


class MathSolutionsGenerator(Generator):
    name: ClassVar[str] = "math_solutions"
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = "math"
    Config: ClassVar[type[BaseModel]] = MathSolutionsConfig
    Item: ClassVar[type[BaseModel]] = MathItem
    roles: ClassVar[tuple[str, ...]] = ("policy",)

    def prompt(self, item: MathItem) -> list[Message]:
        if item.messages is not None:
            return [dict(m) for m in item.messages]
        system = [{"role": "system", "content": self.config.system_prompt}] if self.config.system_prompt else []
        return system + [{"role": "user", "content": item.question}]

    def sampling(self) -> SamplingParams:
        cfg = self.config
        return SamplingParams(n=cfg.k, temperature=cfg.temperature, top_p=cfg.top_p, top_k=cfg.top_k,
                              max_tokens=cfg.max_tokens, stop=tuple(cfg.stop))

    async def generate(self, item: MathItem, ctx: Context) -> list[Record]:
        messages = self.prompt(item)
        item_id = item.id or content_hash(messages, item.answer)
        params = self.sampling()
        (completions,) = await ctx.generate("policy", [messages], params, seed_key="solve")
        record = Record(
            id=content_hash(self.name, item_id, messages), capability=self.capability, source_id=item_id,
            messages=messages, metadata={"answer": item.answer},
            provenance=ctx.provenance(params=params, parents=[item_id]),
        )
        # each sample says where it came from: model, sampling, the seed of the call that drew it
        cand_prov = ctx.provenance(params=params, parents=[record.id], seed=ctx.sample_seed("policy", "solve"))
        for index, completion in enumerate(completions):
            record.add_candidate(
                [{"role": "assistant", "content": completion.text}],
                metadata={"finish_reason": completion.finish_reason, "sample": index},
                provenance=cand_prov.model_copy(deep=True),
            )
        record.metadata["stages"] = {"problems": 1, "samples": len(completions),
                                     "truncated": sum(c.finish_reason == "length" for c in completions)}
        return [record]
