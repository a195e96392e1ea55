"""The ``llm_judge`` verifier: rubric scores from a judge model.

Reads:
- the conversation from ``record.messages`` and the response from ``candidate.text``;
- an optional reference from ``record.metadata[reference_field]`` (default ``"reference"``), shown
  to the judge (the ``correctness`` rubric uses it);
- the judge model ``ctx.llm[role]`` (default role ``"judge"``), called with ``ctx.generate``.

The judge is asked for one JSON object with a number per criterion (see
:mod:`verifiers.judge_rubrics`); the output is parsed robustly and, if unusable, the judge is asked
again (``retries``) with another seed. Each criterion's score is normalised to 0..1 and stored in
``details.criteria``; ``score`` is their mean (or minimum, ``aggregate: min``) and the verdict
passes when it reaches ``threshold`` (default 1.0: every point awarded, as the paper keeps only
top-scored samples). Judge output that cannot be parsed is a failed verdict with the reason.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from synthgen.llm.base import SamplingParams
from synthgen.plugins import PluginConfig, Verifier
from synthgen.records import Candidate, Record, Verdict
from verifiers.judge_rubrics import RUBRICS, Criterion, Rubric, build_prompt, parse_judgement


class JudgeConfig(PluginConfig):
    role: str = Field("judge", description="LLM role of the judge in the pipeline's `llms`")
    rubric: str = Field("general", description="a rubric of verifiers.judge_rubrics.RUBRICS, or 'custom'")
    criteria: dict[str, str] = Field(default_factory=dict, description="custom rubric: name -> what earns the point")
    instructions: str = "Judge the assistant's response."
    scale: tuple[float, float] = Field((0, 1), description="custom rubric: lowest and highest score")
    aggregate: Literal["mean", "min"] = "mean"
    threshold: float = Field(1.0, ge=0, le=1, description="normalised score needed to pass")
    reference_field: str = "reference"
    temperature: float = 0.0
    max_tokens: int = 512
    retries: int = Field(1, ge=0, description="asks again when the judge output cannot be parsed")
    max_response_chars: int = Field(12000, description="longer responses are cut (the judge's context is finite)")

    @field_validator("rubric")
    @classmethod
    def _known_rubric(cls, value: str) -> str:
        if value != "custom" and value not in RUBRICS:
            raise ValueError(f"unknown rubric '{value}'; known: {', '.join(sorted(RUBRICS))}, custom")
        return value

    @model_validator(mode="after")
    def _custom_needs_criteria(self) -> JudgeConfig:
        if self.rubric == "custom" and not self.criteria:
            raise ValueError("rubric 'custom' needs `criteria: {name: description, ...}`")
        return self


def _render(messages: list[dict[str, Any]]) -> str:
    parts = []
    for m in messages:
        content = m.get("content") or ""
        if m.get("tool_calls"):
            content += f"\n[tool calls: {m['tool_calls']}]"
        parts.append(f"[{m.get('role', 'user')}]\n{content}")
    return "\n\n".join(parts)


class LLMJudgeVerifier(Verifier):
    name: ClassVar[str] = "llm_judge"
    Config: ClassVar[type[JudgeConfig]] = JudgeConfig

    @property
    def rubric(self) -> Rubric:
        cfg: JudgeConfig = self.config
        if cfg.rubric != "custom":
            return RUBRICS[cfg.rubric]
        low, high = cfg.scale
        return Rubric("custom", cfg.instructions,
                      tuple(Criterion(name, desc, low, high) for name, desc in cfg.criteria.items()))

    async def verify(self, record: Record, candidate: Candidate, ctx: Any) -> Verdict:
        cfg: JudgeConfig = self.config
        rubric = self.rubric
        response = candidate.text
        if len(response) > cfg.max_response_chars:
            response = response[: cfg.max_response_chars] + "\n[... cut ...]"
        reference = record.metadata.get(cfg.reference_field)
        # The conversation includes the candidate's turns before its final answer (tool calls and their
        # outputs), so a rubric can ask whether the answer uses what the tools returned.
        conversation = _render(record.messages + candidate.messages[:-1])
        prompt = build_prompt(rubric, conversation, response, str(reference) if reference else None)
        attempts: list[dict[str, Any]] = []
        judgement = None
        for attempt in range(cfg.retries + 1):
            params = SamplingParams(temperature=cfg.temperature if attempt == 0 else max(cfg.temperature, 0.7),
                                    max_tokens=cfg.max_tokens)
            completions = await ctx.generate(cfg.role, [prompt], params, seed_key=("judge", candidate.id, attempt))
            text = completions[0][0].text if completions and completions[0] else ""
            judgement = parse_judgement(text, rubric)
            attempts.append({"output": text[:2000], "error": judgement.error})
            if not judgement.error:
                break
        assert judgement is not None
        details: dict[str, Any] = {"rubric": rubric.name, "attempts": attempts}
        if judgement.error:
            return Verdict(verifier=self.name, passed=False, score=None, details=details,
                           feedback=f"the judge's output could not be used: {judgement.error}")
        normalised = {c.name: (judgement.scores[c.name] - c.low) / (c.high - c.low) for c in rubric.criteria}
        score = min(normalised.values()) if cfg.aggregate == "min" else sum(normalised.values()) / len(normalised)
        details.update(criteria=normalised, raw_scores=judgement.scores, reason=judgement.reason)
        passed = score >= cfg.threshold - 1e-9
        feedback = ""
        if not passed:
            weak = [name for name, v in normalised.items() if v < 1]
            feedback = f"judged below the bar on: {', '.join(weak)}" + (f". {judgement.reason}" if judgement.reason else "")
        return Verdict(verifier=self.name, passed=passed, score=score, feedback=feedback, details=details)
