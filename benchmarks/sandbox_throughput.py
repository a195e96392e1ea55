"""Sandbox throughput: a trivial Python program N times, in parallel, through five ways of running it.

Floor: bare subprocess of the real interpreter binary (not a pyenv shim, which costs ~100 ms a start).
Then `docker run --rm` per run, `docker exec` per run (SDK, warm containers), our Docker pool, our
bubblewrap backend. Prints runs/s, median and p95 latency, then a compile-and-run time per language.
Last line: our Docker pool's throughput as a ratio of the floor (goal >= 0.5x).

    .venv/bin/python benchmarks/sandbox_throughput.py [--n 500] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandboxes.bwrap import BubblewrapSandbox, BwrapConfig, host_languages
from sandboxes.docker_pool import DockerConfig, DockerSandbox
from sandboxes.image_build import DEFAULT_IMAGE
from sandboxes.types import ExecRequest, Limits
from tests.sandboxes.programs import CASES

PROGRAM = "print(sum(range(100)))"
EXPECTED = b"4950\n"


def real_python() -> str:
    """The interpreter binary itself: /usr/bin/python3 (the image's interpreter too) or ours, resolved."""
    for candidate in ("/usr/bin/python3", sys.executable):
        path = os.path.realpath(candidate)
        if os.path.exists(path) and "shims" not in path:
            return path
    raise SystemExit("no real python interpreter found")


def join_fair_cgroup() -> str:
    """Put this process (and so every bare/bwrap child) into one CPU cgroup beside Docker's.

    Under cgroup v1 group scheduling all containers together share the weight of the one ``docker``
    cgroup, while host processes each weigh as much on their own: on a machine busy with other
    work, that alone halves the containers' share and the comparison measures the load, not us.
    One cgroup for our host-side processes puts both sides on equal terms.
    """
    root = Path("/sys/fs/cgroup/cpu")
    if os.geteuid() != 0 or not (root / "docker" / "cpu.shares").exists():
        return "host processes not grouped (needs root and cgroup v1): ratios skew under load"
    group = root / f"synthgen-bench-{os.getpid()}"
    group.mkdir(exist_ok=True)
    (group / "cpu.shares").write_text((root / "docker" / "cpu.shares").read_text())
    (group / "cgroup.procs").write_text(str(os.getpid()))
    return f"host processes grouped in {group} (same CPU weight as Docker's cgroup)"


def leave_fair_cgroup() -> None:
    root = Path("/sys/fs/cgroup/cpu")
    group = root / f"synthgen-bench-{os.getpid()}"
    if group.exists():
        (root / "cgroup.procs").write_text(str(os.getpid()))
        for _ in range(50):
            try:
                group.rmdir()
                return
            except OSError:
                time.sleep(0.05)


async def measure(n: int, workers: int, one: Callable[[], Awaitable[bytes]]) -> tuple[float, list[float]]:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            queue.get_nowait()
            t0 = time.perf_counter()
            out = await one()
            latencies.append(time.perf_counter() - t0)
            if out != EXPECTED:
                raise RuntimeError(f"wrong output {out!r}")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return n / (time.perf_counter() - t0), latencies


def row(name: str, rate: float, lat: list[float], floor: float | None) -> str:
    lat = sorted(lat)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    ratio = f"{rate / floor:.2f}x" if floor else "1.00x"
    return f"| {name:<28} | {rate:8.1f} | {statistics.median(lat) * 1000:8.1f} | {p95 * 1000:8.1f} | {ratio:>7} |"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="parallel clients = pool size (2 cores here)")
    parser.add_argument("--no-fair-cgroup", action="store_true", help="leave host processes ungrouped")
    parser.add_argument("--docker-run-n", type=int, default=None, help="runs for `docker run --rm` (slow)")
    args = parser.parse_args()
    n, w = args.n, args.workers
    py = real_python()
    rows: list[str] = []
    note = join_fair_cgroup() if not args.no_fair_cgroup else "host processes not grouped (--no-fair-cgroup)"

    async def bare() -> bytes:
        proc = await asyncio.create_subprocess_exec(py, "-c", PROGRAM, stdout=subprocess.PIPE)
        out, _ = await proc.communicate()
        return out

    floor, lat = await measure(n, w, bare)
    rows.append(row(f"bare subprocess ({os.path.basename(py)})", floor, lat, None))
    # One client at a time: per-job overhead without any CPU contention between our own jobs.
    floor1, lat = await measure(max(n // 4, 10), 1, bare)
    rows.append(row("bare subprocess, 1 client", floor1, lat, None))

    async def docker_run() -> bytes:
        proc = await asyncio.create_subprocess_exec(
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--log-driver",
            "none",
            "-a",
            "stdout",
            "--entrypoint",
            "python3",
            DEFAULT_IMAGE,
            "-c",
            PROGRAM,
            stdout=subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        return out

    rate, lat = await measure(args.docker_run_n or n, w, docker_run)
    rows.append(row("docker run --rm per run", rate, lat, floor))

    import docker

    client = docker.from_env()
    warm = [
        client.containers.run(
            DEFAULT_IMAGE,
            entrypoint=["sleep", "infinity"],
            detach=True,
            init=True,
            network_mode="none",
            labels={"synthgen.benchmark": "1"},
        )
        for _ in range(w)
    ]
    turn = iter(range(10**9))

    async def docker_exec() -> bytes:
        container = warm[next(turn) % w]
        res = await asyncio.to_thread(
            container.exec_run, ["python3", "-c", PROGRAM], stdout=True, stderr=False
        )
        return res.output

    try:
        rate, lat = await measure(n, w, docker_exec)
        rows.append(row("docker exec per run (SDK)", rate, lat, floor))
    finally:
        for c in warm:
            c.remove(force=True)
        client.close()

    request = ExecRequest(language="python", files={"main.py": PROGRAM})
    pool = DockerSandbox(DockerConfig(pool_size=w))
    async with pool:

        async def pooled() -> bytes:
            return (await pool.run(request)).stdout

        await measure(2 * w, w, pooled)  # warm-up
        pool_rate, lat = await measure(n, w, pooled)
        rows.append(row("our Docker pool (supervisor)", pool_rate, lat, floor))
        rate1, lat = await measure(max(n // 4, 10), 1, pooled)
        rows.append(row("our Docker pool, 1 client", rate1, lat, floor1))
        lang_times = await compile_and_run_times(pool)

    bwrap_times: dict[str, float] = {}
    if shutil.which("bwrap"):
        bw = BubblewrapSandbox(BwrapConfig(workers=w))
        async with bw:

            async def bwrapped() -> bytes:
                return (await bw.run(request)).stdout

            rate, lat = await measure(n, w, bwrapped)
            rows.append(row("our bubblewrap backend", rate, lat, floor))
            langs = host_languages()
            bwrap_times = await compile_and_run_times(bw, only={k for k, ok in langs.items() if ok})

    print(
        f"\n{n} runs of a trivial Python program, {w} parallel clients, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}; {note}"
    )
    print("| mode                         |   runs/s | med (ms) | p95 (ms) | vs bare |")
    print("|------------------------------|----------|----------|----------|---------|")
    print("\n".join(rows))
    print("\ncompile-and-run of hello world, wall seconds seen by the caller (median of 3)")
    print("| language   | docker pool | bubblewrap |")
    print("|------------|-------------|------------|")
    for lang, secs in lang_times.items():
        bw_cell = f"{bwrap_times[lang]:.3f}" if lang in bwrap_times else "n/a (host)"
        print(f"| {lang:<10} | {secs:11.3f} | {bw_cell:>10} |")
    print(f"one client at a time: our Docker pool {rate1 / floor1:.2f}x of bare")
    print(
        f"\nour Docker pool vs bare subprocess: {pool_rate / floor:.2f}x ({pool_rate:.0f} vs {floor:.0f} runs/s; "
        "goal >= 0.5x)"
    )


async def compile_and_run_times(sandbox, only: set[str] | None = None) -> dict[str, float]:
    times: dict[str, float] = {}
    for case in CASES:
        if case.name != "hello" or (only is not None and case.language not in only):
            continue
        samples = []
        for _ in range(3):
            t0 = time.perf_counter()
            result = await sandbox.run(
                ExecRequest(language=case.language, files=case.files, limits=Limits(wall_time_s=30))
            )
            samples.append(time.perf_counter() - t0)
            if not result.ok:
                raise RuntimeError(f"{case.language} hello failed: {result}")
        times[case.language] = statistics.median(samples)
    return times


if __name__ == "__main__":
    try:
        asyncio.run(main())
    finally:
        leave_fair_cgroup()
