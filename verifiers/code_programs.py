"""Assemble the sandbox job for a solution and its tests, per language.

Assertion programs (HumanEval-like) are ``prefix + solution + tests (+ check(entry_point))`` in one
file, with three language rules:
- **python** runs under a small harness (``main.py``) that executes ``program.py`` and, when an
  ``assert a == b`` fails, prints the failing line with both sides evaluated ("left: 5, right: 6"),
  so the feedback has expected and actual values without pytest;
- **java** gets one file per top-level public class (``javac *.java``): the tests' class with
  ``main`` is the entry file, the solution's classes go to their own file;
- **php** gets a single ``<?php`` open tag and no stray ``?>`` between solution and tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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

_JAVA_PUBLIC_CLASS = re.compile(r"^\s*public\s+(?:final\s+|abstract\s+)*(?:class|interface|enum|record)\s+(\w+)",
                                re.MULTILINE)
_JAVA_MAIN = re.compile(r"static\s+void\s+main\s*\(")
_JAVA_IMPORT = re.compile(r"^\s*(?:import|package)\s+[\w.*\s]+;\s*$", re.MULTILINE)


@dataclass
class Job:
    """Files and the entry file name for one sandbox request."""

    files: dict[str, str]
    main_file: str | None = None
    notes: list[str] = field(default_factory=list)


def _php(parts: list[str]) -> str:
    body = []
    for part in parts:
        part = re.sub(r"^\s*<\?php\b", "", part.strip())
        part = re.sub(r"\?>\s*$", "", part)
        body.append(part.strip())
    return "<?php\n" + "\n\n".join(p for p in body if p) + "\n"


def _java(prefix: str, solution: str, tests: str) -> Job:
    if not tests.strip():  # a whole program (stdin/stdout style)
        source = (prefix + "\n" + solution) if prefix.strip() else solution
        names = _JAVA_PUBLIC_CLASS.findall(source)
        return Job({f"{names[0]}.java" if names else "Main.java": source},
                   f"{names[0]}.java" if names else "Main.java")
    test_names = _JAVA_PUBLIC_CLASS.findall(tests)
    main_name = test_names[0] if test_names else "Main"
    sol = (prefix + "\n" + solution) if prefix.strip() else solution
    sol_names = [n for n in _JAVA_PUBLIC_CLASS.findall(sol) if n != main_name]
    if main_name in _JAVA_PUBLIC_CLASS.findall(sol) or (not test_names and _JAVA_MAIN.search(sol)):
        # solution and tests share a class: one file, imports hoisted to the top
        imports = _JAVA_IMPORT.findall(sol) + _JAVA_IMPORT.findall(tests)
        code = "\n".join(dict.fromkeys(i.strip() for i in imports)) + "\n" + \
            _JAVA_IMPORT.sub("", sol) + "\n" + _JAVA_IMPORT.sub("", tests)
        return Job({f"{main_name}.java": code}, f"{main_name}.java")
    sol_file = f"{sol_names[0]}.java" if sol_names else "Solution.java"
    return Job({sol_file: sol, f"{main_name}.java": tests}, f"{main_name}.java")


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
