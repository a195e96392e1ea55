"""Runner: bounded async processing, retries, recorded failures, selection, exports, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from synthgen.config import PipelineConfig
from synthgen.errors import RunStoreError
from synthgen.runner import run_pipeline
from synthgen.store import RunStore
from tests.fixtures.plugins_for_tests import registry_for_tests

ROOT = Path(__file__).resolve().parents[2]


def write_source(path: Path, n: int) -> Path:
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"item-{i}", "prompt": f"say {i}"}) + "\n")
    return path


def make_cfg(tmp_path: Path, n: int = 20, **gen_options) -> dict:
    src = write_source(tmp_path / "src.jsonl", n)
    return {
        "name": "t", "seed": 7, "sources": [{"path": str(src)}],
        "generator": {"name": "echo_for_tests", "options": gen_options},
        "verifiers": [{"name": "parity_for_tests"}],
        "selection": {"score_key": "none", "pairs": "passed_vs_failed", "similarity_threshold": 1.0},
        "export": [{"format": "sft"}, {"format": "dpo"}, {"format": "rm"}],
        "runner": {"backoff_s": 0.01},
    }


def test_run_produces_verified_selected_records(tmp_path):
    cfg = PipelineConfig.model_validate(make_cfg(tmp_path, n=12, k=6))
    summary = run_pipeline(cfg, runs_dir=tmp_path / "runs", registry=registry_for_tests(), progress=False)
    records = RunStore(summary.run_dir).sorted_records()
    assert len(records) == 12 and summary.counts["records"] == 12
    for r in records:
        assert all(c.verdict("parity_for_tests") for c in r.candidates)
        passing = [c.id for c in r.candidates if c.passed]
        assert set(r.selected) <= set(passing) and (bool(r.selected) == bool(passing))
        for p in r.pairs:
            assert r.candidate(p.chosen).passed and not r.candidate(p.rejected).passed
        assert r.provenance.generator == "echo_for_tests" and r.provenance.run == "t"
    sft = [json.loads(line) for line in Path(summary.exports["sft"]).read_text().splitlines()]
    assert len(sft) == summary.counts["sft_rows"] > 0
    assert sft[0]["messages"][0]["role"] == "user" and sft[0]["messages"][-1]["role"] == "assistant"
    assert (summary.run_dir / "report.html").read_text().count("parity_for_tests") >= 1


def test_relative_export_paths_resolve_against_the_pipeline_file_not_the_working_directory(tmp_path, monkeypatch):
    from synthgen.config import load_pipeline_config

    data = make_cfg(tmp_path, n=4)
    data["export"] = [{"format": "sft", "path": "out/sft.jsonl"}, {"format": "dpo"}]
    pipe_dir = tmp_path / "pipe"
    pipe_dir.mkdir()
    (pipe_dir / "p.yaml").write_text(yaml.safe_dump(data))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    summary = run_pipeline(load_pipeline_config(pipe_dir / "p.yaml"), runs_dir=tmp_path / "runs",
                           registry=registry_for_tests(), progress=False)
    assert Path(summary.exports["sft"]) == pipe_dir / "out" / "sft.jsonl" and (pipe_dir / "out" / "sft.jsonl").exists()
    assert Path(summary.exports["dpo"]) == summary.run_dir / "export" / "dpo.jsonl"
    assert not any(elsewhere.iterdir())


def test_transient_failures_are_retried_and_permanent_ones_recorded(tmp_path):
    cfg = PipelineConfig.model_validate(make_cfg(tmp_path, n=10, flaky_every=3, broken_every=4))
    summary = run_pipeline(cfg, runs_dir=tmp_path / "runs", registry=registry_for_tests(), progress=False)
    records = {r.source_id: r for r in RunStore(summary.run_dir).records()}
    assert len(records) == 10  # nothing dropped
    assert records["item-3"].status == "ok"  # flaky once, then retried
    assert records["item-4"].status == "failed" and "broken on purpose" in records["item-4"].error
    assert records["item-0"].status == "failed"  # 0 % 4 == 0


def test_a_stray_cancellation_from_a_plugin_is_retried_not_fatal(tmp_path):
    cfg = PipelineConfig.model_validate(make_cfg(tmp_path, n=6, stray_cancel_every=2))
    summary = run_pipeline(cfg, runs_dir=tmp_path / "runs", registry=registry_for_tests(), progress=False)
    records = RunStore(summary.run_dir).sorted_records()
    assert len(records) == 6 and all(r.status == "ok" for r in records), [r.error for r in records]


async def test_cancelling_an_item_still_cancels_it(tmp_path):
    import asyncio

    from synthgen.context import RunContext
    from synthgen.item_processor import process_item
    from synthgen.sources import SourceItem
    from tests.fixtures.plugins_for_tests import EchoGeneratorForTests, EchoGeneratorForTestsConfig

    cfg = PipelineConfig.model_validate(make_cfg(tmp_path, n=1))
    generator = EchoGeneratorForTests(EchoGeneratorForTestsConfig(sleep_ms=60_000))
    item = SourceItem(id="item-1", row={"id": "item-1", "prompt": "say 1"}, where="src.jsonl:1")
    task = asyncio.create_task(process_item(item, generator, RunContext(seed=7), cfg))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_row_not_fitting_the_generator_item_is_a_recorded_failure(tmp_path):
    raw = make_cfg(tmp_path, n=3)
    with open(raw["sources"][0]["path"], "a") as fh:
        fh.write(json.dumps({"id": "no-prompt"}) + "\n")
        fh.write("{this is not json\n")
    cfg = PipelineConfig.model_validate(raw)
    summary = run_pipeline(cfg, runs_dir=tmp_path / "runs", registry=registry_for_tests(), progress=False)
    records = {r.source_id: r for r in RunStore(summary.run_dir).records()}
    assert records["no-prompt"].status == "failed" and "prompt" in records["no-prompt"].error
    problems = (summary.run_dir / "source_errors.jsonl").read_text()
    assert "src.jsonl:5" in problems and "invalid JSON" in problems


def test_changed_config_is_refused_unless_forced(tmp_path):
    raw = make_cfg(tmp_path, n=3)
    run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs", registry=registry_for_tests(),
                 progress=False)
    raw["seed"] = 8
    with pytest.raises(RunStoreError, match="different config"):
        run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs", registry=registry_for_tests(),
                     progress=False)
    run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs", registry=registry_for_tests(),
                 progress=False, force=True)


def test_llm_role_seeds_are_deterministic(tmp_path):
    raw = make_cfg(tmp_path, n=5, use_llm=True)
    raw["llms"] = {"policy": {"backend": "counting_llm_for_tests"}}
    a = run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "a", registry=registry_for_tests(),
                     progress=False)
    b = run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "b", registry=registry_for_tests(),
                     progress=False)
    ra = [r.to_json() for r in RunStore(a.run_dir).sorted_records()]
    rb = [r.to_json() for r in RunStore(b.run_dir).sorted_records()]
    assert ra == rb
    assert a.timings["resources"]["llm:policy"]["calls"] == 5


def _sorted_lines(run_dir: Path) -> list[bytes]:
    return sorted(r.to_json() for r in RunStore(run_dir).records())


@pytest.mark.slow
def test_sigkill_at_several_points_then_resume_equals_uninterrupted_run(tmp_path):
    """Kill the run with SIGKILL at several moments; each restart resumes; the final records and
    exports equal an uninterrupted run byte for byte (after sorting): none lost, none duplicated."""
    raw = make_cfg(tmp_path, n=400, k=3, sleep_ms=40)
    raw["runner"]["max_concurrent_items"] = 8
    raw["runner"]["fsync_every_s"] = 0.0
    cfg_path = tmp_path / "pipeline.yaml"
    cfg_path.write_text(yaml.safe_dump(raw))
    script = [sys.executable, "-m", "tests.fixtures.run_fixture_pipeline", str(cfg_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    subprocess.run(script + [str(tmp_path / "ref")], check=True, cwd=ROOT, env=env, capture_output=True)
    reference = _sorted_lines(tmp_path / "ref" / "t")
    assert len(reference) == 400

    killed_dir = tmp_path / "killed"
    shard_dir = killed_dir / "t" / "records"

    def items_written() -> int:
        return sum(p.read_bytes().count(b"\n") for p in shard_dir.glob("shard-*.jsonl")) if shard_dir.is_dir() else 0

    kill_points = []  # items on disk when each SIGKILL landed
    for target in (0, 40, 110, 180, 260, 330):  # 0 = kill during start-up
        proc = subprocess.Popen(script + [str(killed_dir)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and items_written() < target and time.monotonic() < deadline:
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kill_points.append(items_written())
        proc.wait()
    final = subprocess.run(script + [str(killed_dir)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert len(kill_points) >= 4, kill_points  # killed mid-run several times, not only before or after
    assert any(0 < k < 400 for k in kill_points), kill_points
    resumed = _sorted_lines(killed_dir / "t")
    assert len(resumed) == len(set(resumed)) == 400
    assert resumed == reference
    for fmt in ("sft", "dpo", "rm"):
        ref = (tmp_path / "ref" / "t" / "export" / f"{fmt}.jsonl").read_bytes()
        assert (killed_dir / "t" / "export" / f"{fmt}.jsonl").read_bytes() == ref


def test_torn_tail_is_repaired(tmp_path):
    raw = make_cfg(tmp_path, n=6)
    summary = run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs",
                           registry=registry_for_tests(), progress=False)
    store = RunStore(summary.run_dir)
    shard = store.shards()[0]
    data = shard.read_bytes()
    lines = data.splitlines(keepends=True)
    shard.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # SIGKILL mid-write
    assert len(store.done_items()) == 5
    assert store.repair() > 0
    run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs", registry=registry_for_tests(),
                 progress=False)
    assert sorted(r.source_id for r in store.records()) == sorted(f"item-{i}" for i in range(6))


@pytest.mark.slow
def test_ray_executor_on_a_local_cluster_gives_the_same_records(tmp_path):
    """One config, any scale: the Ray executor's records equal the local executor's byte for byte."""
    raw = make_cfg(tmp_path, n=30, k=3, flaky_every=7)
    raw["llms"] = {"policy": {"backend": "counting_llm_for_tests"}}
    raw["generator"]["options"]["use_llm"] = True
    local = run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "local",
                         registry=registry_for_tests(), progress=False)
    raw["runner"].update({"executor": "ray", "ray": {"num_workers": 2, "num_cpus_per_worker": 0.5}})
    ray_run = run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "ray",
                           registry=registry_for_tests(), progress=False)
    assert _sorted_lines(ray_run.run_dir) == _sorted_lines(local.run_dir)
    assert ray_run.timings["resources"]["llm:policy"]["calls"] >= 30
    for fmt in ("sft", "dpo", "rm"):
        assert Path(ray_run.exports[fmt]).read_bytes() == Path(local.exports[fmt]).read_bytes()


def test_endpoint_down_becomes_failed_records_naming_the_url(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    raw = make_cfg(tmp_path, n=4, use_llm=True)
    raw["llms"] = {"policy": {"backend": "openai", "options": {
        "base_url": f"http://127.0.0.1:{port}/v1", "model": "m", "max_retries": 1, "backoff_initial": 0.01}}}
    raw["runner"]["retries"] = 1
    summary = run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs",
                           registry=registry_for_tests(), progress=False)
    records = list(RunStore(summary.run_dir).records())
    assert len(records) == 4 and all(r.status == "failed" for r in records)
    assert all(f"127.0.0.1:{port}" in r.error for r in records), records[0].error
    assert summary.counts["failed_records"] == 4


def test_the_generator_is_closed_once_when_its_run_ends(tmp_path):
    """Generators that hold resources (the tool-traces toolbox's sandboxes) get ``close()`` once per
    run, also when the run stops on an error: a round of many runs in one process keeps nothing."""
    from typing import ClassVar

    from synthgen.errors import SynthgenError
    from tests.fixtures.plugins_for_tests import EchoGeneratorForTests

    class ClosingEchoForTests(EchoGeneratorForTests):
        name: ClassVar[str] = "closing_echo_for_tests"
        closed: ClassVar[list[str]] = []
        fail: ClassVar[bool] = False

        async def generate(self, item, ctx):
            if self.fail:
                raise SynthgenError("a user mistake stops the run")
            return await super().generate(item, ctx)

        async def close(self) -> None:
            type(self).closed.append("closed")

    registry = registry_for_tests()
    registry.register("generator", ClosingEchoForTests)
    raw = make_cfg(tmp_path, n=5)
    raw["generator"]["name"] = "closing_echo_for_tests"
    run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs", registry=registry, progress=False)
    assert ClosingEchoForTests.closed == ["closed"]
    ClosingEchoForTests.fail = True
    with pytest.raises(SynthgenError):
        run_pipeline(PipelineConfig.model_validate({**raw, "name": "fails"}), runs_dir=tmp_path / "runs",
                     registry=registry, progress=False)
    assert ClosingEchoForTests.closed == ["closed", "closed"]
