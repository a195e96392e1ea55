"""The training stages of a round, through the project's trainers (trainers/): RM, SFT, DPO.

Each writes a full checkpoint directory (model + tokenizer) that the transformers backend loads as
the next policy; a stage with ``average: {runs: N}`` trains N times and writes the weight average. The loss history the trainer records is summarised into the round's metrics.
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


def _train(kind: str, stage: StageTrain, *, model: Path, dataset: Path, output_dir: Path, seed: int) -> dict[str, Any]:
    """One training run, or with ``stage.average`` several (seed + 1000*i: other data orders) whose
    checkpoints are averaged into ``output_dir`` (the averaged model is what the round goes on with)."""
    if stage.average is None:
        return _train_once(kind, stage, model=model, dataset=dataset, output_dir=output_dir, seed=seed)
    from trainers.averaging import average_checkpoints

    runs = [_train_once(kind, stage, model=model, dataset=dataset, seed=seed + 1000 * i,
                        output_dir=output_dir.parent / f"run_{i}" / output_dir.name)
            for i in range(stage.average.runs)]
    average_checkpoints([r["checkpoint"] for r in runs], output_dir)
    last = [r["last_loss"] for r in runs if r.get("last_loss") is not None]
    return {"checkpoint": str(output_dir), "steps": runs[0].get("steps"), "first_loss": runs[0].get("first_loss"),
            "last_loss": sum(last) / len(last) if last else None, "averaged_runs": runs}


def _train_once(kind: str, stage: StageTrain, *, model: Path, dataset: Path, output_dir: Path,
                seed: int) -> dict[str, Any]:
    settings = _settings(stage, model=model, dataset=dataset, output_dir=output_dir, seed=seed)
    if kind == "sft":
        from trainers.sft_config import SFTTrainConfig
        from trainers.sft_trainer import train_sft

        out = train_sft(SFTTrainConfig(**settings))
    elif kind == "dpo":
        from trainers.dpo_config import DPOTrainConfig
        from trainers.dpo_trainer import train_dpo

        out = train_dpo(DPOTrainConfig(**settings))
    else:
        from trainers.rm_config import RMTrainConfig
        from trainers.rm_trainer import train_rm

        out = train_rm(RMTrainConfig(**settings))
    return {"checkpoint": str(out), "seed": seed, **_loss_summary(Path(out))}


def sft(stage: StageTrain, *, model: Path, dataset: Path, output_dir: Path, seed: int) -> dict[str, Any]:
    return _train("sft", stage, model=model, dataset=dataset, output_dir=output_dir, seed=seed)


def dpo(stage: StageTrain, *, model: Path, dataset: Path, output_dir: Path, seed: int) -> dict[str, Any]:
    return _train("dpo", stage, model=model, dataset=dataset, output_dir=output_dir, seed=seed)


def rm(stage: StageTrain, *, model: Path, dataset: Path, output_dir: Path, seed: int) -> dict[str, Any]:
    return _train("rm", stage, model=model, dataset=dataset, output_dir=output_dir, seed=seed)


def count_rows(path: Path) -> int:
    if not path.is_file():
        return 0
    return sum(1 for line in path.read_text().splitlines() if line.strip())
