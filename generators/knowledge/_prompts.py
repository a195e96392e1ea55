"""Prompts and parsers of the knowledge generators: question writing and refusals (factuality)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from synthgen.text_json import json_values

QUESTION_SYSTEM = "You write precise quiz questions from reference texts. You follow the output format exactly."

QUESTION_PROMPT = """Read the passage and write {n} factual question(s) that it answers.

Rules:
- Each answer is a short phrase (at most {max_words} words) copied exactly from the passage: a name, a number, a date, a place.
- Each question must make sense on its own, without the passage: name its subject; never say "the passage", "the text" or "the author".
- The question must not contain its answer.
- If the passage states no checkable fact, reply with the single word NONE.

Reply with one JSON object per line and nothing else, like:
{{"question": "In which year did the first ascent of the peak take place?", "answer": "1865"}}

## Passage{title}
{snippet}"""

DEFAULT_REFUSAL_INSTRUCTION = """You do not reliably know the answer to the question below, and a guess could be wrong.
Write the reply you would give the user: in one or two sentences, say plainly that you are not sure of the answer
and do not want to guess; do not give any candidate answer; you may suggest where they could check.

Question: {question}"""

DEFAULT_REFUSAL_TEMPLATE = ("I'm not sure about that, and I would rather not guess: I don't have reliable information "
                            "to answer it. A trusted reference on the subject would be the best place to check.")

_PASSAGE_WORDS = re.compile(r"\b(?:the|this|that|above|given) (?:passage|text|snippet|excerpt|article|paragraph)\b"
                            r"|\bthe author\b", re.I)


@dataclass(frozen=True)
class QA:
    question: str
    answer: str


def question_prompt(snippet: str, title: str | None, n: int, max_words: int) -> list[dict[str, str]]:
    user = QUESTION_PROMPT.format(n=n, max_words=max_words, snippet=snippet.strip(),
                                  title=f" (from: {title})" if title else "")
    return [{"role": "system", "content": QUESTION_SYSTEM}, {"role": "user", "content": user}]


def says_none(text: str) -> bool:
    return re.fullmatch(r"\W*none\W*", text.strip(), flags=re.I) is not None


def parse_questions(text: str) -> list[QA]:
    """Question/answer pairs from JSON objects (one per line, a list, or fenced) or ``Question:/Answer:`` lines."""
    found: list[QA] = []
    for obj in json_values(text, nested=True):
        for o in obj if isinstance(obj, list) else [obj]:
            if isinstance(o, dict):
                q, a = o.get("question"), o.get("answer")
                if isinstance(q, str) and isinstance(a, (str, int, float)) and not isinstance(a, bool):
                    qa = QA(q.strip(), str(a).strip())
                    if qa not in found:
                        found.append(qa)
    if not found:
        for q, a in re.findall(r"(?im)^\s*(?:Q(?:uestion)?\s*\d*)\s*[:.]\s*(.+?)\s*\n\s*(?:A(?:nswer)?\s*\d*)\s*[:.]"
                               r"\s*(.+?)\s*$", text):
            found.append(QA(q.strip(), a.strip()))
    return found


def question_problem(qa: QA, snippet: str, max_words: int) -> str:
    """Why a written question cannot be used ('' when it can)."""
    from generators.knowledge._matching import contains, tokens

    if not qa.question or not qa.answer:
        return "empty question or answer"
    if len(tokens(qa.answer)) == 0:
        return "the answer has no words"
    if len(tokens(qa.answer)) > max_words:
        return f"the answer is longer than {max_words} words"
    if not contains(snippet, qa.answer):
        return "the answer is not in the snippet"
    if contains(qa.question, qa.answer):
        return "the question contains its answer"
    if _PASSAGE_WORDS.search(qa.question):
        return "the question refers to the passage and cannot stand alone"
    return ""
