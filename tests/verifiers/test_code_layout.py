"""How code_exec lays out files and commands, without running anything (fast; no sandbox)."""

import pytest

from sandboxes.recipes import get_recipe
from tests.verifiers.conftest import make_pair
from tests.verifiers.fixtures.code_layouts import CASES
from verifiers.code_exec import TS_TRANSPILE_ONLY, CodeExecConfig, CodeExecVerifier
from verifiers.code_java import java_files, mask
from verifiers.code_programs import assertion_job, auto_link_flags, program_job

JAVA = {c["id"]: c for c in CASES if c["language"] == "java"}


def test_humaneval_x_java_imports_reach_the_test_class():
    case = JAVA["java-humaneval-x"]
    files, entry = java_files(case["prefix"], case["correct"], case["tests"])
    assert entry == "Main.java" and list(files) == ["Main.java"]
    text = files["Main.java"]
    assert text.startswith("import java.util.*;\nimport java.lang.*;\n")
    assert text.index("class Solution") < text.index("public class Main")


def test_multipl_e_java_runs_the_problem_class():
    case = JAVA["java-multipl-e-javatuples"]
    files, entry = java_files(case["prefix"], case["correct"], case["tests"])
    assert entry == "Problem.java" and list(files) == ["Problem.java"]
    assert "import org.javatuples.*;" in files["Problem.java"]


def test_repeated_class_replaces_the_open_prefix_and_public_classes_get_own_files():
    case = JAVA["java-humaneval-x-whole-class"]
    files, entry = java_files(case["prefix"], case["correct"], case["tests"])
    assert entry == "Main.java" and set(files) == {"Main.java", "Solution.java"}
    assert files["Solution.java"].count("class Solution") == 1
    for text in files.values():  # every file gets every part's imports
        assert "import java.util.*;" in text and "import java.util.stream.*;" in text


def test_java_scanner_ignores_braces_and_imports_in_strings_and_comments():
    src = 'import a.B;\n// import fake.C;\nclass X { String s = "}{"; char c = \'}\'; /* } */ }\n'
    assert "}{" not in mask(src) and "fake" not in mask(src)
    files, entry = java_files("", src, "public class Main { public static void main(String[] a) { } }\n")
    assert entry == "Main.java" and "import fake.C;" not in files["Main.java"].split("\n", 1)[0]
    assert "package" not in java_files("package p.q;\n", "class Y {}\n", "")[0]["Y.java"]


def test_truncated_java_is_one_file_and_javac_reports_it():
    files, entry = java_files("import java.util.*;\nclass Solution {\n  int f() {\n", "    return 1;\n", "")
    assert entry == "Solution.java" and files[entry].startswith("import java.util.*;")


def test_java_whole_program_for_stdin_cases():
    job = program_job("java", "import java.util.*;\npublic class App { public static void main(String[] a) {} }\n")
    assert job.main_file == "App.java"


def test_rust_test_module_is_compiled_with_test_harness():
    case = next(c for c in CASES if c["id"] == "rust-humaneval-x-test-module")
    job = assertion_job("rust", case["correct"], case["tests"], prefix=case["prefix"])
    assert "--test" in job.compile_cmd and "overflow-checks=on" in job.compile_cmd
    plain = assertion_job("rust", "fn f() {}\n", "fn main() { f(); }\n")
    assert plain.compile_cmd is None


def test_rust_recipe_keeps_overflow_checks():
    assert "-C overflow-checks=on" in get_recipe("rust").compile_cmd


def test_auto_link_flags_follow_includes():
    assert auto_link_flags("cpp", {"main.cpp": "#include <openssl/md5.h>\n"}) == ["-lssl -lcrypto"]
    assert auto_link_flags("c", {"main.c": "#include<gmp.h>\n"}) == ["-lgmp"]
    assert auto_link_flags("cpp", {"main.cpp": "#include <vector>\n"}) == []
    assert auto_link_flags("python", {"main.py": "#include <openssl/md5.h>\n"}) == []


def _commands(cfg=None, language="cpp", code="int f();\n", **meta):
    verifier = CodeExecVerifier(cfg or CodeExecConfig())
    record, _ = make_pair("x", metadata={"language": language, **meta})
    return verifier._commands(language, assertion_job(language, code, "int main() {}\n"), record)


def test_flags_and_commands_compose_in_order():
    compile_cmd, run_cmd = _commands()
    assert compile_cmd == get_recipe("cpp").compile_cmd and run_cmd is None
    cfg = CodeExecConfig(compile_flags={"c++": "-std=c++20"}, link_flags={"cpp": "-lfoo"})
    compile_cmd, _ = _commands(cfg, code="#include <openssl/sha.h>\n", compile_flags=["-Wall"], link_flags="-lbar")
    assert compile_cmd.endswith("-std=c++20 -Wall -lssl -lcrypto -lfoo -lbar")
    compile_cmd, run_cmd = _commands(compile_cmd="g++ -o main main.cpp", run_cmd="./main --fast")
    assert (compile_cmd, run_cmd) == ("g++ -o main main.cpp", "./main --fast")
    ignored = CodeExecConfig(options_from_record=False)
    assert _commands(ignored, run_cmd="./other")[1] is None


@pytest.mark.parametrize("check,expected", [(True, None), (False, TS_TRANSPILE_ONLY)])
def test_typescript_check_option(check, expected):
    compile_cmd, _ = _commands(CodeExecConfig(typescript_check=check), language="typescript", code="let x = 1;\n")
    assert compile_cmd == (expected or get_recipe("typescript").compile_cmd)


def test_js_and_ts_pass_by_exit_status_with_strict_console_assert():
    for language in ("javascript", "typescript"):
        recipe = get_recipe(language)
        assert recipe.failure == "exit_code" and "strict-assert.js" in recipe.run_cmd
