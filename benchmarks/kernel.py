"""Kernel throughput: code blocks of TIR-like solutions run through PythonKernel vs fresh jobs.

A workload of S solutions with B short blocks each (the shape of code-interleaved math reasoning:
a few lines of arithmetic per block, later blocks using earlier variables), solutions in parallel
on a pool of W slots. Rows:

* fresh job per block: each block alone as one standalone job (no state; the floor a kernel of any
  kind is compared with, since every block must at least run once in isolation),
* concatenated re-run: each block run as one job holding every earlier block's text before it
  (state by re-running, earlier output printed again: what a generator without a kernel would do),
* PythonKernel (replay): what ``math_tir`` and the ``python`` tool use.

Last line: the kernel's blocks/s as a ratio of the fresh-job floor measured in the same run.

    .venv/bin/python benchmarks/kernel.py [--solutions 24] [--blocks 4] [--workers 2] [--backend docker]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandboxes.kernel import PythonKernel
from sandboxes.types import ExecRequest, Limits

LIMITS = Limits(wall_time_s=5, cpu_time_s=5, output_bytes=16384)


def solution_blocks(seed: int, blocks: int) -> list[str]:
    """B blocks; block k reads block k-1's variable, as a worked solution does."""
    out = [f"from fractions import Fraction\nv0 = Fraction({seed + 3}, {seed + 7})\nprint(v0)"]
    for k in range(1, blocks):
        out.append(f"v{k} = v{k - 1} * {k + 2} + Fraction(1, {k + 1})\nprint(v{k}, float(v{k}))")
    return out


def standalone(block: str) -> str:
    """The block made runnable alone (its input variable defined in place), for the fresh-job floor."""
    if block.startswith("from"):
        return block
    k = int(block.split("=", 1)[0].strip()[1:])
    return f"from fractions import Fraction\nv{k - 1} = Fraction(3, 7)\n{block}"


async def run_pool(n_workers: int, jobs: list, one) -> float:
    queue: asyncio.Queue = asyncio.Queue()
    for j in jobs:
        queue.put_nowait(j)

    async def worker() -> None:
        while not queue.empty():
            await one(queue.get_nowait())

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(n_workers)))
    return time.perf_counter() - t0


async def bench_backend(sandbox, solutions: int, blocks: int, workers: int) -> list[tuple[str, float]]:
    work = [solution_blocks(s, blocks) for s in range(solutions)]
    total = solutions * blocks
    failures: list[str] = []

    async def fresh(sol: list[str]) -> None:
        for block in sol:
            r = await sandbox.run(ExecRequest("python", files={"main.py": standalone(block)}, limits=LIMITS))
            if not r.ok:
                failures.append(r.stderr_text[-200:])

    async def concatenated(sol: list[str]) -> None:
        for k in range(len(sol)):
            program = "\n".join(sol[: k + 1])
            r = await sandbox.run(ExecRequest("python", files={"main.py": program}, limits=LIMITS))
            if not r.ok:
                failures.append(r.stderr_text[-200:])

    async def kernel(sol: list[str]) -> None:
        async with PythonKernel(sandbox, limits=LIMITS) as k:
            for block in sol:
                r = await k.execute(block)
                if not r.ok:
                    failures.append(r.error or "")

    # Solutions in flight = 2x the slots: a kernel holds no slot between blocks, others use it.
    await run_pool(workers, work[:workers], fresh)  # warm-up
    rows = []
    for name, fn in (("fresh job per block", fresh), ("concatenated re-run", concatenated),
                     ("PythonKernel (replay)", kernel)):
        seconds = await run_pool(2 * workers, work, fn)
        rows.append((name, total / seconds))
    if failures:
        raise RuntimeError(f"{len(failures)} blocks failed, e.g. {failures[0]!r}")
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--solutions", type=int, default=24)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="pool slots / bwrap workers")
    parser.add_argument("--backend", choices=("docker", "bubblewrap", "both"), default="docker")
    args = parser.parse_args()
    from synthgen.registry import Registry

    backends = ("docker", "bubblewrap") if args.backend == "both" else (args.backend,)
    print(f"{args.solutions} solutions x {args.blocks} blocks, {args.workers} slots")
    print("| backend    | mode                     | blocks/s | vs fresh |")
    print("|------------|--------------------------|----------|----------|")
    headline = None
    for backend in backends:
        size_key = "pool_size" if backend == "docker" else "workers"
        sandbox = Registry().create("sandbox", backend, {size_key: args.workers})
        async with sandbox:
            rows = await bench_backend(sandbox, args.solutions, args.blocks, args.workers)
        floor = rows[0][1]
        for name, rate in rows:
            print(f"| {backend:<10} | {name:<24} | {rate:8.1f} | {rate / floor:7.2f}x |")
        headline = headline or (backend, rows[-1][1] / floor)
    assert headline is not None
    print(f"PythonKernel blocks/s vs a fresh job per block ({headline[0]}): {headline[1]:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
