"""DPO with the Llama 3 recipe on TRL 1.16's DPOTrainer.

TRL builds, per batch, ``input_ids`` (chosen rows then rejected rows) and a ``completion_mask``
that selects the response tokens; every loss term (the sigmoid DPO loss and the NLL "sft" term)
reads its per-token log-probs through that mask (``labels = input_ids`` where the mask is 1). TRL
has no option to drop the special formatting tokens, so :class:`SpecialTokenMaskingCollator`
zeroes the mask at those tokens after TRL's own collation: the end-of-turn token that closes each
response, and, in multi-turn responses (tool calls and their results), every header span
``<|start_header_id|>role<|end_header_id|>``. The role name is masked too (``mask_header_spans``):
it is formatting, and with a byte-level tokenizer it is several ordinary tokens that a token list
alone would miss. Kept in the loss: the content, ``<|python_tag|>`` (the model must learn to emit
tool calls), and the blank line after a header. Tool results inside a multi-turn response are
trained on as TRL does (they are part of the completion).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from trl.trainer.dpo_trainer import DataCollatorForPreference

from synthgen.errors import ConfigError
from trainers.common import (
    check_model_dir,
    load_dataset_any,
    require_columns,
    train_quietly,
)
from trainers.dpo_config import DPOTrainConfig

logger = logging.getLogger(__name__)


@dataclass
class SpecialTokenMaskingCollator(DataCollatorForPreference):
    """TRL's preference collator, then the special formatting tokens removed from ``completion_mask``."""

    masked_token_ids: tuple[int, ...] = field(default_factory=tuple)
    header_start_id: int | None = None
    header_end_id: int | None = None

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch = super().torch_call(examples)
        batch["completion_mask"] = self.mask_special(batch["input_ids"], batch["completion_mask"])
        return batch

    def mask_special(self, input_ids: torch.Tensor, completion_mask: torch.Tensor) -> torch.Tensor:
        keep = torch.ones_like(completion_mask, dtype=torch.bool)
        if self.masked_token_ids:
            ids = torch.tensor(self.masked_token_ids, device=input_ids.device)
            keep &= ~torch.isin(input_ids, ids)
        if self.header_start_id is not None and self.header_end_id is not None:
            # A position is inside a header span when more headers opened up to it (inclusive) than
            # closed before it: this covers start marker, role name and end marker.
            starts = (input_ids == self.header_start_id).long()
            ends = (input_ids == self.header_end_id).long()
            inside = starts.cumsum(1) - (ends.cumsum(1) - ends) > 0
            keep &= ~inside
        return completion_mask * keep.to(completion_mask.dtype)


def build_masking_collator(tokenizer, config: DPOTrainConfig) -> SpecialTokenMaskingCollator:
    vocab = tokenizer.get_vocab()
    unknown = [t for t in config.masked_tokens if t not in vocab]
    if unknown:
        logger.info("masked_tokens not in this tokenizer's vocabulary, skipped: %s", unknown)
    ids = tuple(sorted({vocab[t] for t in config.masked_tokens if t in vocab}))
    start, end = vocab.get("<|start_header_id|>"), vocab.get("<|end_header_id|>")
    spans = config.mask_header_spans and start is not None and end is not None
    return SpecialTokenMaskingCollator(
        pad_token_id=tokenizer.pad_token_id,
        max_length=config.max_length,
        masked_token_ids=ids,
        header_start_id=start if spans else None,
        header_end_id=end if spans else None,
    )


def dpo_trl_config(config: DPOTrainConfig):
    from trl import DPOConfig

    losses, weights = ["sigmoid"], [1.0]
    if config.nll_weight > 0:
        losses, weights = ["sigmoid", "sft"], [1.0, config.nll_weight]
    return DPOConfig(
        **config.training_arguments_kwargs(),
        beta=config.beta,
        loss_type=losses,
        loss_weights=weights,
        max_length=config.max_length,
        precompute_ref_log_probs=config.precompute_ref_log_probs,
        dataset_num_proc=None,
    )


def _drop_empty_after_masking(dataset, collator: SpecialTokenMaskingCollator):
    """Rows whose chosen or rejected response is only formatting tokens have nothing to learn from
    (and an all-empty batch would make the NLL term a mean over nothing)."""
    special = set(collator.masked_token_ids)

    def has_content(row: dict) -> bool:
        return all(any(t not in special for t in row[k]) for k in ("chosen_ids", "rejected_ids"))

    if len(dataset) == 0:  # TRL dropped them all: the prompt alone fills max_length
        raise ConfigError(f"every DPO row was dropped by truncation to max_length={collator.max_length}; "
                          "raise max_length", field="dataset")
    kept = dataset.filter(has_content)
    if len(kept) < len(dataset):
        logger.warning(
            "dropped %d DPO rows whose response is empty once special tokens are masked",
            len(dataset) - len(kept),
        )
    if len(kept) == 0:
        raise ConfigError("every DPO row has an empty chosen or rejected response once special tokens "
                          f"are masked and rows truncated to max_length={collator.max_length}", field="dataset")
    return kept


def build_dpo_trainer(config: DPOTrainConfig):
    """The configured TRL ``DPOTrainer`` with the masking collator, not yet trained."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOTrainer

    check_model_dir(config.model)
    dataset = load_dataset_any(config.dataset)
    require_columns(dataset, ("prompt", "chosen", "rejected"), kind="DPO")
    dataset = dataset.select_columns(["prompt", "chosen", "rejected"])
    tokenizer = AutoTokenizer.from_pretrained(str(config.model))
    model = AutoModelForCausalLM.from_pretrained(str(config.model), dtype="auto")
    collator = build_masking_collator(tokenizer, config)

    trainer = DPOTrainer(
        model=model,
        args=dpo_trl_config(config),
        data_collator=collator,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=config.lora.to_peft("CAUSAL_LM") if config.lora else None,
    )
    trainer.train_dataset = _drop_empty_after_masking(trainer.train_dataset, collator)
    return trainer


def train_dpo(config: DPOTrainConfig) -> Path:
    """Train from ``config.model`` (normally the SFT checkpoint, also the reference) and write the
    checkpoint (model + tokenizer + ``train_metrics.json``) to ``config.output_dir``."""
    return train_quietly(lambda: build_dpo_trainer(config), config.output_dir, "dpo")
