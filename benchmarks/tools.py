"""Tool-use throughput: python tool calls through the trace kernel, and functions mined with tree-sitter.

1. **python tool calls/s**: T traces in parallel, each a session of C calls through
   :class:`tools.Toolbox` (validation, the tool, the per-trace :class:`sandboxes.kernel.PythonKernel`),
   calls building on the previous ones' variables, as a multi-step trace does. Baseline in the same
   run: the same cells as bare sandbox jobs (one ``ExecRequest`` each, no state, no toolbox): the
   floor any executed call pays.
2. **functions mined/s**: every ``.py`` file of the project's own packages mined into tool schemas
   with tree-sitter (docstrings parsed, types, defaults, enums). Baseline in the same run: the same
   files parsed with Python's ``ast`` and their ``def`` nodes collected (no schema work).

Last line: the tool's calls/s as a ratio of the bare-job floor.

    .venv/bin/python benchmarks/tools.py [--traces 8] [--calls 4] [--backend docker] [--rounds 3]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generators.tools._mining import mine_source
from sandboxes.types import ExecRequest, Limits
from tools import Toolbox, ToolContext, ToolRef, ToolSession

PACKAGES = ("synthgen", "sandboxes", "generators", "verifiers", "trainers", "tools")


def cells(trace: int, calls: int) -> list[str]:
    out = [f"rows = [(i, i * {trace + 2}) for i in range(200)]\nprint(len(rows))"]
    for c in range(1, calls):
        out.append(f"total_{c} = sum(v for _, v in rows) + {c}\nprint(total_{c})")
    return out


class _Ctx:
    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox


async def bench_calls(backend: str, traces: int, calls: int) -> tuple[float, float, int]:
    from synthgen.registry import Registry

    sandbox = Registry().create("sandbox", backend, {})
    await sandbox.start()
    box = Toolbox.from_refs([ToolRef(name="python", options={"timeout_s": 5})])
    ctx = _Ctx(sandbox)
    try:
        await sandbox.run(ExecRequest(language="python", files={"main.py": "print(1)"}))  # warm the pool

        async def one_trace(t: int) -> int:
            ok = 0
            async with ToolSession(ctx) as session:
                for code in cells(t, calls):
                    ok += (await box.execute("python", {"code": code}, ToolContext(ctx, session))).ok
            return ok

        start = time.perf_counter()
        oks = await asyncio.gather(*(one_trace(t) for t in range(traces)))
        tool_s = time.perf_counter() - start

        async def bare(code: str) -> None:
            await sandbox.run(ExecRequest(language="python", files={"main.py": code},
                                          limits=Limits(wall_time_s=5, cpu_time_s=5)))

        start = time.perf_counter()
        await asyncio.gather(*(bare(code) for t in range(traces) for code in cells(t, 1) * calls))
        bare_s = time.perf_counter() - start
    finally:
        await box.close()
        await sandbox.close()
    n = traces * calls
    return n / tool_s, n / bare_s, sum(oks)


def bench_mining() -> tuple[int, int, float, float]:
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    sources = [p.read_bytes() for p in files]
    start = time.perf_counter()
    mined = sum(len(mine_source(src, "python", str(p))) for src, p in zip(sources, files))
    ts_s = time.perf_counter() - start
    start = time.perf_counter()
    defs = 0
    for src in sources:
        defs += sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in ast.walk(ast.parse(src)))
    ast_s = time.perf_counter() - start
    return len(files), mined, ts_s, ast_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=8)
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--backend", default="docker", help="docker or bubblewrap")
    parser.add_argument("--rounds", type=int, default=3, help="mining repetitions (best is reported)")
    args = parser.parse_args()

    files, mined, ts_s, ast_s = min((bench_mining() for _ in range(args.rounds)), key=lambda r: r[2])
    tool_rate, bare_rate, ok = asyncio.run(bench_calls(args.backend, args.traces, args.calls))
    print("| measurement | value | baseline (same run) |")
    print("|---|---|---|")
    print(f"| python tool calls/s ({args.traces} traces x {args.calls} calls, {args.backend}) | {tool_rate:.1f} "
          f"({ok}/{args.traces * args.calls} ok) | bare sandbox jobs/s {bare_rate:.1f} |")
    print(f"| functions mined/s (tree-sitter, {files} files of the project) | {mined / ts_s:.0f} "
          f"({mined} functions, {files / ts_s:.0f} files/s) | ast parse + def walk of the same files "
          f"{files / ast_s:.0f} files/s |")
    print(f"python tool calls/s vs bare sandbox jobs/s: {tool_rate / bare_rate:.2f}x")


if __name__ == "__main__":
    main()
