"""Supervised fine-tuning on verified dialogs: TRL's SFTTrainer with assistant-only loss.

The prompt (system, user and tool turns, and the assistant header) is masked out of the loss
through the chat template's ``{% generation %}`` markers; :func:`assistant_token_mask` exposes
the same mask so tests check it token by token.
"""

from __future__ import annotations

import logging
from pathlib import Path

from synthgen.errors import ConfigError
from trainers.common import (
    check_model_dir,
    load_dataset_any,
    require_columns,
    train_quietly,
)
from trainers.sft_config import SFTTrainConfig

logger = logging.getLogger(__name__)


def assistant_token_mask(tokenizer, messages: list[dict]) -> tuple[list[int], list[int]]:
    """Token ids of a rendered dialog and the 0/1 mask of the tokens SFT trains on."""
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    return list(out["input_ids"]), list(out["assistant_masks"])


def _check_template(tokenizer, model_dir: Path) -> None:
    template = tokenizer.chat_template or ""
    if "{% generation %}" not in template and "{%- generation %}" not in template:
        raise ConfigError(
            f"the chat template of {model_dir} has no {{% generation %}} markers, so the "
            "assistant tokens cannot be told from the prompt; add them around the "
            "assistant content (see synthgen/tiny_model.py)",
            field="model",
        )


def build_sft_trainer(config: SFTTrainConfig):
    """The configured TRL ``SFTTrainer`` (dataset tokenized, loss mask built), not yet trained."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    check_model_dir(config.model)
    dataset = load_dataset_any(config.dataset)
    require_columns(dataset, ("messages",), kind="SFT")
    # `tools` (tool-use exports: the schemas offered, a JSON string) reaches the chat template through TRL
    dataset = dataset.select_columns([c for c in ("messages", "tools") if c in dataset.column_names])
    tokenizer = AutoTokenizer.from_pretrained(str(config.model))
    _check_template(tokenizer, config.model)
    model = AutoModelForCausalLM.from_pretrained(str(config.model), dtype="auto")

    args = SFTConfig(
        **config.training_arguments_kwargs(),
        max_length=config.max_length,
        assistant_only_loss=True,
        packing=config.packing,
        dataset_num_proc=None,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=config.lora.to_peft("CAUSAL_LM") if config.lora else None,
    )
    return trainer


def train_sft(config: SFTTrainConfig) -> Path:
    """Train, then write model + tokenizer + ``train_metrics.json`` to ``config.output_dir``."""
    return train_quietly(lambda: build_sft_trainer(config), config.output_dir, "sft")
