"""The offline demo's task: two-number addition with a ``\\boxed{}`` answer and the equation.

"What is 47+38?" -> "47+38=85. \\boxed{85}". The math verifier checks the boxed integer against the
reference (and, in strict mode, the equation), so a from-scratch tiny model can be lifted by
rejection sampling alone. Everything is deterministic from a seed: every (a, b) pair is drawn once
from one shuffled pool, so the seed demonstrations, each round's prompts and the held-out set
never share a problem.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from synthgen.errors import ConfigError


@dataclass(frozen=True)
class ArithProblem:
    a: int
    b: int

    @property
    def id(self) -> str:
        return f"add-{self.a}-{self.b}"

    @property
    def question(self) -> str:
        return f"What is {self.a}+{self.b}?"

    @property
    def answer(self) -> str:
        return str(self.a + self.b)

    @property
    def solution(self) -> str:
        return f"{self.a}+{self.b}={self.a + self.b}. \\boxed{{{self.a + self.b}}}"


@dataclass(frozen=True)
class ArithTask:
    """Splits of one shuffled pool of operand pairs in ``[low, high]``."""

    seed: int = 0
    low: int = 10
    high: int = 99
    seed_size: int = 300
    prompts_per_round: int = 1000
    eval_size: int = 500
    rounds: int = 3

    def _pool(self) -> list[ArithProblem]:
        if self.low > self.high:
            raise ConfigError(f"low ({self.low}) must not exceed high ({self.high})", field="task.low")
        pairs = [ArithProblem(a, b) for a in range(self.low, self.high + 1) for b in range(self.low, self.high + 1)]
        needed = self.seed_size + self.eval_size + self.prompts_per_round * self.rounds
        if needed > len(pairs):
            raise ConfigError(f"the task needs {needed} distinct problems but operands {self.low}..{self.high} "
                              f"give only {len(pairs)}; widen the range or shrink the splits", field="task")
        random.Random(self.seed).shuffle(pairs)
        return pairs

    def seed_demos(self) -> list[ArithProblem]:
        return self._pool()[: self.seed_size]

    def eval_set(self) -> list[ArithProblem]:
        return self._pool()[self.seed_size: self.seed_size + self.eval_size]

    def round_prompts(self, round_index: int) -> list[ArithProblem]:
        """Fresh prompts of round ``round_index`` (1-based): never seen in seed, eval or other rounds."""
        if not 1 <= round_index <= self.rounds:
            raise ValueError(f"round {round_index} outside 1..{self.rounds}")
        start = self.seed_size + self.eval_size + (round_index - 1) * self.prompts_per_round
        return self._pool()[start: start + self.prompts_per_round]


def prompt_rows(problems: Iterable[ArithProblem]) -> list[dict]:
    """Source items for the math_solutions generator: question and reference answer, no solution."""
    return [{"id": p.id, "question": p.question, "answer": p.answer} for p in problems]


def sft_rows(problems: Iterable[ArithProblem], system_prompt: str | None = None) -> list[dict]:
    """Demonstrations in our SFT export's shape (``messages``)."""
    rows = []
    for p in problems:
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        messages += [{"role": "user", "content": p.question}, {"role": "assistant", "content": p.solution}]
        rows.append({"messages": messages})
    return rows


def tokenizer_corpus() -> list[str]:
    """Text the demo's tokenizer is trained on: the chat roles and the task's words (digits are split)."""
    rng = random.Random(0)
    lines = [ArithProblem(rng.randint(10, 99), rng.randint(10, 99)) for _ in range(200)]
    # The roles and the blank line after each header come up in every example: let BPE merge them.
    return [f"system\n\nuser\n\n{p.question}assistant\n\n{p.solution}" for p in lines]


def write_jsonl(rows: Iterable[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    tmp.replace(path)  # readers never see a half-written file
    return path
