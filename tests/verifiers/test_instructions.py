"""The ``instructions`` verifier: every checker both ways, strict and loose; malformed instructions."""

from __future__ import annotations

import pytest

from synthgen.errors import PluginError
from synthgen.registry import Registry
from tests.verifiers.conftest import make_pair
from verifiers._instruction_checks import SPECS, paragraphs, sentences, words
from verifiers.instructions import (Instruction, InstructionError, InstructionsVerifier, check_all, describe,
                                    loose_variants, parse_instructions)

# id, args, a response that satisfies it, a response that violates it (strictly and loosely),
# and where one exists a response that fails strictly but passes once IFEval's loose transformations
# (drop '*', first line, last line) are applied.
CASES = [
    ("word_count", {"relation": "at_most", "count": 5}, "four words right here", "this answer has far too many words",
     "Sure, here is my answer:\nfour words right here"),
    ("word_count", {"relation": "at_least", "count": 3}, "one two three", "one two", None),
    ("sentence_count", {"relation": "exactly", "count": 2}, "Dr. Smith paid 3.5 dollars. He left.",
     "One. Two. Three.", "Here you go.\nThe sky is blue. Grass is green."),
    ("paragraph_count", {"count": 2}, "First para.\n\nSecond para.", "Only one paragraph here.",
     "Intro line\n\nPara one.\n\nPara two."),
    ("paragraph_count", {"count": 2, "separator": "***"}, "First.\n***\nSecond.", "First.\n\nSecond.", None),
    ("bullet_count", {"relation": "exactly", "count": 2}, "* apples\n- pears", "* apples\nand pears",
     "Here:\n* a\n* b\n* extra"),
    ("section_count", {"count": 2}, "Section 1\nintro\nSection 2\nbody", "Section 1\nonly one",
     "*Section* 1\nfoo\n*Section* 2\nbar"),
    ("json_format", {}, '```json\n{"a": 1}\n```', "{'a': 1,}", 'Here is the JSON:\n{"a": 1}'),
    ("title", {}, "<<Poem of joy>>\nLa la la.", "Poem of joy\nLa la la.", None),
    ("keywords_include", {"keywords": ["river", "stone"]}, "A stone sat by the River.", "A stone sat there.", None),
    ("keywords_forbid", {"keywords": ["very"]}, "It is quite good; everything works.", "It is very good.",
     None),
    ("keyword_frequency", {"keyword": "data", "relation": "at_least", "count": 2}, "data beats opinions; data wins.",
     "data beats opinions.", None),
    ("letter_frequency", {"letter": "z", "relation": "at_least", "count": 3}, "Zany zebras buzz.", "A quiet bee.",
     None),
    ("lowercase", {}, "all in lowercase here.", "Not in lowercase.", "Sure! My Answer:\nall in lowercase here."),
    ("uppercase", {}, "ALL IN CAPITALS.", "ALL IN Capitals.", "ALL IN CAPITALS.\nhope this helps"),
    ("capital_word_frequency", {"relation": "at_most", "count": 1}, "This is VERY nice.", "THIS is VERY NICE.",
     "IMPORTANT NOTE FIRST\nThis is VERY nice."),
    ("no_commas", {}, "No commas at all here.", "Well, here is one.", "Sure, here it is:\nNo commas here."),
    ("start_with", {"phrase": "Dear team"}, "Dear team, hello.", "Hello, dear team.", None),
    ("end_with", {"phrase": "Is there anything else I can help with?"},
     "Done. Is there anything else I can help with?", "Is there anything else I can help with? Done.",
     "Done. Is there anything else I can help with?\n(end)"),
    ("quotation", {}, '"Wrapped in quotes."', "Not wrapped.", 'Here is the answer:\n"Wrapped in quotes."'),
    ("language", {"language": "fr"}, "Le renard brun saute par-dessus le chien paresseux dans le jardin.",
     "The quick brown fox jumps over the lazy dog in the garden.", None),
    ("placeholders", {"count": 2}, "Write to [name] at [address].", "Write to [name].", None),
    ("postscript", {}, "Hello there.\n\nP.S. See you soon.", "Hello there. See you soon.", None),
    ("postscript", {"marker": "P.P.S"}, "Hi.\nP.P.S more", "Hi. P.S. more", None),
    ("highlighted_sections", {"count": 2}, "*first part* and **second part**", "*only one* part", None),
    ("repeat_prompt", {"prompt_to_repeat": "Name a color."}, "Name a color. Blue.", "Blue.", None),
    ("two_responses", {}, "Blue.\n******\nRed.", "Blue.\n******\nBlue.", None),
]


def _ids(case):
    return f"{case[0]}-{case[1]}"


def test_every_instruction_id_has_a_case():
    assert {c[0] for c in CASES} == set(SPECS)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_checker_both_ways_strict_and_loose(case):
    ident, args, good, bad, loose_only = case
    inst = parse_instructions([{"id": ident, "args": args}])
    (ok,) = check_all(good, inst)
    assert ok.strict and ok.loose and ok.feedback == ""
    (no,) = check_all(bad, inst)
    assert not no.strict and not no.loose
    assert no.feedback  # says what to change
    if loose_only is not None:
        (lo,) = check_all(loose_only, inst)
        assert not lo.strict and lo.loose, lo


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_every_instruction_describes_itself(case):
    text = describe(Instruction(id=case[0], args=case[1]))
    assert text and text[0].isupper()


async def test_verdict_per_instruction_with_actionable_feedback(ctx):
    meta = {"instructions": [{"id": "word_count", "args": {"relation": "at_most", "count": 5}},
                             {"id": "no_commas"}, {"id": "title"}]}
    record, cand = make_pair("Sure, here is my answer:\n<<T>> four words right", metadata=meta)
    strict = await InstructionsVerifier().verify(record, cand, ctx)
    assert not strict.passed and strict.score == pytest.approx(1 / 3)
    assert "word_count: the response has" in strict.feedback and "without any comma" in strict.feedback
    assert [r["strict"] for r in strict.details["results"]] == [False, False, True]
    loose = await InstructionsVerifier(InstructionsVerifier.Config(mode="loose")).verify(record, cand, ctx)
    assert loose.passed and loose.score == 1.0


async def test_repeat_prompt_defaults_to_the_last_user_message(ctx):
    meta = {"instructions": [{"id": "repeat_prompt"}]}
    record, cand = make_pair("Name a fruit. Apple.", metadata=meta, prompt="Name a fruit.")
    assert (await InstructionsVerifier().verify(record, cand, ctx)).passed
    record, cand = make_pair("Apple.", metadata=meta, prompt="Name a fruit.")
    assert not (await InstructionsVerifier().verify(record, cand, ctx)).passed


async def test_ifeval_layout_and_config_instructions(ctx):
    verifier = InstructionsVerifier(InstructionsVerifier.Config(instructions=[{"id": "no_commas"}]))
    meta = {"instruction_id_list": ["lowercase"], "kwargs": [{}]}
    record, cand = make_pair("all lowercase, but a comma", metadata=meta)
    verdict = await verifier.verify(record, cand, ctx)
    assert [r["id"] for r in verdict.details["results"]] == ["no_commas", "lowercase"]
    assert not verdict.passed and verdict.score == 0.5


async def test_record_without_instructions_passes_with_nothing_checked(ctx):
    record, cand = make_pair("anything")
    verdict = await InstructionsVerifier().verify(record, cand, ctx)
    assert verdict.passed and verdict.details["results"] == []


async def test_unknown_id_on_a_record_is_a_failed_verdict_naming_it(ctx):
    record, cand = make_pair("x", metadata={"instructions": [{"id": "word_cuont", "args": {"count": 3}}]})
    verdict = await InstructionsVerifier().verify(record, cand, ctx)
    assert not verdict.passed and "word_cuont" in verdict.feedback and "word_count" in verdict.feedback
    assert verdict.details["error"]


@pytest.mark.parametrize("bad, message", [
    ([{"id": "nope"}], "unknown instruction id 'nope'; known ids: bullet_count"),
    ([{"id": "word_count", "args": {"count": "3"}}], "count: Input should be a valid integer (got '3')"),
    ([{"id": "word_count", "args": {"count": 3, "relation": "around"}}], "relation"),
    ([{"id": "keywords_include", "args": {"keywords": "river"}}], "keywords: Input should be a valid list"),
    ([{"id": "letter_frequency", "args": {"letter": "ab", "count": 1}}], "letter"),
    ([{"id": "title", "args": {"size": 3}}], "size: Extra inputs are not permitted"),
    ([{"id": "word_count"}], "count: Field required"),
    ("word_count", "must be a list"),
    ([3], "must be an object"),
])
def test_malformed_instructions_are_clear_errors(bad, message):
    with pytest.raises(InstructionError) as info:
        parse_instructions(bad)
    assert message in str(info.value)


def test_unknown_id_in_the_pipeline_config_is_a_plugin_error_listing_known_ids():
    from synthgen.config import PipelineConfig
    from synthgen.item_processor import validate_plugins

    cfg = PipelineConfig.model_validate({
        "name": "x", "sources": [{"path": "x.jsonl"}], "llms": {"policy": {"backend": "transformers"}},
        "generator": {"name": "math_solutions"},
        "verifiers": [{"name": "instructions", "options": {"instructions": [{"id": "no_comas"}]}}]})
    with pytest.raises(PluginError, match=r"verifiers\.0\.options\.instructions.*'no_comas'.*no_commas"):
        validate_plugins(cfg, Registry())


def test_flat_instruction_form_is_accepted():
    (inst,) = parse_instructions([{"id": "word_count", "relation": "at_most", "count": 3}])
    assert inst.args == {"relation": "at_most", "count": 3}


def test_loose_variants_follow_ifeval():
    variants = loose_variants("Sure:\n**body**\nBye")
    assert "Sure:\n**body**\nBye" in variants and "**body**" in variants and "body" in variants
    assert "Sure:\nbody\nBye" in variants and len(variants) == 8


def test_counting_helpers():
    assert len(words("It's a well-known fact, isn't it?")) == 6
    assert sentences("Mr. Brown arrived at 3.30 p.m. today. Then he left! Did he?") == [
        "Mr. Brown arrived at 3.30 p.m. today.", "Then he left!", "Did he?"]
    assert paragraphs("a\n\n\n  \nb\n \nc") == ["a", "b", "c"]


def test_language_detection_without_letters_fails_with_feedback():
    (r,) = check_all("12345 !!!", parse_instructions([{"id": "language", "args": {"language": "en"}}]))
    assert not r.strict and "no language could be detected" in r.feedback
