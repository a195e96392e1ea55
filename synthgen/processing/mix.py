"""The ``mix`` processor: the data-mix report per capability, and optional resampling to target shares.

The report is the table of the Llama 3 slides for each capability (or coarse topic): share of
examples (SFT rows) and of comparisons (DPO pairs), turns per dialog, tokens per example (the whole
dialog), tokens in the prompt (the last user turn) and in the response (the primary response).
Tokens are counted with ``tokenizer`` (a local ``tokenizer.json`` or tokenizer directory; default
the offline MiniLM's word pieces, which differ from a Llama tokenizer's counts by a few percent;
``words`` counts words and punctuation). The table is in the step report, ``process/mix.json``
and the run's report.

``target_shares`` (e.g. ``{math: 0.5, code: 0.5}``) resamples records down so the listed groups hold
those shares (no group is upsampled: the largest mix that fits is kept); which records go is chosen
by a hash of (seed, record id), so it is deterministic and exact in count. Unlisted groups are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from synthgen.errors import ConfigError
from synthgen.plugins import Decision, PluginConfig, Processor
from synthgen.processing.dialogs import last_user, primary, render
from synthgen.records import Record, content_hash

_WORDS = re.compile(r"\w+|[^\w\s]")
FIELDS = ("records", "examples", "comparisons", "dialogs", "turns", "tokens", "prompt_tokens", "response_tokens")


class MixConfig(PluginConfig):
    group_by: Literal["capability", "topic"] = Field("capability", description="topic: metadata.topic.coarse")
    target_shares: dict[str, float] | None = Field(None, description="group -> share of records; resample down")
    tokenizer: str | None = Field(None, description="tokenizer.json or directory; 'words'; default: offline MiniLM")


class MixProcessor(Processor):
    name: ClassVar[str] = "mix"
    Config: ClassVar[type[MixConfig]] = MixConfig
    global_view: ClassVar[bool] = True
    report_file: ClassVar[str] = "mix.json"

    def __init__(self, config: MixConfig | None = None) -> None:
        super().__init__(config)
        self.config: MixConfig
        shares = self.config.target_shares
        if shares is not None and (any(v < 0 for v in shares.values()) or sum(shares.values()) <= 0):
            raise ConfigError("mix target_shares must be >= 0 and not all 0", field="process.mix.options.target_shares")
        self._tok: Any = None
        self.tokenizer_name = "words"
        self._threshold: dict[str, int] = {}
        self._before: dict[str, int] = {}

    def group(self, record: Record) -> str:
        if self.config.group_by == "topic":
            return str((record.metadata.get("topic") or {}).get("coarse") or "unknown")
        return record.capability or "unknown"

    def _tokenizer(self) -> Any:
        if self._tok is None:
            from tokenizers import Tokenizer

            name = self.config.tokenizer
            if name == "words":
                self._tok = False
                return self._tok
            if name is None:
                try:
                    from synthgen.processing.embeddings import default_model_path

                    path = default_model_path() / "tokenizer.json"
                    self.tokenizer_name = "all-MiniLM-L6-v2 word pieces"
                except ConfigError:
                    self._tok = False
                    return self._tok
            else:
                path = Path(name)
                path = path / "tokenizer.json" if path.is_dir() else path
                if not path.is_file():
                    raise ConfigError(f"tokenizer not found: {path}", field="process.mix.options.tokenizer")
            self._tok = Tokenizer.from_file(str(path))
            self._tok.no_truncation()
            self._tok.no_padding()
            if name is not None:
                self.tokenizer_name = str(path)
        return self._tok

    def count(self, texts: list[str]) -> list[int]:
        tok = self._tokenizer()
        if tok is False:
            return [len(_WORDS.findall(t)) for t in texts]
        return [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]

    def _rank(self, seed: int, record_id: str) -> int:
        return int(content_hash(seed, "mix", record_id), 16)

    async def prepare(self, batches: Iterable[list[Record]], ctx: Any) -> None:
        ranks: dict[str, list[int]] = {}
        for batch in batches:
            for rec in batch:
                ranks.setdefault(self.group(rec), []).append(self._rank(ctx.seed, rec.id))
        self._before = {g: len(v) for g, v in sorted(ranks.items())}
        targets = self.config.target_shares
        if not targets:
            return
        missing = [g for g, t in targets.items() if t > 0 and g not in ranks]
        if missing:  # the largest mix that fits would be empty: every listed group dropped
            raise ConfigError(f"mix target_shares lists {', '.join(missing)}, which no record has; groups by "
                              f"{self.config.group_by}: {', '.join(sorted(ranks)) or 'none'}",
                              field="process.mix.options.target_shares")
        total_share = sum(targets.values())
        listed = {g: t / total_share for g, t in targets.items()}
        # the largest total that fits every listed group: no group can give more than it has
        fit = min(len(ranks.get(g, [])) / t for g, t in listed.items() if t > 0)
        for g, t in listed.items():
            have = sorted(ranks.get(g, []))
            quota = int(fit * t + 1e-9)
            if quota < len(have):
                self._threshold[g] = have[quota - 1] if quota > 0 else -1  # keep ranks <= threshold

    async def process(self, records: list[Record], ctx: Any) -> list[Decision]:
        out = []
        for rec in records:
            g = self.group(rec)
            if g in self._threshold and self._rank(ctx.seed, rec.id) > self._threshold[g]:
                share = self.config.target_shares[g]  # type: ignore[index]
                out.append(Decision(False, f"mix: resampled to the target share; {g} {share:g}"))
            else:
                out.append(Decision(True))
        return out

    def batch_stats(self, records: list[Record], decisions: list[Decision]) -> dict[str, float]:
        kept = [r for r, d in zip(records, decisions) if d.kept]
        dialogs, prompts, responses = [], [], []
        for rec in kept:
            cand = primary(rec)
            msgs = list(rec.messages) + (list(cand.messages) if cand else [])
            dialogs.append(render(msgs))
            prompts.append(last_user(rec))
            responses.append(render([m for m in (cand.messages if cand else []) if m.get("role") == "assistant"]))
        tokens, p_tokens, r_tokens = self.count(dialogs), self.count(prompts), self.count(responses)
        stats: dict[str, float] = {}
        for i, rec in enumerate(kept):
            g = self.group(rec)
            cand = primary(rec)
            msgs = list(rec.messages) + (list(cand.messages) if cand else [])
            values = {"records": 1, "examples": len(rec.selected), "comparisons": len(rec.pairs), "dialogs": 1,
                      "turns": max(1, sum(m.get("role") == "user" for m in msgs)), "tokens": tokens[i],
                      "prompt_tokens": p_tokens[i], "response_tokens": r_tokens[i]}
            for k, v in values.items():
                stats[f"{g}\t{k}"] = stats.get(f"{g}\t{k}", 0) + v
        return stats

    def report(self, totals: dict[str, float]) -> dict[str, Any]:
        groups: dict[str, dict[str, float]] = {}
        for key, v in totals.items():
            if "\t" in key:
                g, f = key.split("\t")
                groups.setdefault(g, dict.fromkeys(FIELDS, 0.0))[f] += v
        total = dict.fromkeys(FIELDS, 0.0)
        for vals in groups.values():
            for f in FIELDS:
                total[f] += vals[f]
        rows = [mix_row(g, vals, total) for g, vals in sorted(groups.items())] + [mix_row("Total", total, total)]
        self._tokenizer()
        return {"group_by": self.config.group_by, "tokenizer": self.tokenizer_name, "rows": rows,
                "records_before": self._before, "target_shares": self.config.target_shares,
                "dropped": int(totals.get("dropped", 0))}


def mix_row(name: str, vals: dict[str, float], total: dict[str, float]) -> dict[str, Any]:
    d = vals["dialogs"] or 1
    return {"group": name, "records": int(vals["records"]), "examples": int(vals["examples"]),
            "comparisons": int(vals["comparisons"]),
            "share_examples": round(vals["examples"] / total["examples"], 4) if total["examples"] else 0.0,
            "share_comparisons": round(vals["comparisons"] / total["comparisons"], 4) if total["comparisons"] else 0.0,
            "turns_per_dialog": round(vals["turns"] / d, 2), "tokens_per_example": round(vals["tokens"] / d, 1),
            "prompt_tokens": round(vals["prompt_tokens"] / d, 1), "response_tokens": round(vals["response_tokens"] / d, 1)}


MIX_HEADERS = ["group", "% examples", "% comparisons", "turns/dialog", "tokens/example", "prompt tokens",
               "response tokens"]


def mix_table_rows(report: dict[str, Any]) -> list[list[str]]:
    return [[r["group"], f"{100 * r['share_examples']:.2f}%", f"{100 * r['share_comparisons']:.2f}%",
             f"{r['turns_per_dialog']:.1f}", f"{r['tokens_per_example']:.1f}", f"{r['prompt_tokens']:.1f}",
             f"{r['response_tokens']:.1f}"] for r in report.get("rows", [])]
