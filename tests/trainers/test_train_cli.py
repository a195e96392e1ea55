"""`synthgen train ...` through the installed console script, as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.trainers.conftest import arithmetic_dialogs, preference_rows

SYNTHGEN = str(Path(sys.executable).with_name("synthgen"))


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [SYNTHGEN, *args], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_train_sft_end_to_end_writes_a_loadable_checkpoint(tiny_model_dir, tmp_path):
    _jsonl(tmp_path / "sft.jsonl", arithmetic_dialogs())
    (tmp_path / "sft.yaml").write_text(
        f"model: {tiny_model_dir}\ndataset: sft.jsonl\noutput_dir: ckpt\nmax_steps: 3\n"
        "per_device_train_batch_size: 2\nlogging_steps: 1\n"
    )
    result = _run("train", "sft", "sft.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "ckpt"  # relative to the YAML file
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(str(out))
    assert len(json.loads((out / "train_metrics.json").read_text())["loss_history"]) == 3
    assert "checkpoint written" in result.stderr


def test_train_dpo_and_average_from_the_cli(tiny_model_dir, tmp_path):
    _jsonl(tmp_path / "dpo.jsonl", preference_rows())
    (tmp_path / "dpo.yaml").write_text(
        f"model: {tiny_model_dir}\ndataset: dpo.jsonl\noutput_dir: dpo\nmax_steps: 2\nlogging_steps: 1\n"
    )
    result = _run("train", "dpo", "dpo.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    result = _run("train", "average", "avg", str(tiny_model_dir), "dpo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "avg" / "model.safetensors").is_file()


def _error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    # the error is the last line and the only one (a progress banner may precede it)
    assert lines[-1].startswith("error: ") and sum(line.startswith("error:") for line in lines) == 1, (
        result.stderr
    )
    return lines[-1]


def test_config_errors_are_one_line_naming_file_and_field(tiny_model_dir, tmp_path):
    (tmp_path / "typo.yaml").write_text(
        f"model: {tiny_model_dir}\ndataset: d.jsonl\noutput_dir: o\nlearning_rat: 1\n"
    )
    line = _error_line(_run("train", "sft", "typo.yaml", cwd=tmp_path))
    assert "typo.yaml" in line and "learning_rat" in line and "unknown field" in line

    (tmp_path / "nodata.yaml").write_text(f"model: {tiny_model_dir}\ndataset: nope.jsonl\noutput_dir: o\n")
    line = _error_line(_run("train", "rm", "nodata.yaml", cwd=tmp_path))
    assert "nodata.yaml" in line and "dataset" in line and "does not exist" in line

    (tmp_path / "broken.yaml").write_text("model: [unclosed\n")
    line = _error_line(_run("train", "dpo", "broken.yaml", cwd=tmp_path))
    assert "broken.yaml" in line and "malformed YAML" in line

    (tmp_path / "mode.yaml").write_text(
        f"model: {tiny_model_dir}\ndataset: d.jsonl\noutput_dir: o\nmode: packed\n"
    )
    line = _error_line(_run("train", "rm", "mode.yaml", cwd=tmp_path))
    assert "mode" in line and "packed" in line

    line = _error_line(_run("train", "average", "avg", str(tiny_model_dir), cwd=tmp_path))
    assert "at least two" in line
