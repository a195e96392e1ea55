"""Assemble the sandbox job for a solution and its tests, per language.

Assertion programs (HumanEval-like) are ``prefix + solution + tests (+ check(entry_point))`` in one
file, with three language rules:
- **python** runs under a small harness (``main.py``) that executes ``program.py`` and, when an
  ``assert a == b`` fails, prints the failing line with both sides evaluated ("left: 5, right: 6"),
  so the feedback has expected and actual values without pytest;
- **java** is laid out by :mod:`verifiers.code_java`: every file gets every part's imports, the class
  with the tests' ``main`` is the entry file, other public classes get their own files;
- **php** gets a single ``<?php`` open tag and no stray ``?>`` between solution and tests;
- **rust** tests written as ``#[test]`` functions (HumanEval-X) are compiled with ``--test`` and run by
  the test harness: compiled as a plain program they would be left out and every answer would pass.

:func:`auto_link_flags` adds the libraries a C/C++ program's ``#include`` lines need (OpenSSL, GMP).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from verifiers.code_java import java_files

PY_HARNESS = r'''
import ast, linecache, sys, traceback
_PATH = "program.py"
_src = open(_PATH, encoding="utf-8").read()
_globals = {"__name__": "__main__", "__file__": _PATH}
try:
    exec(compile(_src, _PATH, "exec"), _globals)
except AssertionError as exc:
    tb = exc.__traceback__
    frame, line = None, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _PATH:
            frame, line = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    text = linecache.getline(_PATH, line).strip() if line else ""
    sys.stderr.write(f"assertion failed at line {line}: {text}\n")
    if str(exc):
        sys.stderr.write(f"  message: {exc}\n")
    try:
        node = ast.parse(text).body[0]
        test = node.test if isinstance(node, ast.Assert) else None
        if isinstance(test, ast.Compare) and len(test.comparators) == 1:
            env = dict(frame.f_globals, **frame.f_locals)
            left = eval(compile(ast.Expression(test.left), "<left>", "eval"), env)
            right = eval(compile(ast.Expression(test.comparators[0]), "<right>", "eval"), env)
            sys.stderr.write(f"  left (actual): {left!r:.300}\n  right (expected): {right!r:.300}\n")
    except BaseException:
        pass
    sys.exit(1)
except SystemExit:
    raise
except BaseException:
    traceback.print_exc()
    sys.exit(1)
'''

_RUST_TEST = re.compile(r"^\s*#\[test\]", re.MULTILINE)
# (header pattern, libraries to link): the HumanEval-X C++ runner links OpenSSL the same way.
_AUTO_LINK = (
    (re.compile(r"#\s*include\s*<openssl/"), "-lssl -lcrypto"),
    (re.compile(r"#\s*include\s*<gmpxx\.h>"), "-lgmpxx -lgmp"),
    (re.compile(r"#\s*include\s*<gmp\.h>"), "-lgmp"),
)


@dataclass
class Job:
    """Files and the entry file name for one sandbox request."""

    files: dict[str, str]
    main_file: str | None = None
    notes: list[str] = field(default_factory=list)
    compile_cmd: str | None = None  # instead of the recipe's (rust --test)
    run_cmd: str | None = None


def _php(parts: list[str]) -> str:
    body = []
    for part in parts:
        part = re.sub(r"^\s*<\?php\b", "", part.strip())
        part = re.sub(r"\?>\s*$", "", part)
        body.append(part.strip())
    return "<?php\n" + "\n\n".join(p for p in body if p) + "\n"


def _java(prefix: str, solution: str, tests: str) -> Job:
    files, entry = java_files(prefix, solution, tests)
    return Job(files, entry)


def _rust(program: str) -> Job:
    job = Job({"main.rs": program}, "main.rs")
    if _RUST_TEST.search(program):
        from sandboxes.recipes import get_recipe

        # libtest's debug info alone passes the 16 MB file-size limit: strip it.
        job.compile_cmd = get_recipe("rust").compile_cmd.replace("rustc ", "rustc --test -C strip=debuginfo ", 1)
        job.run_cmd = "./main --test-threads=1"
        job.notes.append("#[test] functions: compiled with --test")
    return job


def auto_link_flags(language: str, files: dict[str, str]) -> list[str]:
    """Libraries to link for the headers a C/C++ program includes (nothing for other languages)."""
    if language not in ("c", "cpp"):
        return []
    text = "\n".join(files.values())
    return [flags for pattern, flags in _AUTO_LINK if pattern.search(text)]


def assertion_job(language: str, solution: str, tests: str, *, prefix: str = "",
                  entry_point: str | None = None) -> Job:
    """The job for an assertion-style test program (or model-written unit tests)."""
    if language == "python":
        program = "\n\n".join(p.strip("\n") for p in (prefix, solution, tests) if p.strip()) + "\n"
        if entry_point and re.search(r"^def check\(", tests, re.MULTILINE) and \
                not re.search(r"^check\(", tests, re.MULTILINE):
            program += f"\n\ncheck({entry_point})\n"
        return Job({"main.py": PY_HARNESS, "program.py": program}, "main.py")
    if language == "java":
        return _java(prefix, solution, tests)
    if language == "php":
        return Job({"main.php": _php([prefix, solution, tests])}, "main.php")
    program = "\n\n".join(p.strip("\n") for p in (prefix, solution, tests) if p.strip()) + "\n"
    if language == "rust":
        return _rust(program)
    return Job({_default_file(language): program}, None)


def program_job(language: str, solution: str, *, prefix: str = "") -> Job:
    """The job for a whole program fed by stdin (stdin/stdout cases)."""
    if language == "java":
        return _java(prefix, solution, "")
    if language == "php":
        return Job({"main.php": _php([prefix, solution])}, "main.php")
    program = "\n\n".join(p.strip("\n") for p in (prefix, solution) if p.strip()) + "\n"
    return Job({_default_file(language): program}, None)


def _default_file(language: str) -> str:
    from sandboxes.recipes import get_recipe

    return get_recipe(language).source_file
