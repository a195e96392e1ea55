"""Average checkpoints of one stage (same architecture) into a new checkpoint.

Llama 3 averages models from experiments with different data or hyperparameters at each of the RM,
SFT and DPO stages. The tensors are averaged in float32 and written in each tensor's original
dtype; config, tokenizer and generation files come from the first checkpoint.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from synthgen.errors import ConfigError

_SKIP = {"model.safetensors", "model.safetensors.index.json", "train_metrics.json", "train.log"}


def _tensor_files(ckpt: Path) -> list[Path]:
    index = ckpt / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [ckpt / s for s in shards]
    single = ckpt / "model.safetensors"
    if single.is_file():
        return [single]
    raise ConfigError(
        f"{ckpt} holds no safetensors weights (model.safetensors or a sharded index); "
        "save checkpoints with safe_serialization=True",
        field="checkpoints",
    )


def _load_all(ckpt: Path) -> dict:
    from safetensors.torch import load_file

    tensors: dict = {}
    for f in _tensor_files(ckpt):
        tensors.update(load_file(str(f)))
    return tensors


def average_checkpoints(paths: list[str | Path], output_dir: str | Path) -> Path:
    """Write the element-wise mean of ``paths``' weights to ``output_dir`` (one ``model.safetensors``)."""
    import torch
    from safetensors.torch import save_file

    ckpts = [Path(p) for p in paths]
    if len(ckpts) < 2:
        raise ConfigError("averaging needs at least two checkpoints", field="checkpoints")
    for c in ckpts:
        if not (c / "config.json").is_file():
            raise ConfigError(f"{c} is not a checkpoint directory (no config.json)", field="checkpoints")
    out = Path(output_dir)
    if out.resolve() in {c.resolve() for c in ckpts}:
        raise ConfigError(
            f"output {out} is one of the inputs; write the average elsewhere", field="output_dir"
        )

    first_arch = json.loads((ckpts[0] / "config.json").read_text()).get("architectures")
    reference = _load_all(ckpts[0])
    sums = {k: v.to(torch.float32).clone() for k, v in reference.items()}
    for c in ckpts[1:]:
        arch = json.loads((c / "config.json").read_text()).get("architectures")
        if arch != first_arch:
            raise ConfigError(
                f"{c} is a {arch} checkpoint but {ckpts[0]} is {first_arch}; average only "
                "checkpoints of one stage and architecture",
                field="checkpoints",
            )
        tensors = _load_all(c)
        if set(tensors) != set(sums):
            diff = sorted(set(tensors) ^ set(sums))[:5]
            raise ConfigError(
                f"{c} and {ckpts[0]} hold different tensors (e.g. {diff}); they are not the "
                "same architecture",
                field="checkpoints",
            )
        for name, value in tensors.items():
            if value.shape != sums[name].shape:
                raise ConfigError(
                    f"tensor {name!r} has shape {tuple(value.shape)} in {c} but "
                    f"{tuple(sums[name].shape)} in {ckpts[0]}; checkpoints must share one "
                    "architecture",
                    field="checkpoints",
                )
            sums[name] += value.to(torch.float32)

    averaged = {k: (v / len(ckpts)).to(reference[k].dtype).contiguous() for k, v in sums.items()}
    out.mkdir(parents=True, exist_ok=True)
    for item in ckpts[0].iterdir():
        if item.is_file() and item.name not in _SKIP and not item.name.endswith(".safetensors"):
            shutil.copy2(item, out / item.name)
    save_file(averaged, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "averaged_from.json").write_text(json.dumps([str(c) for c in ckpts], indent=2))
    return out
