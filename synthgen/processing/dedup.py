"""The ``dedup`` processor: exact, optional MinHash, then semantic deduplication of whole dialogs.

1. Exact duplicates (same dialog text after collapsing whitespace) are removed first; the best
   ranked copy stays.
2. ``minhash: true``: near duplicates by MinHash LSH over word 3-grams (datasketch), best first.
3. Semantic (the Llama 3 recipe): whole dialogs embedded with a sentence-embedding model (default
   the offline MiniLM; batched; cached per record id under ``<run>/process/cache``; on Ray actors
   with ``runner.executor: ray``), clustered with faiss k-means (``cluster_size`` examples per
   cluster on average), each cluster walked best first by quality x difficulty, an example kept
   only if its highest cosine similarity to those already kept in its cluster is below
   ``threshold`` (:mod:`synthgen.processing.semantic`).

Ranking needs ``metadata.quality`` and ``metadata.difficulty`` (``sort_by: quality_x_difficulty``,
the default): put ``quality`` and ``difficulty`` before ``dedup``, or rank by one of them or by
nothing (``sort_by: none``: record id order). Ties go to the smaller record id. The whole decision
is made in the first pass (it needs every embedding: n x 384 float32) and saved to
``work/plan.json``, so a resumed step never recomputes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from synthgen.errors import ConfigError
from synthgen.plugins import Decision, PluginConfig, Processor
from synthgen.processing.dialogs import dialog_text
from synthgen.processing.embeddings import EmbeddingCache, embed_cached
from synthgen.processing.semantic import clustered_greedy
from synthgen.records import Record

_WS = re.compile(r"\s+")
_NEEDS = {"quality_x_difficulty": ("quality", "difficulty"), "quality": ("quality",),
          "difficulty": ("difficulty",), "none": ()}


class DedupConfig(PluginConfig):
    threshold: float = Field(0.95, gt=0, le=1, description="keep an example only if its max cosine similarity "
                                                          "to those kept in its cluster is below this")
    model: str | None = Field(None, description="sentence-transformers directory; default: the offline MiniLM")
    cluster_size: int = Field(1000, ge=2, description="mean examples per k-means cluster (k = n / this)")
    sort_by: Literal["quality_x_difficulty", "quality", "difficulty", "none"] = "quality_x_difficulty"
    exact: bool = Field(True, description="drop exact duplicate dialogs first")
    minhash: bool = Field(False, description="also drop MinHash near duplicates (word 3-grams)")
    minhash_threshold: float = Field(0.8, gt=0, le=1, description="estimated Jaccard similarity")
    minhash_perm: int = Field(128, ge=16)
    embed_batch: int = Field(1024, ge=1, description="dialogs per embedding call (and cache chunk)")
    max_chars: int = Field(4000, ge=100, description="dialog text embedded (MiniLM reads ~256 word pieces)")


class DedupProcessor(Processor):
    name: ClassVar[str] = "dedup"
    Config: ClassVar[type[DedupConfig]] = DedupConfig
    global_view: ClassVar[bool] = True

    def __init__(self, config: DedupConfig | None = None) -> None:
        super().__init__(config)
        self.config: DedupConfig
        self._dropped: dict[str, str] = {}
        self._stats: dict[str, Any] = {}

    def rank(self, record: Record) -> float:
        value = 1.0
        for key in _NEEDS[self.config.sort_by]:
            meta = record.metadata.get(key)
            if not isinstance(meta, dict) or not isinstance(meta.get("value"), (int, float)):
                raise ConfigError(f"dedup ranks by {self.config.sort_by} but record {record.id} has no "
                                  f"metadata.{key}: put the `{key}` processor before `dedup` in `process:`, or set "
                                  "dedup's `sort_by` to what the records have (quality, difficulty or none)",
                                  field="process.dedup.options.sort_by")
            value *= float(meta["value"])
        return value

    def _minhash(self, text: str) -> np.ndarray:
        from datasketch import MinHash

        words = text.lower().split()
        grams = {" ".join(words[i:i + 3]).encode() for i in range(max(1, len(words) - 2))}
        mh = MinHash(num_perm=self.config.minhash_perm, seed=1, scheme="affine32")
        mh.update_batch(list(grams))
        return mh.hashvalues.copy()

    async def prepare(self, batches: Iterable[list[Record]], ctx: Any) -> None:
        plan_path = ctx.workdir / "plan.json"
        if plan_path.is_file():  # decided before a kill: never recompute
            plan = json.loads(plan_path.read_text())
            self._dropped, self._stats = plan["dropped"], plan["stats"]
            return
        cfg = self.config
        model: list[Any] = []  # (embedder, cache), made at the first flush: a missing score fails before a model loads
        ids: list[str] = []
        ranks: list[float] = []
        digests: list[bytes] = []
        sigs: list[np.ndarray] = []
        parts: list[np.ndarray] = []
        pending: tuple[list[str], list[str]] = ([], [])

        async def flush() -> None:
            if pending[0]:
                if not model:
                    embedder = ctx.embedder(cfg.model, field="process.dedup.options.model")
                    model.extend([embedder, EmbeddingCache(ctx.cache_dir, embedder.model_path)])
                parts.append(await embed_cached(model[0], model[1], pending[0], pending[1]))
                pending[0].clear()
                pending[1].clear()

        for batch in batches:
            for rec in batch:
                text = dialog_text(rec)
                ids.append(rec.id)
                ranks.append(self.rank(rec))
                digests.append(hashlib.blake2b(_WS.sub(" ", text).strip().encode(), digest_size=16).digest())
                if cfg.minhash:
                    sigs.append(self._minhash(text))
                pending[0].append(rec.id)
                pending[1].append(text[: cfg.max_chars])
                if len(pending[0]) >= cfg.embed_batch:
                    await flush()
        await flush()
        model.clear()  # the cache's copy of every vector is not needed past this point
        self._decide(ids, np.asarray(ranks), digests, sigs, parts, ctx.seed)
        tmp = ctx.workdir / ".plan.json.tmp"
        tmp.write_text(json.dumps({"dropped": self._dropped, "stats": self._stats}))
        os.replace(tmp, plan_path)

    def _decide(self, ids: list[str], ranks: np.ndarray, digests: list[bytes], sigs: list[np.ndarray],
                parts: list[np.ndarray], seed: int) -> None:
        cfg = self.config
        n = len(ids)
        order = np.lexsort((np.asarray(ids), -ranks)) if n else np.zeros(0, dtype=np.int64)  # best first
        alive = np.ones(n, dtype=bool)
        dropped: dict[str, str] = {}
        if cfg.exact:
            first: dict[bytes, int] = {}
            for i in order:
                j = first.setdefault(digests[i], int(i))
                if j != i:
                    alive[i] = False
                    dropped[ids[i]] = f"dedup: exact duplicate; of {ids[j]}"
        if cfg.minhash:
            from datasketch import MinHash, MinHashLSH

            lsh = MinHashLSH(threshold=cfg.minhash_threshold, num_perm=cfg.minhash_perm)
            for i in order:
                if not alive[i]:
                    continue
                mh = MinHash(num_perm=cfg.minhash_perm, hashvalues=sigs[i], seed=1, scheme="affine32")
                hits = [int(h) for h in lsh.query(mh)]
                close = [(float(np.mean(sigs[h] == sigs[i])), h) for h in hits]
                close = [c for c in close if c[0] >= cfg.minhash_threshold]
                if close:
                    jac, h = max(close)
                    alive[i] = False
                    dropped[ids[i]] = f"dedup: near duplicate (MinHash); Jaccard {jac:.2f} with {ids[h]}"
                else:
                    lsh.insert(str(int(i)), mh)
        rows = order[alive[order]]  # survivors, best first
        clusters_n = 0
        if len(rows):
            everything = np.concatenate(parts)
            parts.clear()  # one copy of the matrix at a time: n x 384 float32 is the step's peak
            vecs = everything[rows]
            del everything
            # k-means sees the rows in record-id order, so clusters do not depend on input order
            by_id = np.argsort(np.asarray(ids)[rows], kind="stable")
            res, clusters = clustered_greedy(vecs, cfg.threshold, cluster_size=cfg.cluster_size, seed=seed,
                                             train_order=by_id)
            keep, by, sim = res.keep, res.by, res.sim
            clusters_n = int(clusters.max()) + 1
            for pos in np.nonzero(~keep)[0]:
                match = rows[by[pos]]
                dropped[ids[rows[pos]]] = (f"dedup: semantic duplicate; cosine {sim[pos]:.3f} >= {cfg.threshold:g} to {ids[match]} "
                                           f"(cluster {int(clusters[pos])})")
        self._dropped = dropped
        n_exact = sum(v.startswith("dedup: exact") for v in dropped.values())
        n_near = sum(v.startswith("dedup: near") for v in dropped.values())
        self._stats = {"records": n, "exact_duplicates": n_exact, "minhash_duplicates": n_near,
                       "semantic_duplicates": len(dropped) - n_exact - n_near, "clusters": clusters_n,
                       "kept": n - len(dropped), "threshold": cfg.threshold}

    async def process(self, records: list[Record], ctx: Any) -> list[Decision]:
        return [Decision(False, self._dropped[r.id]) if r.id in self._dropped else Decision(True) for r in records]

    def report(self, totals: dict[str, float]) -> dict[str, Any]:
        return dict(self._stats)
