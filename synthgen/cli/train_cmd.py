"""`synthgen train rm|sft|dpo CONFIG.yaml` and `synthgen train average OUT CKPT...`.

Relative paths in the YAML (model, dataset, eval_dataset, output_dir) are resolved against the
directory of the YAML file, like pipeline configs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from synthgen.cli.main import app
from synthgen.errors import ConfigError

train_app = typer.Typer(
    no_args_is_help=True, help="Train RM, SFT or DPO checkpoints, or average checkpoints."
)
app.add_typer(train_app, name="train")
console = Console(stderr=True)

_PATH_FIELDS = ("model", "dataset", "eval_dataset", "output_dir")


def _load_config(config_cls, path: Path):
    from synthgen.config import parse_yaml, validate_model

    data = parse_yaml(path)
    if isinstance(data, dict):
        base = path.resolve().parent
        for key in _PATH_FIELDS:
            value = data.get(key)
            if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                data[key] = str(base / value)
    return validate_model(config_cls, data, path)


def _run(
    kind: str, config_path: Path, config_module: str, config_name: str, train_module: str, train_name: str
) -> None:
    # Our trainers' progress lines (the RM loop logs through `trainers`); TRL/transformers print their own.
    trainers_log = logging.getLogger("trainers")
    if not trainers_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        trainers_log.addHandler(handler)
    trainers_log.setLevel(logging.INFO)
    # Validate before importing torch/TRL, so a config mistake is reported at once.
    config = _load_config(getattr(import_module(config_module), config_name), config_path)
    console.print(
        f"training {kind} from [bold]{config.model}[/] on {config.dataset} -> {config.output_dir}",
        soft_wrap=True,
    )
    train: Callable = getattr(import_module(train_module), train_name)
    try:
        out = train(config)
    except ConfigError as exc:
        if exc.path is None:  # name the file the user wrote
            raise ConfigError(str(exc), path=str(config_path)) from None
        raise
    console.print(f"{kind} checkpoint written to [bold]{out}[/]", soft_wrap=True)


@train_app.command("sft")
def train_sft_cmd(
    config: Annotated[Path, typer.Argument(help="SFT config YAML (trainers.sft_config.SFTTrainConfig)")],
) -> None:
    """Supervised fine-tuning on an SFT export (loss on assistant tokens only)."""
    _run("SFT", config, "trainers.sft_config", "SFTTrainConfig", "trainers.sft_trainer", "train_sft")


@train_app.command("dpo")
def train_dpo_cmd(
    config: Annotated[Path, typer.Argument(help="DPO config YAML (trainers.dpo_config.DPOTrainConfig)")],
) -> None:
    """DPO on a preference export (beta 0.1, NLL 0.2, formatting tokens masked)."""
    _run("DPO", config, "trainers.dpo_config", "DPOTrainConfig", "trainers.dpo_trainer", "train_dpo")


@train_app.command("rm")
def train_rm_cmd(
    config: Annotated[Path, typer.Argument(help="RM config YAML (trainers.rm_config.RMTrainConfig)")],
) -> None:
    """Reward model on an RM export (pairwise ranking loss, 2-3 ranked responses per row)."""
    _run("RM", config, "trainers.rm_config", "RMTrainConfig", "trainers.rm_trainer", "train_rm")


@train_app.command("average")
def average_cmd(
    output_dir: Annotated[Path, typer.Argument(help="directory for the averaged checkpoint")],
    checkpoints: Annotated[
        list[Path], typer.Argument(help="two or more checkpoints of one stage and architecture")
    ],
) -> None:
    """Average the weights of checkpoints of one stage into a new checkpoint."""
    from trainers.averaging import average_checkpoints

    out = average_checkpoints(checkpoints, output_dir)
    console.print(f"average of {len(checkpoints)} checkpoints written to [bold]{out}[/]", soft_wrap=True)
