"""DPO step time: our trainer (TRL DPOTrainer + the special-token masking collator) vs plain TRL.

Both trainers are built from the same config, model and dataset; only the collator differs. A step
is: collate the same batch of preference rows, ``trainer.training_step`` (policy and reference
forwards, sigmoid + NLL losses, backward), AdamW step. Steps of the two alternate so machine load
hits both alike; the median step time is reported.

    python benchmarks/dpo_step.py [--batch 8] [--steps 16] [--hidden 128] [--layers 4] [--threads 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch
from datasets import Dataset

from _torch_threads import add_threads_option, apply_threads
from synthgen.tiny_model import TinyModelSpec, build_tiny_model
from trainers.dpo_config import DPOTrainConfig
from trainers.dpo_trainer import build_dpo_trainer, dpo_trl_config

WORDS = [
    "the",
    "answer",
    "is",
    "computed",
    "step",
    "by",
    "step",
    "using",
    "the",
    "formula",
    "then",
    "checked",
    "against",
    "the",
    "test",
    "cases",
]


def preference_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)

    def text(k: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(k))

    return [
        {
            "prompt": [{"role": "user", "content": text(30)}],
            "chosen": [{"role": "assistant", "content": text(25)}],
            "rejected": [{"role": "assistant", "content": text(20)}],
        }
        for _ in range(n)
    ]


def timed_step(trainer, optimizer, examples) -> float:
    start = time.perf_counter()
    batch = trainer.data_collator(examples)
    trainer.training_step(trainer.model, batch)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    add_threads_option(parser)
    args = parser.parse_args()
    apply_threads(args)

    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging
    from trl import DPOTrainer

    hf_logging.set_verbosity_error()
    tmp = Path(tempfile.mkdtemp(prefix="dpo_step_"))
    spec = TinyModelSpec(
        hidden_size=args.hidden, num_layers=args.layers, num_heads=4, intermediate_size=args.hidden * 8 // 3
    )
    model_dir = build_tiny_model(tmp / "model", spec)
    config = DPOTrainConfig(
        model=model_dir,
        dataset=Dataset.from_list(preference_rows(args.batch, 0)),
        output_dir=tmp / "out",
        per_device_train_batch_size=args.batch,
        max_steps=1,
    )

    ours = build_dpo_trainer(config)
    plain = DPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(str(model_dir)),
        args=dpo_trl_config(config),
        train_dataset=config.dataset,
        processing_class=AutoTokenizer.from_pretrained(str(model_dir)),
    )
    assert type(plain.data_collator).__name__ == "DataCollatorForPreference"
    examples = [ours.train_dataset[i] for i in range(args.batch)]
    assert examples == [plain.train_dataset[i] for i in range(args.batch)]  # the same tokenized batch

    optimizers = {}
    for name, trainer in (("ours", ours), ("plain", plain)):
        trainer.current_gradient_accumulation_steps = 1  # normally set by Trainer.train's loop
        optimizers[name] = torch.optim.AdamW(trainer.model.parameters(), lr=config.learning_rate)
        timed_step(trainer, optimizers[name], examples)  # warm-up

    times: dict[str, list[float]] = {"plain": [], "ours": []}
    for _ in range(args.steps):
        for name, trainer in (("plain", plain), ("ours", ours)):
            times[name].append(timed_step(trainer, optimizers[name], examples))

    collate = {}
    for name, trainer in (("plain", plain), ("ours", ours)):
        start = time.perf_counter()
        for _ in range(50):
            trainer.data_collator(examples)
        collate[name] = (time.perf_counter() - start) / 50 * 1000

    mask = ours.data_collator(examples)["completion_mask"]
    plain_mask = plain.data_collator(examples)["completion_mask"]
    params = sum(p.numel() for p in ours.model.parameters())
    print(
        f"model: Llama hidden {args.hidden}, {args.layers} layers, {params / 1e6:.2f}M parameters; batch "
        f"{args.batch} pairs, {mask.size(1)} tokens; loss sigmoid + 0.2 NLL; torch threads {torch.get_num_threads()}"
    )
    print(
        f"completion tokens in the loss: plain {int(plain_mask.sum())}, ours {int(mask.sum())} "
        f"(formatting tokens removed)"
    )
    print(f"{'trainer':<28} {'median step ms':>15} {'collate ms':>11}")
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"{'plain TRL DPOTrainer':<28} {med['plain']:>15.1f} {collate['plain']:>11.2f}")
    print(f"{'ours (masking collator)':<28} {med['ours']:>15.1f} {collate['ours']:>11.2f}")
    extra = (collate["ours"] - collate["plain"]) / med["plain"] * 100
    print(f"masking cost alone (collate difference / plain step): {extra:+.3f}% of a step")
    print(f"our DPO step vs plain TRL: {med['ours'] / med['plain']:.3f}x time (goal <= 1.1x)")


if __name__ == "__main__":
    main()
