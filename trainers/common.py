"""What the three trainers share: the base config fields, the LoRA sub-config, dataset loading,
precision resolution and the loss-history file.

Defaults are the Llama 3 paper's numbers where the paper states them (SFT and DPO: lr 1e-5; DPO:
beta 0.1, NLL weight 0.2) and the Llama 2 paper's otherwise (warmup 3% of steps, cosine schedule,
weight decay 0.1), since Llama 3 says it follows Llama 2 for the reward model and the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from synthgen.errors import ConfigError


class LoraSettings(BaseModel):
    """LoRA through peft. The saved checkpoint is the adapter MERGED into the base weights, so every
    consumer (``AutoModelForCausalLM.from_pretrained``, our transformers backend, the next round)
    loads it like any full checkpoint."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1, description="adapter rank")
    alpha: int = Field(32, ge=1, description="scaling numerator (lora_alpha)")
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear", description="module names to adapt, or 'all-linear'"
    )

    def to_peft(self, task_type: str):
        from peft import LoraConfig

        return LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=self.target_modules,
            task_type=task_type,
        )


class BaseTrainConfig(BaseModel):
    """Fields every trainer takes. ``dataset`` is a ``.jsonl``/``.json``/``.parquet`` file, a
    ``save_to_disk`` directory, or an in-memory ``datasets.Dataset``."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    model: Path = Field(..., description="checkpoint directory (model + tokenizer) to start from")
    dataset: Any = Field(..., description="dataset path or datasets.Dataset")
    output_dir: Path = Field(..., description="where the trained checkpoint is written")
    learning_rate: float = Field(1e-5, gt=0, description="peak learning rate (Llama 3: 1e-5)")
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, description="if > 0, overrides num_train_epochs")
    per_device_train_batch_size: int = Field(8, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_length: int = Field(4096, ge=8, description="longest tokenized sequence kept (Llama 2: 4096)")
    warmup_ratio: float = Field(0.03, ge=0, lt=1, description="Llama 2: warmup over 3% of steps")
    weight_decay: float = Field(0.1, ge=0, description="Llama 2: 0.1")
    lr_scheduler_type: str = Field("cosine", description="Llama 2: cosine")
    seed: int = 0
    logging_steps: int = Field(10, ge=1)
    lora: LoraSettings | None = None
    bf16: bool | None = Field(None, description="None = on when CUDA supports bf16, off on CPU")
    report_to: str = "none"
    gradient_checkpointing: bool = Field(False, description="trade compute for memory on large models")

    @field_validator("dataset")
    @classmethod
    def _dataset_kind(cls, value: Any) -> Any:
        from datasets import Dataset

        if isinstance(value, (Dataset, Path)):
            return value
        if isinstance(value, str):
            return Path(value)
        raise ValueError("must be a path to a .jsonl/.parquet file or save_to_disk directory, or a Dataset")

    def resolved_bf16(self) -> bool:
        if self.bf16 is not None:
            return self.bf16
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())

    def training_arguments_kwargs(self) -> dict[str, Any]:
        """The transformers ``TrainingArguments`` fields these settings map onto, unchanged."""
        return {
            "output_dir": str(self.output_dir),
            "learning_rate": self.learning_rate,
            "num_train_epochs": self.num_train_epochs,
            "max_steps": self.max_steps,
            "per_device_train_batch_size": self.per_device_train_batch_size,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "warmup_steps": self.warmup_ratio,
            "weight_decay": self.weight_decay,
            "lr_scheduler_type": self.lr_scheduler_type,
            "seed": self.seed,
            "logging_steps": self.logging_steps,
            "bf16": self.resolved_bf16(),
            "report_to": self.report_to,
            "save_strategy": "no",
            "disable_tqdm": False,
            "use_cpu": not _cuda_available(),
            "activation_checkpointing": self.gradient_checkpointing,
        }


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def load_dataset_any(source: Any, *, field: str = "dataset"):
    """Load a ``datasets.Dataset`` from a file, a ``save_to_disk`` directory, or pass one through."""
    import datasets

    if isinstance(source, datasets.Dataset):
        return source
    path = Path(source)
    if not path.exists():
        raise ConfigError(
            f"dataset {path} does not exist; give a .jsonl/.parquet file or a save_to_disk directory",
            field=field,
        )
    try:
        if path.is_dir():
            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                if "train" not in loaded:
                    raise ConfigError(
                        f"{path} is a DatasetDict without a 'train' split (splits: {sorted(loaded)})",
                        field=field,
                    )
                loaded = loaded["train"]
            return loaded
        suffix = path.suffix.lower()
        if suffix in (".jsonl", ".json"):
            return datasets.load_dataset("json", data_files=str(path), split="train")
        if suffix == ".parquet":
            return datasets.load_dataset("parquet", data_files=str(path), split="train")
    except ConfigError:
        raise
    except Exception as exc:  # malformed JSON, truncated parquet, ...
        raise ConfigError(
            f"cannot read dataset {path}: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}",
            field=field,
        ) from exc
    raise ConfigError(
        f"unsupported dataset file {path.name}; use .jsonl, .json, .parquet or a save_to_disk directory",
        field=field,
    )


def require_columns(dataset, columns: tuple[str, ...], *, kind: str, field: str = "dataset") -> None:
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise ConfigError(
            f"{kind} dataset lacks column(s) {missing} (has {dataset.column_names}); "
            f"export it with `synthgen export RUN --format {kind.lower()}`",
            field=field,
        )
    if len(dataset) == 0:
        raise ConfigError(f"{kind} dataset is empty", field=field)


def check_model_dir(path: Path, field: str = "model") -> None:
    if not (path / "config.json").is_file():
        raise ConfigError(f"{path} is not a model checkpoint directory (no config.json)", field=field)


def write_metrics(
    output_dir: Path, log_history: list[dict[str, Any]], extra: dict[str, Any] | None = None
) -> Path:
    """Write ``train_metrics.json``: the loss history (one entry per logged step) and a summary."""
    losses = [{"step": e.get("step"), "loss": e["loss"]} for e in log_history if "loss" in e]
    payload = {"loss_history": losses, "log_history": log_history, **(extra or {})}
    out = Path(output_dir) / "train_metrics.json"
    out.write_text(json.dumps(payload, indent=2, default=str))
    return out


def merge_lora_if_needed(model):
    """Return a plain transformers model: LoRA adapters merged into the base weights."""
    from peft import PeftModel

    if isinstance(model, PeftModel):
        return model.merge_and_unload()
    return model


def train_quietly(build: Callable[[], Any], output_dir: str | Path, stage: str) -> Path:
    """Build a TRL trainer with ``build()`` and train it (:func:`train_and_save`) with the libraries'
    output in ``output_dir/train.log`` and our step progress on the console."""
    from synthgen.progress import StepProgress
    from trainers.console import LOG_NAME, library_output_to, quiet_callbacks

    log = Path(output_dir) / LOG_NAME
    with library_output_to(log) as console_file:
        trainer = build()
        with StepProgress(total=max(0, trainer.args.max_steps), title=f"train {stage}", log_path=log,
                          file=console_file) as progress:
            quiet_callbacks(trainer, progress, log)
            return train_and_save(trainer, output_dir, stage)


def train_and_save(trainer, output_dir: str | Path, stage: str) -> Path:
    """Run a TRL trainer, then write a plain checkpoint (LoRA merged) + tokenizer + metrics."""
    trainer.train()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    merge_lora_if_needed(trainer.model).save_pretrained(str(out), safe_serialization=True)
    trainer.processing_class.save_pretrained(str(out))
    write_metrics(out, trainer.state.log_history, {"stage": stage, "steps": trainer.state.global_step})
    return out
