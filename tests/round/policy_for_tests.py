"""A scripted policy for the round-loop tests: a test double of the LLM backend.

It exists because a tiny model trained for a few steps (all a test can afford) answers nothing
correctly, so the selection / DPO / cumulative-SFT paths would never run. It answers "What is
a+b?" prompts: the first ``correct_of_k`` samples right, the rest with a wrong sum, and takes the
``model`` option the loop sets each round (recorded, so a test can check the policy handover).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from synthgen.llm.base import Completion, LLMBackend, Prompt, SamplingParams

_QUESTION = re.compile(r"What is (\d+)\+(\d+)\?")


class ScriptedPolicyForTestsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = ""
    correct_of_k: int = 1


class ScriptedPolicyForTests(LLMBackend):
    name: ClassVar[str] = "scripted_policy_for_tests"
    Config = ScriptedPolicyForTestsConfig
    models_seen: ClassVar[list[str]] = []  # tests read which checkpoints the loop handed over

    def __init__(self, config=None) -> None:
        super().__init__(config)
        type(self).models_seen.append(self.config.model)

    async def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        out = []
        for prompt in prompts:
            text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
            a, b = map(int, _QUESTION.search(text).groups())
            answers = []
            for i in range(params.n):
                right = i < self.config.correct_of_k
                total = a + b if right else a + b + 1 + i
                answers.append(Completion(text=f"{a}+{b}={total}. \\boxed{{{total}}}"))
            out.append(answers)
        return out
