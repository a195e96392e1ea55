"""A policy LLM that answers from a script: a test double for the code generators' control flow.

A random tiny model never writes valid code, so the loops (feedback turns, round limits, DPO pairs)
are tested with canned answers: wrong code, code failing its tests, a wrong test, a fix. Everything
else in those tests is real (sandbox, verifiers, runner). Registered only in tests, never shipped.

Rules are tried in order; the first whose ``last_user`` text occurs in the prompt's last user message,
whose ``context`` strings all occur somewhere in the prompt and whose ``absent`` strings do not,
answers. Sample ``i`` of an ``n``-sample call gets ``responses[i % len(responses)]``. Every prompt
received is kept in ``calls`` so a test can check what the model was told.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from synthgen.llm.base import Completion, LLMBackend, Prompt, SamplingParams


class ScriptRuleForTests(BaseModel):
    model_config = ConfigDict(extra="forbid")
    last_user: str = ""
    context: list[str] = Field(default_factory=list)
    absent: list[str] = Field(default_factory=list)
    responses: list[str] = Field(..., min_length=1)


class ScriptedPolicyForTestsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = "scripted-policy-for-tests"
    rules: list[ScriptRuleForTests] = Field(default_factory=list)
    default: str = "I cannot help with that."


class ScriptedPolicyForTests(LLMBackend):
    name: ClassVar[str] = "scripted_policy_for_tests"
    Config = ScriptedPolicyForTestsConfig

    def __init__(self, config: ScriptedPolicyForTestsConfig | None = None) -> None:
        super().__init__(config)
        self.calls: list[tuple[Prompt, SamplingParams]] = []

    async def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        out = []
        for prompt in prompts:
            self.calls.append((prompt, params))
            responses = self._responses(prompt)
            out.append([Completion(text=responses[i % len(responses)], finish_reason="stop") for i in range(params.n)])
        return out

    def _responses(self, prompt: Prompt) -> list[str]:
        if isinstance(prompt, str):
            last_user, everything = prompt, prompt
        else:
            users = [m.get("content") or "" for m in prompt if m.get("role") == "user"]
            last_user = users[-1] if users else ""
            everything = "\n".join(m.get("content") or "" for m in prompt)
        for rule in self.config.rules:
            if rule.last_user in last_user and all(c in everything for c in rule.context) \
                    and not any(a in everything for a in rule.absent):
                return rule.responses
        return [self.config.default]
