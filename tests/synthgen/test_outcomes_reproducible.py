"""The same model outputs give byte-identical records and exports, code execution included: no
measured time is stored in a verdict or a candidate (it goes to the run's timers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthgen.config import PipelineConfig, load_pipeline_config
from synthgen.registry import Registry
from synthgen.runner import run_pipeline
from synthgen.store import RunStore
from tests.generators.conftest import EXAMPLES, sandbox_backend  # noqa: F401 - the fixture
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests

pytestmark = pytest.mark.slow

PROBLEM = "Problem: write a Python function add(a, b) that returns the sum of a and b. Example: add(2, 3) == 5."
RULES = [
    {"last_user": "Write a new, self-contained programming problem", "responses": [PROBLEM]},
    {"last_user": "Now write unit tests", "responses": ["```python\nassert add(2, 3) == 5\n```"]},
    {"last_user": "The checks failed", "responses": ["Fixed:\n```python\ndef add(a, b):\n    return a + b\n```"]},
    {"last_user": "Solve this problem", "responses": ["```python\ndef add(a, b):\n    return a - b\n```",
                                                      ("```python\nimport time\ndef add(a, b):\n"
                                                       "    time.sleep(0.05)\n    return b + a\n```")]},
]


def _cfg(sandbox: str) -> PipelineConfig:
    data = load_pipeline_config(EXAMPLES / "code_self_correction.yaml").model_dump()
    data["sandbox"]["backend"] = sandbox
    data["sources"][0]["limit"] = 2
    data["generator"]["options"].update(languages=["python"], k=2, max_rounds=2)
    data["llms"] = {"policy": {"backend": "scripted_policy_for_tests", "options": {"rules": RULES}}}
    data["runner"]["max_concurrent_items"] = 1  # one item at a time: the shards themselves are comparable
    return PipelineConfig.model_validate(data)


def _timed_keys(value, path="") -> list[str]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in ([f"{path}.{k}"] if k in ("seconds", "wall_time_s", "wall_s",
                                                                              "sandbox_seconds") else [])
                + _timed_keys(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _timed_keys(v, f"{path}.{i}")]
    return []


def test_two_runs_of_a_code_pipeline_give_byte_identical_shards_and_exports(tmp_path, sandbox_backend):  # noqa: F811
    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    a = run_pipeline(_cfg(sandbox_backend), runs_dir=tmp_path / "a", registry=registry, progress=False)
    b = run_pipeline(_cfg(sandbox_backend), runs_dir=tmp_path / "b", registry=registry, progress=False)
    records = list(RunStore(a.run_dir).records())
    assert a.counts["passed_candidates"] > 0 and a.stages.get("passed", 0) > 0  # the sandbox really ran code
    assert any(v.verifier == "code_exec" for r in records for c in r.candidates for v in c.verdicts)
    assert not [p for r in records for p in _timed_keys(r.model_dump(mode="json"))]
    shards_a, shards_b = RunStore(a.run_dir).shards(), RunStore(b.run_dir).shards()
    assert [p.name for p in shards_a] == [p.name for p in shards_b]
    for sa, sb in zip(shards_a, shards_b):
        assert sa.read_bytes() == sb.read_bytes()
    for fmt, path in a.exports.items():
        assert Path(path).read_bytes() == Path(b.exports[fmt]).read_bytes()
    assert a.timings["resources"]["sandbox"]["seconds"] > 0  # the time measured is in the run's timers
