import json

import pytest
import torch
from safetensors.torch import load_file

from synthgen.errors import ConfigError
from synthgen.tiny_model import TinyModelSpec, build_tiny_model
from trainers.averaging import average_checkpoints


def test_average_of_two_checkpoints_is_the_mean_of_their_tensors(tmp_path):
    a = build_tiny_model(tmp_path / "a", TinyModelSpec(seed=1))
    b = build_tiny_model(tmp_path / "b", TinyModelSpec(seed=2))
    out = average_checkpoints([a, b], tmp_path / "avg")
    ta, tb, tavg = (load_file(str(p / "model.safetensors")) for p in (a, b, out))
    assert set(tavg) == set(ta)
    differing = 0
    for name in ta:
        assert torch.allclose(tavg[name], (ta[name] + tb[name]) / 2, atol=1e-7), name
        differing += not torch.equal(ta[name], tb[name])
    assert differing > 0  # the two inputs really differ
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(out))
    assert json.loads((out / "averaged_from.json").read_text()) == [str(a), str(b)]


def test_mismatched_shapes_are_refused(tmp_path):
    a = build_tiny_model(tmp_path / "a", TinyModelSpec(seed=1))
    b = build_tiny_model(tmp_path / "b", TinyModelSpec(seed=1, intermediate_size=96))
    with pytest.raises(ConfigError, match="shape"):
        average_checkpoints([a, b], tmp_path / "avg")
    assert not (tmp_path / "avg").exists()


def test_different_tensor_sets_and_bad_inputs_are_refused(tmp_path):
    a = build_tiny_model(tmp_path / "a", TinyModelSpec(seed=1))
    b = build_tiny_model(tmp_path / "b", TinyModelSpec(seed=1, num_layers=3))
    with pytest.raises(ConfigError, match="different tensors"):
        average_checkpoints([a, b], tmp_path / "avg")
    with pytest.raises(ConfigError, match="at least two"):
        average_checkpoints([a], tmp_path / "avg")
    with pytest.raises(ConfigError, match="no config.json"):
        average_checkpoints([a, tmp_path / "missing"], tmp_path / "avg")
    with pytest.raises(ConfigError, match="one of the inputs"):
        average_checkpoints([a, a], a)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "config.json").write_text((a / "config.json").read_text())
    with pytest.raises(ConfigError, match="no safetensors"):
        average_checkpoints([a, tmp_path / "c"], tmp_path / "avg")
