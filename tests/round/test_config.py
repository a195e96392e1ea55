import subprocess
import sys

import pytest
import yaml

from synthgen.errors import ConfigError, RunStoreError
from synthgen.round import RoundLoop, load_round_config


def _load(tmp_path, text):
    path = tmp_path / "round.yaml"
    path.write_text(text)
    return load_round_config(path)


@pytest.mark.parametrize("text, expected", [
    ("name: x\nmodel: {tiny: {}}\nrouns: 3\n", "rouns: unknown field"),
    ("name: x\nrounds: 3\n", "model: required field is missing"),
    ("name: x\nmodel: {tiny: {}, path: /m}\n", "exactly one of `path`"),
    ("name: x\nmodel: {tiny: {}}\ngeneration: {k: zero}\n", "generation.k"),
    ("name: x\nmodel: {tiny: {}}\ntrain: {sft: {learning_rate: -1}}\n", "train.sft.learning_rate"),
    ("name: x\nmodel: {tiny: {}}\ntask: {seed: s.jsonl}\n", "task.files.prompts: required field"),
    ("name: x\nmodel: {tiny: {}}\ntask: {seed_size: 0}\n", "task.builtin.seed_size"),
    ("name: [x\n", "malformed YAML"),
])
def test_config_errors_name_the_file_and_field_in_one_line(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text)
    message = str(info.value)
    assert expected in message and "round.yaml" in message
    assert len(message.splitlines()) <= 2


def test_missing_task_file_and_model_dir_are_reported(tmp_path):
    cfg = _load(tmp_path, "name: x\nmodel: {tiny: {}}\ntask: {seed: nope.jsonl, prompts: [p.jsonl], eval: e.jsonl}\n")
    with pytest.raises(ConfigError, match="task.seed: file not found"):
        RoundLoop(cfg, runs_dir=tmp_path / "runs", progress=False).run()
    cfg = _load(tmp_path, f"name: y\nmodel: {{path: {tmp_path}}}\ntask: {{seed_size: 2, eval_size: 2, prompts_per_round: 2}}\n")
    with pytest.raises(ConfigError, match=r"model.path: .*\(no config.json\)"):
        RoundLoop(cfg, runs_dir=tmp_path / "runs", progress=False).run()


def test_a_changed_config_refuses_to_reuse_the_run_directory(tmp_path):
    data = {"name": "z", "model": {"path": str(tmp_path)}, "task": {"seed_size": 2, "eval_size": 2,
                                                                     "prompts_per_round": 2}}
    path = tmp_path / "round.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError):  # no checkpoint there, but the run directory is now claimed
        RoundLoop(load_round_config(path), runs_dir=tmp_path / "runs", progress=False).run()
    data["seed"] = 5
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RunStoreError, match="--force"):
        RoundLoop(load_round_config(path), runs_dir=tmp_path / "runs", progress=False).run()
    # --rounds does not change the fingerprint: a finished run can be extended
    assert load_round_config(path, rounds=9).fingerprint() == load_round_config(path).fingerprint()


def test_cli_prints_a_config_error_in_one_line_and_exits_2(tmp_path):
    path = tmp_path / "round.yaml"
    path.write_text("name: x\nmodel: {tiny: {}}\nrouns: 3\n")
    done = subprocess.run([sys.executable, "-m", "synthgen.cli.main", "round", str(path)],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 2
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "rouns: unknown field" in lines[0], done.stderr
