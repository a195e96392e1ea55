"""The checkable instructions of the ``instructions`` verifier: one checker per instruction id.

Each instruction is an id with typed arguments (a small pydantic model, strict: ``count: "3"`` is an
error, not a 3). A checker returns ``(passed, feedback)``; the feedback says what the response did
and what to change, so a model can act on it in a correction turn. ``describe`` turns an
instruction into the sentence a system prompt or user prompt states (used by ``steerability``).

The forms of the checks follow the public IFEval benchmark (Zhou et al. 2023: word/sentence counts,
``<<title>>``, ``*highlighted*`` sections, ``******`` between two responses, ``P.S.`` postscripts,
``[placeholder]`` brackets, response language through langdetect); the code is ours.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

Relation = Literal["at_least", "at_most", "exactly", "less_than", "more_than"]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NoArgs(_Args):
    pass


class CountArgs(_Args):
    relation: Relation = "at_least"
    count: int = Field(..., ge=0)


class ParagraphArgs(CountArgs):
    relation: Relation = "exactly"
    separator: Literal["blank_line", "***"] = Field(
        "blank_line", description="paragraphs are split by blank lines, or by a '***' divider line (IFEval)")


class SectionArgs(_Args):
    count: int = Field(..., ge=1)
    marker: str = Field("Section", min_length=1, description="each section starts with '<marker> <number>'")


class KeywordsArgs(_Args):
    keywords: list[str] = Field(..., min_length=1)


class KeywordFrequencyArgs(CountArgs):
    keyword: str = Field(..., min_length=1)


class LetterFrequencyArgs(CountArgs):
    letter: str = Field(..., min_length=1, max_length=1)


class PhraseArgs(_Args):
    phrase: str = Field(..., min_length=1)


class LanguageArgs(_Args):
    language: str = Field(..., min_length=2, description="ISO 639-1 code as langdetect reports it: en, fr, de...")


class AtLeastArgs(_Args):
    count: int = Field(1, ge=1)


class PostscriptArgs(_Args):
    marker: str = Field("P.S.", min_length=1)


class RepeatArgs(_Args):
    prompt_to_repeat: str = Field("", description="default: the record's last user message")


_WORD = re.compile(r"\w+(?:['\u2019-]\w+)*")
# a sentence ends at . ! ? (one or more, maybe closing quotes/brackets) followed by whitespace and then
# an upper-case letter, digit or opening quote; abbreviations and decimals do not end sentences
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|vs|etc|e\.g|i\.e|No|Fig|approx|Inc|Ltd|Co)\.$", re.I)
_SENT_END = re.compile(r"[.!?]+[\"')\]]*(?=\s+[\"'(\[]?[A-Z0-9\u00C0-\u024F]|\s*$)")
_BULLET = re.compile(r"^\s*(?:[*-]|\d+[.)])\s+\S", re.M)
_HIGHLIGHT = re.compile(r"\*\*[^\n*]+\*\*|\*[^\n*]+\*")
_PLACEHOLDER = re.compile(r"\[[^\[\]\n]+\]")
_TITLE = re.compile(r"<<([^\n<>]+)>>")
_SPLIT_TWO = "******"


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentences(text: str) -> list[str]:
    out, start = [], 0
    for m in _SENT_END.finditer(text):
        piece = text[start:m.end()]
        if _ABBREV.search(text[start:m.start() + 1]):
            continue
        if piece.strip():
            out.append(piece.strip())
        start = m.end()
    tail = text[start:].strip()
    if words(tail):
        out.append(tail)
    return [s for s in out if words(s)]


def paragraphs(text: str, separator: str = "blank_line") -> list[str]:
    parts = re.split(r"^\s*\*\*\*\s*$", text, flags=re.M) if separator == "***" else re.split(r"\n\s*\n", text)
    return [p for p in (x.strip() for x in parts) if p]


def relation_holds(value: int, relation: str, count: int) -> bool:
    return {"at_least": value >= count, "at_most": value <= count, "exactly": value == count,
            "less_than": value < count, "more_than": value > count}[relation]


def _rel_text(relation: str, count: int, noun: str) -> str:
    return f"{relation.replace('_', ' ')} {count} {noun}"


def _counted(value: int, a: CountArgs, noun: str) -> tuple[bool, str]:
    ok = relation_holds(value, a.relation, a.count)
    if ok:
        return True, ""
    fix = "add" if value < a.count or (a.relation == "more_than" and value == a.count) else "remove"
    return False, f"the response has {value} {noun}; it must have {_rel_text(a.relation, a.count, noun)} ({fix} some)"


def _keyword_count(text: str, keyword: str) -> int:
    return len(re.findall(r"(?<!\w)" + re.escape(keyword) + r"(?!\w)", text, flags=re.I))


def _strip_fence(text: str) -> str:
    s = text.strip()
    m = re.fullmatch(r"```(?:json|JSON)?\s*\n?(.*?)\n?```", s, flags=re.S)
    return m.group(1).strip() if m else s


# -- checkers: (response, args) -> (passed, feedback) -------------------------------------------------

def _word_count(r: str, a: CountArgs) -> tuple[bool, str]:
    return _counted(len(words(r)), a, "words")


def _sentence_count(r: str, a: CountArgs) -> tuple[bool, str]:
    return _counted(len(sentences(r)), a, "sentences")


def _paragraph_count(r: str, a: ParagraphArgs) -> tuple[bool, str]:
    ok, fb = _counted(len(paragraphs(r, a.separator)), a, "paragraphs")
    sep = "a line with only ***" if a.separator == "***" else "a blank line"
    return ok, fb + (f"; separate paragraphs with {sep}" if fb else "")


def _bullet_count(r: str, a: CountArgs) -> tuple[bool, str]:
    ok, fb = _counted(len(_BULLET.findall(r)), a, "bullet points")
    return ok, fb + ("; start each bullet line with '* ' or '- '" if fb else "")


def _section_count(r: str, a: SectionArgs) -> tuple[bool, str]:
    found = len(re.findall(r"(?:^|\n)\s*[#*]*\s*" + re.escape(a.marker) + r"\s+\d+", r))
    if found >= a.count:
        return True, ""
    return False, (f"the response has {found} sections marked '{a.marker} N'; it needs at least {a.count}, "
                   f"each starting on its own line with '{a.marker} 1', '{a.marker} 2', ...")


def _json_format(r: str, a: NoArgs) -> tuple[bool, str]:
    try:
        json.loads(_strip_fence(r))
    except ValueError as exc:
        return False, f"the response is not valid JSON ({exc}); reply with one JSON value and nothing around it"
    return True, ""


def _title(r: str, a: NoArgs) -> tuple[bool, str]:
    if any(t.strip() for t in _TITLE.findall(r)):
        return True, ""
    return False, "the response has no title; put one on its own line wrapped in double angular brackets, like <<my title>>"


def _keywords_include(r: str, a: KeywordsArgs) -> tuple[bool, str]:
    missing = [k for k in a.keywords if _keyword_count(r, k) == 0]
    return (not missing), (f"the response does not mention: {', '.join(missing)}; include each of them" if missing else "")


def _keywords_forbid(r: str, a: KeywordsArgs) -> tuple[bool, str]:
    present = [k for k in a.keywords if _keyword_count(r, k) > 0]
    return (not present), (f"the response uses forbidden words: {', '.join(present)}; rephrase without them"
                           if present else "")


def _keyword_frequency(r: str, a: KeywordFrequencyArgs) -> tuple[bool, str]:
    return _counted(_keyword_count(r, a.keyword), a, f"occurrences of '{a.keyword}'")


def _letter_frequency(r: str, a: LetterFrequencyArgs) -> tuple[bool, str]:
    return _counted(r.lower().count(a.letter.lower()), a, f"occurrences of the letter '{a.letter}'")


def _lowercase(r: str, a: NoArgs) -> tuple[bool, str]:
    bad = sorted({w for w in words(r) if w != w.lower()})
    return (not bad and r.strip() != ""), (f"write everything in lowercase; these words have capitals: "
                                           f"{', '.join(bad[:8])}" if bad else ("the response is empty" if not r.strip() else ""))


def _uppercase(r: str, a: NoArgs) -> tuple[bool, str]:
    bad = sorted({w for w in words(r) if w != w.upper()})
    return (not bad and r.strip() != ""), (f"write everything in CAPITAL letters; these words are not: "
                                           f"{', '.join(bad[:8])}" if bad else ("the response is empty" if not r.strip() else ""))


def _capital_word_frequency(r: str, a: CountArgs) -> tuple[bool, str]:
    caps = [w for w in words(r) if w.isupper() and any(ch.isalpha() for ch in w)]
    return _counted(len(caps), a, "words in all capital letters")


def _no_commas(r: str, a: NoArgs) -> tuple[bool, str]:
    n = r.count(",") + r.count("\uff0c")
    return n == 0, (f"the response has {n} commas; rewrite it without any comma" if n else "")


def _start_with(r: str, a: PhraseArgs) -> tuple[bool, str]:
    ok = r.strip().lower().startswith(a.phrase.strip().lower())
    return ok, ("" if ok else f"the response must begin with exactly: {a.phrase!r}")


def _end_with(r: str, a: PhraseArgs) -> tuple[bool, str]:
    ok = r.strip().lower().endswith(a.phrase.strip().lower())
    return ok, ("" if ok else f"the response must end with exactly: {a.phrase!r}, with nothing after it")


def _quotation(r: str, a: NoArgs) -> tuple[bool, str]:
    s = r.strip()
    ok = len(s) > 1 and s[0] == '"' and s[-1] == '"'
    return ok, ("" if ok else "wrap the whole response in double quotation marks, starting and ending with \"")


def _language(r: str, a: LanguageArgs) -> tuple[bool, str]:
    from verifiers._langid import detect_language

    found = detect_language(r)
    if found is None:
        return False, f"no language could be detected in the response; write it in '{a.language}'"
    ok = found == a.language.lower()
    return ok, ("" if ok else f"the response is in '{found}'; it must be written entirely in '{a.language}'")


def _placeholders(r: str, a: AtLeastArgs) -> tuple[bool, str]:
    n = len(_PLACEHOLDER.findall(r))
    return n >= a.count, ("" if n >= a.count else
                          f"the response has {n} placeholders; it needs at least {a.count} in square brackets, like [name]")


def _postscript(r: str, a: PostscriptArgs) -> tuple[bool, str]:
    marker = r"\s*".join(re.escape(part) for part in a.marker.split())
    ok = re.search(r"(?:^|\n)\s*" + marker + r"\s*\S", r, flags=re.I) is not None
    return ok, ("" if ok else f"end the response with a postscript on its own line starting with {a.marker!r}")


def _highlighted_sections(r: str, a: AtLeastArgs) -> tuple[bool, str]:
    n = sum(1 for h in _HIGHLIGHT.findall(r) if h.strip("*").strip())
    return n >= a.count, ("" if n >= a.count else
                          f"the response highlights {n} sections; highlight at least {a.count} with markdown, "
                          "like *highlighted section*")


def _repeat_prompt(r: str, a: RepeatArgs) -> tuple[bool, str]:
    if not a.prompt_to_repeat.strip():
        return False, "there is no request to repeat (give `prompt_to_repeat` or a user message)"
    ok = r.strip().lower().startswith(a.prompt_to_repeat.strip().lower())
    return ok, ("" if ok else "first repeat the request word for word, without change, then give the answer")


def _two_responses(r: str, a: NoArgs) -> tuple[bool, str]:
    parts = [p.strip() for p in r.split(_SPLIT_TWO)]
    if len(parts) == 2 and all(parts) and parts[0] != parts[1]:
        return True, ""
    return False, (f"give exactly two different responses separated by a line of six asterisks ({_SPLIT_TWO}); "
                   f"found {len([p for p in parts if p])} part(s)")


@dataclass(frozen=True)
class InstructionSpec:
    id: str
    args: type[_Args]
    check: Callable[[str, Any], tuple[bool, str]]
    describe: Callable[[Any], str]


def _rel(a: CountArgs, noun: str) -> str:
    return _rel_text(a.relation, a.count, noun)


SPECS: dict[str, InstructionSpec] = {s.id: s for s in (
    InstructionSpec("word_count", CountArgs, _word_count, lambda a: f"Answer with {_rel(a, 'words')}."),
    InstructionSpec("sentence_count", CountArgs, _sentence_count, lambda a: f"Answer with {_rel(a, 'sentences')}."),
    InstructionSpec("paragraph_count", ParagraphArgs, _paragraph_count, lambda a: (
        f"Write {_rel(a, 'paragraphs')}, separated by "
        + ("a line with only ***." if a.separator == "***" else "blank lines."))),
    InstructionSpec("bullet_count", CountArgs, _bullet_count,
                    lambda a: f"Format the answer as {_rel(a, 'markdown bullet points')} (lines starting with '* ')."),
    InstructionSpec("section_count", SectionArgs, _section_count, lambda a: (
        f"Divide the answer into {a.count} sections, each starting with '{a.marker} X' on its own line.")),
    InstructionSpec("json_format", NoArgs, _json_format, lambda a: "Reply in valid JSON only, with nothing around it."),
    InstructionSpec("title", NoArgs, _title,
                    lambda a: "Give the answer a title wrapped in double angular brackets, like <<title>>."),
    InstructionSpec("keywords_include", KeywordsArgs, _keywords_include,
                    lambda a: f"Mention these words: {', '.join(a.keywords)}."),
    InstructionSpec("keywords_forbid", KeywordsArgs, _keywords_forbid,
                    lambda a: f"Never use these words: {', '.join(a.keywords)}."),
    InstructionSpec("keyword_frequency", KeywordFrequencyArgs, _keyword_frequency,
                    lambda a: f"Use the word '{a.keyword}' {_rel(a, 'times')}."),
    InstructionSpec("letter_frequency", LetterFrequencyArgs, _letter_frequency,
                    lambda a: f"Use the letter '{a.letter}' {_rel(a, 'times')}."),
    InstructionSpec("lowercase", NoArgs, _lowercase, lambda a: "Write everything in lowercase letters, no capitals."),
    InstructionSpec("uppercase", NoArgs, _uppercase, lambda a: "Write everything in CAPITAL LETTERS."),
    InstructionSpec("capital_word_frequency", CountArgs, _capital_word_frequency,
                    lambda a: f"Use {_rel(a, 'words written in all capital letters')}."),
    InstructionSpec("no_commas", NoArgs, _no_commas, lambda a: "Do not use any commas."),
    InstructionSpec("start_with", PhraseArgs, _start_with, lambda a: f"Begin your answer with exactly: {a.phrase}"),
    InstructionSpec("end_with", PhraseArgs, _end_with,
                    lambda a: f"End your answer with exactly: {a.phrase} (nothing may follow it)."),
    InstructionSpec("quotation", NoArgs, _quotation, lambda a: "Wrap your entire answer in double quotation marks."),
    InstructionSpec("language", LanguageArgs, _language,
                    lambda a: f"Respond only in {_language_name(a.language)}, no other language."),
    InstructionSpec("placeholders", AtLeastArgs, _placeholders,
                    lambda a: f"Include at least {a.count} placeholders in square brackets, like [name]."),
    InstructionSpec("postscript", PostscriptArgs, _postscript,
                    lambda a: f"End with a postscript starting with {a.marker}"),
    InstructionSpec("highlighted_sections", AtLeastArgs, _highlighted_sections,
                    lambda a: f"Highlight at least {a.count} sections with markdown, like *highlighted section*."),
    InstructionSpec("repeat_prompt", RepeatArgs, _repeat_prompt, lambda a: (
        "First repeat the request word for word without change, then give your answer.")),
    InstructionSpec("two_responses", NoArgs, _two_responses, lambda a: (
        "Give two different responses, separated by a line of six asterisks: ******")),
)}

_LANGUAGE_NAMES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
                   "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "ja": "Japanese", "zh-cn": "Chinese",
                   "ko": "Korean", "ar": "Arabic", "hi": "Hindi", "sv": "Swedish", "pl": "Polish", "tr": "Turkish"}


def _language_name(code: str) -> str:
    return _LANGUAGE_NAMES.get(code.lower(), code)
