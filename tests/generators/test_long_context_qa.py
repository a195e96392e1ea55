"""long_context_qa with a scripted policy and judge (test doubles: a random model writes neither
questions nor judgements); the tokenizer, chunking, prompts and verification are the real ones."""

from __future__ import annotations

import pytest

from generators.context._common import DocumentItem
from generators.context.long_qa import LongContextQAGenerator, LongQAConfig
from synthgen.errors import ConfigError
from tests.generators.long_context_helpers import (
    JUDGE_OK,
    JUDGE_REJECTS_ZORBLAX,
    document,
    qa_rules,
    run_context,
    scripted,
)


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    from synthgen.tiny_model import build_tokenizer

    out = tmp_path_factory.mktemp("tok")
    build_tokenizer(out)
    return str(out)


def _gen(tok, **kw):
    opts = {"chunk_tokens": 128, "target_lengths": [512, 1024], "tokenizer": tok, "max_context_tokens": 4096,
                "qa_max_tokens": 64, "answer_max_tokens": 64}
    return LongContextQAGenerator(LongQAConfig(**{**opts, **kw}))


async def _run(gen, policy, judge, text, item_id="doc", seed=0):
    ctx = run_context(policy, judge, generator=gen, seed=seed).for_item(item_id)
    return await gen.generate(DocumentItem(id=item_id, title="Lighthouses", text=text), ctx)


async def test_questions_from_a_chunk_over_the_whole_context(tok):
    gen = _gen(tok, chunks_per_document=3)
    policy, judge = scripted(qa_rules(80)), scripted([JUDGE_OK])
    records = await _run(gen, policy, judge, document(80, filler=0))
    assert len(records) == 6 and all(r.status == "ok" for r in records)
    stages = records[0].metadata["stages"]
    assert (stages["chunks_used"], stages["questions"], stages["verified"], stages["kept"]) == (3, 6, 6, 6)
    assert stages["context_512"] + stages["context_1K"] == 6
    for r in records:
        meta, prompt = r.metadata, r.messages[0]["content"]
        k = int(meta["question"].split("lighthouse ")[1].split()[0].rstrip("?"))
        assert f"lighthouse {k} was" in prompt and prompt.endswith(meta["question"])  # document first
        assert meta["prompt_tokens"] > meta["context_tokens"] >= meta["target_tokens"] - 2
        assert 0 <= meta["chunk"]["depth_in_context"] < 1 and r.candidates[0].passed
        assert {v.verifier for v in r.candidates[0].verdicts} == {"llm_judge", "span_match"}
    judge_prompts = [p[-1]["content"] for p, _ in judge.calls]
    assert all("Passage:" in p and "<document>" not in p for p in judge_prompts)  # judged on the chunk


async def test_unsupported_answers_are_rejected_by_judge_and_span(tok):
    gen = _gen(tok, chunks_per_document=40)
    records = await _run(gen, scripted(qa_rules(80, bad_answer_in=5)), scripted([JUDGE_REJECTS_ZORBLAX, JUDGE_OK]),
                         document(80, filler=0))
    bad = [r for r in records if r.metadata.get("reference") == "Zorblax"]
    assert bad and all(not r.candidates[0].passed for r in bad)
    verdicts = {v.verifier: v.passed for v in bad[0].candidates[0].verdicts}
    assert verdicts == {"llm_judge": False, "span_match": False}
    assert records[0].metadata["stages"]["kept"] == records[0].metadata["stages"]["questions"] - len(bad)


async def test_k_sampled_answers_keep_the_verified(tok):
    policy = scripted(qa_rules(80) + [{"last_user": "Question: Who kept", "responses": ["Zorblax", "{ref}"]}])
    gen = _gen(tok, answer_samples=4)
    records = await _run(gen, policy, scripted([JUDGE_REJECTS_ZORBLAX, JUDGE_OK]), document(80, filler=0))
    who = next(r for r in records if r.metadata["question"].startswith("Who"))
    assert len(who.candidates) == 4 and [c.text for c in who.candidates][:2] == ["Zorblax", "{ref}"]
    assert [c.passed for c in who.candidates] == [False, False, False, False]  # "{ref}" is not in the chunk
    sampled = [p for p, params in policy.calls if params.n == 4]
    assert sampled and "<document>" in sampled[0][-1]["content"]  # sampled with the full context


async def test_a_sampled_answer_matching_the_chunk_is_kept(tok):
    text = document(80, filler=0)
    policy = scripted(qa_rules(80) + [{"last_user": "Question: Who kept", "responses": ["Zorblax", "Mara Quill7"]}])
    gen = _gen(tok, answer_samples=2, chunks_per_document=80)
    records = await _run(gen, policy, scripted([JUDGE_REJECTS_ZORBLAX, JUDGE_OK]), text)
    seven = next(r for r in records if r.metadata["question"] == "Who kept lighthouse 7?")
    assert [c.passed for c in seven.candidates] == [False, True]
    assert seven.metadata["reference"] == "Mara Quill7"


@pytest.mark.parametrize("text,reason", [("", "empty"), ("   \n", "empty"), ("ab\x00cd", "binary")])
async def test_bad_documents_are_recorded(tok, text, reason):
    policy = scripted(qa_rules(3))
    (rec,) = await _run(_gen(tok), policy, scripted([JUDGE_OK]), text)
    assert rec.status == "failed" and reason in rec.error and not policy.calls


async def test_unreadable_and_short_documents_are_recorded(tok):
    gen, policy = _gen(tok), scripted(qa_rules(3))
    ctx = run_context(policy, scripted([JUDGE_OK]), generator=gen).for_item("x")
    (rec,) = await gen.generate(DocumentItem(id="x", read_error="not UTF-8 text"), ctx)
    assert rec.status == "failed" and "not UTF-8" in rec.error
    (rec,) = await _run(gen, policy, scripted([JUDGE_OK]), "One short line.")
    assert rec.status == "failed" and "shorter than one chunk (128)" in rec.error and not policy.calls


async def test_unparseable_model_output_is_a_failed_record_per_chunk(tok):
    gen = _gen(tok, chunks_per_document=2)
    records = await _run(gen, scripted([], default="I would rather not."), scripted([JUDGE_OK]), document(80, filler=0))
    assert len(records) == 2 and all(r.status == "failed" for r in records)
    assert "no question/answer pair parseable" in records[0].error
    assert records[0].metadata["stages"]["unparseable_chunks"] == 2 and not records[1].metadata["stages"]


async def test_a_context_too_long_for_the_model_is_refused_before_any_call(tok):
    policy = scripted(qa_rules(80))
    gen = _gen(tok, target_lengths=[512, 8192], max_context_tokens=2048)
    with pytest.raises(ConfigError, match=r"8192.*2048|2048.*8192") as err:
        await _run(gen, policy, scripted([JUDGE_OK]), document(80, filler=0))
    assert "target_lengths" in str(err.value) and not policy.calls


async def test_a_missing_tokenizer_is_a_config_error(tmp_path):
    gen = LongContextQAGenerator(LongQAConfig(tokenizer=str(tmp_path / "nope"), max_context_tokens=200000))
    with pytest.raises(ConfigError, match="tokenizer"):
        await _run(gen, scripted([]), scripted([]), document(5))


async def test_positions_spread_over_the_document(tok):
    from scipy.stats import chisquare

    gen = _gen(tok, questions_per_chunk=1)
    policy, judge, text = scripted(qa_rules(80)), scripted([JUDGE_OK]), document(80, filler=0)
    positions = []
    for i in range(60):
        records = await _run(gen, policy, judge, text, item_id=f"copy-{i}")
        positions.append(records[0].metadata["chunk"]["relative_position"])
    quarters = [sum(q / 4 <= p < (q + 1) / 4 for p in positions) for q in range(4)]
    assert chisquare(quarters).pvalue > 0.01 and min(quarters) > 0
