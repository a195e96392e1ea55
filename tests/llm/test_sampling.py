"""Per-row seeded sampling: right distribution, filters honoured, independent of the batch."""

from __future__ import annotations

import math

import torch

from synthgen.llm.sampling import (
    RowSampling,
    RowStopper,
    SeededSampler,
    counter_uniform,
    cut_at_stop,
    row_seed,
)

PROBS = [0.1, 0.2, 0.3, 0.4]


def draw(rows: list[RowSampling], step: int = 0, probs=PROBS) -> list[int]:
    logits = torch.log(torch.tensor([probs] * len(rows)))
    sampler = SeededSampler(rows, prompt_length=5, device=torch.device("cpu"))
    out = sampler(torch.zeros((len(rows), 5 + step), dtype=torch.long), logits)
    assert torch.isfinite(out).sum(dim=-1).eq(1).all()  # one-hot: generate's argmax takes our token
    return out.argmax(dim=-1).tolist()


def frequencies(tokens: list[int]) -> list[float]:
    return [tokens.count(t) / len(tokens) for t in range(len(PROBS))]


def test_samples_follow_the_distribution():
    tokens = draw([RowSampling(row_seed(3, i), 1.0, 1.0, 0) for i in range(20000)])
    for got, want in zip(frequencies(tokens), PROBS):
        assert abs(got - want) < 0.012


def test_temperature_sharpens_and_zero_is_greedy():
    hot = frequencies(draw([RowSampling(row_seed(1, i), 0.5, 1.0, 0) for i in range(20000)]))
    z = sum(p ** 2 for p in PROBS)
    assert abs(hot[3] - PROBS[3] ** 2 / z) < 0.012
    assert set(draw([RowSampling(row_seed(1, i), 0.0, 1.0, 0) for i in range(50)])) == {3}


def test_top_k_and_top_p_filter():
    top2 = frequencies(draw([RowSampling(row_seed(2, i), 1.0, 1.0, 2) for i in range(20000)]))
    assert top2[0] == top2[1] == 0 and abs(top2[3] - 0.4 / 0.7) < 0.012
    assert set(draw([RowSampling(row_seed(2, i), 1.0, 0.35, 0) for i in range(200)])) == {3}
    nucleus = frequencies(draw([RowSampling(row_seed(2, i), 1.0, 0.65, 0) for i in range(20000)]))
    assert nucleus[0] == nucleus[1] == 0 and abs(nucleus[2] - 0.3 / 0.7) < 0.012


def test_a_row_draws_the_same_token_in_any_batch():
    mine = RowSampling(row_seed(99, 0), 0.9, 0.95, 0)
    others = [RowSampling(row_seed(5, i), t, p, k) for i, (t, p, k) in
              enumerate([(0.0, 1.0, 0), (1.3, 0.5, 3), (0.7, 1.0, 1), (1.0, 1.0, 0)])]
    for step in range(30):
        alone = draw([mine], step)[0]
        assert draw(others[:2] + [mine] + others[2:], step)[2] == alone


def test_counter_uniform_is_uniform_and_varies_by_step():
    seeds = torch.tensor([row_seed(7, i) for i in range(50000)])
    u0, u1 = counter_uniform(seeds, 0), counter_uniform(seeds, 1)
    assert 0 <= float(u0.min()) and float(u0.max()) < 1
    assert abs(float(u0.mean()) - 0.5) < 0.01 and abs(float(u0.std()) - math.sqrt(1 / 12)) < 0.01
    assert float((u0 - u1).abs().mean()) > 0.3  # steps are not correlated copies


def test_stopper_records_eos_stop_and_length():
    decode = lambda ids: "".join(chr(ord("a") + i) for i in ids if i < 26)
    stopper = RowStopper(2, max_tokens=[3, 10, 10], stops=[(), ("cd",), ()], eos_ids={30}, decode=decode)
    seq = torch.tensor([[0, 0], [0, 0], [0, 0]])
    for tokens in ([1, 2, 5], [4, 3, 30], [5, 0, 1]):
        seq = torch.cat([seq, torch.tensor(tokens)[:, None]], dim=1)
        done = stopper(seq)
    assert done.tolist() == [True, True, True]
    assert stopper.reason == ["length", "stop", "stop"] and stopper.length == [3, 2, 1]
    assert cut_at_stop("abcdcd", ["dc", "cd"]) == ("ab", True)
    assert cut_at_stop("abc", ["x", ""]) == ("abc", False)
