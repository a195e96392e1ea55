"""Runs at scale: the no-op generator over N items through run_pipeline, each step in its own process.

Per size: a fresh run (wall, ms/record, CPU ms/record, the process's own peak RSS), a re-run of the
finished run (the unchanged-run check), a re-run that streams the source past the done index (the
same with finished.json removed), and a run killed with SIGKILL at 50% then resumed. Then the
exports are compared with the former in-memory exporter (`export_records_in_memory`, run on the
same records in its own process: its peak RSS is the baseline of the last line).

"no-record cpu ms": the same source through a generator that makes no record (the engine's own
cost per item: source row, queue, durable line, index), beside the record's own costs.

The pipeline: `noop_for_bench` with k=2 (no model, no state kept per item; the `echo_for_tests`
fixture keeps a per-item attempt dict, ~110 B/item), the `parity_for_tests` verifier, passed-vs-failed
pairs, SFT and DPO exports, so that the exports are not empty.

--ray: the Ray table instead: items/s of the Ray executor with 1, 2 and 4 workers (and the local
executor as the baseline) on a generator that waits (50 ms, a model call) and one that burns CPU
(5 ms), with the driver's own CPU time per item (the driver must not be the bottleneck).
Usage: python benchmarks/scale.py [--items 100000 1000000] [--no-compare-old] | --ray
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _config(src: str) -> dict:
    return {"name": "scale", "sources": [{"path": src}],
            "generator": {"name": "noop_for_bench", "options": {"k": 2}},
            "verifiers": [{"name": "parity_for_tests"}],
            "selection": {"score_key": "none", "pairs": "passed_vs_failed", "similarity_threshold": 1.0},
            "export": [{"format": "sft"}, {"format": "dpo"}], "runner": {"fsync_every_s": 5.0}}


def _own_peak_mb() -> float:
    """This process's own peak RSS since its exec (VmHWM). Not the wait4 ru_maxrss a parent gets:
    Linux carries the parent's peak into a vfork+exec child's ru_maxrss, so a parent that once held
    a big buffer would show it as the child's peak (the 412 MB "resume peak" at 1M items was the
    parent reading a 400 MB shard to watch the killed run's progress)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child_run(src: str, runs: str, out: str) -> None:
    from benchmarks._scale_plugins import NoopGeneratorForBench
    from synthgen.config import PipelineConfig
    from synthgen.runner import run_pipeline
    from tests.fixtures.plugins_for_tests import registry_for_tests

    registry = registry_for_tests()  # for parity_for_tests
    registry.register("generator", NoopGeneratorForBench)
    start = time.perf_counter()
    summary = run_pipeline(PipelineConfig.model_validate(_config(src)), runs_dir=runs,
                           registry=registry, progress=False)
    Path(out).write_text(json.dumps({"seconds": time.perf_counter() - start, "records": summary.counts["records"],
                                     "peak_mb": _own_peak_mb()}))


def child_floor(src: str, runs: str, out: str) -> None:
    """The engine's own cost per item: the same source through a generator that makes no record."""
    from benchmarks._scale_plugins import EmptyGeneratorForBench
    from synthgen.config import PipelineConfig
    from synthgen.registry import Registry
    from synthgen.runner import run_pipeline

    registry = Registry()
    registry.register("generator", EmptyGeneratorForBench)
    cfg = {"name": "floor", "sources": [{"path": src}], "generator": {"name": "empty_for_bench"},
           "runner": {"fsync_every_s": 5.0}}
    start = time.perf_counter()
    run_pipeline(PipelineConfig.model_validate(cfg), runs_dir=runs, registry=registry, progress=False)
    Path(out).write_text(json.dumps({"seconds": time.perf_counter() - start, "peak_mb": _own_peak_mb()}))


def child_old_export(run_dir: str, out_dir: str, out: str) -> None:
    from synthgen.export_reference import export_records_in_memory
    from synthgen.store import RunStore

    start = time.perf_counter()
    records = list(RunStore(run_dir).records())
    for fmt in ("sft", "dpo"):
        export_records_in_memory(records, fmt, Path(out_dir) / f"{fmt}.jsonl")
    Path(out).write_text(json.dumps({"seconds": time.perf_counter() - start, "peak_mb": _own_peak_mb()}))


def _spawn(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, __file__, "--child", *args], cwd=ROOT, env=env)


def _wait(proc: subprocess.Popen) -> tuple[int, float, float]:
    """(exit status, peak RSS in MB, CPU seconds) of that child alone (wait4 gives its own rusage)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    return status, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure(args: list[str], tmp: Path) -> dict:
    out = tmp / "child.json"
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    status, rss, cpu = _wait(_spawn([*args, str(out)]))
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"child {args[0]} failed with status {status}")
    res = json.loads(out.read_text())
    # the child's own peak (see _own_peak_mb); ru_maxrss kept for reference
    return {**res, "process_s": wall, "rss_mb": res.get("peak_mb", rss), "ru_maxrss_mb": rss, "cpu_s": cpu}


class _LineCounter:
    """Lines in a run's shards, reading only what was appended since the last call (in blocks):
    the watching process stays small (see _own_peak_mb) and leaves the CPU to the run."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.seen: dict[Path, tuple[int, int]] = {}  # shard -> (bytes read, lines in them)

    def __call__(self) -> int:
        for shard in (self.run_dir / "records").glob("shard-*.jsonl"):
            pos, count = self.seen.get(shard, (0, 0))
            with shard.open("rb") as fh:
                fh.seek(pos)
                while block := fh.read(1 << 20):
                    count += block.count(b"\n")
                    pos += len(block)
            self.seen[shard] = (pos, count)
        return sum(count for _, count in self.seen.values())


def kill_at_half(src: Path, runs: Path, n: int, tmp: Path) -> dict:
    proc = _spawn(["run", str(src), str(runs), str(tmp / "killed.json")])
    lines = _LineCounter(runs / "scale")
    while proc.poll() is None and lines() < n // 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    _wait(proc)
    at = lines()
    res = measure(["run", str(src), str(runs)], tmp)
    return {**res, "killed_at": at}


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def bench(n: int, compare_old: bool) -> dict:
    with tempfile.TemporaryDirectory(dir=os.environ.get("SCALE_TMP")) as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "src.jsonl"
        with src.open("w") as fh:
            for i in range(n):
                fh.write(f'{{"id": "item-{i}", "prompt": "p{i}"}}\n')
        runs = tmp / "runs"
        fresh = measure(["run", str(src), str(runs)], tmp)
        assert fresh["records"] == n, fresh
        rerun = measure(["run", str(src), str(runs)], tmp)
        (runs / "scale" / "finished.json").unlink()
        streamed = measure(["run", str(src), str(runs)], tmp)
        resumed = kill_at_half(src, tmp / "runs-killed", n, tmp)
        floor = measure(["floor", str(src), str(tmp / "runs-floor")], tmp)
        row = {"items": n, "fresh": fresh, "rerun": rerun, "rerun_streamed": streamed, "resume": resumed,
               "floor": floor}
        exports = runs / "scale" / "export"
        killed_exports = tmp / "runs-killed" / "scale" / "export"
        row["resumed_exports_equal"] = all(_digest(exports / f) == _digest(killed_exports / f)
                                           for f in ("sft.jsonl", "dpo.jsonl"))
        if compare_old:
            old_dir = tmp / "old"
            old = measure(["old-export", str(runs / "scale"), str(old_dir)], tmp)
            row["old_export"] = old
            row["exports_equal_old"] = all(_digest(exports / f) == _digest(old_dir / f)
                                           for f in ("sft.jsonl", "dpo.jsonl"))
        row["export_rows"] = {f: sum(1 for _ in (exports / f"{f}.jsonl").open("rb")) for f in ("sft", "dpo")}
        return row


def ray_table(tmp: Path) -> list[dict]:
    import resource

    from benchmarks._scale_plugins import BurningGeneratorForBench, WaitingGeneratorForBench
    from synthgen.config import PipelineConfig
    from synthgen.registry import Registry
    from synthgen.runner import run_pipeline

    registry = Registry()
    registry.register("generator", WaitingGeneratorForBench)
    registry.register("generator", BurningGeneratorForBench)
    cases = [("wait 50 ms", "waiting_for_bench", 6000, 128), ("burn 5 ms CPU", "burning_for_bench", 1000, 64)]
    rows = []
    for label, gen, n, concurrency in cases:
        src = tmp / f"{gen}.jsonl"
        src.write_text("".join(f'{{"id": "i{i}", "prompt": "p{i}"}}\n' for i in range(n)))
        for workers in (0, 1, 2, 4):  # 0: the local executor, in the driver's process
            runner: dict = {"max_concurrent_items": concurrency}
            if workers:
                runner.update({"executor": "ray", "ray": {"num_workers": workers, "num_cpus_per_worker": 0.5}})
            cfg = PipelineConfig.model_validate({"name": f"{gen}-{workers}", "sources": [{"path": str(src)}],
                                                 "generator": {"name": gen}, "runner": runner})
            done_at: list[float] = []
            usage: list[float] = []

            def on_item(item_id: str, records: list, done_at=done_at, usage=usage) -> None:
                done_at.append(time.perf_counter())
                if len(done_at) in (n // 10, n):  # the driver's CPU over the same steady window
                    ru = resource.getrusage(resource.RUSAGE_SELF)
                    usage.append(ru.ru_utime + ru.ru_stime)

            summary = run_pipeline(cfg, runs_dir=tmp / "ray-runs", registry=registry, progress=False,
                                   on_item=on_item)
            assert summary.counts["records"] == n
            # steady state: from the 10% item to the last (Ray's start-up, seconds here, left out)
            span = done_at[-1] - done_at[n // 10 - 1]
            rate = (n - n // 10) / span
            driver = (usage[1] - usage[0]) / (n - n // 10)
            rows.append({"generator": label, "workers": workers, "items": n, "wall_s": summary.timings["wall_s"],
                         "items_per_s": rate, "driver_cpu_ms_per_item": driver * 1e3})
            print(f"{label:<15} {'local' if not workers else workers:>7} {rate:>9.0f} {driver * 1e3:>14.3f} "
                  f"{summary.timings['wall_s']:>8.1f}", flush=True)
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--ray":
        print(f"{'generator':<15} {'workers':>7} {'items/s':>9} {'driver ms/item':>14} {'wall s':>8}"
              f"  ({os.cpu_count()} cores)")
        with tempfile.TemporaryDirectory() as tmp:
            rows = ray_table(Path(tmp))
        for label in dict.fromkeys(r["generator"] for r in rows):
            one = next(r for r in rows if r["generator"] == label and r["workers"] == 1)
            four = next(r for r in rows if r["generator"] == label and r["workers"] == 4)
            print(f"{label}: 4 workers = {four['items_per_s'] / one['items_per_s']:.2f}x one worker")
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        {"run": child_run, "old-export": child_old_export, "floor": child_floor}[sys.argv[2]](*sys.argv[3:])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--no-compare-old", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    rows = []
    for n in args.items:
        rows.append(bench(n, not args.no_compare_old))
        print(json.dumps(rows[-1]), flush=True)  # each size as soon as it is measured (1M takes a while)
    print(f"{'items':>9} {'run s':>8} {'ms/rec':>7} {'cpu ms/rec':>10} {'no-record cpu ms':>16} {'peak MB':>8} "
          f"{'rerun s':>8} {'rerun streamed s':>16} {'resume@50% s':>12} {'resume MB':>9} {'exports==old':>12} "
          f"{'old export MB':>13}")
    for r in rows:
        n, f = r["items"], r["fresh"]
        old = r.get("old_export", {})
        print(f"{n:>9} {f['process_s']:>8.1f} {f['process_s'] / n * 1e3:>7.3f} {f['cpu_s'] / n * 1e3:>10.3f} "
              f"{r['floor']['cpu_s'] / n * 1e3:>16.3f} "
              f"{f['rss_mb']:>8.0f} {r['rerun']['seconds']:>8.2f} {r['rerun_streamed']['seconds']:>16.2f} "
              f"{r['resume']['seconds']:>12.1f} {r['resume']['rss_mb']:>9.0f} {str(r.get('exports_equal_old', '-')):>12} "
              f"{old.get('rss_mb', float('nan')):>13.0f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    big, small = rows[-1], rows[0]
    line = f"peak RSS {big['fresh']['rss_mb']:.0f} MB at {big['items']} items = " \
           f"{big['fresh']['rss_mb'] / small['fresh']['rss_mb']:.2f}x the {small['items']}-item run"
    if "old_export" in big:
        line += f"; the former in-memory export of the same records alone peaks at " \
                f"{big['old_export']['rss_mb'] / big['fresh']['rss_mb']:.1f}x this run's peak"
    print(line)


if __name__ == "__main__":
    main()
