"""The example seed sets are honest: every program passes its own tests in the real sandbox."""

from __future__ import annotations

import json

import pytest

from generators.code._common import CodeItem
from generators.code.self_correction import SnippetItem
from sandboxes.types import ExecRequest
from tests.generators.conftest import EXAMPLES

FUNCTIONS = EXAMPLES / "data" / "code" / "functions.jsonl"
SNIPPETS = EXAMPLES / "data" / "code" / "snippets.jsonl"


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_seed_sets_have_the_promised_size_and_shape():
    items = [CodeItem.model_validate(r) for r in _rows(FUNCTIONS)]
    assert len(items) >= 30 and len({i.id for i in items}) == len(items)
    assert all(i.tests and i.cases and i.io and i.entry_point in i.code for i in items)
    snippets = [SnippetItem.model_validate(r) for r in _rows(SNIPPETS)]
    assert len(snippets) >= 20 and len({s.snippet_language for s in snippets}) >= 6


async def test_every_seed_program_passes_its_asserts_and_cases_in_the_sandbox(code_sandbox):
    items = [CodeItem.model_validate(r) for r in _rows(FUNCTIONS)]
    jobs = []
    for item in items:
        jobs.append((item.id, "asserts", None,
                     ExecRequest(language="python", files={"main.py": item.program(with_tests=True)})))
        for case in item.cases:
            jobs.append((item.id, "stdio", case.stdout,
                         ExecRequest(language="python", files={"main.py": item.program(with_tests=False)},
                                     stdin=case.stdin)))
    results = await code_sandbox.run_many([j[3] for j in jobs])
    bad = [(i, kind, r.status.value, r.stderr_text[-200:]) for (i, kind, expected, _), r in zip(jobs, results)
           if not r.ok or (expected is not None and r.stdout_text != expected)]
    assert not bad


@pytest.mark.parametrize("broken", ["assert gcd(12, 18) == 7"])
async def test_a_wrong_assert_fails_in_the_sandbox(code_sandbox, broken):
    """The check above can fail: a wrong expectation is caught."""
    item = CodeItem.model_validate(_rows(FUNCTIONS)[0])
    result = await code_sandbox.run(ExecRequest(language="python", files={"main.py": item.code + "\n" + broken}))
    assert not result.ok and "AssertionError" in result.stderr_text


async def test_every_snippet_parses_and_the_runnable_ones_load_in_the_sandbox(code_sandbox, sandbox_languages):
    from synthgen.records import Candidate, Record
    from verifiers.static import StaticVerifier

    static = StaticVerifier()
    snippets = [SnippetItem.model_validate(r) for r in _rows(SNIPPETS)]
    for s in snippets:
        record = Record(id=s.id or "", metadata={"language": s.snippet_language})
        cand = Candidate(messages=[{"role": "assistant", "content": f"```{s.snippet_language}\n{s.snippet}```"}])
        verdict = await static.verify(record, cand, None)
        assert verdict.passed, (s.id, verdict.feedback)
    # definitions only: loading them must not fail (python, javascript, php, bash)
    runnable = [s for s in snippets if s.snippet_language in {"python", "javascript", "php", "bash"} & sandbox_languages]
    results = await code_sandbox.run_many([ExecRequest(language=s.snippet_language, files={
        {"python": "main.py", "javascript": "main.js", "php": "main.php", "bash": "main.sh"}[s.snippet_language]:
        s.snippet}) for s in runnable])
    assert len(runnable) >= 10
    assert [(s.id, r.status.value, r.stderr_text[-200:]) for s, r in zip(runnable, results) if not r.ok] == []
