"""Per-row sampling and stopping for batched ``model.generate`` calls.

Hugging Face's sampler draws every row of a batch from one global RNG, so a request's output would
depend on which other requests happened to share its batch. We sample ourselves instead, inside a
logits processor, from a counter-based random number: ``u = hash(row seed, step)``. Each row then
gets the same random stream whatever batch it lands in, and rows of one batch may use different
temperature / top_p / top_k. The processor returns a one-hot score row, and ``generate`` runs in
greedy mode, so its argmax picks exactly our token.

Stopping is per row too: :class:`RowStopper` ends a row at its own ``max_tokens``, at an EOS token
or when one of its stop strings appears, and remembers why and after how many tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

_MASK32 = 0xFFFFFFFF
_MIX = 0x45D9F3B  # small odd multiplier: products stay below 2**63, so int64 math never overflows


def _hash32(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer finaliser (vectorised, int64 tensors holding values in [0, 2**32))."""
    x = x & _MASK32
    x = x ^ (x >> 16)
    x = (x * _MIX) & _MASK32
    x = x ^ (x >> 16)
    x = (x * _MIX) & _MASK32
    x = x ^ (x >> 16)
    return x


def counter_uniform(seeds: torch.Tensor, step: int) -> torch.Tensor:
    """Uniform floats in [0, 1), one per row, a pure function of (seed, step)."""
    lo = _hash32(seeds & _MASK32)
    hi = _hash32((seeds >> 32) ^ 0x9E3779B9)
    mixed = _hash32(lo ^ _hash32(hi + step * 0x2545F491 + 1))
    mixed = _hash32(mixed ^ (step & _MASK32))
    return mixed.to(torch.float64) / float(1 << 32)


def row_seed(seed: int, sample_index: int) -> int:
    """Seed of sample ``sample_index`` of a request seeded with ``seed`` (62-bit, non-negative)."""
    x = (seed * 0x9E3779B97F4A7C15 + (sample_index + 1) * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    x ^= x >> 31
    x = (x * 0x94D049BB133111EB) & ((1 << 64) - 1)
    x ^= x >> 29
    return x & ((1 << 62) - 1)


@dataclass(frozen=True)
class RowSampling:
    """Sampling settings of one row (one sample of one prompt)."""

    seed: int
    temperature: float
    top_p: float
    top_k: int


class SeededSampler:
    """Logits processor: sample each row with its own settings and counter-based random stream."""

    def __init__(self, rows: Sequence[RowSampling], prompt_length: int, device: torch.device) -> None:
        self.prompt_length = prompt_length
        self.seeds = torch.tensor([r.seed for r in rows], dtype=torch.int64, device=device)
        self.greedy = torch.tensor([r.temperature <= 0 for r in rows], device=device)
        self.temperature = torch.tensor([max(r.temperature, 1e-6) for r in rows], dtype=torch.float32,
                                        device=device)
        self.top_p = torch.tensor([r.top_p for r in rows], dtype=torch.float32, device=device)
        self.top_k = torch.tensor([r.top_k for r in rows], dtype=torch.int64, device=device)
        self.any_top_k = any(r.top_k > 0 for r in rows)
        self.any_top_p = any(r.top_p < 1.0 for r in rows)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_length
        logits = scores.float() / self.temperature[:, None]
        u = counter_uniform(self.seeds, step).to(logits.device)
        # Unfiltered rows: inverse cdf in vocabulary order (no sort: sorting is the costliest step).
        chosen = _inverse_cdf(torch.softmax(logits, dim=-1), u)
        filtered = (self.top_k > 0) | (self.top_p < 1.0)
        if self.any_top_k or self.any_top_p:
            rows = filtered.nonzero().squeeze(-1)
            chosen[rows] = self._sample_filtered(logits[rows], u[rows], self.top_k[rows], self.top_p[rows])
        chosen = torch.where(self.greedy, scores.argmax(dim=-1), chosen)
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(-1, chosen[:, None], 0.0)
        return out

    @staticmethod
    def _sample_filtered(logits: torch.Tensor, u: torch.Tensor, top_k: torch.Tensor,
                         top_p: torch.Tensor) -> torch.Tensor:
        # Sort (stable, so ties resolve identically in any batch) and filter in sorted order.
        sorted_logits, sorted_idx = torch.sort(logits, dim=-1, descending=True, stable=True)
        vocab = sorted_logits.shape[-1]
        k = torch.where(top_k > 0, top_k.clamp(max=vocab), torch.full_like(top_k, vocab))
        positions = torch.arange(vocab, device=logits.device)[None, :]
        sorted_logits = sorted_logits.masked_fill(positions >= k[:, None], float("-inf"))
        probs = torch.softmax(sorted_logits, dim=-1)
        # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
        drop = (probs.cumsum(dim=-1) - probs) >= top_p[:, None]
        probs = probs.masked_fill(drop, 0.0)
        return sorted_idx.gather(-1, _inverse_cdf(probs, u)[:, None]).squeeze(-1)


def _inverse_cdf(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Index drawn from each row of ``probs`` (unnormalised) with the uniform ``u`` of that row."""
    cdf = probs.double().cumsum(dim=-1)
    pick = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).squeeze(-1)
    # Never land past the last token with mass because of rounding at the end of the cdf.
    last = probs.shape[-1] - 1 - (probs > 0).flip(-1).to(torch.int64).argmax(dim=-1)
    return torch.minimum(pick, last)


class RowStopper:
    """Stopping criterion: per-row max_tokens, EOS ids and stop strings; records why each row ended."""

    def __init__(self, prompt_length: int, max_tokens: Sequence[int], stops: Sequence[tuple[str, ...]],
                 eos_ids: set[int], decode: Callable[[list[int]], str]) -> None:
        self.prompt_length = prompt_length
        self.max_tokens = list(max_tokens)
        self.stops = list(stops)
        self.eos_ids = eos_ids
        self.decode = decode
        rows = len(max_tokens)
        self.done = [False] * rows
        self.length = [0] * rows  # generated tokens kept (EOS excluded)
        self.reason = ["length"] * rows
        # A stop string of c characters spans at most 4c byte-level tokens (UTF-8), plus a margin.
        self.tail = [4 * max((len(s) for s in st), default=0) + 4 for st in stops]

    def __call__(self, input_ids: torch.LongTensor, scores: Any = None, **kwargs: Any) -> torch.BoolTensor:
        step = input_ids.shape[1] - self.prompt_length
        last = input_ids[:, -1].tolist()
        for row, token in enumerate(last):
            if self.done[row]:
                continue
            if token in self.eos_ids:
                self.done[row], self.length[row], self.reason[row] = True, step - 1, "stop"
                continue
            self.length[row] = step
            if self.stops[row]:
                start = max(self.prompt_length, input_ids.shape[1] - self.tail[row])
                tail = self.decode(input_ids[row, start:].tolist())
                if any(s in tail for s in self.stops[row]):
                    self.done[row], self.reason[row] = True, "stop"
                    continue
            if step >= self.max_tokens[row]:
                self.done[row], self.reason[row] = True, "length"
        return torch.tensor(self.done, dtype=torch.bool, device=input_ids.device)


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Truncate ``text`` before the first occurrence of any stop string; (text, whether one was found)."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
