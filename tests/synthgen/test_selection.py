"""Rejection sampling and preference building (synthgen.selection) on hand-made records."""

import pytest

from synthgen.config import SelectionConfig
from synthgen.records import PreferencePair, Record, Verdict
from synthgen.selection import select


def record(*cands: tuple[str, bool, float | None], **meta_by_text) -> Record:
    """A record whose candidates are (response text, passed, reward score or None)."""
    rec = Record(id="r", messages=[{"role": "user", "content": "Q?"}])
    for text, passed, reward in cands:
        c = rec.add_candidate([{"role": "assistant", "content": text}],
                              metadata=meta_by_text.get(text.replace(" ", "_"), {}))
        c.verdicts.append(Verdict(verifier="check", passed=passed))
        if reward is not None:
            c.scores["reward"] = reward
    return rec


def texts(rec: Record, ids: list[str]) -> list[str]:
    return [rec.candidate(i).text for i in ids]


def pair_texts(rec: Record) -> list[tuple[str, str]]:
    return [(rec.candidate(p.chosen).text, rec.candidate(p.rejected).text) for p in rec.pairs]


def test_best_of_k_keeps_the_top_reward_distinct_passing_responses():
    rec = record(("alpha one", True, 0.2), ("beta two", True, 0.9), ("beta two", True, 0.8),
                 ("gamma three", False, 5.0), ("delta four", True, 0.5))
    select(rec, SelectionConfig(keep_top_k=2))
    # the failed candidate never gets in whatever its score; the duplicate of "beta two" is skipped
    assert texts(rec, rec.selected) == ["beta two", "delta four"]


def test_without_reward_scores_generation_order_breaks_ties():
    rec = record(("first answer", True, None), ("second answer", True, None))
    select(rec, SelectionConfig(keep_top_k=1))
    assert texts(rec, rec.selected) == ["first answer"]


def test_passed_vs_failed_pairs_the_best_pass_with_the_worst_failures_first():
    rec = record(("good answer", True, 1.0), ("bad one", False, -2.0), ("poor two", False, 0.5),
                 ("ok answer", True, 0.1))
    select(rec, SelectionConfig(pairs="passed_vs_failed", max_pairs_per_record=2))
    assert pair_texts(rec) == [("good answer", "bad one"), ("good answer", "poor two")]
    assert rec.pairs[0].margin == 3.0 and rec.pairs[0].reason == "passed vs failed"


def test_best_vs_worst_and_all_passed_vs_failed():
    cands = [("good answer", True, 1.0), ("ok answer", True, 0.1), ("bad one", False, 0.9)]
    rec = select(record(*cands), SelectionConfig(pairs="best_vs_worst"))
    assert pair_texts(rec) == [("good answer", "bad one")]  # a pass outranks a failure with any score
    rec = select(record(*cands), SelectionConfig(pairs="all_passed_vs_failed", max_pairs_per_record=5))
    assert pair_texts(rec) == [("good answer", "bad one"), ("ok answer", "bad one")]
    rec = select(record(*cands), SelectionConfig(pairs="none"))
    assert rec.pairs == []


def test_best_vs_worst_among_passes_needs_the_margin():
    cands = [("good answer", True, 1.0), ("fine reply", True, 0.7)]
    assert pair_texts(select(record(*cands), SelectionConfig(pairs="best_vs_worst", min_margin=0.5))) == []
    assert pair_texts(select(record(*cands), SelectionConfig(pairs="best_vs_worst", min_margin=0.2))) == [
        ("good answer", "fine reply")]


def test_near_identical_responses_are_not_paired_or_ranked():
    # token Jaccard 9/11 = 0.82
    cands = [("the answer is 42 because six times seven equals it", True, 1.0),
             ("the answer is 42 because six times seven equals that", False, 0.0)]
    rec = select(record(*cands), SelectionConfig(similarity_threshold=0.8))
    assert rec.pairs == [] and rec.ranking == []
    rec = select(record(*cands), SelectionConfig(similarity_threshold=0.9))
    assert len(rec.pairs) == 1 and len(rec.ranking) == 2


def test_ranking_puts_an_edited_response_first_then_the_best_pass_then_the_worst_failure():
    rec = record(("plain good", True, 0.9), ("edited great", True, 0.1), ("wrong thing", False, 0.3),
                 ("worst thing", False, -1.0), edited_great={"edited": True})
    select(rec, SelectionConfig())
    assert texts(rec, rec.ranking) == ["edited great", "plain good", "worst thing"]
    rec = record(("plain good", True, 0.9), ("wrong thing", False, 0.3))
    assert texts(rec, select(rec, SelectionConfig(ranking_size=3)).ranking) == ["plain good", "wrong thing"]
    rec = record(("plain good", True, 0.9), ("also good", True, 0.5))
    assert select(rec, SelectionConfig()).ranking == []  # no dispreferred response: no RM row


@pytest.mark.parametrize("empty", ["", "   \n"])
def test_empty_responses_are_never_selected_paired_or_ranked(empty):
    rec = record((empty, False, None), ("good answer", True, None))
    select(rec, SelectionConfig())
    assert texts(rec, rec.selected) == ["good answer"] and rec.pairs == [] and rec.ranking == []
    rec = record((empty, True, None), ("bad one", False, None))
    select(rec, SelectionConfig())
    assert rec.selected == [] and rec.pairs == [] and rec.ranking == []


def test_pairs_set_by_the_generator_are_kept_and_failed_records_untouched():
    rec = record(("good answer", True, None), ("bad one", False, None))
    own = [PreferencePair(chosen=rec.candidates[1].id, rejected=rec.candidates[0].id, reason="generator")]
    rec.pairs = list(own)
    assert select(rec, SelectionConfig()).pairs == own
    failed = record(("good answer", True, None))
    failed.status = "failed"
    assert select(failed, SelectionConfig()).selected == []
