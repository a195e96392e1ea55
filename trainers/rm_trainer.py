"""Reward model: ``AutoModelForSequenceClassification`` (one logit) initialised from a causal LM
checkpoint, trained with the pairwise ranking loss ``-log sigmoid(r_better - r_worse)`` (no margin)
over every ordered pair of a 2- or 3-response row (3 pairs for edited > chosen > rejected).

Two modes. ``separate``: each prompt+response is its own sequence. ``concat`` (the Llama 3 trick):
the prompt and all responses of a row form ONE sequence, responses in shuffled order, each scored
at its own last token. The attention is arranged so that a response sees the prompt and itself but
never the other responses (a 4D boolean mask), and position ids restart after the prompt for each
response; so every response is encoded exactly as in its separate row and the concat scores equal
the separate scores on the same weights (tested to 1e-4 in fp32), while the prompt is encoded once
per row instead of once per response. Details in :mod:`trainers.rm_data`. The custom mask needs
SDPA or eager attention (not flash-attention kernels, not sliding-window models); the model is
loaded with SDPA.

Plain PyTorch loop (concat mode needs its own batches, masks and score positions). The saved
checkpoint loads with ``AutoModelForSequenceClassification.from_pretrained`` and scores a rendered
prompt+response at its last non-pad token, which is where training scored it.
"""

from __future__ import annotations

import logging
import math
import random
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

from synthgen.errors import ConfigError
from trainers.common import check_model_dir, load_dataset_any, merge_lora_if_needed, write_metrics
from trainers.rm_config import RMTrainConfig
from trainers.rm_data import (
    Batch,
    EncodedRow,
    batches_of_rows,
    collate,
    encode_row,
    filter_fitting,
    make_sequences,
    rows_from_dataset,
)

logger = logging.getLogger(__name__)


def load_reward_model(path: str | Path, pad_token_id: int | None = None, dtype: torch.dtype | None = None):
    """A sequence-classification model with one output from a causal LM or RM checkpoint.

    SDPA attention: it takes the custom 4D masks of concat mode (flash attention does not)."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), num_labels=1, dtype=dtype or torch.float32, attn_implementation="sdpa"
    )
    if pad_token_id is not None:
        model.config.pad_token_id = pad_token_id  # HF's last-non-pad pooling needs it
    return model


def _trunk_and_head(model):
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = getattr(inner, "score", None)
    if head is None:
        raise ConfigError(
            f"{type(inner).__name__} has no 'score' head; use a decoder architecture whose "
            "sequence-classification class names its head 'score' (Llama, Qwen, Mistral, ...)",
            field="model",
        )
    return inner.base_model, head


def score_batch(model, batch: Batch) -> torch.Tensor:
    """Reward of each response in the batch, read at its own last token: shape (N,)."""
    trunk, head = _trunk_and_head(model)
    device = next(model.parameters()).device
    hidden = trunk(
        input_ids=batch.input_ids.to(device),
        attention_mask=batch.attention_mask.to(device),
        position_ids=batch.position_ids.to(device),
        use_cache=False,
    ).last_hidden_state
    index = batch.score_index.to(device)
    picked = hidden[index[:, 0], index[:, 1]]
    return head(picked).squeeze(-1).float()


def pairwise_loss(
    scores: torch.Tensor, rows: torch.Tensor, ranks: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``-log sigmoid(r_i - r_j)`` over all pairs of one row where i ranks above j; and accuracy."""
    rows, ranks = rows.to(scores.device), ranks.to(scores.device)
    better = (rows[:, None] == rows[None, :]) & (ranks[:, None] < ranks[None, :])
    diffs = (scores[:, None] - scores[None, :])[better]
    return -F.logsigmoid(diffs).mean(), (diffs > 0).float().mean()


def encode_dataset(tokenizer, source, max_length: int, field: str = "dataset") -> list[EncodedRow]:
    dataset = load_dataset_any(source, field=field)
    if len(dataset) == 0:
        raise ConfigError("RM dataset is empty", field=field)
    encoded = [encode_row(tokenizer, prompt, responses) for prompt, responses in rows_from_dataset(dataset)]
    kept = filter_fitting(encoded, max_length)
    if not kept:
        raise ConfigError(f"no RM row fits max_length={max_length}", field=field)
    return kept


@torch.no_grad()
def evaluate_rm(
    model, rows: list[EncodedRow], *, mode: str, max_length: int, pad_token_id: int, batch_size: int = 16
) -> dict[str, float]:
    """Pairwise accuracy and loss over ``rows`` (every ordered pair counted once)."""
    was_training = model.training
    model.eval()
    sequences = make_sequences(rows, mode, max_length, random.Random(0))
    correct = total = 0.0
    loss_sum = 0.0
    for group in batches_of_rows(sequences, batch_size, None):
        batch = collate(group, pad_token_id)
        scores = score_batch(model, batch)
        loss, acc = pairwise_loss(scores, batch.score_row, batch.score_rank)
        pairs = _pair_count(batch)
        correct += acc.item() * pairs
        loss_sum += loss.item() * pairs
        total += pairs
    model.train(was_training)
    return {"accuracy": correct / total, "loss": loss_sum / total, "pairs": total}


def _pair_count(batch: Batch) -> int:
    rows, ranks = batch.score_row, batch.score_rank
    return int(((rows[:, None] == rows[None, :]) & (ranks[:, None] < ranks[None, :])).sum())


def train_rm(config: RMTrainConfig) -> Path:
    """Train the reward model; write model + tokenizer + ``train_metrics.json`` to ``config.output_dir``
    (the libraries' output to ``train.log`` there, step progress on the console)."""
    from synthgen.progress import StepProgress
    from trainers.console import LOG_NAME, library_output_to

    log = Path(config.output_dir) / LOG_NAME
    with library_output_to(log) as console_file, \
            StepProgress(total=0, title="train rm", log_path=log, file=console_file) as progress:
        return _train_rm(config, progress)


def _train_rm(config: RMTrainConfig, progress) -> Path:
    from transformers import AutoTokenizer, get_scheduler, set_seed

    check_model_dir(config.model)
    set_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(config.model))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    rows = encode_dataset(tokenizer, config.dataset, config.max_length)
    eval_rows = (
        encode_dataset(tokenizer, config.eval_dataset, config.max_length, field="eval_dataset")
        if config.eval_dataset is not None
        else None
    )

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = load_reward_model(config.model, tokenizer.pad_token_id).to(device)
    if config.lora is not None:
        from peft import get_peft_model

        model = get_peft_model(model, config.lora.to_peft("SEQ_CLS"))
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.train()

    steps_per_epoch = math.ceil(
        len(rows) / (config.per_device_train_batch_size * config.gradient_accumulation_steps)
    )
    total_steps = (
        config.max_steps if config.max_steps > 0 else math.ceil(steps_per_epoch * config.num_train_epochs)
    )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = get_scheduler(
        config.lr_scheduler_type,
        optimizer,
        num_warmup_steps=math.ceil(total_steps * config.warmup_ratio),
        num_training_steps=total_steps,
    )
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if config.resolved_bf16() and device.type == "cuda"
        else nullcontext()
    )

    progress.set_total(total_steps)
    rng = random.Random(config.seed)
    history: list[dict] = []
    step, started = 0, time.perf_counter()
    logger.info("RM training: %d rows, mode=%s, %d steps", len(rows), config.mode, total_steps)
    while step < total_steps:
        groups = batches_of_rows(
            make_sequences(rows, config.mode, config.max_length, rng), config.per_device_train_batch_size, rng
        )
        for start in range(0, len(groups), config.gradient_accumulation_steps):
            micro = groups[start : start + config.gradient_accumulation_steps]
            losses, accs = [], []
            for group in micro:
                batch = collate(group, tokenizer.pad_token_id)
                with autocast:
                    scores = score_batch(model, batch)
                loss, acc = pairwise_loss(scores, batch.score_row, batch.score_rank)
                (loss / len(micro)).backward()
                losses.append(loss.item())
                accs.append(acc.item())
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            progress.update(step, loss=sum(losses) / len(losses))
            if step % config.logging_steps == 0 or step == total_steps:
                entry = {
                    "step": step,
                    "loss": sum(losses) / len(losses),
                    "accuracy": sum(accs) / len(accs),
                    "learning_rate": scheduler.get_last_lr()[0],
                    "elapsed_s": round(time.perf_counter() - started, 2),
                }
                history.append(entry)
                logger.info(
                    "rm step %d/%d loss %.4f acc %.3f", step, total_steps, entry["loss"], entry["accuracy"]
                )
            if step >= total_steps:
                break

    extra: dict = {"stage": "rm", "mode": config.mode, "steps": step}
    if eval_rows is not None:
        extra["eval"] = evaluate_rm(
            model,
            eval_rows,
            mode=config.mode,
            max_length=config.max_length,
            pad_token_id=tokenizer.pad_token_id,
            batch_size=config.eval_batch_size,
        )
        logger.info("rm held-out pairwise accuracy %.3f", extra["eval"]["accuracy"])

    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = merge_lora_if_needed(model)
    final.config.pad_token_id = tokenizer.pad_token_id
    final.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    write_metrics(out, history, extra)
    return out
