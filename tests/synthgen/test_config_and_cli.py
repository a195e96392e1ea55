"""Config errors name file, field and fix in one line; the CLI prints them without a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.config import load_pipeline_config
from synthgen.errors import ConfigError, PluginError
from synthgen.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
SYNTHGEN = [sys.executable, "-m", "synthgen"]


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(SYNTHGEN + list(args), cwd=cwd, capture_output=True, text=True, timeout=300)


GOOD = """
name: demo
sources: [{path: src.jsonl}]
generator: {name: echo_for_tests}
"""


@pytest.mark.parametrize("text, expected", [
    ("name: x\nsources: [{path: a.jsonl}\n", "malformed YAML at line 3"),
    ("name: x\nsources: [{path: a.jsonl}]\n", "generator: required field is missing"),
    ("name: x\nsources: [{path: a.jsonl}]\ngenerator: {name: g}\nrunner: {retries: many}\n",
     "runner.retries: Input should be a valid integer"),
    ("name: x\nsources: [{path: a.jsonl}]\ngenerator: {name: g}\nverifierz: []\n", "verifierz: unknown field"),
    ("- just\n- a list\n", "expected a mapping"),
    ("name: 'bad name!'\nsources: [{path: a.jsonl}]\ngenerator: {name: g}\n", "name: String should match"),
])
def test_config_errors_name_file_and_field(tmp_path, text, expected):
    path = tmp_path / "pipe.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_pipeline_config(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_missing_config_file():
    with pytest.raises(ConfigError, match="config file not found"):
        load_pipeline_config("/nonexistent/pipe.yaml")


def test_unknown_plugin_and_bad_plugin_options():
    reg = Registry()
    with pytest.raises(PluginError, match="unknown generator plugin 'nope'"):
        reg.load("generator", "nope")
    from tests.fixtures.plugins_for_tests import EchoGeneratorForTests

    reg.register("generator", EchoGeneratorForTests)
    with pytest.raises(PluginError, match=r"generator.options.k: Input should be a valid integer"):
        reg.create("generator", "echo_for_tests", {"k": "ten"}, where="generator.options")


def test_broken_plugin_is_named():
    from synthgen.plugins import Generator

    class NoMethod(Generator):  # forgets to implement generate
        name = "broken_for_tests"

    with pytest.raises(PluginError, match="must implement `async def generate"):
        Registry().register("generator", NoMethod)

    class NotAPlugin:
        name = "x"

    with pytest.raises(PluginError, match="is not a subclass"):
        Registry().register("verifier", NotAPlugin)


def test_cli_prints_one_line_errors_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsources: [{path: a.jsonl}]\ngenerator: {name: nope}\n")
    res = cli("run", str(bad), "--runs-dir", str(tmp_path / "runs"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "unknown generator plugin 'nope'" in res.stderr
    res = cli("run", str(tmp_path / "missing.yaml"))
    assert res.returncode == 2 and "config file not found" in res.stderr and "Traceback" not in res.stderr


def test_cli_missing_source_file(tmp_path):
    cfg = tmp_path / "p.yaml"
    cfg.write_text("name: x\nsources: [{path: nothere.jsonl}]\ngenerator: {name: math_solutions}\n"
                   "llms: {policy: {backend: transformers, options: {model: tiny}}}\n")
    res = cli("run", str(cfg), "--runs-dir", str(tmp_path / "runs"), "--no-progress")
    assert res.returncode == 2 and "source file not found" in res.stderr and "Traceback" not in res.stderr


def test_cli_plugins_lists_builtins():
    res = cli("plugins", "--kind", "llm")
    assert res.returncode == 0, res.stderr
    assert "transformers" in res.stdout and "openai" in res.stdout


def test_cli_plugins_lists_every_kind_and_cuts_long_defaults():
    res = cli("plugins")
    assert res.returncode == 0, res.stderr
    for kind, name in [("generator", "repo_deps"), ("verifier", "instructions"), ("tool", "python"),
                       ("processor", "dedup"), ("sandbox", "docker")]:
        assert f"{kind} plugins" in res.stdout and name in res.stdout
    steer = cli("plugins", "--kind", "generator").stdout
    assert "(7 entries)" in steer and "terse senior software" not in steer  # the taxonomy, cut


def test_cli_inspect_and_export(tmp_path):
    from synthgen.config import PipelineConfig
    from synthgen.runner import run_pipeline
    from tests.fixtures.plugins_for_tests import registry_for_tests

    src = tmp_path / "src.jsonl"
    src.write_text("".join(json.dumps({"id": f"i-{i}", "prompt": f"p{i}"}) + "\n" for i in range(5)))
    cfg = PipelineConfig.model_validate({"name": "r", "sources": [{"path": str(src)}],
                                         "generator": {"name": "echo_for_tests"},
                                         "verifiers": [{"name": "parity_for_tests"}]})
    summary = run_pipeline(cfg, runs_dir=tmp_path / "runs", registry=registry_for_tests(), progress=False)
    res = cli("inspect", str(summary.run_dir))
    assert res.returncode == 0, res.stderr
    assert "records" in res.stdout and "candidate" in res.stdout
    res = cli("export", str(summary.run_dir), "--format", "dpo", "--file-format", "parquet")
    assert res.returncode == 0, res.stderr
    assert (summary.run_dir / "export" / "dpo.parquet").is_file()
    res = cli("export", str(tmp_path), "--format", "sft")
    assert res.returncode == 2 and "not a run directory" in res.stderr
