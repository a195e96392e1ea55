"""`quality` (reward top quartile OR the judge's rubric) and `difficulty` (InsTag tags + a 1..3 rubric),
both ways, with the scripted policy standing in for a judge (a random tiny model writes no JSON)."""

import pytest

from synthgen.errors import ConfigError
from synthgen.processing.difficulty import parse_tags
from tests.processing.helpers import dropped, kept, make_run, run_stage, scripted, sft_record


def _rewarded(n=8):
    return [sft_record(f"r{i}", f"Question {i}?", f"Answer {i}.", reward=i / 10) for i in range(n)]


def test_reward_top_quartile_is_kept_the_rest_dropped_with_the_threshold(tmp_path):
    run = make_run(tmp_path, _rewarded())
    info = run_stage(run, [{"name": "quality"}])
    assert set(kept(run)) == {"r6", "r7"}
    assert all("top-0.25 threshold" in why for why in dropped(run).values())
    q = kept(run)["r7"].metadata["quality"]
    assert q["reward_high"] and q["high"] and q["value"] == 1.0
    assert info["steps"][0]["report"]["methods"] == ["reward"]


def test_without_drop_low_everything_is_kept_and_scored(tmp_path):
    run = make_run(tmp_path, _rewarded())
    run_stage(run, [{"name": "quality", "options": {"drop_low": False}}])
    records = kept(run)
    assert len(records) == 8 and sum(r.metadata["quality"]["high"] for r in records.values()) == 2


def test_rubric_marks_high_what_the_reward_does_not(tmp_path):
    judge = scripted([{"last_user": "Answer 1.", "responses": ['{"accuracy": 1, "instruction_following": 1, "tone": 1}']},
                      {"last_user": "Answer 2.", "responses": ["```json\n{\"accuracy\": 1, \"instruction_following\": 0, \"tone\": 1}\n```"]},
                      {"last_user": "Answer 3.", "responses": ["I think it is fine."]}],
                     default='{"accuracy": 0, "instruction_following": 0, "tone": 0}')
    run = make_run(tmp_path, _rewarded())
    run_stage(run, [{"name": "quality"}], llms={"judge": judge})
    records = kept(run)
    assert set(records) == {"r1", "r6", "r7"}  # r1 by the rubric, r6/r7 by the reward
    assert records["r1"].metadata["quality"]["rubric_high"] and not records["r1"].metadata["quality"]["reward_high"]
    why = dropped(run)
    assert "rubric general 0.67 < 1" in why["r2"]
    assert "rubric general unusable" in why["r3"]  # judge output without JSON: recorded, judged not high


def test_code_records_get_the_code_rubric(tmp_path):
    judge = scripted([{"context": ["bug_identification"], "responses": ['{"bug_identification": 1, "user_intention": 1}']}])
    recs = [sft_record("c1", "Fix my loop", "Use range(n).", capability="code_self_correction")]
    run = make_run(tmp_path, recs)
    run_stage(run, [{"name": "quality", "options": {"methods": ["rubric"]}}], llms={"judge": judge})
    assert kept(run)["c1"].metadata["quality"]["rubric"] == "code"


def test_missing_scores_name_the_verifier_to_run_first(tmp_path):
    run = make_run(tmp_path, [sft_record("a", "Q?", "A.")])
    with pytest.raises(ConfigError, match="reward_score"):
        run_stage(run, [{"name": "quality"}])
    with pytest.raises(ConfigError, match="reward_score.*first"):
        run_stage(run, [{"name": "quality", "options": {"methods": ["reward"]}}])


def test_difficulty_tags_and_score(tmp_path):
    llm = scripted([
        {"last_user": "hard one", "context": ["JSON list"], "responses": ['["code generation", "optimize", "explain", "format constraint"]']},
        {"last_user": "easy one", "context": ["JSON list"], "responses": ['{"tags": ["greeting"]}']},
        {"context": ["hard one", "difficulty"], "responses": ['{"difficulty": 3, "reason": "many constraints"}']},
        {"context": ["easy one", "difficulty"], "responses": ['{"difficulty": "1"}']},
    ])
    recs = [sft_record("h", "hard one: write and optimize and explain, as a table", "Sure."),
            sft_record("e", "easy one: hi", "Hello.")]
    run = make_run(tmp_path, recs)
    info = run_stage(run, [{"name": "difficulty", "options": {"min_score": 2}}], llms={"tagger": llm, "judge": llm})
    records = kept(run)
    d = records["h"].metadata["difficulty"]
    assert d["n_tags"] == 4 and d["score"] == 3 and d["value"] == pytest.approx(3.04)
    assert dropped(run) == {"e": "difficulty: too easy; difficulty 1 < min_score 2"}
    assert info["steps"][0]["report"]["scores"] == {"1": 1, "3": 1}


def test_unparseable_difficulty_output_is_recorded_and_kept(tmp_path):
    llm = scripted([], default="hmm, hard to say")
    run = make_run(tmp_path, [sft_record("x", "Question", "Answer")])
    run_stage(run, [{"name": "difficulty", "options": {"min_score": 2, "min_tags": 1}}], llms={"tagger": llm, "judge": llm})
    d = kept(run)["x"].metadata["difficulty"]
    assert d["score"] is None and "could not be used" in d["score_error"]
    assert d["n_tags"] == 0 and "no tag list" in d["tags_error"]  # prose is not a tag list


def test_difficulty_without_its_roles_says_which(tmp_path):
    run = make_run(tmp_path, [sft_record("x", "Question", "Answer")])
    with pytest.raises(ConfigError, match="role 'tagger'"):
        run_stage(run, [{"name": "difficulty"}])


def test_parse_tags_forms():
    assert parse_tags('Tags: ["A", "b", "a"]', 10) == (["a", "b"], "")
    assert parse_tags("- explain\n- code generation", 10) == (["explain", "code generation"], "")
    assert parse_tags("1. explain\n2) summarize", 10) == (["explain", "summarize"], "")
    assert parse_tags("{}", 10)[1]
    assert parse_tags("It is a greeting.", 10)[1]


@pytest.mark.slow
def test_quality_scores_with_its_own_reward_model_when_records_have_none(tmp_path):
    """`reward_model:` scores the records through the reward_score verifier's machinery (tiny random RM)."""
    import torch
    from transformers import AutoTokenizer, LlamaForSequenceClassification

    from synthgen.tiny_model import build_tiny_model

    base = build_tiny_model(tmp_path / "tiny")
    torch.manual_seed(0)
    LlamaForSequenceClassification.from_pretrained(str(base), num_labels=1).save_pretrained(str(tmp_path / "rm"))
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(str(tmp_path / "rm"))
    recs = [sft_record(f"r{i}", f"Say hi {i}", "Hello " + "there " * i + "friend.") for i in range(8)]
    run = make_run(tmp_path, recs)
    run_stage(run, [{"name": "quality", "options": {"reward_model": str(tmp_path / "rm"), "methods": ["reward"]}}])
    records = kept(run)
    assert len(records) == 2 and len(dropped(run)) == 6  # the top quartile of 8
    q = next(iter(records.values())).metadata["quality"]
    assert isinstance(q["reward"], float) and q["reward"] >= q["reward_threshold"]
