"""The ``quality`` processor: keep what a reward model or an LLM rubric marks high quality.

The Llama 3 recipe marks a sample high quality when its reward-model score is in the top quartile
(``top_fraction: 0.25``), or when an LLM judge gives it every point of a rubric: ``general``
(accuracy, instruction following, tone/presentation) or, for code, ``code`` (bug identification,
user intention). It keeps what EITHER method marks high.

- ``reward``: the primary response's ``candidate.scores[reward_key]`` (the ``reward_score``
  verifier writes it during generation), or, with ``reward_model`` set, scored here by the same
  verifier machinery. The quartile is over the whole dataset (a first pass).
- ``rubric``: the ``llm_judge`` verifier (the one judge mechanism) with the judge role.
``methods`` unset means every method that can run: reward if the records carry scores or a reward
model is given, rubric if the judge role is configured. Results go to ``record.metadata['quality']``
(``value`` in 0..1 is what ``dedup`` ranks by).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from synthgen.errors import ConfigError
from synthgen.plugins import Decision, PluginConfig, Processor
from synthgen.processing.dialogs import primary
from synthgen.records import Record


class QualityConfig(PluginConfig):
    methods: list[Literal["reward", "rubric"]] | None = Field(
        None, description="null: every method that can run (reward if scores or a reward model exist, "
                          "rubric if the judge role is configured)")
    reward_key: str = Field("reward", description="candidate score written by the reward_score verifier")
    reward_model: str | None = Field(None, description="score here with this reward model when records lack scores")
    top_fraction: float = Field(0.25, gt=0, le=1, description="reward: the top quartile is high quality (paper)")
    judge_role: str = Field("judge", description="LLM role of the rubric judge")
    rubric: Literal["auto", "general", "code"] = Field(
        "auto", description="auto: `code` for capabilities starting with 'code', else `general`")
    drop_low: bool = Field(True, description="drop what no method marks high (the paper keeps only high)")


class QualityProcessor(Processor):
    name: ClassVar[str] = "quality"
    Config: ClassVar[type[QualityConfig]] = QualityConfig
    global_view: ClassVar[bool] = True

    def __init__(self, config: QualityConfig | None = None) -> None:
        super().__init__(config)
        self.config: QualityConfig
        self._rewards: dict[str, float] = {}
        self._sorted: np.ndarray = np.zeros(0, dtype=np.float32)
        self._threshold: float | None = None
        self._methods: list[str] = []
        self._scorer: Any = None
        self._judges: dict[str, Any] = {}

    def _reward_of(self, record: Record) -> float | None:
        cand = primary(record)
        value = cand.scores.get(self.config.reward_key) if cand else None
        return self._rewards.get(record.id, value)

    async def _score(self, records: list[Record]) -> None:
        from verifiers.reward_score import RewardScoreConfig, RewardScoreVerifier

        if self._scorer is None:
            self._scorer = RewardScoreVerifier(RewardScoreConfig(model=self.config.reward_model))
        todo = [r for r in records if self._reward_of(r) is None]
        dialogs = [list(r.messages) + list(primary(r).messages) for r in todo]  # type: ignore[union-attr]
        for rec, value in zip(todo, await self._scorer.score(dialogs) if dialogs else []):
            self._rewards[rec.id] = value

    async def prepare(self, batches: Iterable[list[Record]], ctx: Any) -> None:
        cfg = self.config
        values: list[float] = []
        missing: str | None = None
        for batch in batches:
            if cfg.reward_model and (cfg.methods is None or "reward" in cfg.methods):
                await self._score(batch)
            for rec in batch:
                v = self._reward_of(rec)
                if v is None:
                    missing = missing or rec.id
                else:
                    values.append(v)
        methods = list(cfg.methods) if cfg.methods is not None else (
            (["reward"] if values else []) + (["rubric"] if ctx.has_role(cfg.judge_role) else []))
        if not methods:
            raise ConfigError("quality has nothing to judge with: the records carry no reward scores (add the "
                              "`reward_score` verifier to the pipeline, or set `reward_model:`) and there is no "
                              f"judge role '{cfg.judge_role}' under `llms:`", field="process.quality.options")
        if "reward" in methods and missing is not None:
            raise ConfigError(f"quality: record {missing} has no candidate score '{cfg.reward_key}'; run the "
                              "`reward_score` verifier in the pipeline first, or set `reward_model:` so quality "
                              "scores the records itself", field="process.quality.options.reward_key")
        if "rubric" in methods and not ctx.has_role(cfg.judge_role):
            raise ConfigError(f"quality's rubric needs an LLM for role '{cfg.judge_role}' under `llms:`",
                              field="process.quality.options.judge_role")
        self._methods = methods
        self._sorted = np.sort(np.asarray(values, dtype=np.float64))
        if len(self._sorted):
            self._threshold = float(np.quantile(self._sorted, 1 - cfg.top_fraction))

    def _judge(self, rubric: str) -> Any:
        from verifiers.llm_judge import JudgeConfig, LLMJudgeVerifier

        if rubric not in self._judges:
            self._judges[rubric] = LLMJudgeVerifier(JudgeConfig(role=self.config.judge_role, rubric=rubric))
        return self._judges[rubric]

    async def _rubric(self, record: Record, ctx: Any) -> dict[str, Any]:
        rubric = self.config.rubric
        if rubric == "auto":
            rubric = "code" if record.capability.startswith("code") else "general"
        verdict = await self._judge(rubric).verify(record, primary(record), ctx.for_record(record.id))
        out: dict[str, Any] = {"rubric": rubric, "rubric_high": verdict.passed, "rubric_score": verdict.score}
        if verdict.score is None:
            out["rubric_error"] = verdict.feedback
        else:
            out["rubric_criteria"] = verdict.details.get("criteria", {})
        return out

    async def process(self, records: list[Record], ctx: Any) -> list[Decision]:
        if self.config.reward_model and "reward" in self._methods:
            await self._score(records)
        rubrics = await asyncio.gather(*(self._rubric(r, ctx) for r in records)) if "rubric" in self._methods \
            else [{} for _ in records]
        out = []
        n = len(self._sorted)
        for rec, rub in zip(records, rubrics):
            q: dict[str, Any] = dict(rub)
            values, why = [], []
            if "reward" in self._methods:
                r = self._reward_of(rec)
                assert r is not None and self._threshold is not None
                pct = float(np.searchsorted(self._sorted, r, side="right")) / n
                q.update(reward=r, reward_percentile=round(pct, 4), reward_threshold=self._threshold,
                         reward_high=r >= self._threshold)
                values.append(pct)
                if not q["reward_high"]:
                    why.append(f"reward {r:.4g} < top-{self.config.top_fraction:g} threshold {self._threshold:.4g}")
            if "rubric" in self._methods:
                values.append(q["rubric_score"] or 0.0)
                if not q["rubric_high"]:
                    score = "unusable" if q["rubric_score"] is None else f"{q['rubric_score']:.2f}"
                    why.append(f"rubric {q['rubric']} {score} < 1")
            q["high"] = bool(q.get("reward_high") or q.get("rubric_high"))
            q["value"] = round(max(values), 4)
            rec.metadata["quality"] = q
            drop = self.config.drop_low and not q["high"]
            out.append(Decision(False, "quality: not high by any method; " + ", ".join(why)) if drop
                       else Decision(True))
        return out

    def batch_stats(self, records: list[Record], decisions: list[Decision]) -> dict[str, float]:
        q = [r.metadata.get("quality", {}) for r in records]
        return {"records": len(records), "high": sum(bool(x.get("high")) for x in q),
                "reward_high": sum(bool(x.get("reward_high")) for x in q),
                "rubric_high": sum(bool(x.get("rubric_high")) for x in q),
                "rubric_unusable": sum("rubric_error" in x for x in q)}

    def report(self, totals: dict[str, float]) -> dict[str, Any]:
        return {"methods": self._methods, "reward_threshold": self._threshold,
                **{k: int(v) for k, v in totals.items()}}

    async def close(self) -> None:
        if self._scorer is not None:
            await self._scorer.close()
            self._scorer = None
