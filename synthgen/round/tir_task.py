"""The tool-use demo's task: products a tiny model cannot work out in its head, but can with code.

"What is 347*29?" is taught in one of two styles from the same seed problems:

* ``cot``: a short written computation, "347*29=347*20+347*9=6940+3123=10063. \\boxed{10063}"
  (the strict math verifier checks every link of the chain and the boxed answer);
* ``tir``: a python tool call ``print(347*29)``, the tool turn with its output, then
  "347*29=10063. \\boxed{10063}": the dialog format ``math_tir`` exports (README "Math and reasoning
  data"), which the tiny model's chat template renders as ``<|python_tag|>{"name": "python", "parameters": ...}``
  and ``math_tir`` parses back when the policy writes it.

Problems are distinct (a, b) pairs drawn once from the seeded pool of all ``a_digits`` x ``b_digits``
products, so seed, round prompts and held-out set never share one and both styles see the same
problems in the same order.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from synthgen.errors import ConfigError

Style = Literal["cot", "tir"]


@dataclass(frozen=True)
class ProductProblem:
    a: int
    b: int

    @property
    def id(self) -> str:
        return f"mul-{self.a}-{self.b}"

    @property
    def question(self) -> str:
        return f"What is {self.a}*{self.b}?"

    @property
    def answer(self) -> str:
        return str(self.a * self.b)

    @property
    def code(self) -> str:
        return f"print({self.a}*{self.b})"

    def cot_solution(self) -> str:
        """Long multiplication by the tens and the units of ``b``, each link an equation that holds."""
        tens, units = self.b - self.b % 10, self.b % 10
        if tens == 0 or units == 0:  # one partial product: nothing to split
            return f"{self.a}*{self.b}={self.answer}. \\boxed{{{self.answer}}}"
        return (f"{self.a}*{self.b}={self.a}*{tens}+{self.a}*{units}={self.a * tens}+{self.a * units}"
                f"={self.answer}. \\boxed{{{self.answer}}}")

    def tir_answer(self) -> str:
        """The final turn after the tool's output: the equation it showed and the boxed result."""
        return f"{self.a}*{self.b}={self.answer}. \\boxed{{{self.answer}}}"

    def tir_turns(self) -> list[dict]:
        """The assistant's tool call, the tool's output and the final answer, as ``math_tir`` exports them."""
        arguments = json.dumps({"code": self.code}, sort_keys=True)  # the export's JSON string form
        return [
            {"role": "assistant", "content": "",
             "tool_calls": [{"type": "function", "function": {"name": "python", "arguments": arguments}}]},
            {"role": "tool", "content": self.answer, "tool_call_id": "call_1"},
            # The answer starts with a digit on purpose: a turn starting with "\\boxed" is tokenised
            # "\n", "\n", "\\" after the header in training, but the generation prompt ends in the
            # merged "\n\n" token, after which the model had only seen tool calls (measured: every
            # greedy answer turn was a second tool call). Digits are split off first, so "\n\n" stays one token.
            {"role": "assistant", "content": self.tir_answer()},
        ]

    def turns(self, style: Style) -> list[dict]:
        if style == "tir":
            return self.tir_turns()
        return [{"role": "assistant", "content": self.cot_solution()}]


@dataclass(frozen=True)
class ProductTask:
    """Splits of one seeded draw of distinct (a, b) pairs, same interface as ``ArithTask``."""

    seed: int = 0
    a_digits: int = 3
    b_digits: int = 2
    seed_size: int = 300
    prompts_per_round: int = 300
    eval_size: int = 300
    rounds: int = 3

    def _pool(self) -> list[ProductProblem]:
        a_lo, a_hi = 10 ** (self.a_digits - 1), 10 ** self.a_digits - 1
        b_lo, b_hi = 10 ** (self.b_digits - 1), 10 ** self.b_digits - 1
        b_count = b_hi - b_lo + 1
        total = (a_hi - a_lo + 1) * b_count
        needed = self.seed_size + self.eval_size + self.prompts_per_round * self.rounds
        if needed > total:
            raise ConfigError(f"the task needs {needed} distinct problems but {self.a_digits}x{self.b_digits}-digit "
                              f"products give only {total}; add digits or shrink the splits", field="task")
        picks = random.Random(self.seed).sample(range(total), needed)  # no repeats, seeded
        return [ProductProblem(a_lo + i // b_count, b_lo + i % b_count) for i in picks]

    def seed_demos(self) -> list[ProductProblem]:
        return self._pool()[: self.seed_size]

    def eval_set(self) -> list[ProductProblem]:
        return self._pool()[self.seed_size: self.seed_size + self.eval_size]

    def round_prompts(self, round_index: int) -> list[ProductProblem]:
        if not 1 <= round_index <= self.rounds:
            raise ValueError(f"round {round_index} outside 1..{self.rounds}")
        start = self.seed_size + self.eval_size + (round_index - 1) * self.prompts_per_round
        return self._pool()[start: start + self.prompts_per_round]


def sft_rows(problems: Iterable[ProductProblem], style: Style, system_prompt: str | None = None) -> list[dict]:
    """Seed demonstrations in the SFT export's shape (``messages``; tool calls with string arguments)."""
    rows = []
    for p in problems:
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        messages += [{"role": "user", "content": p.question}, *p.turns(style)]
        rows.append({"messages": messages})
    return rows


def tokenizer_corpus() -> list[str]:
    """Text the tokenizer is trained on: both styles, laid out as the chat template writes them.

    One corpus for both styles, so the CoT and TIR policies share their tokenizer (and parameter
    count). Digits stay single tokens (``split_digits``); BPE merges the fixed tool-call wrapper and
    the role headers, which keeps a TIR dialog about as long as the written computation.
    """
    rng = random.Random(0)
    out = []
    for _ in range(200):
        p = ProductProblem(rng.randint(100, 999), rng.randint(10, 99))
        call = json.dumps({"name": "python", "parameters": {"code": p.code}})
        out.append(f"system\n\nuser\n\n{p.question}assistant\n\n{p.cot_solution()}")
        out.append(f"user\n\n{p.question}assistant\n\n{call}ipython\n\n{p.answer}assistant\n\n{p.tir_answer()}")
    return out
