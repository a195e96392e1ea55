"""The ``difficulty`` processor: intention tags of the prompt (InsTag) and a three-point score.

The Llama 3 recipe measures difficulty two ways: InsTag (an LLM lists the intentions in a prompt;
more tags = a harder, more complex request) and an LLM's difficulty rating on a three-point scale.
- Tags: the ``tagger`` role answers a JSON list of short intention tags; they are parsed leniently
  (a JSON list, ``{"tags": [...]}``, or one tag per line).
- Score: a custom rubric (``difficulty``, 1..3) through the ``llm_judge`` verifier, the project's one
  judge mechanism (its prompt, retries and robust parser).
Results go to ``record.metadata['difficulty'] = {tags, n_tags, score, value}``; ``value`` (the score,
ties broken by the tag count) is what ``dedup`` ranks by. Output that cannot be parsed is recorded
on the record (``tags_error`` / ``score_error``) and never drops it. ``min_score`` / ``min_tags``
drop prompts that are too easy (off by default).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, ClassVar

from pydantic import Field

from synthgen.errors import ConfigError
from synthgen.llm.base import SamplingParams
from synthgen.plugins import Decision, PluginConfig, Processor
from synthgen.processing.dialogs import last_user, primary
from synthgen.records import Record

DIFFICULTY_CRITERIA = {"difficulty": "how hard the user's request is to answer well: 1 = easy (one simple step, "
                                     "common knowledge), 2 = medium (several steps or some expertise), 3 = hard "
                                     "(deep expertise, long reasoning or many constraints)"}
TAG_PROMPT = ("List the user intentions in the request below as fine-grained tags (e.g. \"code generation\", "
              "\"explain\", \"format constraint\", \"math calculation\", \"role play\"). One tag per distinct "
              "intention or constraint.\n\n## Request\n{request}\n\nAnswer with a JSON list of strings only.")


class DifficultyConfig(PluginConfig):
    tagger_role: str | None = Field("tagger", description="LLM role listing intention tags (InsTag); null = off")
    judge_role: str | None = Field("judge", description="LLM role rating difficulty 1..3; null = off")
    max_tags: int = Field(20, ge=1, description="tags beyond this are ignored (runaway lists)")
    max_prompt_chars: int = 4000
    min_score: int | None = Field(None, ge=1, le=3, description="drop prompts rated below this")
    min_tags: int | None = Field(None, ge=0, description="drop prompts with fewer intention tags")


def parse_tags(text: str, limit: int) -> tuple[list[str], str]:
    """Tags from a tagger's output, and an error ('' when fine)."""
    text = text.strip()
    candidates: list[Any] = []
    for m in re.finditer(r"\[.*?\]|\{.*?\}", text, re.DOTALL):
        try:
            candidates.append(json.loads(m.group(0)))
        except ValueError:
            continue
    for obj in candidates:
        if isinstance(obj, dict):
            obj = obj.get("tags") or obj.get("intentions")
        if isinstance(obj, list) and obj and all(isinstance(t, (str, dict)) for t in obj):
            tags = [str(t.get("tag", "") if isinstance(t, dict) else t).strip().lower() for t in obj]
            tags = list(dict.fromkeys(t for t in tags if t))
            if tags:
                return tags[:limit], ""
    bullets = re.findall(r"^\s*(?:[-*•]|\d+[.)])\s+(.+?)\s*$", text, re.MULTILINE)  # a bulleted list
    lines = [b.strip().strip('"').lower() for b in bullets if len(b) <= 60]
    if lines:
        return list(dict.fromkeys(lines))[:limit], ""
    return [], f"no tag list in the tagger output {text[:80]!r}"


class DifficultyProcessor(Processor):
    name: ClassVar[str] = "difficulty"
    Config: ClassVar[type[DifficultyConfig]] = DifficultyConfig

    def __init__(self, config: DifficultyConfig | None = None) -> None:
        super().__init__(config)
        self.config: DifficultyConfig
        self._judge: Any = None

    def _check_roles(self, ctx: Any) -> None:
        cfg = self.config
        if cfg.tagger_role is None and cfg.judge_role is None:
            raise ConfigError("difficulty needs `tagger_role` or `judge_role`", field="process.difficulty.options")
        for field, role in (("tagger_role", cfg.tagger_role), ("judge_role", cfg.judge_role)):
            if role is not None and not ctx.has_role(role):
                raise ConfigError(f"difficulty needs an LLM for role '{role}' under `llms:` (or set {field}: null)",
                                  field=f"process.difficulty.options.{field}")

    async def _tags(self, record: Record, ctx: Any) -> dict[str, Any]:
        prompt = [{"role": "user", "content": TAG_PROMPT.format(request=last_user(record)[: self.config.max_prompt_chars])}]
        rctx = ctx.for_record(record.id)
        completions = await rctx.generate(self.config.tagger_role, [prompt],
                                          SamplingParams(temperature=0.0, max_tokens=256), seed_key="instag")
        text = completions[0][0].text if completions and completions[0] else ""
        tags, error = parse_tags(text, self.config.max_tags)
        return {"tags": tags, "n_tags": len(tags), **({"tags_error": error} if error else {})}

    async def _score(self, record: Record, ctx: Any) -> dict[str, Any]:
        from verifiers.llm_judge import JudgeConfig, LLMJudgeVerifier

        if self._judge is None:
            self._judge = LLMJudgeVerifier(JudgeConfig(
                role=self.config.judge_role, rubric="custom", criteria=DIFFICULTY_CRITERIA, scale=(1, 3),
                threshold=0.0, instructions="Rate the difficulty of the user's request (the response is shown "
                                            "for context only; do not judge it)."))
        verdict = await self._judge.verify(record, primary(record), ctx.for_record(record.id))
        raw = verdict.details.get("raw_scores", {}).get("difficulty")
        if raw is None:
            return {"score": None, "score_error": verdict.feedback}
        return {"score": round(raw)}

    async def _one(self, record: Record, ctx: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.config.tagger_role is not None:
            out.update(await self._tags(record, ctx))
        if self.config.judge_role is not None:
            out.update(await self._score(record, ctx))
        score = out.get("score") or (1 + min(out.get("n_tags", 0), 10) / 5)  # tags alone: 1..3
        out["value"] = round(score + 0.01 * min(out.get("n_tags", 0), 99), 4)
        return out

    async def process(self, records: list[Record], ctx: Any) -> list[Decision]:
        self._check_roles(ctx)
        results = await asyncio.gather(*(self._one(r, ctx) for r in records))
        cfg, out = self.config, []
        for rec, d in zip(records, results):
            rec.metadata["difficulty"] = d
            why = []
            if cfg.min_score is not None and d.get("score") is not None and d["score"] < cfg.min_score:
                why.append(f"difficulty {d['score']} < min_score {cfg.min_score}")
            if cfg.min_tags is not None and "n_tags" in d and not d.get("tags_error") and d["n_tags"] < cfg.min_tags:
                why.append(f"{d['n_tags']} intention tags < min_tags {cfg.min_tags}")
            out.append(Decision(False, "difficulty: too easy; " + ", ".join(why)) if why else Decision(True))
        return out

    def batch_stats(self, records: list[Record], decisions: list[Decision]) -> dict[str, float]:
        stats: dict[str, float] = {"records": len(records), "tags": 0, "unparsed": 0}
        for rec in records:
            d = rec.metadata.get("difficulty", {})
            stats["tags"] += d.get("n_tags", 0)
            stats["unparsed"] += bool(d.get("tags_error") or d.get("score_error"))
            if d.get("score") is not None:
                stats[f"score:{d['score']}"] = stats.get(f"score:{d['score']}", 0) + 1
        return stats

    def report(self, totals: dict[str, float]) -> dict[str, Any]:
        n = totals.get("records", 0)
        return {"records": int(n), "mean_tags": round(totals.get("tags", 0) / n, 3) if n else 0.0,
                "scores": {k.split(":")[1]: int(v) for k, v in sorted(totals.items()) if k.startswith("score:")},
                "unparsed": int(totals.get("unparsed", 0)), "dropped": int(totals.get("dropped", 0))}
