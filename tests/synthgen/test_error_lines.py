"""Mistakes that used to print a traceback or a bare message: each is now one line naming the file,
the field and the fix (issue 12, item 6)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthgen.config import load_pipeline_config
from synthgen.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synthgen", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("content, expected", [
    (bytes(range(256)) * 4, "byte 0x80 on line 2"),  # a binary file passed by mistake
    ("name: caf\u00e9\n".encode("latin-1"), "byte 0xe9 on line 1"),  # text saved as Latin-1
    (b"name: x\n\x00\x01", "special characters are not allowed"),  # valid UTF-8, not YAML text
])
def test_binary_or_non_utf8_yaml_is_one_line(tmp_path, content, expected):
    path = tmp_path / "pipe.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_pipeline_config(path)
    message = str(info.value)
    assert str(path) in message and expected in message and "\n" not in message


def _pipeline(tmp_path: Path, body: str) -> Path:
    (tmp_path / "src.jsonl").write_text(json.dumps({"id": "a", "problem": "1+1", "answer": "2"}) + "\n")
    path = tmp_path / "pipe.yaml"
    path.write_text("name: x\nsources: [{path: src.jsonl}]\ngenerator: {name: math_solutions}\n" + body)
    return path


def test_unknown_plugin_names_file_and_field(tmp_path):
    path = _pipeline(tmp_path, "llms: {policy: {backend: openai, options: {base_url: 'http://127.0.0.1:9/v1', "
                                "model: m}}}\nverifiers: [{name: math}, {name: maht}]\n")
    res = cli("run", str(path), "--runs-dir", str(tmp_path / "runs"), "--no-progress")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    line = res.stderr.strip()
    assert f"{path}: verifiers.1.name: unknown verifier plugin 'maht'" in line, line
    assert "installed: " in line and "math" in line


def test_vllm_install_hint_keeps_its_brackets(tmp_path):
    pytest.importorskip("synthgen.llm.vllm_backend")
    try:
        import vllm  # noqa: F401
        pytest.skip("vLLM is installed here: the hint is not shown")
    except ImportError:
        pass
    path = _pipeline(tmp_path, "llms: {policy: {backend: vllm, options: {model: /nonexistent}}}\n"
                               "verifiers: [{name: math}]\n")
    res = cli("run", str(path), "--runs-dir", str(tmp_path / "runs"), "--no-progress")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "pip install 'synthgen[vllm]'" in res.stderr, res.stderr
