"""The greedy-keep algorithm against a plain reference, and what clustering changes (only pairs split
across clusters)."""

import numpy as np

from synthgen.processing.semantic import clustered_greedy, greedy_keep


def _reference(vecs, thr):
    kept = []
    for i, v in enumerate(vecs):
        if not kept or max(float(v @ vecs[j]) for j in kept) < thr:
            kept.append(i)
    return kept


def _data(n=600, d=16, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, d))
    x = centres[rng.integers(0, 40, n)] + 0.25 * rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_greedy_keep_equals_the_reference_walk_across_blocks():
    vecs = _data()
    for thr in (0.9, 0.97):
        res = greedy_keep(vecs, thr, block=64)  # many blocks: the kept-so-far matrix is used
        assert list(np.nonzero(res.keep)[0]) == _reference(vecs, thr)
        dropped = np.nonzero(~res.keep)[0]
        assert (res.sim[dropped] >= thr).all() and res.keep[res.by[dropped]].all()
        assert all(res.by[i] < i for i in dropped)  # matched an earlier (better ranked) example


def test_one_cluster_is_exact_and_many_clusters_differ_only_across_clusters():
    vecs, thr = _data(), 0.95
    exact = greedy_keep(vecs, thr).keep
    single, _ = clustered_greedy(vecs, thr, cluster_size=len(vecs), seed=0)
    assert (single.keep == exact).all()
    res, clusters = clustered_greedy(vecs, thr, cluster_size=60, seed=0)
    assert clusters.max() >= 5
    extra = np.nonzero(res.keep & ~exact)[0]  # kept only because its match sits in another cluster
    for i in extra:
        sims = vecs[:i] @ vecs[i]
        close = np.nonzero((sims >= thr) & res.keep[:i])[0]
        assert len(close) and (clusters[close] != clusters[i]).all()


def test_empty_input():
    assert len(greedy_keep(np.zeros((0, 4), dtype=np.float32), 0.9).keep) == 0
