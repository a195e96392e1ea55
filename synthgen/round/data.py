"""The round loop's datasets: seed demonstrations, each round's prompts, the held-out set, and the
SFT training file of a round (seed + verified samples kept so far, or this round's only)."""

from __future__ import annotations

import json
from pathlib import Path

from synthgen.errors import ConfigError
from synthgen.round import tir_task
from synthgen.round.arith_task import ArithTask, prompt_rows, sft_rows, write_jsonl
from synthgen.round.config import ArithTaskConfig, FileTaskConfig, ProductTaskConfig, RoundConfig


def arith_task(cfg: RoundConfig) -> ArithTask | tir_task.ProductTask:
    """The built-in task's splits (addition, or the tool-use demo's products)."""
    t = cfg.task
    if isinstance(t, ProductTaskConfig):
        return tir_task.ProductTask(seed=cfg.seed, a_digits=t.a_digits, b_digits=t.b_digits, seed_size=t.seed_size,
                                    prompts_per_round=t.prompts_per_round, eval_size=t.eval_size,
                                    rounds=max(cfg.rounds, 1))
    assert isinstance(t, ArithTaskConfig)
    return ArithTask(seed=cfg.seed, low=t.low, high=t.high, seed_size=t.seed_size,
                     prompts_per_round=t.prompts_per_round, eval_size=t.eval_size, rounds=max(cfg.rounds, 1))


def read_jsonl(path: Path, *, field: str) -> list[dict]:
    if not path.is_file():
        raise ConfigError(f"file not found: {path}", field=field)
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} line {n} is not JSON ({exc.msg})", field=field) from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path} line {n} is not a JSON object", field=field)
        rows.append(row)
    return rows


def seed_file(cfg: RoundConfig, data_dir: Path) -> Path:
    """The seed SFT rows (``messages``), written under the run's data folder."""
    if isinstance(cfg.task, FileTaskConfig):
        rows = read_jsonl(cfg.resolve(cfg.task.seed), field="task.seed")
        bad = [i for i, r in enumerate(rows, 1) if not isinstance(r.get("messages"), list)]
        if bad or not rows:
            raise ConfigError(f"seed rows need a `messages` list (row {bad[0] if bad else 1})", field="task.seed")
    elif isinstance(cfg.task, ProductTaskConfig):
        rows = tir_task.sft_rows(arith_task(cfg).seed_demos(), cfg.task.style, cfg.generation.system_prompt)
    else:
        rows = sft_rows(arith_task(cfg).seed_demos(), cfg.generation.system_prompt)
    return write_jsonl(rows, data_dir / "seed_sft.jsonl")


def eval_file(cfg: RoundConfig, data_dir: Path) -> Path:
    if isinstance(cfg.task, FileTaskConfig):
        rows = read_jsonl(cfg.resolve(cfg.task.eval), field="task.eval")
    else:
        rows = prompt_rows(arith_task(cfg).eval_set())
    return write_jsonl(rows, data_dir / "eval.jsonl")


def prompts_file(cfg: RoundConfig, data_dir: Path, round_index: int) -> Path:
    """Round ``round_index``'s fresh prompts (1-based)."""
    if isinstance(cfg.task, FileTaskConfig):
        files = cfg.task.prompts
        chosen = files[round_index - 1] if len(files) >= round_index else files[-1]
        rows = read_jsonl(cfg.resolve(chosen), field="task.prompts")
    else:
        rows = prompt_rows(arith_task(cfg).round_prompts(round_index))
    return write_jsonl(rows, data_dir / f"prompts_round_{round_index}.jsonl")


def sft_training_file(seed: Path, kept: list[Path], out: Path) -> tuple[Path, int]:
    """Concatenate the seed rows and the kept SFT exports into one file; returns it and its row count."""
    count = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as fh:
        for path in [seed, *kept]:
            if not path.is_file():
                continue
            for line in path.read_text().splitlines():
                if line.strip():
                    fh.write(line + "\n")
                    count += 1
    return out, count
