"""`clean`: rebalancing apologies, emojis and exclamation marks to a target share, both ways."""

import pytest

from synthgen.errors import PluginError
from synthgen.processing.clean import CleanConfig, CleanProcessor
from tests.processing.helpers import dropped, kept, make_run, run_stage, sft_record


def _records(n=40, every=2):
    out = []
    for i in range(n):
        text = f"The capital of country {i} is City {i}."
        if i % every == 0:
            text = "I'm sorry, I misread that earlier. " + text
        out.append(sft_record(f"r{i:03d}", f"What is the capital of country {i}?", text))
    return out


def test_rewrite_brings_the_apology_share_to_the_target_exactly(tmp_path):
    run = make_run(tmp_path, _records())
    info = run_stage(run, [{"name": "clean", "options": {"phrases_target": 0.1}}])
    shares = info["steps"][0]["report"]["shares"]["phrases"]
    assert shares["before"] == 0.5 and shares["after"] == 0.1 and shares["rewritten"] == 16
    records = kept(run)
    assert len(records) == 40 and not dropped(run)
    still = [r for r in records.values() if "sorry" in r.candidates[0].text]
    assert len(still) == 4
    rewritten = [r for r in records.values() if r.metadata["clean"].get("rewritten")]
    assert all(r.candidates[0].text.startswith("The capital") for r in rewritten)


def test_the_excess_is_chosen_by_seed_and_not_by_order(tmp_path):
    a = make_run(tmp_path, _records(), "a")
    b = make_run(tmp_path, list(reversed(_records())), "b")
    c = make_run(tmp_path, _records(), "c")
    run_stage(a, [{"name": "clean", "options": {"phrases_target": 0.1}}], batch_size=8)
    run_stage(b, [{"name": "clean", "options": {"phrases_target": 0.1}}], batch_size=5)
    run_stage(c, [{"name": "clean", "options": {"phrases_target": 0.1}}], seed=1)

    def apologising(run):
        return sorted(i for i, r in kept(run).items() if "sorry" in r.candidates[0].text)
    assert apologising(a) == apologising(b)
    assert apologising(a) != apologising(c)


def test_drop_action_drops_the_excess_with_reasons(tmp_path):
    run = make_run(tmp_path, _records())
    info = run_stage(run, [{"name": "clean", "options": {"phrases_target": 0.1, "action": "drop"}}])
    reasons = dropped(run)
    # dropping shrinks the total too: keep k with k / (40 - (20 - k)) <= 0.1, so k = 2 of the 20
    assert len(reasons) == 18 and all(r.startswith("clean: over the target share") for r in reasons.values())
    rep = info["steps"][0]["report"]["shares"]["phrases"]
    assert rep["after"] == pytest.approx(2 / 22, abs=0.001) and rep["after"] <= 0.1


def test_below_the_target_nothing_changes(tmp_path):
    run = make_run(tmp_path, _records(every=20))
    run_stage(run, [{"name": "clean"}])  # 2 of 40 = 5% apologies, at the default target
    assert sum("sorry" in r.candidates[0].text for r in kept(run).values()) == 2


async def test_emojis_and_exclamations_are_rewritten_outside_code_only():
    proc = CleanProcessor(CleanConfig())
    text = "Great question! 😊 Here:\n```python\nif a != b: print('hi!')\n```\nDone! 🚀"
    assert proc._rewrite_text(text, "emoji") == "Great question! Here:\n```python\nif a != b: print('hi!')\n```\nDone! "
    assert proc._rewrite_text(text, "exclamation").startswith("Great question. 😊")
    assert "print('hi!')" in proc._rewrite_text(text, "exclamation")


def test_a_response_that_is_only_an_apology_is_dropped_not_emptied(tmp_path):
    recs = [sft_record(f"r{i}", "Can you help?", "I'm sorry.") for i in range(10)]
    run = make_run(tmp_path, recs)
    run_stage(run, [{"name": "clean", "options": {"phrases_target": 0.0}}])
    assert len(dropped(run)) == 10
    assert all("rewriting would empty" in r for r in dropped(run).values())


def test_bad_input_is_dropped_with_its_reason_and_failed_records_pass(tmp_path):
    from synthgen.records import failed_record

    good = sft_record("good", "Hi", "Hello.")
    empty = sft_record("empty", "Hi", "   ")
    image = sft_record("image", "Hi", "A cat.")
    image.messages[0]["content"] = [{"type": "image_url", "image_url": "cat.png"}]
    failed = failed_record("failed", source_id="s", capability="general", error="model down")
    run = make_run(tmp_path, [good, empty, image, failed])
    run_stage(run, [{"name": "clean"}])
    assert set(kept(run)) == {"good", "failed"}
    reasons = dropped(run)
    assert reasons["empty"].startswith("bad input: empty response")
    assert reasons["image"].startswith("bad input: non-text content")


def test_unknown_option_names_the_field(tmp_path):
    run = make_run(tmp_path, _records(4))
    with pytest.raises(PluginError, match="process.0.options.phrase_target"):
        run_stage(run, [{"name": "clean", "options": {"phrase_target": 0.1}}])
