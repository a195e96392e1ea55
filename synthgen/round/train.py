"""The training stages of a round, through the project's trainers (trainers/): RM, SFT, DPO.

Each writes a full checkpoint directory (model + tokenizer) that the transformers backend loads as
the next policy. The loss history the trainer records is summarised into the round's metrics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthgen.round.config import StageTrain


def _settings(stage: StageTrain, *, model: Path, dataset: Path, output_dir: Path, seed: int) -> dict[str, Any]:
    return {**stage.trainer_kwargs(), "model": model, "dataset": dataset, "output_dir": output_dir,
            "seed": seed, "logging_steps": max(1, min(50, stage.max_steps // 8)), "bf16": None}


def _loss_summary(checkpoint: Path) -> dict[str, Any]:
    metrics = checkpoint / "train_metrics.json"
    if not metrics.is_file():
        return {}
    data = json.loads(metrics.read_text())
    losses = [e["loss"] for e in data.get("loss_history", []) if e.get("loss") is not None]
    return {"steps": data.get("steps"), "first_loss": losses[0] if losses else None,
            "last_loss": losses[-1] if losses else None}


def sft(stage: StageTrain, *, model: Path, dataset: Path, output_dir: Path, seed: int) -> dict[str, Any]:
    from trainers.sft_config import SFTTrainConfig
    from trainers.sft_trainer import train_sft

    out = train_sft(SFTTrainConfig(**_settings(stage, model=model, dataset=dataset, output_dir=output_dir, seed=seed)))
    return {"checkpoint": str(out), **_loss_summary(Path(out))}


def dpo(stage: StageTrain, *, model: Path, dataset: Path, output_dir: Path, seed: int) -> dict[str, Any]:
    from trainers.dpo_config import DPOTrainConfig
    from trainers.dpo_trainer import train_dpo

    out = train_dpo(DPOTrainConfig(**_settings(stage, model=model, dataset=dataset, output_dir=output_dir, seed=seed)))
    return {"checkpoint": str(out), **_loss_summary(Path(out))}


def rm(stage: StageTrain, *, model: Path, dataset: Path, output_dir: Path, seed: int) -> dict[str, Any]:
    from trainers.rm_config import RMTrainConfig
    from trainers.rm_trainer import train_rm

    out = train_rm(RMTrainConfig(**_settings(stage, model=model, dataset=dataset, output_dir=output_dir, seed=seed)))
    return {"checkpoint": str(out), **_loss_summary(Path(out))}


def count_rows(path: Path) -> int:
    if not path.is_file():
        return 0
    return sum(1 for line in path.read_text().splitlines() if line.strip())
