"""RM, SFT and DPO trainers with the Llama 3 recipe, and weight averaging.

Each trainer sits beside its config (``sft_config.py`` + ``sft_trainer.py``, ...). Names are loaded
lazily so that importing a config does not import torch, transformers and TRL.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "SFTTrainConfig": "trainers.sft_config",
    "train_sft": "trainers.sft_trainer",
    "DPOTrainConfig": "trainers.dpo_config",
    "train_dpo": "trainers.dpo_trainer",
    "RMTrainConfig": "trainers.rm_config",
    "train_rm": "trainers.rm_trainer",
    "LoraSettings": "trainers.common",
    "average_checkpoints": "trainers.averaging",
}

__all__ = [
    "DPOTrainConfig",
    "LoraSettings",
    "RMTrainConfig",
    "SFTTrainConfig",
    "average_checkpoints",
    "train_dpo",
    "train_rm",
    "train_sft",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'trainers' has no attribute {name!r}")
