"""The ``topics`` processor: a coarse and a fine topic label for every record's prompt.

The Llama 3 recipe buckets its data by topic (coarse and fine) to balance the mix; the paper
fine-tunes an 8B classifier. Here either:

- ``method: embedding`` (default): the prompt is embedded with the offline sentence-embedding model
  and gets the fine label whose centroid (the mean of its labelled examples' embeddings) is
  nearest; below ``min_similarity`` it is ``other``. No LLM needed.
- ``method: role``: a classifier LLM (``role``, default ``classifier``) picks one label from the list.

Labels go to ``record.metadata['topic'] = {coarse, fine, similarity}``. Records whose coarse or fine
label is listed in ``exclude`` are dropped (e.g. a bucket a round should not train on).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import yaml
from pydantic import Field

from synthgen.errors import ConfigError
from synthgen.llm.base import SamplingParams
from synthgen.plugins import Decision, PluginConfig, Processor
from synthgen.processing.dialogs import last_user
from synthgen.records import Record

# coarse -> fine -> labelled examples (short descriptions work as examples for the centroids)
DEFAULT_TAXONOMY: dict[str, dict[str, list[str]]] = {
    "coding": {
        "python": ["Write a Python function that parses a CSV file", "Fix this Python script that raises KeyError"],
        "web": ["Write JavaScript for a button click handler", "Center a div with CSS", "React component state"],
        "systems": ["Write a C++ class for a ring buffer", "Rust borrow checker error", "Java multithreading"],
        "data_and_sql": ["Write an SQL query joining two tables", "pandas groupby aggregation"],
        "debugging": ["Why does my code crash with a segmentation fault", "Find the bug in this function"],
    },
    "math": {
        "arithmetic": ["What is 47+38?", "Compute 12 times 15", "What is 3/4 of 80?"],
        "algebra": ["Solve for x: 2x + 3 = 11", "Factor the polynomial x^2 - 5x + 6"],
        "geometry": ["Find the area of a triangle with sides 3, 4, 5", "angle of a circle sector"],
        "calculus_and_statistics": ["Differentiate sin(x^2)", "Compute the integral of 1/x",
                                    "What is the variance of a die roll"],
        "word_problems": ["A train leaves at 3pm going 60 mph; when does it arrive?",
                          "Alice has 5 apples and gives 2 to Bob"],
    },
    "reasoning_and_tools": {
        "logic": ["Solve this logic puzzle about knights and knaves", "If all A are B, are all B A?"],
        "planning": ["Plan a three-day trip itinerary", "Steps to migrate a database with no downtime"],
        "tool_use": ["Search the web for today's weather", "Use the python tool to plot this data"],
    },
    "multilingual": {
        "translation": ["Translate this paragraph into French", "How do you say thank you in Japanese"],
        "non_english": ["¿Cuál es la capital de Francia?", "Wie spät ist es?", "Quelle est la meilleure recette"],
    },
    "general_english": {
        "writing": ["Write a short story about a dragon", "Draft an email to my manager", "Write a poem"],
        "knowledge_qa": ["Who was the first president of the United States?", "How does photosynthesis work?"],
        "advice": ["How can I sleep better?", "Tips for a job interview", "How do I ask for a raise"],
        "summarization": ["Summarize this article in three sentences", "Give me the key points of this text"],
    },
}


class TopicsConfig(PluginConfig):
    method: Literal["embedding", "role"] = "embedding"
    taxonomy: dict[str, dict[str, list[str]]] | None = Field(
        None, description="coarse -> fine -> labelled examples; default: a built-in taxonomy of the "
                          "paper's capabilities (coding, math, reasoning/tools, multilingual, general)")
    taxonomy_file: str | None = Field(None, description="a YAML file with the same shape as `taxonomy`")
    model: str | None = Field(None, description="sentence-transformers directory; default: the offline MiniLM")
    min_similarity: float = Field(0.2, ge=-1, le=1, description="below this the fine label is `other`")
    role: str = Field("classifier", description="LLM role for method: role")
    exclude: list[str] = Field(default_factory=list, description="coarse or fine labels to drop")
    max_prompt_chars: int = 2000


class TopicsProcessor(Processor):
    name: ClassVar[str] = "topics"
    Config: ClassVar[type[TopicsConfig]] = TopicsConfig

    def __init__(self, config: TopicsConfig | None = None) -> None:
        super().__init__(config)
        self.config: TopicsConfig
        self.taxonomy = self._taxonomy()
        self.labels = [(c, f) for c, fines in self.taxonomy.items() for f in fines]
        self._centroids: np.ndarray | None = None

    def _taxonomy(self) -> dict[str, dict[str, list[str]]]:
        cfg = self.config
        if cfg.taxonomy_file:
            path = Path(cfg.taxonomy_file)
            if not path.is_file():
                raise ConfigError(f"taxonomy file not found: {path}", field="process.topics.options.taxonomy_file")
            data = yaml.safe_load(path.read_text())
        else:
            data = cfg.taxonomy or DEFAULT_TAXONOMY
        if not isinstance(data, dict) or not all(isinstance(v, dict) and v for v in data.values()):
            raise ConfigError("taxonomy must map each coarse label to {fine label: [examples]}",
                              field="process.topics.options.taxonomy")
        return {str(c): {str(f): [str(e) for e in (ex or [])] for f, ex in fines.items()} for c, fines in data.items()}

    async def _centroids_for(self, ctx: Any) -> np.ndarray:
        if self._centroids is None:
            emb = ctx.embedder(self.config.model, field="process.topics.options.model")
            rows = []
            for coarse, fine in self.labels:
                texts = [f"{fine.replace('_', ' ')} ({coarse.replace('_', ' ')})", *self.taxonomy[coarse][fine]]
                vec = (await emb.embed(texts)).mean(axis=0)
                rows.append(vec / (np.linalg.norm(vec) or 1.0))
            self._centroids = np.stack(rows).astype(np.float32)
        return self._centroids

    async def _by_embedding(self, records: list[Record], ctx: Any) -> list[dict[str, Any]]:
        centroids = await self._centroids_for(ctx)
        emb = ctx.embedder(self.config.model, field="process.topics.options.model")
        vecs = await emb.embed([last_user(r)[: self.config.max_prompt_chars] or " " for r in records])
        sims = vecs @ centroids.T
        out = []
        for row in sims:
            j = int(row.argmax())
            coarse, fine = self.labels[j]
            if row[j] < self.config.min_similarity:
                coarse, fine = "other", "other"
            out.append({"coarse": coarse, "fine": fine, "similarity": round(float(row[j]), 4)})
        return out

    async def _by_role(self, record: Record, ctx: Any) -> dict[str, Any]:
        listing = "\n".join(f"- {c}/{f}: {'; '.join(ex[:2])}" for c, fines in self.taxonomy.items()
                            for f, ex in fines.items())
        prompt = [{"role": "user", "content": (
            "Classify the user's request into exactly one topic from this list (label: examples):\n"
            f"{listing}\n\n## Request\n{last_user(record)[: self.config.max_prompt_chars]}\n\n"
            "Answer with the label only, in the form coarse/fine.")}]
        rctx = ctx.for_record(record.id)
        completions = await rctx.generate(self.config.role, [prompt], SamplingParams(temperature=0.0, max_tokens=32),
                                          seed_key="topics")
        text = (completions[0][0].text if completions and completions[0] else "").lower()
        for coarse, fine in self.labels:
            if f"{coarse}/{fine}".lower() in text:
                return {"coarse": coarse, "fine": fine}
        for coarse, fine in self.labels:
            if fine.lower() in text:
                return {"coarse": coarse, "fine": fine}
        return {"coarse": "unknown", "fine": "unknown", "error": f"no label in the classifier output {text[:80]!r}"}

    async def process(self, records: list[Record], ctx: Any) -> list[Decision]:
        if self.config.method == "role":
            if not ctx.has_role(self.config.role):
                raise ConfigError(f"topics method 'role' needs an LLM for role '{self.config.role}' under `llms:`",
                                  field="process.topics.options.role")
            import asyncio

            labels = await asyncio.gather(*(self._by_role(r, ctx) for r in records))
        else:
            labels = await self._by_embedding(records, ctx)
        out = []
        excluded = set(self.config.exclude)
        for rec, label in zip(records, labels):
            rec.metadata["topic"] = label
            hit = excluded & {label["coarse"], label["fine"]}
            out.append(Decision(False, f"topics: excluded topic; {label['coarse']}/{label['fine']}")
                       if hit else Decision(True))
        return out

    def batch_stats(self, records: list[Record], decisions: list[Decision]) -> dict[str, float]:
        stats: dict[str, float] = {}
        for rec in records:
            t = rec.metadata.get("topic", {})
            key = f"topic:{t.get('coarse')}/{t.get('fine')}"
            stats[key] = stats.get(key, 0) + 1
        return stats

    def report(self, totals: dict[str, float]) -> dict[str, Any]:
        counts = {k.split(":", 1)[1]: int(v) for k, v in totals.items() if k.startswith("topic:")}
        n = sum(counts.values()) or 1
        return {"topics": {k: {"records": v, "share": round(v / n, 4)} for k, v in sorted(counts.items())},
                "kept": int(totals.get("kept", 0)), "dropped": int(totals.get("dropped", 0))}
