"""Semantic dedup at scale: the `dedup` processor on 100,000 dialogs, and clustered vs exact greedy.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/dedup.py [--n 100000] [--agree-n 5000] [--embed-sample 256]

1. Embedding throughput of the offline MiniLM on this machine (dialogs/s), and the projected time for
   --n dialogs. When that projection is over --max-embed-min minutes (the default 15; on 2 shared CPU
   cores it is), the 100k run uses RANDOM-PROJECTION embeddings instead: each dialog's hashed word
   counts times a fixed Gaussian matrix, normalised (384 dims, like MiniLM). Near-duplicate texts get
   near vectors, so clustering and the greedy walk do the same work; the table says which was used.
2. The full `dedup` step of the processing stage (run store in, decision log out, exact hash first,
   faiss k-means, greedy keep by quality x difficulty) over --n synthetic dialogs (a share of exact
   copies and of copies with a word or two changed), run in a child process that reports its own
   peak RSS (VmHWM). The embeddings are put in the step's per-record cache first, so the step itself never
   loads a model: its time is dedup's, not the embedder's.
3. Agreement on --agree-n dialogs (real MiniLM embeddings when they fit the time budget): the
   clustered walk against the exact all-pairs walk, with every difference classified: a pair split
   across clusters (the documented approximation) or a knock-on of one.
4. The baseline at full size: the exact all-pairs walk over the same --n matrix (O(n x kept)) against
   the clustered walk (k-means included), in this process (`--no-exact-full` skips it).
Last line: clustered vs exact greedy time at --n and --agree-n, and how many decisions differ.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_dialogs(n: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """(id, prompt, response): ~70% distinct, ~20% with 1-2 words changed, ~10% exact copies."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(6000)]
    out: list[tuple[str, str, str]] = []
    for i in range(n):
        r = rng.random()
        if out and r < 0.10:
            _, p, a = out[rng.randrange(len(out))]
        elif out and r < 0.30:
            _, p, a = out[rng.randrange(len(out))]
            words = a.split()
            for _ in range(rng.randint(1, 2)):
                words[rng.randrange(len(words))] = rng.choice(vocab)
            a = " ".join(words)
        else:
            p = "Question: " + " ".join(rng.choices(vocab, k=12)) + "?"
            a = " ".join(rng.choices(vocab, k=40)) + "."
        out.append((f"d{i:07d}", p, a))
    return out


def random_projection(texts: list[str], dim: int = 384, buckets: int = 4096, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    proj = rng.standard_normal((buckets, dim)).astype(np.float32)
    out = np.empty((len(texts), dim), dtype=np.float32)
    for start in range(0, len(texts), 4096):
        chunk = texts[start:start + 4096]
        counts = np.zeros((len(chunk), buckets), dtype=np.float32)
        for row, text in enumerate(chunk):
            idx = [zlib.crc32(w.encode()) % buckets for w in text.split()]  # stable across processes
            np.add.at(counts[row], idx, 1.0)
        vecs = counts @ proj
        out[start:start + len(chunk)] = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    return out


def build_run(run_dir: Path, dialogs: list[tuple[str, str, str]], vecs: np.ndarray, model_path: Path) -> None:
    """A run store of SFT records (random quality/difficulty) and the embedding cache pre-filled."""
    from synthgen.processing.dialogs import dialog_text
    from synthgen.processing.embeddings import EmbeddingCache
    from synthgen.records import Record
    from synthgen.store import RunStore

    rng = random.Random(1)
    store = RunStore(run_dir)
    store.initialise(config_yaml="benchmark: dedup\n", fingerprint="bench", seed=0)
    writer = store.writer(0)
    cache = EmbeddingCache(run_dir / "process" / "cache", model_path)
    keys: list[str] = []
    for (rid, prompt, answer), _ in zip(dialogs, range(len(dialogs))):
        rec = Record(id=rid, capability=rng.choice(["general", "code", "math"]),
                     messages=[{"role": "user", "content": prompt}],
                     metadata={"quality": {"value": round(rng.random(), 3)}, "difficulty": {"value": rng.randint(1, 3)}})
        rec.selected = [rec.add_candidate([{"role": "assistant", "content": answer}]).id]
        writer.write_item(rid, [rec])
        keys.append(EmbeddingCache.key(rid, dialog_text(rec)[:4000]))
    writer.close()
    for start in range(0, len(keys), 8192):
        cache.put(keys[start:start + 8192], vecs[start:start + 8192])


def child_stage(run_dir: str, threshold: float, cluster_size: int) -> None:
    from synthgen.config import PluginRef
    from synthgen.processing.stage import ProcessingStage

    step = PluginRef(name="dedup", options={"threshold": threshold, "cluster_size": cluster_size})
    started = time.perf_counter()
    info = asyncio.run(ProcessingStage(Path(run_dir), [step], batch_size=1024).run())
    rep = info["steps"][0]["report"]
    # VmHWM is this process image's own peak; getrusage's maxrss would carry over the parent's peak
    # from before exec (Linux keeps it across fork + exec)
    hwm_kb = next(int(ln.split()[1]) for ln in Path("/proc/self/status").read_text().splitlines()
                  if ln.startswith("VmHWM:"))
    print(f"RESULT {time.perf_counter() - started:.2f} {rep['kept']} {rep['exact_duplicates']} "
          f"{rep['semantic_duplicates']} {rep['clusters']} {hwm_kb}")


def agreement(vecs: np.ndarray, threshold: float, cluster_size: int) -> dict[str, float]:
    from synthgen.processing.semantic import clustered_greedy, greedy_keep

    t0 = time.perf_counter()
    exact = greedy_keep(vecs, threshold)
    t_exact = time.perf_counter() - t0
    t0 = time.perf_counter()
    clus, clusters = clustered_greedy(vecs, threshold, cluster_size=cluster_size, seed=0)
    t_clus = time.perf_counter() - t0
    split = knock_on = unexplained = 0
    for i in np.nonzero(exact.keep != clus.keep)[0]:
        if clus.keep[i]:  # exact dropped it for a match j; clustered never compared them or j fell
            j = exact.by[i]
            if clusters[j] != clusters[i]:
                split += 1
            elif not clus.keep[j]:
                knock_on += 1
            else:
                unexplained += 1
        else:  # clustered dropped it for a match j that exact did not keep
            j = clus.by[i]
            if not exact.keep[j]:
                knock_on += 1
            else:
                unexplained += 1
    return {"exact_s": t_exact, "clustered_s": t_clus, "exact_kept": int(exact.keep.sum()),
            "clustered_kept": int(clus.keep.sum()), "differ": int((exact.keep != clus.keep).sum()),
            "split": split, "knock_on": knock_on, "unexplained": unexplained, "clusters": int(clusters.max()) + 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--agree-n", type=int, default=5_000)
    parser.add_argument("--embed-sample", type=int, default=256, help="dialogs embedded to measure throughput")
    parser.add_argument("--max-embed-min", type=float, default=15.0)
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--cluster-size", type=int, default=1000)
    parser.add_argument("--no-exact-full", dest="exact_full", action="store_false",
                        help="skip the exact all-pairs walk over all --n (the full-size baseline)")
    parser.add_argument("--child-stage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_stage:
        child_stage(args.child_stage, args.threshold, args.cluster_size)
        return

    from synthgen.processing.embeddings import LocalEmbedder, default_model_path

    model_path = default_model_path()
    dialogs = synthetic_dialogs(args.n)
    texts = [f"user: {p}\nassistant: {a}" for _, p, a in dialogs]

    embedder = LocalEmbedder(model_path)
    t0 = time.perf_counter()
    embedder.encode(texts[:8])  # load + warm up
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    embedder.encode(texts[8:8 + args.embed_sample])
    rate = args.embed_sample / (time.perf_counter() - t0)
    projected_min = args.n / rate / 60
    real = projected_min <= args.max_embed_min
    print(f"MiniLM on this machine: load {load_s:.1f} s, {rate:.1f} dialogs/s -> {args.n:,} dialogs would take "
          f"{projected_min:.1f} min; using {'MiniLM' if real else 'RANDOM-PROJECTION'} embeddings for the {args.n:,} run")
    t0 = time.perf_counter()
    vecs = embedder.encode(texts) if real else random_projection(texts)
    embed_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "bench"
        build_run(run_dir, dialogs, vecs, model_path)
        proc = subprocess.Popen([sys.executable, __file__, "--child-stage", str(run_dir), "--threshold",
                                 str(args.threshold), "--cluster-size", str(args.cluster_size)],
                                stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        _, status, _ = os.wait4(proc.pid, 0)
        lines = proc.stdout.read().splitlines() if proc.stdout else []
        result = next((ln for ln in lines if ln.startswith("RESULT")), None)
        if status != 0 or result is None:
            raise SystemExit(f"the dedup step failed (status {status}): {lines[-5:]}")
        wall, kept, exact_dups, sem_dups, clusters, hwm_kb = result.split()[1:]
        peak_mb = int(hwm_kb) / 1024

    full = None
    if args.exact_full:  # the baseline at full size: the exact all-pairs walk over the same matrix
        from synthgen.processing.semantic import clustered_greedy, greedy_keep

        order_full = np.argsort(-np.random.default_rng(0).random(len(vecs)), kind="stable")
        t0 = time.perf_counter()
        exact_full = greedy_keep(vecs[order_full], args.threshold)
        t_exact_full = time.perf_counter() - t0
        t0 = time.perf_counter()
        clus_full, _ = clustered_greedy(vecs[order_full], args.threshold, cluster_size=args.cluster_size, seed=0)
        t_clus_full = time.perf_counter() - t0
        full = (t_exact_full, t_clus_full, int(exact_full.keep.sum()), int(clus_full.keep.sum()),
                int((exact_full.keep != clus_full.keep).sum()))

    agree_n = min(args.agree_n, args.n)
    agree_real = agree_n / rate / 60 <= args.max_embed_min / 3
    agree_vecs = embedder.encode(texts[:agree_n]) if agree_real else vecs[:agree_n]
    rng = np.random.default_rng(0)
    order = np.argsort(-rng.random(agree_n), kind="stable")  # a priority order (quality x difficulty stand-in)
    agr = agreement(agree_vecs[order], args.threshold, args.cluster_size)

    print("\n| what | value |\n|---|---|")
    print(f"| dialogs | {args.n:,} ({'MiniLM' if real else 'random-projection'} embeddings, {embed_s:.1f} s to make) |")
    print(f"| dedup step wall (child process) | {float(wall):.1f} s |")
    print(f"| peak RSS of the step | {peak_mb:.0f} MB |")
    print(f"| kept | {int(kept):,} (exact duplicates {int(exact_dups):,}, semantic {int(sem_dups):,}, {clusters} clusters) |")
    print(f"| agreement set | {agree_n:,} dialogs, {'MiniLM' if agree_real else 'random-projection'} embeddings, "
          f"{agr['clusters']} clusters |")
    print(f"| exact all-pairs greedy | {agr['exact_s']:.2f} s, kept {agr['exact_kept']:,} |")
    print(f"| clustered greedy | {agr['clustered_s']:.2f} s, kept {agr['clustered_kept']:,} |")
    print(f"| decisions that differ | {agr['differ']} (split across clusters {agr['split']}, knock-on {agr['knock_on']}, "
          f"unexplained {agr['unexplained']}) |")
    if full is not None:
        print(f"| {args.n:,}: exact all-pairs greedy | {full[0]:.1f} s, kept {full[2]:,} |")
        print(f"| {args.n:,}: clustered greedy (k-means + walk) | {full[1]:.1f} s, kept {full[3]:,}; {full[4]} decisions differ |")
        print(f"\nclustered vs exact greedy on {args.n:,}: {full[0] / max(full[1], 1e-9):.1f}x faster; on {agree_n:,}: "
              f"{agr['exact_s'] / max(agr['clustered_s'], 1e-9):.1f}x, {agr['differ']} of {agree_n:,} decisions differ "
              f"({agr['unexplained']} unexplained)")
        return
    print(f"\nclustered vs exact greedy on {agree_n:,}: {agr['exact_s'] / max(agr['clustered_s'], 1e-9):.1f}x faster, "
          f"{agr['differ']} of {agree_n:,} decisions differ ({agr['unexplained']} unexplained)")


if __name__ == "__main__":
    main()
