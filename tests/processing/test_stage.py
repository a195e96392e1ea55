"""The stage's contract: resume after SIGKILL without losing or repeating a decision, redo only what a
config change touches, and refuse processors that break the decision contract."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from synthgen.errors import PluginError
from synthgen.plugins import Decision, Processor
from synthgen.processing.stage import StepLog
from synthgen.registry import Registry
from tests.processing.helpers import kept, make_run, run_stage, sft_record

ROOT = Path(__file__).resolve().parents[2]


def _records(n):
    return [sft_record(f"r-{i:04d}", f"Question {i}?",
                       ("I'm sorry, let me check. " if i % 3 == 0 else "") + f"Answer {i}.",
                       capability="math" if i % 2 else "general") for i in range(n)]


def _decisions(run_dir: Path) -> list[bytes]:
    """Every step's batch lines, sorted: equal sets mean nothing lost and nothing written twice."""
    out = []
    for step in sorted((run_dir / "process").glob("0*")):
        for line in StepLog(step).lines():
            out.append(orjson.dumps(line, option=orjson.OPT_SORT_KEYS))
    return sorted(out)


@pytest.mark.slow
def test_sigkill_in_the_middle_of_the_stage_then_resume_equals_an_uninterrupted_stage(tmp_path):
    records = _records(400)
    ref = make_run(tmp_path, records, "ref")
    killed = make_run(tmp_path, records, "killed")
    script = [sys.executable, "-m", "tests.processing.stage_fixture"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(script + [str(ref)], check=True, cwd=ROOT, env=env, capture_output=True)
    slow_out = killed / "process" / "01-slow_tag_for_tests" / "out"

    def batches_written() -> int:
        return sum(p.read_bytes().count(b"\n") for p in slow_out.glob("shard-*.jsonl")) if slow_out.is_dir() else 0

    kill_points = []
    for target in (5, 30, 60, 85):  # of the slow step's 100 batches
        proc = subprocess.Popen(script + [str(killed)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and batches_written() < target and time.monotonic() < deadline:
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kill_points.append(batches_written())
        proc.wait()
    final = subprocess.run(script + [str(killed)], check=False, cwd=ROOT, env=env, capture_output=True, text=True)
    assert final.returncode == 0 and "STAGE-FINISHED" in final.stdout, final.stderr
    assert sum(0 < k < 100 for k in kill_points) >= 3, kill_points
    assert len(list(slow_out.glob("shard-*.jsonl"))) >= 3  # each resume appended to a new shard
    assert _decisions(killed) == _decisions(ref)
    for step, n_batches in (("00-clean", 100), ("01-slow_tag_for_tests", 100), ("02-mix", 86)):  # 342 kept / 4
        numbers = [line["batch"] for line in StepLog(killed / "process" / step).lines()]
        assert sorted(numbers) == list(range(n_batches)), step  # every batch once
    assert [r.to_json() for r in kept(killed).values()] == [r.to_json() for r in kept(ref).values()]
    assert len(kept(ref)) == 400 - 58  # every seventh dropped by the slow step


class NoReasonForTests(Processor):
    name: ClassVar[str] = "no_reason_for_tests"

    async def process(self, records: list[Any], ctx: Any) -> list[Decision]:
        return [Decision(False) for _ in records]


class ShortForTests(Processor):
    name: ClassVar[str] = "short_for_tests"

    async def process(self, records: list[Any], ctx: Any) -> list[Decision]:
        return [Decision(True)]


def test_processors_that_break_the_contract_stop_the_stage(tmp_path):
    registry = Registry()
    registry.register("processor", NoReasonForTests)
    registry.register("processor", ShortForTests)
    run = make_run(tmp_path, _records(4))
    with pytest.raises(PluginError, match="dropped record r-0000 without a reason"):
        run_stage(run, [{"name": "no_reason_for_tests"}], registry=registry)
    with pytest.raises(PluginError, match="returned 1 decisions for 4 records"):
        run_stage(run, [{"name": "short_for_tests"}], registry=registry)


def test_a_changed_step_is_redone_with_the_steps_after_it_and_earlier_ones_are_kept(tmp_path):
    run = make_run(tmp_path, _records(40))
    steps = [{"name": "clean", "options": {"phrases_target": 0.1}}, {"name": "mix", "options": {"tokenizer": "words"}}]
    run_stage(run, steps)
    clean_done = (run / "process" / "00-clean" / "done.json").read_bytes()
    steps[1]["options"]["target_shares"] = {"math": 1, "general": 1}
    run_stage(run, steps)
    assert (run / "process" / "00-clean" / "done.json").read_bytes() == clean_done
    steps[0]["options"]["phrases_target"] = 0.2
    info = run_stage(run, steps[:1])
    assert info["steps"][0]["report"]["shares"]["phrases"]["after"] == pytest.approx(0.2, abs=0.03)
    assert not (run / "process" / "01-mix").exists()  # a step no longer listed is removed
    shutil.rmtree(run / "process")


def test_a_torn_batch_line_is_truncated_and_redone(tmp_path):
    run = make_run(tmp_path, _records(20))
    steps = [{"name": "mix", "options": {"tokenizer": "words"}}]
    run_stage(run, steps, batch_size=4)
    reference = _decisions(run)
    log = StepLog(run / "process" / "00-mix")
    shard = log.shards()[0]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) - 30])  # SIGKILL mid-write of the last batch
    (log.dir / "done.json").unlink()
    run_stage(run, steps, batch_size=4)
    assert _decisions(run) == reference
