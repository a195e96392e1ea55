import asyncio
from collections.abc import Sequence
from typing import ClassVar

import pytest
from pydantic import BaseModel, ValidationError

from synthgen.context import RunContext, TimedLLM, Timers
from synthgen.llm.base import Completion, LLMBackend, Prompt, SamplingParams
from synthgen.plugins import PluginConfig
from tests.verifiers.conftest import make_pair
from verifiers.judge_rubrics import RUBRICS, parse_judgement
from verifiers.llm_judge import JudgeConfig, LLMJudgeVerifier


class ScriptedJudgeForTests(LLMBackend):
    """Returns scripted judge outputs in order and records the prompts it was sent (a test double:
    the tiny model cannot write JSON, so the well-formed cases need scripted text)."""

    name: ClassVar[str] = "scripted-judge-for-tests"
    Config: ClassVar[type[BaseModel]] = PluginConfig

    def __init__(self, outputs: list[str]) -> None:
        super().__init__(PluginConfig())
        self.outputs = list(outputs)
        self.prompts: list[Prompt] = []
        self.params: list[SamplingParams] = []

    async def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        self.prompts.extend(prompts)
        self.params.append(params)
        return [[Completion(text=self.outputs.pop(0))] for _ in prompts]


def judge_ctx(backend: LLMBackend, role: str = "judge"):
    llm = TimedLLM(role, backend, Timers(), asyncio.Semaphore(4))
    return RunContext(llm={role: llm}).for_item("judge-item")


async def judged(outputs, rubric="general", **cfg):
    backend = ScriptedJudgeForTests(outputs)
    record, cand = make_pair("Paris is the capital of France.", prompt="What is the capital of France?",
                             metadata={"reference": "Paris"})
    verdict = await LLMJudgeVerifier(JudgeConfig(rubric=rubric, **cfg)).verify(record, cand, judge_ctx(backend))
    return verdict, backend


@pytest.mark.parametrize("output", [
    '{"accuracy": 1, "instruction_following": 1, "tone": 1, "reason": "good"}',
    'Here is my grade:\n```json\n{"accuracy": "1", "instruction_following": "1", "tone": "1"}\n```\nThanks!',
    '{"scores": {"Accuracy": 1, "Instruction Following": 1, "tone": 1}} trailing words { not json',
    '{"accuracy": {"score": 1, "why": "ok"}, "instruction-following": true, "tone": "1/1"}',
    'Sure. {"accuracy": 1, "instruction_following": 1, "tone": 1}',
])
async def test_well_formed_judgements_pass(output):
    verdict, backend = await judged([output])
    assert verdict.passed and verdict.score == 1.0, verdict
    assert verdict.details["criteria"] == {"accuracy": 1.0, "instruction_following": 1.0, "tone": 1.0}
    assert backend.params[0].temperature == 0.0


async def test_low_score_fails_with_criteria_in_feedback():
    verdict, _ = await judged(['{"accuracy": 1, "instruction_following": 0, "tone": 1, "reason": "ignored the format"}'])
    assert not verdict.passed and verdict.score == pytest.approx(2 / 3)
    assert "instruction_following" in verdict.feedback and "ignored the format" in verdict.feedback


async def test_threshold_and_min_aggregate():
    out = '{"accuracy": 1, "instruction_following": 0, "tone": 1}'
    assert (await judged([out], threshold=0.6))[0].passed
    verdict, _ = await judged([out], threshold=0.6, aggregate="min")
    assert not verdict.passed and verdict.score == 0.0


@pytest.mark.parametrize("outputs,reason", [
    (["I think it is fine."] * 2, "no JSON object"),
    (['{"accuracy": 1, "tone": 1}'] * 2, "missing criteria: instruction_following"),
    (['{"accuracy": 7, "instruction_following": 1, "tone": 1}'] * 2, "outside 0..1"),
    (['{"accuracy": "great", "instruction_following": 1, "tone": 1}'] * 2, "is not a number"),
    (["", ""], "returned nothing"),
    (['{"accuracy": 1, "instruction_following": 1, "tone": 1'] * 2, "no JSON object"),  # truncated
])
async def test_malformed_judgements_fail_never_crash(outputs, reason):
    verdict, backend = await judged(outputs)
    assert not verdict.passed and verdict.score is None
    assert reason in verdict.feedback, verdict.feedback
    assert len(backend.prompts) == 2 and len(verdict.details["attempts"]) == 2  # one retry


async def test_retry_recovers_from_one_bad_output():
    verdict, backend = await judged(["garbage", '{"accuracy": 1, "instruction_following": 1, "tone": 1}'])
    assert verdict.passed and len(backend.prompts) == 2
    assert backend.params[1].temperature > 0  # the retry samples


async def test_code_rubric_and_prompt_contents():
    verdict, backend = await judged(['{"bug_identification": 1, "user_intention": 0}'], rubric="code")
    assert not verdict.passed and verdict.score == 0.5
    user = backend.prompts[0][-1]["content"]
    assert "bug_identification" in user and "user_intention" in user
    assert "What is the capital of France?" in user and "Paris is the capital" in user


async def test_correctness_rubric_shows_reference():
    verdict, backend = await judged(['{"correct": 1}'], rubric="correctness")
    assert verdict.passed
    assert "## Reference answer\nParis" in backend.prompts[0][-1]["content"]


async def test_code_style_scale_is_normalised():
    verdict, _ = await judged(['{"readability": 5, "idiomatic": 3, "documentation": 1}'], rubric="code_style",
                              threshold=0.5)
    assert verdict.details["criteria"] == {"readability": 1.0, "idiomatic": 0.5, "documentation": 0.0}
    assert verdict.score == pytest.approx(0.5) and verdict.passed


async def test_custom_rubric():
    verdict, _ = await judged(['{"polite": 1, "concise": 1}'], rubric="custom",
                              criteria={"polite": "1 if polite", "concise": "1 if short"})
    assert verdict.passed
    with pytest.raises(ValidationError):
        JudgeConfig(rubric="custom")


async def test_missing_judge_role_is_a_config_error():
    from synthgen.errors import ConfigError

    record, cand = make_pair("x")
    with pytest.raises(ConfigError, match="no LLM for role 'judge'"):
        await LLMJudgeVerifier().verify(record, cand, RunContext().for_item("x"))


def test_parser_prefers_complete_object():
    j = parse_judgement('{"note": 1} then {"accuracy": 0, "instruction_following": 1, "tone": 1}', RUBRICS["general"])
    assert not j.error and j.scores["accuracy"] == 0


@pytest.mark.slow
async def test_real_tiny_model_garbage_becomes_failed_verdict():
    from synthgen.llm.transformers_backend import TransformersBackend, TransformersConfig

    backend = TransformersBackend(TransformersConfig(model="tiny", device="cpu"))
    try:
        record, cand = make_pair("def f(): return 1", prompt="Write f.")
        verifier = LLMJudgeVerifier(JudgeConfig(rubric="code", max_tokens=24, retries=1))
        verdict = await verifier.verify(record, cand, judge_ctx(backend))
    finally:
        await backend.close()
    assert not verdict.passed and verdict.score is None
    assert verdict.feedback.startswith("the judge's output could not be used")
    assert len(verdict.details["attempts"]) == 2
