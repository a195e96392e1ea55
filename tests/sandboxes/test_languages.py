"""Correctness suite: every recipe, every situation, on every backend."""

from __future__ import annotations

import pytest

from sandboxes.types import ExecRequest, ExecStatus, Limits
from tests.sandboxes.programs import CASES, Case

LIMITS = Limits(wall_time_s=20, cpu_time_s=20, memory_mb=512)


def _host_skip(backend, language: str) -> None:
    from sandboxes.bwrap import BubblewrapSandbox, host_languages

    if isinstance(backend.sandbox, BubblewrapSandbox) and not host_languages()[language]:
        pytest.skip(f"bubblewrap runs the host's toolchains and this host has no {language} toolchain")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.language}-{c.name}")
def test_language_case(backend, case: Case) -> None:
    _host_skip(backend, case.language)
    result = backend.run(
        ExecRequest(language=case.language, files=case.files, stdin=case.stdin, limits=LIMITS)
    )
    detail = (
        f"{result.status}: stdout={result.stdout[:300]!r} stderr={result.stderr[:500]!r} "
        f"compile={result.compile_output[:500]!r} error={result.error!r}"
    )
    assert result.status is ExecStatus(case.status), detail
    if case.stdout is not None:
        assert result.stdout_text == case.stdout, detail
    if case.exit_code is not None:
        assert result.exit_code == case.exit_code, detail
    for text in case.mentions:
        assert text in result.stderr_text + result.compile_output, detail
    if result.status is ExecStatus.COMPILE_ERROR:
        assert result.compile_output.strip(), "a compile error must carry the compiler's message"
    else:
        assert result.wall_time_s > 0 and result.cpu_time_s is not None


def test_argv_reaches_the_program(backend) -> None:
    result = backend.run(
        ExecRequest(
            language="python", files={"main.py": "import sys; print(sys.argv[1:])"}, argv=("a b", "--x")
        )
    )
    assert result.ok and result.stdout_text == "['a b', '--x']\n"


def test_single_file_under_another_name_is_the_program(backend) -> None:
    result = backend.run(ExecRequest(language="py", files={"solution.py": "print('sol')"}))
    assert result.ok and result.stdout_text == "sol\n"


def test_file_name_escaping_the_work_dir_is_refused(backend) -> None:
    result = backend.run(
        ExecRequest(language="python", files={"../evil.py": "print(1)", "main.py": "print(2)"})
    )
    assert result.status is ExecStatus.SANDBOX_ERROR and "relative path" in result.error


def test_unknown_language_raises(backend) -> None:
    from sandboxes.recipes import UnknownLanguageError

    with pytest.raises(UnknownLanguageError, match="cobol"):
        backend.run(ExecRequest(language="cobol", files={"main.cob": ""}))
