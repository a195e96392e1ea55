"""The ``clean`` processor: rebalance overused phrases, emojis and exclamation marks.

The Llama 3 recipe found responses overusing apologies ("I'm sorry", "I apologize"), emojis and
exclamation marks, and rebalanced their share rather than deleting every case. Each category has a
target share of records (our defaults; the paper gives none); where more records than that carry
it, the excess is rewritten (the apologising sentences, the emojis, the "!" removed, code blocks
left alone) or dropped (``action: drop``). Which records are the excess is decided by a hash of
(seed, category, record id): deterministic, independent of order and batch size, and exact in
count. The report gives each category's share before and after.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from pydantic import Field

from synthgen.plugins import Decision, PluginConfig, Processor
from synthgen.processing.dialogs import taught_ids
from synthgen.records import Record, content_hash

EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\u2B06\u2194-\u21AA\uFE0F\u200D]+")
_EXCLAIM = re.compile(r"!(?!=)")
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
CATEGORIES = ("phrases", "emoji", "exclamation")


class CleanConfig(PluginConfig):
    phrases: list[str] = Field(
        default_factory=lambda: ["I'm sorry", "I am sorry", "I apologize", "I apologise", "My apologies",
                                 "Sorry,", "I’m sorry"],
        description="overused phrases (matched case-insensitively)")
    phrases_target: float | None = Field(0.05, ge=0, le=1, description="share of records allowed to keep one; null = leave")
    emoji_target: float | None = Field(0.02, ge=0, le=1, description="share of records allowed emojis; null = leave")
    exclamation_target: float | None = Field(0.10, ge=0, le=1, description="share allowed exclamation marks")
    action: Literal["rewrite", "drop"] = Field("rewrite", description="what happens to the excess")


def _outside_code(text: str, fn: Any) -> str:
    parts = _CODE.split(text)
    return "".join(p if i % 2 else fn(p) for i, p in enumerate(parts))


def _prose(text: str) -> str:
    return "".join(p for i, p in enumerate(_CODE.split(text)) if i % 2 == 0)


class CleanProcessor(Processor):
    name: ClassVar[str] = "clean"
    Config: ClassVar[type[CleanConfig]] = CleanConfig
    global_view: ClassVar[bool] = True

    def __init__(self, config: CleanConfig | None = None) -> None:
        super().__init__(config)
        self.config: CleanConfig
        pattern = "|".join(re.escape(p) for p in sorted(self.config.phrases, key=len, reverse=True))
        self._phrase = re.compile(pattern, re.IGNORECASE) if pattern else None
        self._threshold: dict[str, int] = {}

    # --- detection and rewriting ---------------------------------------------------------------
    def _texts(self, record: Record) -> list[str]:
        out = []
        for cid in taught_ids(record):
            for m in record.candidate(cid).messages:
                if m.get("role") == "assistant" and isinstance(m.get("content"), str):
                    out.append(_prose(m["content"]))
        return out

    def found(self, record: Record) -> list[str]:
        texts = self._texts(record)
        checks = {"phrases": lambda t: bool(self._phrase and self._phrase.search(t)),
                  "emoji": lambda t: bool(EMOJI.search(t)), "exclamation": lambda t: bool(_EXCLAIM.search(t))}
        return [c for c in CATEGORIES if any(checks[c](t) for t in texts)]

    def _rewrite_text(self, text: str, category: str) -> str:
        if category == "emoji":
            return _outside_code(text, lambda p: re.sub(r"[ \t]{2,}", " ", EMOJI.sub("", p)))
        if category == "exclamation":
            return _outside_code(text, lambda p: _EXCLAIM.sub(".", p))
        assert self._phrase is not None

        def drop_sentences(prose: str) -> str:
            kept = [s for s in _SENTENCE.split(prose) if not self._phrase.search(s)]  # type: ignore[union-attr]
            return " ".join(kept)
        return _outside_code(text, drop_sentences).strip()

    def _rewrite(self, record: Record, category: str) -> bool:
        """Rewrite every taught response; False if one would be left empty."""
        for cid in taught_ids(record):
            for m in record.candidate(cid).messages:
                if m.get("role") == "assistant" and isinstance(m.get("content"), str):
                    new = self._rewrite_text(m["content"], category)
                    if not new.strip() and not m.get("tool_calls"):
                        return False
                    m["content"] = new
        return True

    # --- the plan: how many of each category are in excess --------------------------------------
    def _target(self, category: str) -> float | None:
        return getattr(self.config, f"{category}_target")

    def _rank(self, seed: int, category: str, record_id: str) -> int:
        return int(content_hash(seed, "clean", category, record_id), 16)

    async def prepare(self, batches: Iterable[list[Record]], ctx: Any) -> None:
        total = 0
        ranks: dict[str, list[int]] = {c: [] for c in CATEGORIES}
        for batch in batches:
            for rec in batch:
                total += 1
                for c in self.found(rec):
                    ranks[c].append(self._rank(ctx.seed, c, rec.id))
        self._threshold = {}
        for c, values in ranks.items():
            target = self._target(c)
            if target is None or not values:
                continue
            allowed = int(target * total)
            if self.config.action == "drop" and target < 1:
                # dropping shrinks the total too: keep k so that k / (total - (n - k)) ~= target
                allowed = int(target * (total - len(values)) / (1 - target))
            excess = len(values) - allowed
            if excess > 0:
                self._threshold[c] = sorted(values)[excess - 1]  # the `excess` lowest ranks are acted on

    async def process(self, records: list[Record], ctx: Any) -> list[Decision]:
        out = []
        for rec in records:
            found = self.found(rec)
            acted = [c for c in found if c in self._threshold and self._rank(ctx.seed, c, rec.id) <= self._threshold[c]]
            rec.metadata["clean"] = {"found": found}
            if acted and self.config.action == "drop":
                out.append(Decision(False, f"clean: over the target share; of {', '.join(acted)}"))
                continue
            rewritten = []
            for c in acted:
                if not self._rewrite(rec, c):
                    out.append(Decision(False, f"clean: rewriting would empty the response; it is nothing but {c}"))
                    break
                rewritten.append(c)
            else:
                rec.metadata["clean"].update(rewritten=rewritten, remaining=self.found(rec))
                out.append(Decision(True))
        return out

    def batch_stats(self, records: list[Record], decisions: list[Decision]) -> dict[str, float]:
        stats: dict[str, float] = {"records": len(records), "dropped_by_clean": sum(not d.kept for d in decisions)}
        for rec, d in zip(records, decisions):
            meta = rec.metadata.get("clean", {})
            for c in meta.get("found", []):
                stats[f"before:{c}"] = stats.get(f"before:{c}", 0) + 1
            if d.kept:
                for c in meta.get("remaining", []):
                    stats[f"after:{c}"] = stats.get(f"after:{c}", 0) + 1
                for c in meta.get("rewritten", []):
                    stats[f"rewritten:{c}"] = stats.get(f"rewritten:{c}", 0) + 1
        return stats

    def report(self, totals: dict[str, float]) -> dict[str, Any]:
        n = totals.get("records", 0)
        kept = n - totals.get("dropped_by_clean", 0)
        shares = {}
        for c in CATEGORIES:
            shares[c] = {"target": self._target(c),
                         "before": round(totals.get(f"before:{c}", 0) / n, 4) if n else 0.0,
                         "after": round(totals.get(f"after:{c}", 0) / kept, 4) if kept else 0.0,
                         "rewritten": int(totals.get(f"rewritten:{c}", 0))}
        return {"records": int(n), "dropped": int(totals.get("dropped_by_clean", 0)), "shares": shares}
