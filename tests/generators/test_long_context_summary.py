"""long_context_summary with a scripted policy and judge: the tree's depth and fan-in, re-sampling of a
rejected summary, QA on the global summary, and one SFT step on an exported long prompt (tiny model
with a raised position limit)."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from generators.context._common import DocumentItem
from generators.context.summarise import LongContextSummaryGenerator, LongSummaryConfig, group_summaries
from tests.generators.long_context_helpers import JUDGE_OK, document, run_context, scripted

PAIRS = json.dumps([{"question": "Who kept the lighthouses?", "answer": "the Quill family"}])
POLICY = [{"last_user": "summaries of consecutive parts", "responses": ["The Quill family kept the lights."]},
          {"last_user": "Summarise the following text", "responses": ["Mara Quill kept a light; tides came."]},
          {"last_user": "question-answer pairs", "responses": [PAIRS]}]


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    from synthgen.tiny_model import build_tokenizer

    out = tmp_path_factory.mktemp("tok")
    build_tokenizer(out)
    return str(out)


def _gen(tok, **kw):
    opts = {"chunk_tokens": 128, "summary_max_tokens": 48, "target_lengths": [2048], "tokenizer": tok,
                "max_context_tokens": 4096, "qa_max_tokens": 64, "answer_max_tokens": 64}
    return LongContextSummaryGenerator(LongSummaryConfig(**{**opts, **kw}))


async def _run(gen, policy, judge, text):
    ctx = run_context(policy, judge, generator=gen).for_item("doc")
    return await gen.generate(DocumentItem(id="doc", title="Lights", text=text), ctx)


def test_groups_shrink_every_level():
    assert group_summaries([10] * 7, 30) == [[0, 1, 2], [3, 4, 5, 6]]  # a lone last one joins the group before
    assert group_summaries([100, 100, 100], 50) == [[0, 1], [2]] or group_summaries([100, 100, 100], 50) == [[0, 1, 2]]
    assert all(len(g) >= 2 for g in group_summaries([5] * 9, 11))


async def test_tree_depth_for_a_long_document(tok):
    gen = _gen(tok)
    summary, qa = await _run(gen, scripted(POLICY), scripted([JUDGE_OK]), document(60))
    tree = summary.metadata["tree"]
    levels = tree["nodes_per_level"]
    assert levels[0] == summary.metadata["stages"]["chunks"] >= 16 and levels[-1] == 1
    assert all(b < a for a, b in itertools.pairwise(levels))  # every level shrinks
    assert tree["depth"] == len(levels) >= 3
    # fan-in: the budget of one chunk holds several summaries, so the depth is logarithmic in the chunks
    fan_in = min(len(n["children"]) for level in tree["levels"][1:] for n in level)
    assert fan_in >= 2 and tree["depth"] <= 1 + math.ceil(math.log2(levels[0]))
    assert summary.candidates[0].text == "The Quill family kept the lights." and summary.candidates[0].passed
    assert summary.messages[0]["content"].startswith("Summarise the document below.")
    assert qa.metadata["reference_source"] == "global_summary" and qa.candidates[0].passed
    assert qa.messages[0]["content"].endswith("Who kept the lighthouses?") and "<document>" in qa.messages[0]["content"]
    stages = summary.metadata["stages"]
    assert stages["summaries"] == sum(levels) == stages["summaries_verified"]


async def test_a_rejected_summary_is_resampled_then_marks_the_tree(tok):
    judge = scripted([{"last_user": "## Assistant response\nMara Quill kept",
                       "responses": ['{"faithful": 0, "coverage": 1, "reason": "invented"}']}, JUDGE_OK])
    gen = _gen(tok, summary_retries=1, summary_questions=0)
    (summary,) = await _run(gen, scripted(POLICY), judge, document(20))
    level0 = summary.metadata["tree"]["levels"][0]
    assert all(n["attempts"] == 2 and not n["passed"] for n in level0)
    verdicts = {v.verifier: v for v in summary.candidates[0].verdicts}
    assert verdicts["llm_judge"].passed and not verdicts["summary_tree"].passed
    assert not summary.candidates[0].passed and "judged unfaithful" in verdicts["summary_tree"].feedback


async def test_empty_summaries_and_unparseable_qa_are_recorded(tok):
    gen = _gen(tok)
    (rec,) = await _run(gen, scripted([], default=""), scripted([JUDGE_OK]), document(20))
    assert rec.status == "failed" and "no global summary" in rec.error and rec.metadata["tree"]["depth"] >= 1
    policy = scripted(POLICY[:2], default="no JSON here")
    summary, failed = await _run(gen, policy, scripted([JUDGE_OK]), document(20))
    assert summary.status == "ok" and failed.status == "failed" and "parseable" in failed.error


@pytest.mark.slow
async def test_exported_long_prompt_trains_one_sft_step(tok, tmp_path):
    """The export of a long-context record trains: one SFT step of the tiny model with its position limit
    raised to the prompt's length."""
    from datasets import Dataset

    from synthgen.config import SelectionConfig
    from synthgen.export import sft_rows
    from synthgen.selection import select
    from synthgen.tiny_model import TinyModelSpec, build_tiny_model
    from trainers.sft_config import SFTTrainConfig
    from trainers.sft_trainer import train_sft

    gen = _gen(tok, target_lengths=[3072], max_context_tokens=4096, summary_questions=1)
    records = await _run(gen, scripted(POLICY), scripted([JUDGE_OK]), document(60))
    for r in records:
        select(r, SelectionConfig())
    rows = sft_rows(records)
    assert len(rows) == 2 and min(r["messages"][0]["content"].count("Section") for r in rows) > 10
    model = build_tiny_model(tmp_path / "model", TinyModelSpec(max_position_embeddings=4096))
    longest = max(r.metadata["prompt_tokens"] for r in records)
    assert longest > 3000  # longer than the tiny model's usual 2048 positions
    out = train_sft(SFTTrainConfig(model=model, dataset=Dataset.from_list(rows), output_dir=tmp_path / "out",
                                   max_steps=1, per_device_train_batch_size=2, max_length=4096, logging_steps=1,
                                   warmup_ratio=0.0, learning_rate=1e-3))
    assert out is not None
