"""The documented example verifier works as documented; built-ins load by entry point and chain."""

import importlib.util
from pathlib import Path

import pytest

from synthgen.errors import PluginError
from synthgen.registry import Registry
from synthgen.verify_chain import VerifierChain
from tests.verifiers.conftest import make_pair

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "verifiers" / "word_limit.py"


def load_example():
    spec = importlib.util.spec_from_file_location("word_limit_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_example_registers_and_verifies_as_documented(ctx):
    module = load_example()
    registry = Registry()
    registry.register("verifier", module.WordLimitVerifier)
    assert "word_limit" in registry.names("verifier")
    verifier = registry.create("verifier", "word_limit", {"max_words": 5})

    record, cand = make_pair("one two three")
    verdict = await verifier.verify(record, cand, ctx)
    assert verdict.passed and verdict.score == 1.0 and verdict.details == {"words": 3, "limit": 5}

    record, cand = make_pair("one two three four five six seven", metadata={})
    verdict = await verifier.verify(record, cand, ctx)
    assert not verdict.passed and verdict.feedback == "the response has 7 words; shorten it to at most 5"
    assert verdict.score == pytest.approx(0.6)

    record, cand = make_pair("a b c d e f g", metadata={"max_words": 10})  # the record overrides the budget
    assert (await verifier.verify(record, cand, ctx)).passed
    record, cand = make_pair("")
    assert (await verifier.verify(record, cand, ctx)).feedback == "the response is empty"


def test_example_config_rejects_typos():
    module = load_example()
    registry = Registry()
    registry.register("verifier", module.WordLimitVerifier)
    with pytest.raises(PluginError, match="max_word"):
        registry.create("verifier", "word_limit", {"max_word": 5})


@pytest.mark.parametrize("name,cls", [("code_exec", "CodeExecVerifier"), ("static", "StaticVerifier"),
                                      ("math", "MathVerifier"), ("tool_call", "ToolCallVerifier"),
                                      ("llm_judge", "LLMJudgeVerifier"), ("reward_score", "RewardScoreVerifier")])
def test_builtins_load_through_entry_points(name, cls):
    loaded = Registry().load("verifier", name)
    assert loaded.__name__ == cls and loaded.name == name


async def test_chain_static_short_circuits_code_exec(ctx):
    """static runs first in an all-pass chain; a syntax error means code_exec never runs (no sandbox here)."""
    registry = Registry()
    chain = VerifierChain([registry.create("verifier", "static", {}),
                           registry.create("verifier", "code_exec", {})])
    ctx.run.chain = chain
    record, cand = make_pair("```python\ndef f(:\n    pass\n```", metadata={"language": "python", "tests": "assert f()"})
    verdicts = await ctx.verify(record, cand)
    assert [v.verifier for v in verdicts] == ["static"]
    assert not cand.passed and "syntax error at line 1" in cand.verdict("static").feedback


async def test_weighted_chain_combines_scores(ctx):
    module = load_example()
    chain = VerifierChain([module.WordLimitVerifier(module.WordLimitConfig(max_words=3)),
                           Registry().create("verifier", "math", {"isolation": "thread"})],
                          mode="weighted", weights={"word_limit": 1.0, "math": 3.0}, threshold=0.7)
    record, cand = make_pair("so the answer is \\boxed{4}", metadata={"answer": "4"})
    await chain.verify(record, cand, ctx)
    # word_limit: 5 words vs 3 -> 1 - 2/3; math: 1.0 -> (1/3 + 3) / 4
    assert cand.scores["verify"] == pytest.approx((1 / 3 + 3) / 4)
    assert cand.passed
    await chain.close()
