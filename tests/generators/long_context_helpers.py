"""Shared by the long-context generator tests: documents with one checkable fact per section, a run
context wired with a policy and a judge backend, and scripted answers for both (test doubles: a
random tiny model writes neither parseable questions nor judgements)."""

from __future__ import annotations

import asyncio
import json

from synthgen.context import RunContext, TimedLLM, Timers
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig

FILLER = ("The tide came in over the flats and went out again, and the gulls followed it as they always had. ")


def section(k: int, filler: int = 3) -> str:
    return (f"Section {k}. The keeper of lighthouse {k} was Mara Quill{k}, who arrived in the year {1800 + k}. "
            + FILLER * filler + "\n\n")


def document(sections: int, filler: int = 3) -> str:
    return "".join(section(k, filler) for k in range(sections))


def qa_rules(sections: int, *, bad_answer_in: int | None = None) -> list[dict]:
    """One rule per section: a passage containing 'lighthouse k' gets a question about section k."""
    rules = []
    for k in range(sections):
        answer = "Zorblax" if k == bad_answer_in else f"Mara Quill{k}"
        pairs = [{"question": f"Who kept lighthouse {k}?", "answer": answer},
                 {"question": f"In which year did the keeper of lighthouse {k} arrive?", "answer": str(1800 + k)}]
        rules.append({"last_user": "question-answer pairs", "context": [f"lighthouse {k} was"],
                      "responses": ["Here you go:\n```json\n" + json.dumps(pairs) + "\n```"]})
    return rules


JUDGE_OK = {"last_user": "", "responses": [('{"supported": 1, "answers": 1, "faithful": 1, "coverage": 1, '
                                           '"reason": "fine"}')]}
JUDGE_REJECTS_ZORBLAX = {"last_user": "## Assistant response\nZorblax",
                         "responses": ['{"supported": 0, "answers": 1, "reason": "not in the passage"}']}


def scripted(rules: list[dict], default: str = "") -> ScriptedPolicyForTests:
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=rules, default=default))


def run_context(policy, judge, *, seed: int = 0, generator=None) -> RunContext:
    timers = Timers()
    llm = {"policy": TimedLLM("policy", policy, timers, asyncio.Semaphore(8)),
           "judge": TimedLLM("judge", judge, timers, asyncio.Semaphore(8))}
    return RunContext(run_name="test", seed=seed, llm=llm, timers=timers,
                      generator_name=getattr(generator, "name", ""), generator_version=getattr(generator, "version", ""))
