"""Reward-model training throughput: concatenated rows (the Llama 3 trick) vs separate rows.

Same model (a Llama larger than the test-size tiny one), same 3-response rows, same training step
(forward, pairwise ranking loss, backward, AdamW). Ranked examples/s counts preference rows
(one prompt with its 3 ranked responses) per second. The two modes are timed in interleaved rounds
and the median is reported (the machine is shared and noisy).

Then the two modes' agreement: the same small model trained by ``train_rm`` in each mode on a
learnable preference (the best response says "correct", the worst "wrong") and scored on a held-out
split; both pairwise accuracies are printed (``--no-accuracy`` skips this part).

    python benchmarks/rm_concat.py [--rows 24] [--batch 8] [--rounds 3] [--hidden 256] [--layers 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch

from _torch_threads import add_threads_option, apply_threads
from synthgen.tiny_model import TinyModelSpec, build_tiny_model
from trainers.rm_data import batches_of_rows, collate, encode_row, make_sequences
from trainers.rm_trainer import load_reward_model, pairwise_loss, score_batch

WORDS = [
    "the",
    "function",
    "returns",
    "a",
    "sorted",
    "list",
    "of",
    "unique",
    "values",
    "and",
    "raises",
    "an",
    "error",
    "when",
    "the",
    "input",
    "is",
    "empty",
    "please",
    "explain",
    "each",
    "step",
    "with",
    "a",
    "short",
    "example",
    "in",
    "python",
    "and",
    "then",
    "give",
    "the",
    "final",
    "answer",
]


def synthetic_rows(n: int, prompt_words: int, response_words: int, seed: int) -> list[dict]:
    rng = random.Random(seed)

    def text(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k))

    return [
        {
            "prompt": [
                {"role": "system", "content": text(prompt_words // 4)},
                {"role": "user", "content": text(prompt_words)},
            ],
            "responses": [[{"role": "assistant", "content": text(response_words)}] for _ in range(3)],
        }
        for _ in range(n)
    ]


def marker_rows(n: int, seed: int) -> list[dict]:
    """Rows whose ranking is learnable: best says 'correct indeed', middle 'correct', worst 'wrong'."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        body = lambda: " ".join(rng.choice(WORDS) for _ in range(6))
        ranked = [f"{body()} correct indeed", f"{body()} correct", f"{body()} wrong"]
        rows.append({"prompt": [{"role": "user", "content": body()}],
                     "responses": [[{"role": "assistant", "content": r}] for r in ranked]})
    return rows


def held_out_accuracy(model_dir: Path, out: Path) -> dict[str, float]:
    """Pairwise accuracy on 32 held-out rows after training each mode on the same 64 rows."""
    from datasets import Dataset

    from trainers.rm_config import RMTrainConfig
    from trainers.rm_trainer import train_rm

    train, held_out = Dataset.from_list(marker_rows(64, 1)), Dataset.from_list(marker_rows(32, 2))
    accuracy = {}
    for mode in ("separate", "concat"):
        cfg = RMTrainConfig(model=model_dir, dataset=train, eval_dataset=held_out, output_dir=out / mode,
                            mode=mode, max_steps=24, per_device_train_batch_size=8, learning_rate=3e-3,
                            warmup_ratio=0.0, logging_steps=8, seed=0)
        metrics = json.loads((Path(train_rm(cfg)) / "train_metrics.json").read_text())
        accuracy[mode] = metrics["eval"]["accuracy"]
    return accuracy


def train_step(model, optimizer, group, pad_id: int) -> int:
    """One RM training step on ``group`` (collate, score, loss, backward, AdamW); returns tokens."""
    batch = collate(group, pad_id)
    scores = score_batch(model, batch)
    loss, _ = pairwise_loss(scores, batch.score_row, batch.score_rank)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return int(batch.input_ids.numel())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--batch", type=int, default=8, help="rows per training step")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--prompt-words", type=int, default=60)
    parser.add_argument("--response-words", type=int, default=20)
    add_threads_option(parser)
    parser.add_argument("--no-accuracy", action="store_true", help="skip the held-out accuracy comparison")
    args = parser.parse_args()
    apply_threads(args)

    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the "score.weight newly initialized" report, twice
    hf_logging.disable_progress_bar()

    tmp = Path(tempfile.mkdtemp(prefix="rm_concat_"))
    spec = TinyModelSpec(
        hidden_size=args.hidden, num_layers=args.layers, num_heads=8, intermediate_size=args.hidden * 8 // 3
    )
    model_dir = build_tiny_model(tmp / "model", spec)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    raw = synthetic_rows(args.rows, args.prompt_words, args.response_words, seed=0)
    rows = [encode_row(tokenizer, r["prompt"], r["responses"]) for r in raw]
    prompt_len = statistics.mean(len(r.prompt_ids) for r in rows)
    resp_len = statistics.mean(len(x) for r in rows for x in r.response_ids)

    models = {}
    for mode in ("separate", "concat"):
        torch.manual_seed(0)
        model = load_reward_model(model_dir, tokenizer.pad_token_id)
        model.train()
        models[mode] = (model, torch.optim.AdamW(model.parameters(), lr=1e-5))
    # The same rows in both modes: group i of one mode holds exactly the rows of group i of the other.
    groups = {
        mode: batches_of_rows(make_sequences(rows, mode, 1 << 16, random.Random(0)), args.batch, None)
        for mode in models
    }
    for mode, (model, optimizer) in models.items():  # warm-up
        train_step(model, optimizer, groups[mode][0], tokenizer.pad_token_id)

    # Steps of the two modes alternate, so load from other processes hits both alike.
    times: dict[str, list[float]] = {"separate": [], "concat": []}
    tokens: dict[str, int] = {"separate": 0, "concat": 0}
    for _ in range(args.rounds):
        spent = {"separate": 0.0, "concat": 0.0}
        for i in range(len(groups["concat"])):
            for mode in ("separate", "concat"):
                start = time.perf_counter()
                n = train_step(*models[mode], groups[mode][i], tokenizer.pad_token_id)
                spent[mode] += time.perf_counter() - start
                tokens[mode] += n
        for mode, seconds in spent.items():
            times[mode].append(seconds)
    tokens = {mode: n // args.rounds for mode, n in tokens.items()}

    params = sum(p.numel() for p in models["concat"][0].parameters())
    print(
        f"model: Llama hidden {args.hidden}, {args.layers} layers, {params / 1e6:.1f}M parameters; "
        f"{args.rows} rows x 3 responses; prompt ~{prompt_len:.0f} tokens, response ~{resp_len:.0f} tokens; "
        f"{args.batch} rows/step; torch threads {torch.get_num_threads()}"
    )
    print(f"{'mode':<10} {'median s/pass':>14} {'rows/s':>10} {'tokens/pass (padded)':>22}")
    rate = {}
    for mode in ("separate", "concat"):
        med = statistics.median(times[mode])
        rate[mode] = args.rows / med
        print(f"{mode:<10} {med:>14.3f} {rate[mode]:>10.2f} {tokens[mode]:>22}")
    if not args.no_accuracy:
        small = build_tiny_model(tmp / "small", TinyModelSpec())
        acc = held_out_accuracy(small, tmp / "accuracy")
        print(f"held-out pairwise accuracy after 24 steps (test-size model, 64 train / 32 held-out rows): "
              f"separate {acc['separate']:.3f}, concat {acc['concat']:.3f}")
    print(f"concat vs separate: {rate['concat'] / rate['separate']:.2f}x ranked examples/s (goal >= 1.5x)")


if __name__ == "__main__":
    main()
