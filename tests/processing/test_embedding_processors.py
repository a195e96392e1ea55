"""`topics`, `dedup` and `mix` on small dialogs with the real offline MiniLM (loaded once per run)."""

import json

import pytest

from synthgen.errors import ConfigError
from tests.processing.helpers import dropped, kept, make_run, run_stage, sft_record


def _meta(q, d):
    return {"quality": {"value": q}, "difficulty": {"value": d}}


RECORDS = [
    # a paraphrase pair: the better ranked (q x d = 0.9 x 2) survives
    sft_record("list-a", "How do I reverse a list in Python?", "Use list.reverse() or slicing [::-1].",
               capability="code", metadata=_meta(0.5, 2)),
    sft_record("list-b", "How can I reverse a Python list?", "Use slicing [::-1] or list.reverse().",
               capability="code", metadata=_meta(0.9, 2), rejected="Lists cannot be reversed."),
    # exact duplicates: the better ranked copy survives
    sft_record("sum-a", "What is 47+38?", "47+38=85. The answer is 85.", capability="math", metadata=_meta(0.4, 1)),
    sft_record("sum-b", "What is 47+38?", "47+38=85.  The answer is 85.", capability="math", metadata=_meta(0.6, 1)),
    sft_record("sum-c", "What is 12+33?", "12+33=45. The answer is 45.", capability="math", metadata=_meta(0.6, 1)),
    sft_record("poem", "Write a haiku about autumn.", "Red leaves drift and fall\nthe river carries them home",
               capability="general", metadata=_meta(0.7, 2)),
    sft_record("bio", "Explain photosynthesis simply.", "Plants turn sunlight, water and CO2 into sugar.",
               capability="general", metadata=_meta(0.7, 2)),
]


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("emb"), RECORDS)
    info = run_stage(run, [{"name": "topics", "options": {"exclude": ["writing"]}},
                           {"name": "dedup", "options": {"minhash": True}},
                           {"name": "mix", "options": {"tokenizer": "words"}}])
    return run, info


@pytest.mark.slow
def test_topics_label_coarse_and_fine_and_drop_excluded(processed):
    run, info = processed
    why = dropped(run)
    assert why["poem"] == "topics: excluded topic; general_english/writing"
    assert kept(run)["bio"].metadata["topic"]["coarse"] == "general_english"
    assert kept(run)["sum-c"].metadata["topic"]["coarse"] == "math"
    assert kept(run)["list-b"].metadata["topic"]["coarse"] == "coding"
    assert "math/arithmetic" in info["steps"][0]["report"]["topics"]


@pytest.mark.slow
def test_dedup_keeps_the_better_ranked_of_exact_and_semantic_duplicates(processed):
    run, info = processed
    why = dropped(run)
    assert why["sum-a"] == "dedup: exact duplicate; of sum-b"
    assert why["list-a"].startswith("dedup: semantic duplicate; cosine 0.9") and "to list-b" in why["list-a"]
    assert {"list-b", "sum-b", "sum-c", "bio"} == set(kept(run))  # 47+38 vs 12+33: similar, not duplicates
    rep = info["steps"][1]["report"]
    assert rep["exact_duplicates"] == 1 and rep["semantic_duplicates"] == 1 and rep["kept"] == 4


@pytest.mark.slow
def test_mix_table_and_json(processed):
    run, info = processed
    saved = json.loads((run / "process" / "mix.json").read_text())
    assert saved == info["steps"][2]["report"]  # the JSON is the step's report
    rows = {r["group"]: r for r in saved["rows"]}
    assert rows["math"]["examples"] == 2 and rows["code"]["comparisons"] == 1
    assert rows["Total"]["share_examples"] == 1.0 and rows["code"]["share_comparisons"] == 1.0
    assert rows["math"]["share_examples"] == 0.5 and rows["math"]["turns_per_dialog"] == 1.0
    assert rows["math"]["prompt_tokens"] == 6.0  # "What is 47+38?": What is 47 + 38 ?


@pytest.mark.slow
def test_embeddings_are_cached_per_record_and_a_changed_step_reuses_them(processed, tmp_path):
    run, first = processed
    def files():
        return sorted((p.name, p.stat().st_mtime_ns) for p in (run / "process" / "cache").rglob("chunk-*.npz"))
    cache = files()
    assert cache
    info = run_stage(run, [{"name": "topics", "options": {"exclude": ["writing"]}},
                           {"name": "dedup", "options": {"minhash": True, "threshold": 0.999}},
                           {"name": "mix", "options": {"tokenizer": "words"}}])
    assert files() == cache  # the same files, untouched: nothing embedded again
    assert "list-a" in kept(run)  # 0.986 < 0.999 now
    assert info["steps"][0] == first["steps"][0]  # topics unchanged: taken from its log, not redone


def test_dedup_without_scores_names_the_processors_to_run_first(tmp_path):
    run = make_run(tmp_path, [sft_record("a", "Q?", "A.")])
    with pytest.raises(ConfigError, match="put the `quality` processor before `dedup`"):
        run_stage(run, [{"name": "dedup", "options": {"model": str(tmp_path)}}])


def test_missing_embedding_model_names_the_path(tmp_path):
    run = make_run(tmp_path, [sft_record("a", "Q?", "A.", metadata=_meta(1, 1))])
    with pytest.raises(ConfigError, match=str(tmp_path / "nowhere")):
        run_stage(run, [{"name": "dedup", "options": {"model": str(tmp_path / "nowhere")}}])


def test_mix_resamples_to_target_shares_exactly(tmp_path):
    recs = [sft_record(f"m{i}", f"Sum {i}?", f"{i}.", capability="math") for i in range(30)]
    recs += [sft_record(f"c{i}", f"Code {i}?", f"print({i})", capability="code") for i in range(10)]
    recs += [sft_record(f"g{i}", f"Chat {i}?", "Hi.", capability="general") for i in range(5)]
    run = make_run(tmp_path, recs)
    info = run_stage(run, [{"name": "mix", "options": {"target_shares": {"math": 0.5, "code": 0.5},
                                                       "tokenizer": "words"}}])
    caps = [r.capability for r in kept(run).values()]
    assert caps.count("math") == 10 and caps.count("code") == 10 and caps.count("general") == 5
    assert all(w.startswith("mix: resampled to the target share") for w in dropped(run).values())
    assert info["steps"][0]["report"]["records_before"] == {"code": 10, "general": 5, "math": 30}
