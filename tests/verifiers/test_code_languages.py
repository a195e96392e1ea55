"""code_exec end to end per language, on benchmark-style records whose prompt prefix holds imports.

Also each class of issue 10's code fixes, both ways: Rust overflow checks, the JS/TS pass rule,
build options (flags, commands, TypeScript transpile-only) and the separate compile limit.
"""

import pytest

from tests.verifiers.conftest import make_pair
from tests.verifiers.fixtures.code_layouts import CASES, JS_RULE, RUST_OVERFLOW, TS_RULE
from verifiers.code_exec import CodeExecConfig, CodeExecVerifier

pytestmark = [pytest.mark.docker, pytest.mark.slow]

RUNS = [(case, name, code) for case in CASES for name, code in [("correct", case["correct"]), *case["wrong"].items()]]


def record_for(language, code, *, prefix="", tests="", entry_point=None, **extra):
    meta = {"language": language, "prefix": prefix, "tests": tests, **extra}
    if entry_point:
        meta["entry_point"] = entry_point
    # A completion, as a model continues the prompt: the response is the code itself.
    return make_pair(f"```{language}\n{code}```\n", metadata=meta)


@pytest.mark.parametrize("case,name,code", RUNS, ids=[f"{c['id']}-{n}" for c, n, _ in RUNS])
def test_benchmark_layouts_with_imports_in_prefix(docker_sandbox, case, name, code):
    record, cand = record_for(case["language"], code, prefix=case["prefix"], tests=case["tests"],
                              entry_point=case.get("entry_point"))
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    if name == "correct":
        assert verdict.passed, f"{case['id']}: {verdict.feedback}"
    else:
        assert not verdict.passed, f"{case['id']} {name} was accepted"
        assert verdict.details["status"] == "runtime_error", verdict.feedback


@pytest.mark.parametrize("name", ["correct", "wraps"])
def test_rust_overflow_checks_are_on(docker_sandbox, name):
    code = RUST_OVERFLOW["correct"] if name == "correct" else RUST_OVERFLOW["wrong"][name]
    record, cand = record_for("rust", code, prefix=RUST_OVERFLOW["prefix"], tests=RUST_OVERFLOW["tests"])
    verdict = docker_sandbox.verify(CodeExecVerifier(), record, cand)
    assert verdict.passed is (name == "correct"), verdict.feedback
    if name == "wraps":
        assert "overflow" in verdict.feedback


@pytest.mark.parametrize("language,rule", [("javascript", JS_RULE), ("typescript", TS_RULE)])
def test_js_ts_pass_rule(docker_sandbox, language, rule):
    logging = docker_sandbox.verify(CodeExecVerifier(), *record_for(language, rule["correct_logging"],
                                                                     tests=rule["tests"]))
    assert logging.passed, logging.feedback  # stderr output alone is not a failure
    wrong = docker_sandbox.verify(CodeExecVerifier(), *record_for(language, rule["wrong"], tests=rule["tests"]))
    assert not wrong.passed and wrong.details["exit_code"] == 1
    assert "Assertion failed: double(0)" in wrong.feedback


def test_failure_reported_on_stdout_is_in_feedback(docker_sandbox):
    verdict = docker_sandbox.verify(CodeExecVerifier(), *record_for("javascript", JS_RULE["wrong"],
                                                                    tests=JS_RULE["stdout_tests"]))
    assert not verdict.passed
    assert "FAIL double(0): expected 0, got 2" in verdict.feedback


def test_typescript_check_on_by_default_and_transpile_only(docker_sandbox):
    check, loose = CodeExecVerifier(), CodeExecVerifier(CodeExecConfig(typescript_check=False))
    typed = record_for("typescript", TS_RULE["type_error"], tests=TS_RULE["tests"])
    verdict = docker_sandbox.verify(check, *typed)
    assert not verdict.passed and verdict.details["status"] == "compile_error" and "TS2322" in verdict.feedback
    assert docker_sandbox.verify(loose, *typed).passed
    broken = docker_sandbox.verify(loose, *record_for("typescript", TS_RULE["syntax_error"], tests=TS_RULE["tests"]))
    assert not broken.passed and broken.details["status"] == "compile_error"
    assert "main.ts" in broken.feedback and "error" in broken.feedback.lower()
    wrong = docker_sandbox.verify(loose, *record_for("typescript", TS_RULE["wrong"], tests=TS_RULE["tests"]))
    assert not wrong.passed


# A compile step that needs 1.5 s of CPU (a stand-in for tsc or javac on a slow machine).
SLOW_COMPILE = ('python3 -c "import time\nt = time.process_time()\nwhile time.process_time() - t < 1.5: pass"'
                " && gcc -O2 -o main *.c")
C_OK = "int twice(int x) { return 2 * x; }\n"
C_TESTS = "#include <assert.h>\nint main(void) { assert(twice(2) == 4); return 0; }\n"


def test_compile_limit_is_separate_from_program_limit(docker_sandbox):
    fast_program = CodeExecVerifier(CodeExecConfig(time_limit_s=1))
    verdict = docker_sandbox.verify(fast_program, *record_for("c", C_OK, tests=C_TESTS, compile_cmd=SLOW_COMPILE))
    assert verdict.passed, verdict.feedback  # the program's 1 s CPU limit did not apply to the compiler
    tight = CodeExecVerifier(CodeExecConfig(time_limit_s=10, compile_time_limit_s=1))
    verdict = docker_sandbox.verify(tight, *record_for("c", C_OK, tests=C_TESTS, compile_cmd=SLOW_COMPILE))
    assert not verdict.passed and verdict.details["status"] == "compile_error"


CPP20 = "#include <span>\n#include <vector>\nint total(std::span<const int> xs) { int t = 0; for (int x : xs) t += x; return t; }\n"
CPP20_TESTS = "#include <cassert>\nint main() { std::vector<int> v{1, 2, 3}; assert(total(v) == 6); }\n"


def test_compile_flags_from_config_and_record(docker_sandbox):
    default = docker_sandbox.verify(CodeExecVerifier(), *record_for("cpp", CPP20, tests=CPP20_TESTS))
    assert not default.passed and default.details["status"] == "compile_error"  # c++17 has no <span>
    by_config = CodeExecVerifier(CodeExecConfig(compile_flags={"c++": "-std=c++20"}))
    assert docker_sandbox.verify(by_config, *record_for("cpp", CPP20, tests=CPP20_TESTS)).passed
    by_record = record_for("cpp", CPP20, tests=CPP20_TESTS, compile_flags=["-std=c++20", "-Wall"])
    assert docker_sandbox.verify(CodeExecVerifier(), *by_record).passed


# GMP declared by hand (no #include <gmp.h>): only an explicit link flag makes it link.
GMP_C = ("typedef struct { int a, s; void *d; } mpz_struct[1];\nvoid __gmpz_init_set_ui(void *, unsigned long);\n"
         "void __gmpz_mul(void *, const void *, const void *);\nunsigned long __gmpz_get_ui(const void *);\n"
         "unsigned long square(unsigned long x) { mpz_struct a; __gmpz_init_set_ui(a, x); __gmpz_mul(a, a, a);\n"
         "  return __gmpz_get_ui(a); }\n")
GMP_TESTS = "#include <assert.h>\nint main(void) { assert(square(12) == 144); return 0; }\n"


def test_link_flags(docker_sandbox):
    verdict = docker_sandbox.verify(CodeExecVerifier(), *record_for("c", GMP_C, tests=GMP_TESTS))
    assert not verdict.passed and "undefined reference" in verdict.feedback
    linked = CodeExecVerifier(CodeExecConfig(link_flags={"c": "-lgmp"}))
    assert docker_sandbox.verify(linked, *record_for("c", GMP_C, tests=GMP_TESTS)).passed


JAVA_PROP = "public class Main {\n  public static void main(String[] a) {\n" \
            "    if (!\"on\".equals(System.getProperty(\"mode\"))) throw new AssertionError(\"mode is not on\");\n  }\n}\n"


def test_run_command_from_record_and_config(docker_sandbox):
    assert not docker_sandbox.verify(CodeExecVerifier(), *record_for("java", JAVA_PROP, tests="// none\n")).passed
    record = record_for("java", JAVA_PROP, tests="// none\n", run_cmd="java -Dmode=on Main")
    assert docker_sandbox.verify(CodeExecVerifier(), *record).passed
    by_config = CodeExecVerifier(CodeExecConfig(run_cmd={"java": "java -Dmode=on {stem}"}))
    assert docker_sandbox.verify(by_config, *record_for("java", JAVA_PROP, tests="// none\n")).passed
