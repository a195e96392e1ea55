"""The ``repo_deps`` verifier: checks the answers to the repository tasks of the ``repo_deps`` generator.

Reads ``record.metadata["repo_task"]`` (written by the generator):
- ``task``: ``dependents`` or ``missing_file``; ``removed``: the removed file's path;
- for ``dependents``: ``expected`` (the files that import it, from the import graph) and ``paths``
  (every file of the repository, to read the answer against). The answer's set of paths is scored
  by precision, recall and F1; the candidate passes when F1 reaches ``min_f1``.
- for ``missing_file``: ``required_names`` (what the dependents import from the file), ``files``
  (the repository without the removed file, as far as the sandbox needs it), ``reference`` (the
  original), and ``check``: ``tests`` with ``test_command`` when the repository's own tests passed on
  the original, else ``import`` with ``import_modules`` when importing the dependents worked on the
  original, else ``static``. The written file must parse and define every required name; then,
  in the sandbox, the repository's tests must pass with it put back, or the dependents must import.
  The similarity to the original (difflib ratio) is recorded, never used to pass.

Feedback names what is wrong: paths missing or extra, names undefined, the failing test or import.
A sandbox failure raises :class:`synthgen.errors.TransientError` so the runner retries.
"""

from __future__ import annotations

import ast
import difflib
import re
from typing import Any, ClassVar

from pydantic import Field

from sandboxes.types import ExecRequest, ExecResult, ExecStatus, Limits
from synthgen.errors import TransientError
from synthgen.plugins import PluginConfig, Verifier
from synthgen.records import Candidate, Record, Verdict

MAX_CODE_CHARS = 200_000
IMPORTED_MARK = "synthgen-imported:"
_RAN = re.compile(r"\bRan (\d+) tests?\b|\b(\d+) passed\b")


def tests_ran(output: str) -> int:
    """How many tests a unittest or pytest run reports having run (0 when it says nothing). A file
    that ends the process early (``os._exit(0)`` on import) exits 0 but runs none: not a pass."""
    return sum(int(a or b) for a, b in _RAN.findall(output))


class RepoDepsConfig(PluginConfig):
    min_f1: float = Field(
        0.8, ge=0.0, le=1.0, description="dependents task: keep answers with F1 at least this"
    )
    time_limit_s: float = Field(60.0, gt=0, description="wall/CPU limit of a test or import run")
    memory_mb: int = Field(1024, ge=64)
    run_in_sandbox: bool = Field(True, description="missing_file: run the tests / imports (else static only)")


def f1_scores(named: set[str], expected: set[str]) -> tuple[float, float, float]:
    """(precision, recall, F1) of a named set against the expected one; two empty sets score 1."""
    if not named and not expected:
        return 1.0, 1.0, 1.0
    hit = len(named & expected)
    precision = hit / len(named) if named else 0.0
    recall = hit / len(expected) if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def defined_names(code: str) -> tuple[set[str] | None, str]:
    """Top-level names a Python file defines (``None`` with the reason when it does not parse)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        return None, f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}" + (f" (line {line})" if line else "")
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and _top(tree, node):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and _top(tree, node):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and _top(tree, node):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
    return names, ""


def _top(tree: ast.Module, node: ast.AST) -> bool:
    """Defined at module level, directly or inside module-level if/try/with blocks."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        cur = stack.pop()
        if cur is node:
            return True
        if isinstance(cur, (ast.If, ast.Try, ast.With)) or type(cur).__name__ == "TryStar":
            for attr in ("body", "orelse", "finalbody", "handlers"):
                stack.extend(getattr(cur, attr, []) or [])
        elif isinstance(cur, ast.ExceptHandler):
            stack.extend(cur.body)
    return False


def sandbox_request(
    files: dict[str, str], command: str, *, time_limit_s: float, memory_mb: int
) -> ExecRequest:
    return ExecRequest(
        language="python",
        files=dict(files),
        run_cmd=command,
        limits=Limits(
            wall_time_s=time_limit_s,
            cpu_time_s=time_limit_s,
            memory_mb=memory_mb,
            processes=64,
            output_bytes=256 << 10,
        ),
    )


def import_command(modules: list[str], roots: list[str]) -> str:
    path = ":".join(r or "." for r in roots) or "."
    # the mark is printed only after every import returned: a file that exits early never prints it
    program = (
        "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
        f"print({IMPORTED_MARK!r}, len(sys.argv) - 1)"
    )
    return f"PYTHONPATH={path} python3 -c {_shell_quote(program)} " + " ".join(modules)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def describe_run(result: ExecResult) -> str:
    tail = (result.stdout_text[-1200:] + "\n" + result.stderr_text[-1200:]).strip()
    if result.status is ExecStatus.TIMEOUT:
        return f"timed out after {result.wall_time_s:.1f} s\n{tail}"
    if result.status is ExecStatus.MEMORY_LIMIT:
        return "ran out of memory"
    return f"exit code {result.exit_code}\n{tail}"


class RepoDepsVerifier(Verifier):
    name: ClassVar[str] = "repo_deps"
    version: ClassVar[str] = "0.1"
    Config = RepoDepsConfig

    async def verify(self, record: Record, candidate: Candidate, ctx: Any) -> Verdict:
        task = record.metadata.get("repo_task")
        if not isinstance(task, dict) or task.get("task") not in ("dependents", "missing_file"):
            return Verdict(
                verifier=self.name,
                passed=False,
                feedback="record has no `repo_task` metadata (made by the repo_deps generator)",
            )
        if task["task"] == "dependents":
            return self._dependents(task, candidate)
        return await self._missing_file(task, candidate, ctx)

    def _dependents(self, task: dict[str, Any], candidate: Candidate) -> Verdict:
        from generators.repo._prompts import read_paths

        known = set(task.get("paths") or [])
        expected = set(task.get("expected") or [])
        named = set(read_paths(candidate.text, known)) - {task.get("removed")}
        precision, recall, f1 = f1_scores(named, expected)
        missing, extra = sorted(expected - named), sorted(named - expected)
        feedback = (
            ""
            if not (missing or extra)
            else "; ".join(
                filter(
                    None,
                    [
                        f"missing: {', '.join(missing)}" if missing else "",
                        f"not importers: {', '.join(extra)}" if extra else "",
                    ],
                )
            )
        )
        if not named:
            feedback = "the answer names no file of the repository"
        return Verdict(
            verifier=self.name,
            passed=f1 >= self.config.min_f1,
            score=round(f1, 4),
            feedback=feedback,
            details={
                "precision": round(precision, 4),
                "recall": round(recall, 4),
                "f1": round(f1, 4),
                "named": sorted(named),
            },
        )

    async def _missing_file(self, task: dict[str, Any], candidate: Candidate, ctx: Any) -> Verdict:
        from generators.repo._prompts import read_code

        code = read_code(candidate.text)
        details: dict[str, Any] = {"check": task.get("check", "static")}
        if code is None or not code.strip():
            return Verdict(
                verifier=self.name, passed=False, feedback="no code block in the answer", details=details
            )
        if len(code) > MAX_CODE_CHARS:
            return Verdict(
                verifier=self.name,
                passed=False,
                details=details,
                feedback=f"the file is {len(code)} characters; at most {MAX_CODE_CHARS} are checked",
            )
        reference = task.get("reference") or ""
        details["similarity"] = (
            round(difflib.SequenceMatcher(None, code, reference, autojunk=False).ratio(), 4)
            if len(code) * len(reference) < 4e8
            else None
        )
        names, error = defined_names(code)
        if names is None:
            return Verdict(
                verifier=self.name,
                passed=False,
                feedback=f"the file does not parse: {error}",
                details=details,
            )
        required = set(task.get("required_names") or [])
        undefined = sorted(required - names)
        details["undefined"] = undefined
        if undefined:
            return Verdict(
                verifier=self.name,
                passed=False,
                details=details,
                feedback=f"the dependents import names the file does not define: {', '.join(undefined)}",
            )
        check = task.get("check", "static")
        if check == "static" or not self.config.run_in_sandbox or ctx.run.sandbox is None:
            details["check"] = "static"
            return Verdict(verifier=self.name, passed=True, score=1.0, details=details)
        files = dict(task.get("files") or {})
        files[task.get("sandbox_path") or task["removed"]] = code
        command = (
            task["test_command"]
            if check == "tests"
            else import_command(task.get("import_modules") or [], task.get("roots") or [""])
        )
        result = await ctx.sandbox.run(
            sandbox_request(
                files, command, time_limit_s=self.config.time_limit_s, memory_mb=self.config.memory_mb
            )
        )
        if result.status is ExecStatus.SANDBOX_ERROR:
            raise TransientError(f"sandbox error: {result.error}")
        details["exit_code"] = result.exit_code
        output = result.stdout_text + "\n" + result.stderr_text
        if check == "tests":
            details["tests_ran"] = ran = tests_ran(output)
            complete = ran >= int(task.get("tests_expected") or 1)
        else:
            complete = f"{IMPORTED_MARK} {len(task.get('import_modules') or [])}" in result.stdout_text
        if result.ok and complete:
            return Verdict(verifier=self.name, passed=True, score=1.0, details=details)
        if result.ok:
            return Verdict(
                verifier=self.name,
                passed=False,
                details=details,
                feedback="the program ended early: "
                + (
                    "fewer tests ran than on the original "
                    f"({details.get('tests_ran')} of "
                    f"{task.get('tests_expected')})"
                    if check == "tests"
                    else "the dependents' imports did not all return"
                ),
            )
        what = "the repository's tests fail" if check == "tests" else "importing the dependents fails"
        return Verdict(
            verifier=self.name,
            passed=False,
            details=details,
            feedback=f"{what} with the written file: {describe_run(result)}",
        )
