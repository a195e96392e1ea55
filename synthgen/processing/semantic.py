"""Semantic deduplication, the algorithm (used by the ``dedup`` processor and its benchmark).

Greedy keep (the Llama 3 recipe): walk examples best first (quality x difficulty) and keep one only
if its highest cosine similarity to the examples already kept is below ``threshold``.

Exact greedy compares every example with every kept one: O(n x kept). The clustered version (the
recipe's, after SemDeDup) first splits the embeddings with k-means (faiss) and runs the greedy walk
inside each cluster, in the same global order. The approximation it makes is exactly this: two
similar examples that k-means puts in different clusters are never compared, so both may be kept
(and an example such a pair would have suppressed may then survive or fall differently). The
benchmark counts those differences against the exact walk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GreedyResult:
    keep: np.ndarray      # bool per row
    by: np.ndarray        # for a dropped row: the row (same indexing) of the kept example it matched
    sim: np.ndarray       # that similarity


def greedy_keep(vecs: np.ndarray, threshold: float, *, block: int = 2048) -> GreedyResult:
    """Greedy keep over rows already in priority order (row 0 first); rows are L2-normalised."""
    m = len(vecs)
    keep = np.zeros(m, dtype=bool)
    by = np.full(m, -1, dtype=np.int64)
    sim = np.zeros(m, dtype=np.float32)
    if m == 0:
        return GreedyResult(keep, by, sim)
    kept_vecs = np.empty((m, vecs.shape[1]), dtype=np.float32)
    kept_rows = np.empty(m, dtype=np.int64)
    n_kept = 0
    for start in range(0, m, block):
        blk = np.ascontiguousarray(vecs[start:start + block], dtype=np.float32)
        sup = np.zeros(len(blk), dtype=bool)
        if n_kept:
            s = blk @ kept_vecs[:n_kept].T
            arg = s.argmax(axis=1)
            best = s[np.arange(len(blk)), arg]
            sup = best >= threshold
            by[start:start + len(blk)][sup] = kept_rows[arg[sup]]
            sim[start:start + len(blk)][sup] = best[sup]
        inner = blk @ blk.T
        for i in range(len(blk)):
            if sup[i]:
                continue
            row = start + i
            keep[row] = True
            kept_vecs[n_kept] = blk[i]
            kept_rows[n_kept] = row
            n_kept += 1
            later = inner[i, i + 1:]
            hit = (later >= threshold) & ~sup[i + 1:]
            if hit.any():
                idx = np.nonzero(hit)[0] + i + 1
                sup[idx] = True
                by[start + idx] = row
                sim[start + idx] = inner[i, idx]
    return GreedyResult(keep, by, sim)


def kmeans_assign(vecs: np.ndarray, k: int, *, seed: int, niter: int = 20) -> np.ndarray:
    """Cluster of each row by spherical k-means (faiss)."""
    if k <= 1 or len(vecs) <= k:
        return np.zeros(len(vecs), dtype=np.int64)
    import faiss

    x = np.ascontiguousarray(vecs, dtype=np.float32)
    km = faiss.Kmeans(x.shape[1], k, niter=niter, seed=seed, spherical=True, verbose=False)
    km.train(x)
    _, assign = km.index.search(x, 1)
    return assign[:, 0].astype(np.int64)


def clustered_greedy(vecs: np.ndarray, threshold: float, *, cluster_size: int, seed: int,
                     train_order: np.ndarray | None = None) -> tuple[GreedyResult, np.ndarray]:
    """Greedy keep inside k-means clusters; rows in priority order. Returns (result, cluster per row).

    ``train_order`` (a permutation of the rows) is the order k-means sees them in: pass one that does
    not depend on how the input happened to be ordered (e.g. by record id) for reproducible clusters.
    """
    n = len(vecs)
    k = max(1, -(-n // cluster_size))
    perm = np.arange(n) if train_order is None else train_order
    clusters = np.empty(n, dtype=np.int64)
    clusters[perm] = kmeans_assign(vecs[perm], k, seed=seed)
    k = int(clusters.max()) + 1 if n else 1
    keep = np.zeros(n, dtype=bool)
    by = np.full(n, -1, dtype=np.int64)
    sim = np.zeros(n, dtype=np.float32)
    order = np.argsort(clusters, kind="stable")  # rows of each cluster, still in priority order
    bounds = np.searchsorted(clusters[order], np.arange(k + 1))
    for c in range(k):
        rows = order[bounds[c]:bounds[c + 1]]
        if len(rows) == 0:
            continue
        res = greedy_keep(vecs[rows], threshold)
        keep[rows] = res.keep
        dropped = ~res.keep
        by[rows[dropped]] = rows[res.by[dropped]]
        sim[rows] = res.sim
    return GreedyResult(keep, by, sim), clusters
