"""Reward-model rows -> token sequences -> padded batches, for both training modes.

A *sequence* holds one prompt and one or more response *segments*. ``separate`` mode makes one
sequence per (prompt, response), exactly the tokens of ``chat_template(prompt + response)``, which
is what the ``reward_score`` verifier scores. ``concat`` mode (the Llama 3 trick) makes ONE
sequence per row: ``prompt + response_a + response_b (+ response_c)`` in shuffled order.

The concatenated sequence gets a 4D attention mask in which every response token sees the prompt
and the earlier tokens of its own response, never another response, and position ids that restart
at ``len(prompt)`` for each response. Each response is scored at its own last token. With this
arrangement a response's hidden states are *identical* to those of its separate row (the same
keys, values and rotary positions enter every attention), so concat scores equal separate scores on
the same weights up to float rounding, and the shuffled order is immaterial: the trick is an exact
speed-up (the prompt is encoded once per row), not the approximation the paper ablates. A row too
long for ``max_length`` as one sequence falls back to separate sequences.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import torch

from synthgen.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodedRow:
    """A preference row tokenized: shared prompt ids and one id list per response, best first."""

    prompt_ids: list[int]
    response_ids: list[list[int]]


@dataclass(frozen=True)
class Sequence:
    """One model input: the prompt, then segments (responses), each with its rank in its row."""

    row: int
    prompt_ids: list[int]
    segments: list[list[int]]
    ranks: list[int]


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T)
    attention_mask: torch.Tensor  # (B, T) 0/1, or (B, 1, T, T) bool, True = may attend
    position_ids: torch.Tensor  # (B, T)
    score_index: torch.Tensor  # (N, 2): (batch row, position) of each response's last token
    score_row: torch.Tensor  # (N,): which preference row
    score_rank: torch.Tensor  # (N,): rank in that row, 0 = best


def rows_from_dataset(dataset) -> list[tuple[list[dict], list[list[dict]]]]:
    """(prompt, ranked responses) per row, from the ranked or the pairwise RM format."""
    columns = set(dataset.column_names)
    if {"prompt", "responses"} <= columns:
        rows = [(r["prompt"], r["responses"]) for r in dataset]
    elif {"prompt", "chosen", "rejected"} <= columns:
        rows = [(r["prompt"], [r["chosen"], r["rejected"]]) for r in dataset]
    else:
        raise ConfigError(
            f"RM dataset needs columns prompt+responses (ranked) or prompt+chosen+rejected "
            f"(pairwise); it has {sorted(columns)}",
            field="dataset",
        )
    for i, (_, responses) in enumerate(rows):
        if not 2 <= len(responses) <= 3:
            raise ConfigError(f"row {i} has {len(responses)} responses; RM rows rank 2 or 3", field="dataset")
    return rows


def _render(tokenizer, messages: list[dict], add_generation_prompt: bool) -> list[int]:
    text = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def encode_row(tokenizer, prompt: list[dict], responses: list[list[dict]]) -> EncodedRow:
    """Tokenize so that ``prompt_ids + response_ids[i]`` is exactly the rendered ``prompt + responses[i]``."""
    prompt_ids = _render(tokenizer, prompt, add_generation_prompt=True)
    fulls = [_render(tokenizer, list(prompt) + list(r), add_generation_prompt=False) for r in responses]
    # The shared part is where every full rendering still agrees with the prompt rendering.
    shared = min(_common_prefix(prompt_ids, f) for f in fulls)
    return EncodedRow(prompt_ids[:shared], [f[shared:] for f in fulls])


def make_sequences(rows: list[EncodedRow], mode: str, max_length: int, rng: random.Random) -> list[Sequence]:
    out: list[Sequence] = []
    for index, row in enumerate(rows):
        ranks = list(range(len(row.response_ids)))
        concat_len = len(row.prompt_ids) + sum(len(r) for r in row.response_ids)
        if mode == "concat" and concat_len <= max_length:
            rng.shuffle(ranks)  # the paper's random order; immaterial under our mask (see module doc)
            out.append(Sequence(index, row.prompt_ids, [row.response_ids[k] for k in ranks], ranks))
        else:
            out.extend(Sequence(index, row.prompt_ids, [row.response_ids[k]], [k]) for k in ranks)
    return out


def filter_fitting(rows: list[EncodedRow], max_length: int) -> list[EncodedRow]:
    kept = [r for r in rows if all(len(r.prompt_ids) + len(x) <= max_length and x for x in r.response_ids)]
    if len(kept) < len(rows):
        logger.warning(
            "dropped %d RM rows longer than max_length=%d or with an empty response",
            len(rows) - len(kept),
            max_length,
        )
    return kept


def collate(sequences: list[Sequence], pad_token_id: int) -> Batch:
    """Right-padded batch; a 4D mask only when some sequence holds several responses."""
    lengths = [len(s.prompt_ids) + sum(len(g) for g in s.segments) for s in sequences]
    width = max(lengths)
    n = len(sequences)
    input_ids = torch.full((n, width), pad_token_id, dtype=torch.long)
    position_ids = torch.zeros((n, width), dtype=torch.long)
    # segment id per position: 0 prompt, k+1 response k, -1 padding
    segment = torch.full((n, width), -1, dtype=torch.long)
    score_index, score_row, score_rank = [], [], []
    for b, seq in enumerate(sequences):
        p = len(seq.prompt_ids)
        input_ids[b, :p] = torch.tensor(seq.prompt_ids, dtype=torch.long)
        position_ids[b, :p] = torch.arange(p)
        segment[b, :p] = 0
        cursor = p
        for k, (ids, rank) in enumerate(zip(seq.segments, seq.ranks)):
            end = cursor + len(ids)
            input_ids[b, cursor:end] = torch.tensor(ids, dtype=torch.long)
            position_ids[b, cursor:end] = torch.arange(p, p + len(ids))
            segment[b, cursor:end] = k + 1
            score_index.append((b, end - 1))
            score_row.append(seq.row)
            score_rank.append(rank)
            cursor = end
    if all(len(s.segments) == 1 for s in sequences):
        attention_mask = (segment >= 0).long()
    else:
        attention_mask = concat_attention_mask(segment)
    return Batch(
        input_ids,
        attention_mask,
        position_ids,
        torch.tensor(score_index, dtype=torch.long),
        torch.tensor(score_row, dtype=torch.long),
        torch.tensor(score_rank, dtype=torch.long),
    )


def concat_attention_mask(segment: torch.Tensor) -> torch.Tensor:
    """(B, 1, T, T) boolean mask, True = may attend: query q sees key k iff k <= q and k is in the
    prompt or in q's own response. Padding queries see only themselves (no fully masked row, so no
    NaN from the softmax; their outputs are never read). Boolean, so it fits fp32 and bf16 alike."""
    width = segment.size(1)
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    key_seg, query_seg = segment[:, None, :], segment[:, :, None]
    allowed = causal & (key_seg >= 0) & (query_seg >= 0) & ((key_seg == 0) | (key_seg == query_seg))
    allowed |= torch.eye(width, dtype=torch.bool)[None] & (query_seg < 0)
    return allowed[:, None]


def batches_of_rows(
    sequences: list[Sequence], rows_per_batch: int, rng: random.Random | None
) -> list[list[Sequence]]:
    """Group sequences so each batch holds all sequences of ``rows_per_batch`` rows (a row's responses
    are always ranked against each other within one batch)."""
    by_row: dict[int, list[Sequence]] = {}
    for s in sequences:
        by_row.setdefault(s.row, []).append(s)
    order = list(by_row)
    if rng is not None:
        rng.shuffle(order)
    return [
        [s for r in order[i : i + rows_per_batch] for s in by_row[r]]
        for i in range(0, len(order), rows_per_batch)
    ]
