import time

import pytest

from tests.verifiers.conftest import make_pair
from tests.verifiers.fixtures.code_cases import ASSERT, BROKEN, IO
from verifiers.static import GRAMMARS, StaticConfig, StaticVerifier

GOOD = [(lang, d["correct"]) for lang, d in ASSERT.items()] + [(lang, d["correct"]) for lang, d in IO.items()] + \
    [(lang, code) for lang, d in ASSERT.items() for code in d["wrong"].values()]


def fenced(lang, code):
    return f"Here is my solution:\n```{lang}\n{code}```\nIt runs in O(n)."


@pytest.mark.parametrize("lang,code", GOOD, ids=[f"{lang}-{i}" for i, (lang, _) in enumerate(GOOD)])
async def test_valid_code_passes(lang, code, ctx):
    record, cand = make_pair(fenced(lang, code), metadata={"language": lang})
    verdict = await StaticVerifier().verify(record, cand, ctx)
    assert verdict.passed, verdict.feedback
    assert verdict.details["syntax_errors"] == []


@pytest.mark.parametrize("lang", sorted(BROKEN))
async def test_syntax_error_is_located(lang, ctx):
    code, line = BROKEN[lang]
    record, cand = make_pair(fenced(lang, code), metadata={"language": lang})
    verdict = await StaticVerifier().verify(record, cand, ctx)
    assert not verdict.passed and verdict.score == 0.0
    first = verdict.details["syntax_errors"][0]
    assert first["column"] >= 1
    if line:
        assert first["line"] == line, verdict.feedback
        assert f"syntax error at line {line}, column" in verdict.feedback


def test_every_grammar_loads():
    v = StaticVerifier()
    for lang in GRAMMARS:
        assert v.check("", lang).passed


PY_BUGS = "import os\n\ndef area(r):\n    unused = 2\n    return math.pi * r ** 2\n"


@pytest.mark.parametrize("linter,fail_code,warn_codes", [
    ("pyflakes", "UndefinedName", {"UnusedImport", "UnusedVariable"}),
    ("ruff", "F821", {"F401", "F841"}),
])
def test_python_lint_reports_undefined_unused(linter, fail_code, warn_codes):
    verdict = StaticVerifier(StaticConfig(linter=linter)).check(PY_BUGS, "python")
    assert not verdict.passed
    codes = {f["code"]: f for f in verdict.details["lint"]}
    assert codes[fail_code]["fails"] and codes[fail_code]["line"] == 5
    assert warn_codes <= set(codes) and not any(codes[c]["fails"] for c in warn_codes)
    assert "line 5" in verdict.feedback and "math" in verdict.feedback
    # the failing finding comes first in the feedback
    assert verdict.feedback.splitlines()[0].startswith("line 5")


def test_lint_warnings_alone_pass_and_fail_on_is_configurable():
    code = "import os\n\ndef f():\n    x = 1\n    return 2\n"
    assert StaticVerifier().check(code, "python").passed
    strict = StaticVerifier(StaticConfig(fail_on=["UnusedImport"]))
    verdict = strict.check(code, "python")
    assert not verdict.passed and "'os' imported but unused" in verdict.feedback


def test_linter_can_be_off():
    assert StaticVerifier(StaticConfig(linter="none")).check(PY_BUGS, "python").passed


async def test_language_from_config_and_missing_code(ctx):
    record, cand = make_pair("```python\nx = (\n```", metadata={})
    assert not (await StaticVerifier(StaticConfig(language="py")).verify(record, cand, ctx)).passed
    verdict = await StaticVerifier().verify(record, cand, ctx)
    assert not verdict.passed and "no language" in verdict.feedback
    record, cand = make_pair("```js\nlet x = 1;\n```", metadata={"language": "python"})
    verdict = await StaticVerifier().verify(record, cand, ctx)
    assert not verdict.passed and "no python code found" in verdict.feedback


def test_sql_has_no_grammar_and_is_skipped():
    verdict = StaticVerifier().check("SELEC 1;", "sql")
    assert verdict.passed and "skipped" in verdict.details


@pytest.mark.parametrize("lang,code", [("javascript", "{" * 20000), ("python", "x = (" * 5000),
                                       ("cpp", "\x00\xff" * 1000), ("python", "def f(:\n" * 2000)])
def test_hostile_input_is_cheap(lang, code):
    start = time.perf_counter()
    verdict = StaticVerifier().check(code, lang)
    assert not verdict.passed
    assert time.perf_counter() - start < 2.0


def test_static_is_cheap_on_normal_code():
    v = StaticVerifier()
    code = ASSERT["python"]["correct"] * 20
    v.check(code, "python")
    start = time.perf_counter()
    for _ in range(50):
        v.check(code, "python")
    assert (time.perf_counter() - start) / 50 < 0.02
