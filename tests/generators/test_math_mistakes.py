"""math_mistakes: failed attempts -> corrections (real math verifier) -> SFT dialogs and DPO pairs TRL loads."""

from __future__ import annotations

import orjson
import pytest

from generators.math.mistakes import MathMistakesConfig, MathMistakesGenerator, MistakeItem
from synthgen.config import SelectionConfig
from synthgen.export import dpo_rows, sft_rows
from synthgen.records import Record, Verdict
from synthgen.selection import select
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig

MATH = [("math", {"isolation": "thread"})]
WRONG = "12 * 12 = 124. \\boxed{124}"
RIGHT = "12 * 12 = 144, not 124. \\boxed{144}"


def policy(*rules):
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=list(rules)))


async def test_same_item_sampling_correction_sft_and_dpo_rows_load_in_trl(make_context, tmp_path):
    p = policy({"last_user": "Your solution above is wrong", "responses": [RIGHT, "\\boxed{125}"]},
               {"last_user": "12 * 12", "responses": [WRONG, "\\boxed{144}"]})
    gen = MathMistakesGenerator(MathMistakesConfig(sample_first=True, k=2, corrections=2))
    ctx = make_context(p, MATH, generator=gen)
    records = await gen.generate(MistakeItem(id="sq", question="What is 12 * 12?", answer="144"), ctx)
    dialog, pair = records
    assert dialog.metadata["kind"] == "correction_dialog" and pair.metadata["kind"] == "correction_pair"
    assert [m["role"] for m in dialog.messages] == ["system", "user", "assistant", "user"]
    assert dialog.messages[2]["content"] == WRONG
    assert "'124' is incorrect" in dialog.messages[3]["content"]  # the verifier's feedback reached the model
    assert [c.passed for c in dialog.candidates] == [True, False]
    assert dialog.metadata["stages"] == {"attempts": 2, "failed_attempts": 1, "corrections": 2, "verified": 1,
                                         "pairs": 1}
    cfg = SelectionConfig()
    for r in records:
        select(r, cfg)
    sft, dpo = sft_rows(records), dpo_rows(records)
    # the correction over the mistake (plain problem prompt); selection adds passed-vs-failed corrections too
    (fix,) = [r for r in dpo if r["rejected"][0]["content"] == WRONG]
    assert fix["chosen"][0]["content"] == RIGHT and fix["prompt"][-1]["content"] == "What is 12 * 12?"
    assert any(row["messages"][-1]["content"] == RIGHT and row["messages"][-2]["role"] == "user" for row in sft)

    from datasets import load_dataset
    from transformers import AutoTokenizer
    from trl.data_utils import apply_chat_template, is_conversational

    from synthgen.tiny_model import build_tiny_model

    for name, rows in (("sft", sft), ("dpo", dpo)):
        (tmp_path / f"{name}.jsonl").write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
    tok = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "tiny"))
    sft_ds = load_dataset("json", data_files=str(tmp_path / "sft.jsonl"), split="train")
    dpo_ds = load_dataset("json", data_files=str(tmp_path / "dpo.jsonl"), split="train")
    assert is_conversational(sft_ds[0]) and is_conversational(dpo_ds[0])
    rendered = apply_chat_template(next(r for r in dpo_ds if "124" in r["rejected"][0]["content"]), tok)
    assert "144" in rendered["chosen"] and "124" in rendered["rejected"]
    assert "12 * 12 = 124" in apply_chat_template(sft_ds[0], tok)["text"] or len(sft_ds) > 1


async def test_failed_candidates_of_an_earlier_run_are_corrected(make_context):
    old = Record(id="r1", messages=[{"role": "user", "content": "What is 9 * 9?"}], metadata={"answer": "81"})
    bad = old.add_candidate([{"role": "assistant", "content": "\\boxed{72}"}])
    bad.verdicts = [Verdict(verifier="math", passed=False, feedback="the final answer '72' is incorrect")]
    good = old.add_candidate([{"role": "assistant", "content": "\\boxed{81}"}])
    good.verdicts = [Verdict(verifier="math", passed=True)]
    line = {"item": "i1", "records": [old.model_dump(mode="json")]}
    p = policy({"last_user": "Your solution above is wrong", "responses": ["9 * 9 = 81. \\boxed{81}"]})
    gen = MathMistakesGenerator(MathMistakesConfig(corrections=1))
    records = await gen.generate(MistakeItem.model_validate(line), make_context(p, MATH, generator=gen))
    assert len(records) == 2  # only the failed candidate was corrected: one dialog and its pair
    assert records[0].metadata["attempt_source"] == f"run:r1:{bad.id}"
    assert records[0].messages[-1]["content"].count("'72' is incorrect") == 1


@pytest.mark.parametrize("item", [{"id": "x", "question": "What is 1+1?", "answer": "2"},  # no attempt, no sampling
                                  {"id": "y", "records": []}])
async def test_nothing_to_correct_is_a_recorded_reason(make_context, item):
    gen = MathMistakesGenerator()
    (rec,) = await gen.generate(MistakeItem.model_validate(item), make_context(policy(), MATH, generator=gen))
    assert rec.metadata["reason"] == "no failed attempt to correct" and not rec.candidates
