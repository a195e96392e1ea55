"""code_exec against the real sandbox (the Docker pool for every language; bubblewrap for a subset)."""

import pytest

from tests.verifiers.conftest import make_pair
from tests.verifiers.fixtures.code_cases import ASSERT, IO, IO_CASES, SQL, SQL_CASES, SQL_PREFIX
from verifiers.code_exec import CodeExecConfig, CodeExecVerifier, outputs_match

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ASSERT_CASES = [(lang, name, code) for lang, d in ASSERT.items()
                for name, code in [("correct", d["correct"]), *d["wrong"].items()]]
# typescript's wrong programs run in assertion style only: tsc takes seconds per case here.
IO_RUNS = [(lang, name, code) for lang, d in IO.items()
           for name, code in [("correct", d["correct"]), *(d["wrong"].items() if lang != "typescript" else [])]]


def fenced(lang, code):
    return f"Solution:\n```{lang}\n{code}```\n"


def assert_record(lang, code):
    d = ASSERT[lang]
    meta = {"language": lang, "tests": d["tests"]}
    if "entry_point" in d:
        meta["entry_point"] = d["entry_point"]
    return make_pair(fenced(lang, code), metadata=meta)


@pytest.mark.parametrize("lang,name,code", ASSERT_CASES, ids=[f"{l}-{n}" for l, n, _ in ASSERT_CASES])
def test_assertion_programs(docker_sandbox, lang, name, code):
    record, cand = assert_record(lang, code)
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    assert verdict.details["style"] == "assert"
    if name == "correct":
        assert verdict.passed and verdict.score == 1.0, verdict.feedback
    else:
        assert not verdict.passed and verdict.score == 0.0, f"{lang} {name} was accepted"
        assert verdict.feedback and verdict.details["status"] in ("runtime_error", "compile_error")


def test_python_assertion_feedback_has_actual_and_expected(docker_sandbox):
    record, cand = assert_record("python", ASSERT["python"]["wrong"]["off_by_one"])
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    assert "assert candidate(1) == 1" in verdict.feedback
    assert "left (actual): 0" in verdict.feedback and "right (expected): 1" in verdict.feedback


@pytest.mark.parametrize("lang,name,code", IO_RUNS, ids=[f"{l}-{n}" for l, n, _ in IO_RUNS])
def test_stdin_stdout_cases(docker_sandbox, lang, name, code):
    record, cand = make_pair(fenced(lang, code), metadata={"language": lang, "tests": IO_CASES})
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    cases = verdict.details["cases"]
    assert len(cases) == len(IO_CASES) and verdict.details["style"] == "io"
    if name == "correct":
        assert verdict.passed and verdict.score == 1.0, verdict.feedback
    else:
        assert not verdict.passed and 0.0 <= verdict.score < 1.0
        first_bad = next(c for c in cases if not c["passed"])
        assert f"test {first_bad['index'] + 1} failed" in verdict.feedback
        assert "expected output" in verdict.feedback and "actual output" in verdict.feedback


@pytest.mark.parametrize("name", ["correct", "boundary", "wrong_type"])
def test_sql_with_schema_prefix(docker_sandbox, name):
    code = SQL["correct"] if name == "correct" else SQL["wrong"][name]
    record, cand = make_pair(fenced("sql", code), metadata={"language": "sql", "tests": SQL_CASES,
                                                             "prefix": SQL_PREFIX})
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    assert verdict.passed is (name == "correct"), verdict.feedback


def test_io_partial_score_and_per_case_details(docker_sandbox):
    # off by one only on n > 1: passes case 1, fails cases 2 and 3
    code = "n = int(input())\nprint(1 if n == 1 else sum(range(1, n)))\n"
    record, cand = make_pair(fenced("python", code), metadata={"language": "python", "tests": IO_CASES})
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    assert verdict.score == pytest.approx(1 / 3)
    assert [c["passed"] for c in verdict.details["cases"]] == [True, False, False]
    assert verdict.feedback.startswith("1/3 tests passed")
    assert "test 2 failed: input '3\\n'" in verdict.feedback and "'6\\n'" in verdict.feedback


def test_exact_vs_whitespace_output_match(docker_sandbox):
    code = "n = int(input())\nprint(' ', n * (n + 1) // 2, '  ')\n"
    record, cand = make_pair(fenced("python", code), metadata={"language": "python", "tests": IO_CASES})
    assert docker_sandbox.verify(CodeExecVerifier(), record, cand).passed
    exact = CodeExecVerifier(CodeExecConfig(output_match="exact"))
    assert not docker_sandbox.verify(exact, record, cand).passed


@pytest.mark.parametrize("code,status,phrase", [
    ("def sum_to(n):\n    while True:\n        pass\n", "timeout", "time limit exceeded"),
    ("def sum_to(n):\n    x = bytearray(2 * 1024 ** 3)\n    return len(x)\n", "memory_limit", "memory limit"),
    ("def sum_to(n):\n    while True:\n        print('x' * 10000)\n", "output_limit", "output limit"),
    ("def sum_to(n):\n    return undefined_name\n", "runtime_error", "NameError"),
])
def test_status_mapping_python(docker_sandbox, code, status, phrase):
    record, cand = assert_record("python", code)
    verifier = CodeExecVerifier(CodeExecConfig(time_limit_s=2, memory_mb=256))
    verdict = docker_sandbox.verify(verifier, record, cand)
    assert not verdict.passed and verdict.details["status"] == status, verdict.details
    assert phrase in verdict.feedback


def test_compile_error_feedback_has_compiler_output(docker_sandbox):
    record, cand = assert_record("cpp", "long long sum_to(int n) { return m; }\n")
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    assert not verdict.passed and verdict.details["status"] == "compile_error"
    assert verdict.feedback.startswith("compilation failed") and "m’ was not declared" in verdict.feedback
    assert "main.cpp:1:34" in verdict.feedback


def test_compile_error_in_io_style_reported_once(docker_sandbox):
    record, cand = make_pair(fenced("c", "int main(void) { return x; }\n"),
                             metadata={"language": "c", "tests": IO_CASES})
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    assert verdict.feedback.count("compilation failed") == 1 and verdict.score == 0.0


MODEL_TESTS = "```python\nassert sum_to(3) == 6\nassert sum_to(0) == 0\n```\n"


@pytest.mark.parametrize("name,passes", [("correct", True), ("off_by_one", False)])
def test_model_written_tests_from_second_block(docker_sandbox, name, passes):
    code = ASSERT["python"]["correct"] if name == "correct" else ASSERT["python"]["wrong"][name]
    record, cand = make_pair(fenced("python", code) + "Tests:\n" + MODEL_TESTS, metadata={"language": "python"})
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    assert verdict.details["style"] == "model" and verdict.passed is passes, verdict.feedback


def test_model_written_tests_from_candidate_metadata(docker_sandbox):
    record, cand = make_pair(fenced("javascript", ASSERT["javascript"]["wrong"]["boundary"]),
                             metadata={"language": "javascript"},
                             candidate_metadata={"unit_tests": "const a = require('assert');\na.strictEqual(sumTo(1), 1);\n"})
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    assert not verdict.passed and "AssertionError" in verdict.feedback


def test_missing_tests_and_code_fail_without_running(docker_sandbox):
    record, cand = make_pair(fenced("python", "def f(): pass\n"), metadata={"language": "python"})
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    assert not verdict.passed and "no unit tests" in verdict.feedback
    record, cand = make_pair("I cannot solve this.\n```js\nx\n```", metadata={"language": "python", "tests": "pass"})
    assert "no python code found" in docker_sandbox.verify(CodeExecVerifier(), record, cand).feedback


def test_humaneval_prefix_and_entry_point(docker_sandbox):
    prefix = 'def add(a, b):\n    """Return a + b."""\n'
    tests = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
    meta = {"language": "python", "prefix": prefix, "tests": tests, "entry_point": "add"}
    good, bad = make_pair("    return a + b\n", metadata=meta), make_pair("    return a - b\n", metadata=meta)
    assert docker_sandbox.verify(CodeExecVerifier(), *good).passed
    verdict = docker_sandbox.verify(CodeExecVerifier(), *bad)
    assert not verdict.passed and "left (actual): -1" in verdict.feedback


@pytest.mark.bwrap
@pytest.mark.parametrize("lang", ["python", "c", "cpp", "java", "javascript", "bash"])
def test_bubblewrap_backend_same_verdicts(bwrap_sandbox, lang):
    for name, code in [("correct", ASSERT[lang]["correct"]), *ASSERT[lang]["wrong"].items()]:
        record, cand = assert_record(lang, code)
        verdict = bwrap_sandbox.verify(CodeExecVerifier(), record, cand)
        assert verdict.passed is (name == "correct"), (name, verdict.feedback)


def test_outputs_match():
    assert outputs_match("1 2\n3\n\n", "1  2\n3", "whitespace")
    assert not outputs_match("1 2\n3\n", "1\n2 3\n", "whitespace")
    assert not outputs_match("6\n", "6", "exact") and outputs_match("6\n", "6\n", "exact")
