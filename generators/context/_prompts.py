"""Prompts of the long-context generators and the parsers of what the model writes back.

``parse_qa_pairs`` accepts what models really write: a JSON array (fenced or bare, possibly after
prose), one JSON object per line, ``{"pairs": [...]}``, or ``Q: ... / A: ...`` lines. It returns the
pairs found and, when there are none, the reason; it never raises.
"""

from __future__ import annotations

import re
import string
from typing import Any

from synthgen.text_json import json_values

QA_INSTRUCTIONS = (
    "Write {n} question-answer pairs about the passage below. Each question must be answerable from "
    "the passage alone and must not mention 'the passage' or 'the text'; prefer questions about specific "
    "facts, names, numbers and causes. Keep answers short (a phrase or one sentence) and copy key words "
    "from the passage.\n\nReply with a JSON array and nothing else, for example:\n"
    '[{{"question": "...", "answer": "..."}}]\n\n## Passage\n{passage}'
)

# The training prompt: the document first, the question last (the question is what the model must keep
# in mind after reading up to 128K tokens).
LONG_QA_PROMPT = ("Read the document below and answer the question that follows it.\n\n"
                  "<document>\n{context}\n</document>\n\nQuestion: {question}")

JUDGE_PASSAGE = "Passage:\n{passage}\n\nQuestion: {question}"

SUMMARISE_CHUNK = ("Summarise the following text in a few sentences. Keep names, numbers and the main "
                   "events; add nothing that is not in the text.\n\n## Text\n{text}")
SUMMARISE_SUMMARIES = ("The following are summaries of consecutive parts of one document, in order. Write one "
                       "summary of the whole that keeps the main points of every part; add nothing new.\n\n"
                       "{text}")
LONG_SUMMARY_PROMPT = "Summarise the document below.\n\n<document>\n{context}\n</document>"


def qa_writing_prompt(passage: str, n: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": QA_INSTRUCTIONS.format(n=n, passage=passage)}]


def long_qa_prompt(context: str, question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": LONG_QA_PROMPT.format(context=context, question=question)}]


def judge_passage_messages(passage: str, question: str) -> list[dict[str, str]]:
    """What the judge reads as 'the conversation': the passage the answer must be supported by."""
    return [{"role": "user", "content": JUDGE_PASSAGE.format(passage=passage, question=question)}]


def summary_prompt(text: str, *, of_summaries: bool) -> list[dict[str, str]]:
    template = SUMMARISE_SUMMARIES if of_summaries else SUMMARISE_CHUNK
    return [{"role": "user", "content": template.format(text=text)}]


def long_summary_prompt(context: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": LONG_SUMMARY_PROMPT.format(context=context)}]


# ---- parsing ----------------------------------------------------------------------------------------

def _pair(obj: Any) -> tuple[str, str] | None:
    if not isinstance(obj, dict):
        return None
    low = {str(k).strip().lower(): v for k, v in obj.items()}
    q = low.get("question") or low.get("q")
    a = low.get("answer") or low.get("a")
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        a = str(a)
    if isinstance(q, str) and isinstance(a, str) and q.strip() and a.strip():
        return q.strip(), a.strip()
    return None


def parse_qa_pairs(text: str, limit: int) -> tuple[list[tuple[str, str]], str]:
    """(pairs, reason): up to ``limit`` distinct question-answer pairs; reason is '' when some were found."""
    if not text or not text.strip():
        return [], "the model returned nothing"
    pairs: list[tuple[str, str]] = []
    for value in json_values(text):
        items = value.get("pairs") or value.get("questions") if isinstance(value, dict) else value
        for obj in items if isinstance(items, list) else [value]:
            p = _pair(obj)
            if p:
                pairs.append(p)
    if not pairs:  # "Q: ... A: ..." lines
        for m in re.finditer(r"(?:^|\n)\s*(?:\d+[.)]\s*)?(?:Q|Question)\s*[:.]\s*(.+?)\s*\n\s*(?:A|Answer)\s*[:.]\s*(.+)",
                             text, re.IGNORECASE):
            pairs.append((m.group(1).strip(), m.group(2).strip()))
    unique = list(dict.fromkeys(pairs))[:limit]
    if not unique:
        snippet = " ".join(text.split())[:120]
        return [], f"no question/answer pair parseable from the model output: {snippet!r}"
    return unique, ""


# ---- SQuAD-style span match ---------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation + "“”‘’–—"})


def normalise_answer(text: str) -> str:
    """SQuAD normalisation: lower case, punctuation and articles removed, whitespace collapsed."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def span_in_passage(answer: str, passage: str) -> bool:
    """Whether the normalised answer occurs in the normalised passage on word boundaries."""
    needle = normalise_answer(answer)
    return bool(needle) and f" {needle} " in f" {normalise_answer(passage)} "
