"""Runner overhead per record: a no-op generator over N items with the durable store.

Baseline in the same run: the same generator called in a plain asyncio loop whose records are
serialised and appended to a file (the floor any durable runner pays). Goal: < 1 ms per record.
Usage: python benchmarks/runner_overhead.py [--items 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from synthgen.config import PipelineConfig  # noqa: E402
from synthgen.context import RunContext  # noqa: E402
from synthgen.runner import run_pipeline  # noqa: E402
from tests.fixtures.plugins_for_tests import EchoGeneratorForTests, EchoItem, registry_for_tests  # noqa: E402


def baseline(items: list[dict], out: Path) -> float:
    gen = EchoGeneratorForTests(EchoGeneratorForTests.Config(k=1))
    run_ctx = RunContext(run_name="b")

    async def main() -> None:
        with out.open("wb") as fh:
            for row in items:
                recs = await gen.generate(EchoItem(**row), run_ctx.for_item(row["id"]))
                fh.write(b"".join(r.to_json() + b"\n" for r in recs))

    start = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=20000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.jsonl"
        items = [{"id": f"item-{i}", "prompt": f"p{i}"} for i in range(args.items)]
        src.write_text("".join(json.dumps(r) + "\n" for r in items))
        base_s = baseline(items, Path(tmp) / "base.jsonl")
        cfg = PipelineConfig.model_validate({"name": "bench", "sources": [{"path": str(src)}],
                                             "generator": {"name": "echo_for_tests", "options": {"k": 1}}})
        start = time.perf_counter()
        summary = run_pipeline(cfg, runs_dir=Path(tmp) / "runs", registry=registry_for_tests(), progress=False)
        run_s = time.perf_counter() - start
        assert summary.counts["records"] == args.items
    per_base, per_run = base_s / args.items * 1e3, run_s / args.items * 1e3
    print(f"{'mode':<34}{'total s':>10}{'ms/record':>12}")
    print(f"{'baseline: loop + append (floor)':<34}{base_s:>10.2f}{per_base:>12.3f}")
    print(f"{'runner + durable store + report':<34}{run_s:>10.2f}{per_run:>12.3f}")
    print(f"runner overhead: {per_run:.3f} ms/record (goal < 1 ms), {per_run / per_base:.2f}x the bare loop")


if __name__ == "__main__":
    main()
