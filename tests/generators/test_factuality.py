"""The factuality generator: each question class on scripted answers, bad input, the corpus sampler,
and exports that `datasets` loads and the trainers train on for one step."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from generators.knowledge._matching import DeclineDetector, contains, exact_match, split_snippets, token_f1
from generators.knowledge._prompts import parse_questions
from generators.knowledge.corpus import iter_documents, sample_snippets
from generators.knowledge.factuality import FactualityConfig, FactualityGenerator, FactualityItem
from synthgen.context import RunContext, TimedLLM, Timers
from synthgen.selection import select
from synthgen.config import SelectionConfig
from tests.generators.conftest import EXAMPLES
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig

SNIPPET = ("The Lornmouth swing bridge over the river Aske was completed in 1874. It was designed by the "
           "engineer Ada Lorne, whose workshop also built the town's first clock tower.")
QUESTION = '{"question": "In which year was the Lornmouth swing bridge completed?", "answer": "1874"}'
ASKS_QUESTION = "Read the passage"
ASKS_REFUSAL = "You do not reliably know the answer"


def _policy(answers: list[str], *, question: str = QUESTION, refusal: str = "I'm not sure, and I'd rather not guess.",
            extra: list[dict] | None = None) -> ScriptedPolicyForTests:
    rules = (extra or []) + [
        {"last_user": ASKS_QUESTION, "responses": [question]},
        {"last_user": ASKS_REFUSAL, "responses": [refusal]},
        {"last_user": "Lornmouth", "responses": answers},
    ]
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=rules))


def _judge(response: str = '{"correct": 1, "informative": 1, "reason": "matches"}') -> ScriptedPolicyForTests:
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(default=response))


def _run(policy, judge=None, item: dict | None = None, **options):
    gen = FactualityGenerator(FactualityConfig(k=5, **options))
    timers = Timers()
    llm = {"policy": TimedLLM("policy", policy, timers, asyncio.Semaphore(8)),
           "judge": TimedLLM("judge", judge or _judge(), timers, asyncio.Semaphore(8))}
    ctx = RunContext(run_name="t", llm=llm, timers=timers, generator_name=gen.name).for_item("doc-1")
    records = asyncio.run(gen.generate(FactualityItem.model_validate(item or {"id": "doc-1", "text": SNIPPET}), ctx))
    for r in records:
        select(r, SelectionConfig(pairs="none"))
    return records


def _labels(record):
    return [c.metadata["label"] for c in record.candidates]


def test_known_question_gives_an_answer_row_and_no_pair():
    (rec,) = _run(_policy(["1874", "It was completed in 1874.", "1874", "in 1874", "1874"]))
    assert rec.metadata["class"] == "known" and rec.metadata["answer_counts"]["correct"] == 5
    assert rec.messages == [{"role": "user", "content": "In which year was the Lornmouth swing bridge completed?"}]
    assert SNIPPET not in json.dumps(rec.messages)  # answered without the snippet
    assert len(rec.selected) == 1 and rec.candidate(rec.selected[0]).metadata["label"] == "correct"
    assert rec.pairs == []
    assert rec.metadata["stages"]["known"] == 1 and rec.metadata["stages"]["snippets"] == 1


def test_unknown_question_gets_a_policy_refusal_over_a_hallucination():
    (rec,) = _run(_policy(["1901", "1920", "1899", "1901", "1910"]))
    assert rec.metadata["class"] == "unknown"
    refusal = rec.candidates[-1]
    assert refusal.metadata == {"label": "refusal", "written_by": "policy"}
    assert rec.selected == [refusal.id]
    assert len(rec.pairs) == 1 and rec.pairs[0].chosen == refusal.id
    assert rec.candidate(rec.pairs[0].rejected).metadata["label"] == "incorrect"
    assert rec.pairs[0].reason == "refusal over hallucination"
    assert rec.metadata["stages"]["refusals_policy"] == 1


def test_a_policy_refusal_that_guesses_falls_back_to_the_template():
    (rec,) = _run(_policy(["1901"] * 5, refusal="It was 1901, I think."))
    assert rec.candidates[-1].metadata["written_by"] == "template"
    assert "rather not guess" in rec.candidates[-1].text
    (rec,) = _run(_policy(["1901"] * 5), refusal="template", refusal_template="No idea about: {question}")
    assert rec.candidates[-1].text.startswith("No idea about: In which year")


def test_mixed_question_pairs_correct_over_wrong():
    (rec,) = _run(_policy(["1874", "1901", "1874", "1920", "1874"]), pairs_per_question=2)
    assert rec.metadata["class"] == "mixed"
    assert len(rec.pairs) == 2 and all(p.reason == "correct over wrong" for p in rec.pairs)
    for p in rec.pairs:
        assert rec.candidate(p.chosen).metadata["label"] == "correct"
        assert rec.candidate(p.rejected).metadata["label"] == "incorrect"


def test_model_that_already_declines_keeps_its_own_decline():
    (rec,) = _run(_policy(["I don't know.", "I'm not sure.", "I don't know.", "1901", "I don't know."]))
    assert rec.metadata["class"] == "declined"
    assert rec.candidate(rec.selected[0]).metadata["label"] == "declined" and rec.pairs == []


def test_thresholds_are_configurable():
    answers = ["1874", "1874", "1874", "1901", "1920"]
    assert _run(_policy(answers))[0].metadata["class"] == "mixed"
    assert _run(_policy(answers), known_min_correct=0.6)[0].metadata["class"] == "known"


def test_long_answers_go_to_the_judge_with_the_factuality_rubric():
    long_right = "The Lornmouth swing bridge opened to traffic after the engineers finished it in the year 1874, I believe."
    judge = _judge('```json\n{"correct": 1, "informative": 1, "reason": "same year"}\n```')
    (rec,) = _run(_policy([long_right] * 5), judge)
    assert rec.metadata["class"] == "known" and rec.metadata["stages"]["judged_by_judge"] == 5
    prompt = judge.calls[0][0][-1]["content"]
    assert "Reference answer: 1874" in prompt and "Ada Lorne" in prompt and "informative" in prompt
    (rec,) = _run(_policy([long_right] * 5), _judge('{"correct": 0, "informative": 1}'))
    assert rec.metadata["class"] == "unknown"


def test_unparseable_judge_is_retried_then_recorded():
    long_answer = "Nobody can be certain, but most sources would place the opening some time in the late nineteenth century."
    judge = _judge("I think this answer is pretty good overall.")
    (rec,) = _run(_policy([long_answer] * 5), judge, judge_retries=2)
    assert rec.metadata["class"] == "unjudged" and rec.selected == [] and rec.pairs == []
    verdict = rec.candidates[0].verdicts[0]
    assert not verdict.passed and "could not be used" in verdict.feedback
    assert len(verdict.details["judge"]["attempts"]) == 3 and len(judge.calls) == 15


def test_snippet_without_a_checkable_fact_is_a_failed_record_with_the_reason():
    (rec,) = _run(_policy(["x"], question="NONE"), item={"id": "d", "text": "Ah, what a lovely, lovely day it is."})
    assert rec.status == "failed" and "no checkable fact" in rec.error and "found none" in rec.error
    assert rec.metadata["stages"] == {"snippets": 1, "questions_written": 0, "questions_dropped": 0,
                                      "question_outputs_unparsed": 0}


def test_questions_whose_answer_is_not_in_the_snippet_are_dropped():
    bad = ('{"question": "Who built the Lornmouth swing bridge?", "answer": "Isambard Brunel"}\n'
           '{"question": "What did the passage say about 1874?", "answer": "bridge"}\n'
           '{"question": "When was the bridge of 1874 built?", "answer": "1874"}')
    (rec,) = _run(_policy(["x"], question=bad), question_attempts=2)
    assert rec.status == "failed" and "not in the snippet" in rec.error
    reasons = " ".join(rec.metadata["dropped_questions"])
    assert "refers to the passage" in reasons and "contains its answer" in reasons
    assert rec.metadata["stages"]["questions_dropped"] == 6  # three per attempt, two attempts


def test_item_with_its_own_question_skips_the_writer():
    item = {"id": "d", "text": SNIPPET, "question": "Who designed the Lornmouth swing bridge?", "answer": "Ada Lorne"}
    (rec,) = _run(_policy(["Ada Lorne"] * 5), item=item)
    assert rec.metadata["class"] == "known" and rec.metadata["reference_answer"] == "Ada Lorne"


def test_bad_items_and_configs_are_errors():
    with pytest.raises(ValueError, match="both `question` and `answer`"):
        FactualityItem.model_validate({"text": "x", "question": "q?"})
    with pytest.raises(ValueError, match="at least 1 character"):
        FactualityItem.model_validate({"text": ""})
    with pytest.raises(ValueError, match="must contain \\{question\\}"):
        FactualityConfig(refusal_instruction="Refuse politely.")


def test_matching_helpers():
    assert exact_match("The Eiffel Tower!", "eiffel tower") and not exact_match("Eiffel", "Eiffel Tower")
    assert token_f1("Paris France", "Paris") == pytest.approx(2 / 3) and token_f1("London", "Paris") == 0
    assert contains("It opened in 1874.", "1874") and not contains("18745", "1874")
    d = DeclineDetector()
    assert d.declines("I don\u2019t know.") and d.declines("I'm not certain of that") and not d.declines("It is 1874.")
    assert parse_questions("Question: Who?\nAnswer: Ada") == parse_questions('[{"question": "Who?", "answer": "Ada"}]')
    pieces = split_snippets("A" * 50 + "\n\n" + "B. " * 300 + "\n\nC" * 3, 100, 400)
    assert all(len(p) <= 400 for p in pieces) and len(pieces) >= 3


def test_corpus_sampler_spreads_topics_and_documents(tmp_path):
    for topic, docs in {"big": 6, "small": 1}.items():
        (tmp_path / topic).mkdir()
        for d in range(docs):
            (tmp_path / topic / f"doc{d}.txt").write_text("\n\n".join(f"Paragraph {i} of {topic} {d}. " * 12
                                                                     for i in range(5)))
    items = sample_snippets(iter_documents([tmp_path]), 6, seed=1, min_chars=50, max_chars=400)
    topics = [it["topic"] for it in items]
    assert topics.count("small") == 3 and topics.count("big") == 3  # the small topic is not crowded out
    assert len({it["document"] for it in items if it["topic"] == "big"}) == 3  # one snippet per big document
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text('{"id": "a", "body": "' + "Alpha beta. " * 30 + '"}\n{"id": "b"}\n')
    problems = []
    docs = list(iter_documents([jsonl], text_field="body", problems=problems))
    assert [d["id"] for d in docs] == ["a"] and "no text" in problems[0].message


def test_example_corpus_items_fit_the_generator():
    rows = [json.loads(x) for x in (EXAMPLES / "data/knowledge/snippets.jsonl").read_text().splitlines()]
    assert len({r["topic"] for r in rows}) >= 3
    for row in rows:
        FactualityItem.model_validate(row)
