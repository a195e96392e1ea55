"""Rubrics for the LLM judge and the robust parser of its JSON answer.

Built-in rubrics (the Llama 3 paper's quality rubrics, plus two for code):
- ``general``: accuracy, instruction following, tone/presentation (one point each; the paper keeps
  samples with the maximum score);
- ``code``: bug identification, user intention (one point each);
- ``correctness``: is the answer correct (0/1), against ``record.metadata['reference']`` when given;
- ``code_style``: readability, idiomatic use of the language, documentation (1-5 each);
- ``factuality``: correct and informative (0/1 each), an answer judged against a reference passage;
- ``steerability``: adherence to the system prompt and helpfulness (0/1 each);
- ``math_step``: is the last step of a partial math solution correct (0/1; ``math_cot`` step filtering).

``parse_judgement`` accepts what judges really write: a fenced JSON block, JSON followed by prose,
``{"scores": {...}}`` or ``{"accuracy": {"score": 1}}`` nesting, numbers as strings ("1", "4/5"),
booleans, keys in any case. It returns scores or a reason why the output is unusable; never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from synthgen.text_json import json_values


@dataclass(frozen=True)
class Criterion:
    name: str
    description: str
    low: float = 0
    high: float = 1


@dataclass(frozen=True)
class Rubric:
    name: str
    instructions: str
    criteria: tuple[Criterion, ...]


RUBRICS: dict[str, Rubric] = {r.name: r for r in (
    Rubric("general", "Judge the quality of the assistant's response to the user.", (
        Criterion("accuracy", "1 if the response is factually and logically correct, else 0"),
        Criterion("instruction_following", "1 if it does everything the user asked, in the requested form, else 0"),
        Criterion("tone", "1 if the tone and presentation are appropriate, clear and well formatted, else 0"),
    )),
    Rubric("code", "Judge the assistant's response to a coding request.", (
        Criterion("bug_identification", "1 if the code has no bugs (or the response finds and fixes the bugs "
                                        "present), else 0"),
        Criterion("user_intention", "1 if the response does what the user intended, else 0"),
    )),
    Rubric("correctness", "Decide whether the assistant's final answer is correct.", (
        Criterion("correct", "1 if the final answer is correct (matches the reference when one is given), else 0"),
    )),
    Rubric("code_style", "Rate the style of the code in the assistant's response.", (
        Criterion("readability", "1 (unreadable) to 5 (clear names, simple structure)", 1, 5),
        Criterion("idiomatic", "1 (fights the language) to 5 (idiomatic, uses the standard library well)", 1, 5),
        Criterion("documentation", "1 (none where needed) to 5 (helpful comments and docstrings)", 1, 5),
    )),
    # Tool use: the final answer of an executed tool-call trace (the conversation shows the calls and outputs).
    Rubric("tool_use", "The assistant called tools and then gave a final answer. Judge the final answer.", (
        Criterion("uses_tool_outputs", "1 if the answer rests on what the tools returned (no numbers or facts "
                                       "contradicting or ignoring the tool outputs), else 0"),
        Criterion("answers_question", "1 if it answers what the user asked, completely and clearly, else 0"),
    )),
    # Long context: an answer is judged against the passage it was written from (the conversation
    # holds the passage and the question), a summary against the text it summarises.
    Rubric("passage_qa", "Judge the assistant's answer to the question using ONLY the passage in the conversation.", (
        Criterion("supported", "1 if everything the answer states is supported by the passage, else 0"),
        Criterion("answers", "1 if it answers the question asked (and agrees with the reference when given), else 0"),
    )),
    Rubric("summary", "Judge the assistant's summary of the text in the conversation.", (
        Criterion("faithful", "1 if every statement of the summary is supported by the text, else 0"),
        Criterion("coverage", "1 if the summary covers the main points of the text, else 0"),
    )),
    # factuality generator: an answer given WITHOUT the passage, judged against it (reference = passage + answer)
    Rubric("factuality", "A factual question was answered from memory. Judge the answer against the reference "
           "passage, which is the source of truth, and the short reference answer taken from it.", (
        Criterion("correct", "1 if the answer states the same fact as the reference answer and contradicts nothing "
                             "in the passage, else 0"),
        Criterion("informative", "1 if the answer commits to a specific answer (a name, number, date, fact), 0 if it "
                                 "declines, hedges without answering, or says nothing specific"),
    )),
    # math_cot step filtering: the response is a solution cut after step k; only its last step is judged.
    Rubric("math_step", "The assistant's response is a partial solution to the math problem in the conversation, "
           "cut after its latest step. Judge ONLY that last step, given the problem and the steps before it.", (
        Criterion("step_correct", "1 if the last step is mathematically correct and follows from the problem and "
                                  "the previous steps, else 0"),
    )),
    # steerability generator: does the response keep to the system prompt (persona, tone, audience...)?
    Rubric("steerability", "The system prompt sets rules for the assistant. Judge whether the last assistant "
           "response keeps to every rule of the system prompt and still helps the user.", (
        Criterion("adherence", "1 if the response follows every instruction of the system prompt (persona, tone, "
                               "format, length, language, audience, constraints), else 0"),
        Criterion("helpfulness", "1 if, within those rules, the response answers the user's request well, else 0"),
    )),
)}


def build_prompt(rubric: Rubric, conversation: str, response: str, reference: str | None) -> list[dict[str, str]]:
    lines = [f"- {c.name}: {c.description} (a number from {c.low:g} to {c.high:g})" for c in rubric.criteria]
    example = ", ".join(f'"{c.name}": {c.high:g}' for c in rubric.criteria)
    user = (f"{rubric.instructions}\n\n## Conversation\n{conversation}\n\n## Assistant response\n{response}\n\n")
    if reference:
        user += f"## Reference answer\n{reference}\n\n"
    user += ("## Criteria\n" + "\n".join(lines) + "\n\nReply with one JSON object and nothing else, with a number per "
             f'criterion and a short "reason", for example: {{{example}, "reason": "..."}}')
    return [{"role": "system", "content": "You are a strict, fair grader. You answer in JSON."},
            {"role": "user", "content": user}]


@dataclass
class Judgement:
    scores: dict[str, float]  # raw, per criterion
    reason: str = ""
    error: str = ""  # why the output is unusable; '' when fine


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _objects(text: str) -> list[Any]:
    """Every JSON object found in ``text``: fenced blocks first, then any '{' that starts one."""
    return json_values(text, nested=True, objects_only=True)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        for k in ("score", "value", "points", "rating"):
            if k in value:
                return _number(value[k])
        return None
    if isinstance(value, str):
        s = value.strip().lower()
        if s in ("yes", "true", "pass", "correct"):
            return 1.0
        if s in ("no", "false", "fail", "incorrect"):
            return 0.0
        m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*(?:/\s*\d+(?:\.\d+)?)?", s)
        if m:
            return float(m.group(1))
    return None


def parse_judgement(text: str, rubric: Rubric) -> Judgement:
    """Scores per criterion from the judge's text, or a Judgement with ``error`` set."""
    if not text or not text.strip():
        return Judgement({}, error="the judge returned nothing")
    wanted = {c.name: c for c in rubric.criteria}
    best: Judgement | None = None
    for obj in _objects(text):
        flat = {_key(k): v for k, v in obj.items()}
        for nest in ("scores", "criteria", "ratings"):
            if isinstance(flat.get(nest), dict):
                flat.update({_key(k): v for k, v in flat[nest].items()})
        scores: dict[str, float] = {}
        problems: list[str] = []
        for name, crit in wanted.items():
            if name not in flat:
                continue
            value = _number(flat[name])
            if value is None:
                problems.append(f"{name}: {flat[name]!r} is not a number")
            elif not crit.low <= value <= crit.high:
                problems.append(f"{name}: {value:g} is outside {crit.low:g}..{crit.high:g}")
            else:
                scores[name] = value
        missing = [n for n in wanted if n not in scores and not any(p.startswith(n + ":") for p in problems)]
        reason = flat.get("reason") or flat.get("explanation") or ""
        error = "; ".join(problems + ([f"missing criteria: {', '.join(missing)}"] if missing else []))
        candidate = Judgement(scores, str(reason)[:1000], error)
        if not error:
            return candidate
        if best is None or len(candidate.scores) > len(best.scores):
            best = candidate
    if best is None:
        snippet = " ".join(text.split())[:120]
        return Judgement({}, error=f"no JSON object in the judge output: {snippet!r}")
    return best
