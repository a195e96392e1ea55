"""Micro-batching of the transformers backend on the tiny model.

1. 64 concurrent requests (one asyncio task each) vs the same 64 requests one by one (goal >= 4x).
2. n=16 samples of one prompt in one call vs 16 separate requests (one by one, and concurrent).

Requests are seeded, so both ways generate the same tokens (checked) and do the same work. Each
case runs ``--repeats`` times and the best time counts (the machine is shared and noisy).
Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/llm_batching.py``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

from synthgen.llm.base import SamplingParams
from synthgen.llm.transformers_backend import TransformersBackend, TransformersConfig
from synthgen.tiny_model import build_tiny_model


async def timed(coro_factory, repeats: int):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = await coro_factory()
        best = min(best, time.perf_counter() - start)
    return best, result


def tokens(groups) -> int:
    return sum(c.completion_tokens or 0 for group in groups for c in group)


async def main(args: argparse.Namespace) -> None:
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    with tempfile.TemporaryDirectory() as tmp:
        backend = TransformersBackend(TransformersConfig(model=str(build_tiny_model(tmp)), max_batch_size=64))
        await backend.load()
        prompts = [[{"role": "user", "content": f"Question {i}: what is {i} + {2 * i}? " + "Explain. " * (i % 5)}]
                   for i in range(args.requests)]
        params = [SamplingParams(max_tokens=args.max_tokens, seed=1000 + i) for i in range(args.requests)]
        await backend.generate(prompts[:2], params[0])  # warm-up

        async def one_by_one():
            return [(await backend.generate([p], sp))[0] for p, sp in zip(prompts, params)]

        async def concurrent():
            results = await asyncio.gather(*(backend.generate([p], sp) for p, sp in zip(prompts, params)))
            return [r[0] for r in results]

        t_seq, seq = await timed(one_by_one, args.repeats)
        t_con, con = await timed(concurrent, args.repeats)
        assert [c.text for g in seq for c in g] == [c.text for g in con for c in g], "batched output differs"

        prompt = prompts[3]
        n_params = SamplingParams(n=16, max_tokens=args.max_tokens, seed=7)
        sep_params = [SamplingParams(max_tokens=args.max_tokens, seed=7 + j) for j in range(16)]

        async def n16():
            return await backend.generate([prompt], n_params)

        async def sixteen_sequential():
            return [(await backend.generate([prompt], sp))[0] for sp in sep_params]

        async def sixteen_concurrent():
            return [r[0] for r in await asyncio.gather(*(backend.generate([prompt], sp) for sp in sep_params))]

        t_n, n_out = await timed(n16, args.repeats)
        t_sep, sep = await timed(sixteen_sequential, args.repeats)
        t_sepc, sepc = await timed(sixteen_concurrent, args.repeats)
        await backend.close()

    rows = [
        (f"{args.requests} requests one by one", t_seq, tokens(seq), 1.0),
        (f"{args.requests} requests concurrent (micro-batched)", t_con, tokens(con), t_seq / t_con),
        ("16 separate requests one by one", t_sep, tokens(sep), 1.0),
        ("16 separate requests concurrent", t_sepc, tokens(sepc), t_sep / t_sepc),
        ("one request with n=16", t_n, tokens(n_out), t_sep / t_n),
    ]
    print(f"tiny model, max_tokens={args.max_tokens}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, "
          f"best of {args.repeats}")
    print(f"{'case':<44} {'seconds':>8} {'tokens':>7} {'tok/s':>8} {'speedup':>8}")
    for name, seconds, toks, speedup in rows:
        print(f"{name:<44} {seconds:>8.3f} {toks:>7d} {toks / seconds:>8.0f} {speedup:>7.1f}x")
    print(f"RESULT concurrent/one-by-one = {t_seq / t_con:.1f}x (goal >= 4x); "
          f"n=16 vs 16 separate one-by-one = {t_sep / t_n:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
