"""Runs at scale: streamed exports equal the former in-memory ones, the resume index stays exact
through kills and damage, a finished run re-runs without reading anything, and a source larger than
the memory the process may use completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
import yaml

from synthgen.config import PipelineConfig
from synthgen.export import StreamingExport, export_records
from synthgen.export_reference import export_records_in_memory
from synthgen.records import Record
from synthgen.run_stats import RunStats, ScoreHistogram
from synthgen.runner import run_pipeline
from synthgen.store import RunStore
from synthgen.store_index import IdSet, entry_bytes, id_digest, index_path, superseded_lines
from tests.fixtures.plugins_for_tests import registry_for_tests
from tests.synthgen.test_runner import make_cfg

ROOT = Path(__file__).resolve().parents[2]


def _run(raw: dict, runs: Path):
    return run_pipeline(PipelineConfig.model_validate(raw), runs_dir=runs, registry=registry_for_tests(), progress=False)


def _tricky_records(records: list[Record]) -> list[Record]:
    """Copies under ids whose string order differs from naive orders: prefixes ('a' < 'a-b' but
    'a-b:x' < 'a:x'), non-ASCII, astral characters; a failed and a dropped record."""
    out = []
    for new_id, base in zip(["a", "a-b", "a:b", "é", "z", "\U0001f600", "Z", "a0", "ab"], records):
        rec = base.model_copy(deep=True)
        rec.id = new_id
        out.append(rec)
    out[-1].status, out[-1].error = "failed", "boom: on purpose"
    out[-2].metadata["dropped"] = "dedup"
    # tools offered (a tuple and nested dicts: stored as JSON lists), tool calls with dict arguments,
    # a candidate with provenance of its own, a model map without a policy role
    out[0].metadata["tools"] = ({"type": "function", "function": {"name": "f", "parameters": {"b": 1, "a": [2]}}},)
    out[0].messages.append({"role": "assistant", "content": None,
                            "tool_calls": [{"function": {"name": "f", "arguments": {"z": 1, "a": "é"}}}]})
    out[0].messages.append({"role": "tool", "tool_call_id": "c1", "content": "3"})
    out[1].provenance.models = {"judge": "j-model"}
    cand = next(c for c in out[2].candidates if c.id in out[2].selected)
    cand.provenance = out[2].provenance.model_copy(update={"generator": "own", "seed": None, "round": 3})
    return out


def test_streaming_exporter_equals_in_memory_exporter(tmp_path):
    summary = _run(make_cfg(tmp_path, n=80, k=4), tmp_path / "runs")
    records = list(RunStore(summary.run_dir).records())
    records += _tricky_records(records)
    assert sum(len(r.selected) for r in records) > 20 and sum(len(r.pairs) for r in records) > 20
    for fmt in ("sft", "dpo", "rm"):
        for failed in (False, True):
            old = export_records_in_memory(records, fmt, tmp_path / f"old-{fmt}.jsonl", "jsonl", failed).read_bytes()
            new = export_records(reversed(records), fmt, tmp_path / f"new-{fmt}.jsonl", "jsonl", failed).read_bytes()
            assert new == old and old
            with_prov = export_records_in_memory(records, fmt, tmp_path / f"oldp-{fmt}.jsonl", "jsonl", failed,
                                                 provenance=True).read_bytes()
            assert export_records(records, fmt, tmp_path / f"newp-{fmt}.jsonl", "jsonl", failed,
                                  provenance=True).read_bytes() == with_prov != old
            # rows from the stored lines (what a run exports) equal rows from the Record objects
            stored = StreamingExport(fmt, tmp_path / f"stored-{fmt}.jsonl", "jsonl", failed, provenance=True)
            for r in records:
                stored.add(orjson.loads(r.to_json()))
            assert stored.finish().read_bytes() == with_prov
            assert b'"tools":' in with_prov and b'"tool_calls":' in with_prov and b'"own"' in with_prov
            # a tiny spill size forces the external merge over many sorted runs
            spilled = StreamingExport(fmt, tmp_path / f"spill-{fmt}.jsonl", "jsonl", failed, spill_bytes=2000)
            for r in records[::-1]:
                spilled.add(r)
            assert spilled.finish().read_bytes() == old
            assert not list(tmp_path.glob(f".spill-{fmt}.jsonl.*"))  # temporary runs removed
        # the run's own export is the streamed one and equals the old exporter on the run's records
        run_records = list(RunStore(summary.run_dir).records())
        ref = export_records_in_memory(run_records, fmt, tmp_path / f"ref-{fmt}.jsonl").read_bytes()
        assert Path(summary.exports[fmt]).read_bytes() == ref


def test_streaming_parquet_export_equals_in_memory(tmp_path):
    import pyarrow.parquet as pq

    summary = _run(make_cfg(tmp_path, n=30, k=4), tmp_path / "runs")
    records = list(RunStore(summary.run_dir).records())
    for fmt in ("sft", "dpo"):
        old = export_records_in_memory(records, fmt, tmp_path / f"old-{fmt}.parquet", "parquet")
        spilled = StreamingExport(fmt, tmp_path / f"new-{fmt}.parquet", "parquet", spill_bytes=3000)
        for r in reversed(records):
            spilled.add(r)
        new = spilled.finish()
        assert pq.read_table(new).equals(pq.read_table(old))
        assert pq.read_schema(new) == pq.read_schema(old)


def test_run_stats_equal_a_pass_over_all_records(tmp_path):
    summary = _run(make_cfg(tmp_path, n=40, k=3, broken_every=9), tmp_path / "runs")
    records = list(RunStore(summary.run_dir).records())
    stats = RunStats.of(records)
    assert summary.counts == stats.summary()[0]
    assert summary.counts["failed_records"] == 5 and summary.counts["records"] == 40
    total = sum(len(c.verdicts) for r in records for c in r.candidates)
    assert sum(t for *_, t in stats.verifier_table()) == total
    assert stats.reasons.most_common(1)[0][1] == 5
    assert "failed after 1 attempt(s)" in (summary.run_dir / "report.html").read_text()


def test_score_histogram_memory_is_bounded_and_counts_kept():
    hist = ScoreHistogram()
    rng = np.random.default_rng(0)
    values = rng.random(50_000)
    for v in values:
        hist.add(v)
    assert len(hist.values) <= 4096 and sum(hist.bins()) == 50_000
    exact = np.histogram(values, bins=10, range=(values.min(), values.max()))[0]
    assert np.abs(np.array(hist.bins()) - exact).max() < 50_000 * 0.01  # rounded values: close, not exact
    few = ScoreHistogram()
    for v in [0.0, 1.0, 1.0, 0.5]:
        few.add(v)
    assert few.bins(2) == [1, 3]


def test_id_set_is_exact_and_compact():
    ids = IdSet()
    for i in range(70_000):  # past one merge into the sorted arrays
        ids.add(f"item-{i}")
    assert len(ids) == 70_000 and "item-0" in ids and "item-69999" in ids
    assert "item-70000" not in ids and "" not in ids
    found = ids.contains_many([id_digest(f"item-{i}") for i in range(69_990, 70_010)])
    assert found.tolist() == [True] * 10 + [False] * 10


def _shard(path: Path, ids: list[str]) -> tuple[Path, int]:
    lines = [json.dumps({"item": i, "records": []}).encode() + b"\n" for i in ids]
    path.write_bytes(b"".join(lines))
    ends = np.cumsum([len(line) for line in lines]).tolist()
    index_path(path).write_bytes(b"".join(entry_bytes(i, end) for i, end in zip(ids, ends)))
    return path, path.stat().st_size


def test_superseded_lines_only_for_items_with_a_later_line(tmp_path):
    first = _shard(tmp_path / "shard-00000.jsonl", [f"item-{i}" for i in range(1000)])
    assert superseded_lines([first]) == {}  # the common case: every item has one line
    assert superseded_lines([]) == {}
    retry = _shard(tmp_path / "shard-00001.jsonl", ["item-7", "item-500"])  # two failed items retried
    ends = np.cumsum([len(json.dumps({"item": f"item-{i}", "records": []})) + 1 for i in range(1000)])
    assert superseded_lines([first, retry]) == {0: {int(ends[7]), int(ends[500])}}
    again = _shard(tmp_path / "shard-00002.jsonl", ["item-7"])  # retried twice: both earlier lines go
    assert superseded_lines([first, retry, again]) == {0: {int(ends[7]), int(ends[500])}, 1: {retry[1] - len(
        json.dumps({"item": "item-500", "records": []})) - 1}}


def test_index_is_rebuilt_when_missing_lagging_or_damaged(tmp_path):
    summary = _run(make_cfg(tmp_path, n=50, k=2), tmp_path / "runs")
    store = RunStore(summary.run_dir)
    shard = store.shards()[0]
    idx = index_path(shard)
    expected = {f"item-{i}" for i in range(50)}

    def check() -> None:
        store.repair()
        done = store.done_index()
        assert len(done) == 50 and all(i in done for i in expected) and "item-50" not in done
        assert idx.stat().st_size == 50 * 24  # rewritten exact

    check()
    idx.unlink()  # a run dir from before the index, or a deleted sidecar
    check()
    idx.write_bytes(idx.read_bytes()[: 24 * 20 + 7])  # killed while flushing: lagging and torn
    check()
    idx.write_bytes(os.urandom(24 * 50))  # garbage: offsets not increasing or not at line ends
    check()
    data = idx.read_bytes()
    idx.write_bytes(data + data[-24:])  # an entry past the end of the shard (after a repaired tail)
    check()


def test_rerun_of_a_finished_run_reads_nothing_until_something_changes(tmp_path):
    raw = make_cfg(tmp_path, n=30, k=2)
    first = _run(raw, tmp_path / "runs")
    again = _run(raw, tmp_path / "runs")
    assert again.timings.get("unchanged") and again.counts == first.counts and again.exports == first.exports
    Path(first.exports["sft"]).unlink()  # an export removed: written again, same bytes
    third = _run(raw, tmp_path / "runs")
    assert not third.timings.get("unchanged") and Path(third.exports["sft"]).is_file()
    src = Path(raw["sources"][0]["path"])
    with src.open("a") as fh:  # the source grew: the new item is generated, the rest skipped
        fh.write(json.dumps({"id": "item-30", "prompt": "say 30"}) + "\n")
    fourth = _run(raw, tmp_path / "runs")
    assert fourth.counts["records"] == 31 and not fourth.timings.get("unchanged")
    assert len(RunStore(fourth.run_dir).shards()) == 2  # only the new item was written, to a new shard


def test_kills_across_index_flushes_then_resume_is_exact(tmp_path):
    """A larger run killed at several points, some after an index flush (every 2048 items): after
    each kill the index agrees with the shards exactly; the end result equals an uninterrupted run."""
    n = 3000
    raw = make_cfg(tmp_path, n=n, k=1, sleep_ms=2)
    raw["runner"].update({"max_concurrent_items": 32, "fsync_every_s": 0.0})
    reference_run = _run(raw, tmp_path / "ref")
    reference = sorted(r.to_json() for r in RunStore(reference_run.run_dir).records())
    cfg_path = tmp_path / "pipeline.yaml"
    cfg_path.write_text(yaml.safe_dump(raw))
    script = [sys.executable, "-m", "tests.fixtures.run_fixture_pipeline", str(cfg_path), str(tmp_path / "killed")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    store = RunStore(tmp_path / "killed" / "t")

    def written() -> int:
        return sum(p.read_bytes().count(b"\n") for p in store.shards())

    kills = []
    for target in (400, 1500, 2300, 2700):
        proc = subprocess.Popen(script, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while proc.poll() is None and written() < target and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        store.repair()
        kills.append(written())
        done = store.done_index()
        strings = store.done_items()
        assert len(done) == len(strings) and all(i in done for i in strings)
        assert not any(f"item-{i}" in done for i in range(n) if f"item-{i}" not in strings)
    assert sum(0 < k < n for k in kills) >= 3, kills
    final = subprocess.run(script, cwd=ROOT, env=env, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    resumed = sorted(r.to_json() for r in store.records())
    assert len(resumed) == len(set(resumed)) == n and resumed == reference
    for fmt in ("sft", "dpo", "rm"):
        assert (store.dir / "export" / f"{fmt}.jsonl").read_bytes() == Path(reference_run.exports[fmt]).read_bytes()


_LIMITED_RUN = """
import resource, sys
from synthgen.config import PipelineConfig
from synthgen.runner import run_pipeline
import synthgen.export, synthgen.progress, synthgen.report  # noqa: F401 - imported before the limit
from tests.fixtures.plugins_for_tests import registry_for_tests

vm = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
limit = vm + int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
cfg = PipelineConfig.model_validate({"name": "big", "sources": [{"path": sys.argv[1]}],
                                     "generator": {"name": "echo_for_tests", "options": {"k": 1}},
                                     "runner": {"max_concurrent_items": 4}, "export": [{"format": "sft"}]})
summary = run_pipeline(cfg, runs_dir=sys.argv[2], registry=registry_for_tests(), progress=False)
print("RECORDS", summary.counts["records"])
try:
    bytearray(int(sys.argv[4]))
    print("SOURCE-FITS")
except MemoryError:
    print("SOURCE-DOES-NOT-FIT")
"""


def test_a_source_larger_than_the_memory_limit_completes(tmp_path):
    n, pad = 1500, 100_000
    src = tmp_path / "big.jsonl"
    with src.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"item-{i}", "prompt": f"say {i}", "pad": "x" * pad}) + "\n")
    size = src.stat().st_size
    headroom = 100 << 20
    assert size > 1.4 * headroom
    proc = subprocess.run([sys.executable, "-c", _LIMITED_RUN, str(src), str(tmp_path / "runs"), str(headroom),
                           str(size)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"RECORDS {n}" in proc.stdout and "SOURCE-DOES-NOT-FIT" in proc.stdout
    assert sum(p.read_bytes().count(b"\n") for p in (tmp_path / "runs" / "big" / "records").glob("*.jsonl")) == n


@pytest.mark.parametrize("limit", [None, 5])
def test_streamed_source_respects_limit_and_duplicates(tmp_path, limit):
    raw = make_cfg(tmp_path, n=10, k=1)
    src = Path(raw["sources"][0]["path"])
    with src.open("a") as fh:
        fh.write(json.dumps({"id": "item-3", "prompt": "again"}) + "\n")
    raw["sources"][0]["limit"] = limit
    summary = _run(raw, tmp_path / "runs")
    assert summary.counts["records"] == (limit or 10)
    errors = (summary.run_dir / "source_errors.jsonl")
    assert (errors.is_file() and "duplicate id 'item-3'" in errors.read_text()) == (limit is None)


def test_run_stats_from_stored_lines_equal_a_tally_of_the_record_objects():
    """The end of a run tallies stored lines (dicts, defaults left out) without building models: the
    counts equal those taken from the Record objects, for every kind of verdict the tallies tell apart."""
    from synthgen.records import Candidate, Provenance, Verdict
    from synthgen.verify_chain import VERIFIER_ERROR

    def rec(i: int, verdict_sets: list[list[Verdict]], **fields) -> Record:
        r = Record(id=f"r{i}", messages=[{"role": "user", "content": "q"}], provenance=Provenance(run="x"), **fields)
        for j, verdicts in enumerate(verdict_sets):
            c = r.add_candidate([{"role": "assistant", "content": f"a{j}"}], verdicts=verdicts)
            if j == 1:
                c.metadata["finish_reason"] = "length"
                c.scores = {"reward": 0.25 * i, "verify": 1}
        r.selected = [c.id for c in r.candidates if c.passed][:1]
        return r

    ok, bad = Verdict(verifier="tests", passed=True, score=1.0), Verdict(verifier="tests", passed=False)
    chain_pass = Verdict(verifier="chain", passed=True, score=0.7)
    records = [
        rec(0, [[ok], [bad], []], metadata={"language": "cpp", "stages": {"gen_s": 1.5, "flag": True}}),
        rec(1, [[bad, chain_pass], [ok, Verdict(verifier="math", passed=False,
                                                 details={"equal": False, "answer": None})]]),
        rec(2, [[Verdict(verifier="tests", passed=False, details={"error": VERIFIER_ERROR, "message": "boom"})],
                [Verdict(verifier="tests", passed=False, details={"error": "no_code"}, feedback="f")]],
            metadata={"target_language": "rust"}),
        Record(id="r3", status="failed", error="failed after 4 attempt(s): TimeoutError: slow"),
    ]
    stats = RunStats()
    stats.add_entry(orjson.loads(r.to_json()) for r in records)
    cands = [c for r in records for c in r.candidates]
    counts = stats.summary()[0]
    assert counts["records"] == 4 and counts["failed_records"] == 1 and counts["candidates"] == len(cands) == 7
    assert counts["passed_candidates"] == sum(c.passed for c in cands) == 2  # the chain's verdict decides
    assert counts["records_with_pass"] == sum(any(c.passed for c in r.candidates) for r in records) == 2
    assert counts["sft_rows"] == 2 and counts["verifier_errors"] == 1
    assert counts["candidates_truncated"] == 3 and counts["candidates_unparseable"] == 2
    assert stats.stages == {"gen_s": 1.5}
    expected: dict[tuple[str, str], list[int]] = {}
    for r in records:
        lang = str(r.metadata.get("language", r.metadata.get("target_language", "-")))
        for c in r.candidates:
            for v in c.verdicts:
                if v.details.get("error") != VERIFIER_ERROR:
                    t = expected.setdefault((v.verifier, lang), [0, 0])
                    t[0] += v.passed
                    t[1] += 1
    assert stats.verifier_table() == [(k[0], k[1], *v) for k, v in sorted(expected.items())]
    assert stats.first_verifier_error == {"verifier": "tests", "record": "r2", "message": "boom"}
    assert stats.reasons == {"failed after 4 attempt(s): TimeoutError": 1}
    assert sorted(stats.scores) == ["reward", "verify"] and stats.scores["reward"].hi == 0.5
    # a Record handed in directly is tallied the same way
    assert RunStats.of(records).summary() == stats.summary()
    assert Candidate.stored_passed({}) is False
