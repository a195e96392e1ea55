"""The ``static`` verifier: does the code parse, and does the linter find real mistakes?

Reads:
- the language from ``record.metadata[language_field]`` (default ``"language"``), else ``language``
  in the config;
- the code from ``candidate.text`` through :func:`verifiers.code_extract.extract_code` (the first
  fenced block of the language, else the whole text).

Checks, all in-process and without running the code (milliseconds, so it goes before ``code_exec``
in an ``all`` chain and spares the sandbox run):
- a tree-sitter parse with the per-language grammar wheel (python, c, cpp, java, javascript,
  typescript, php, rust, bash); every ERROR / MISSING node is reported by line and column;
- for Python, pyflakes (default) or ``ruff check`` (``linter: ruff``): undefined names, missing
  imports, unused variables and imports. Findings named in ``fail_on`` fail the verdict; the others
  are feedback only. Languages without a grammar (sql) pass with ``details.skipped``.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from typing import Any, ClassVar, Literal

from pydantic import Field

from synthgen.plugins import PluginConfig, Verifier
from synthgen.records import Candidate, Record, Verdict
from verifiers.code_extract import canonical_language, extract_code

# language -> (grammar module, function returning the language pointer)
GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "java": ("tree_sitter_java", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "php": ("tree_sitter_php", "language_php"),
    "rust": ("tree_sitter_rust", "language"),
    "bash": ("tree_sitter_bash", "language"),
}
PYFLAKES_FAIL = ["UndefinedName", "UndefinedLocal", "UndefinedExport", "DuplicateArgument",
                 "ReturnOutsideFunction", "YieldOutsideFunction", "ContinueOutsideLoop", "BreakOutsideLoop"]
RUFF_FAIL = ["F821", "F822", "F823", "F831", "F701", "F702", "F704", "F706", "E902", "E999"]


class StaticConfig(PluginConfig):
    language: str | None = Field(None, description="used when the record has no language")
    language_field: str = "language"
    linter: Literal["pyflakes", "ruff", "none"] = "pyflakes"
    fail_on: list[str] | None = Field(None, description="lint findings (pyflakes class names or ruff codes) that "
                                                        "fail; default: undefined names and misplaced statements")
    max_errors: int = Field(5, ge=1, description="syntax errors listed in the feedback")
    require_code: bool = Field(True, description="fail when the response contains no code")


class StaticVerifier(Verifier):
    name: ClassVar[str] = "static"
    Config: ClassVar[type[StaticConfig]] = StaticConfig

    def __init__(self, config: StaticConfig | None = None) -> None:
        super().__init__(config)
        self.config: StaticConfig
        self._languages: dict[str, Any] = {}

    async def verify(self, record: Record, candidate: Candidate, ctx: Any = None) -> Verdict:
        cfg = self.config
        language = canonical_language(str(record.metadata.get(cfg.language_field) or cfg.language or ""))
        if not language:
            return Verdict(verifier=self.name, passed=False, details={"error": "no_language"},
                           feedback=f"no language: set record.metadata[{cfg.language_field!r}] or `language`")
        code = extract_code(candidate.text, language)
        if not code.strip():
            return Verdict(verifier=self.name, passed=not cfg.require_code, details={"language": language},
                           feedback=f"no {language} code found: put the program in a ```{language} block")
        if language == "python" and cfg.linter == "ruff":
            return await asyncio.to_thread(self.check, code, language)  # a subprocess: keep the loop free
        return self.check(code, language)

    def check(self, code: str, language: str) -> Verdict:
        """Parse and lint ``code`` (synchronous; cheap)."""
        cfg = self.config
        details: dict[str, Any] = {"language": language, "syntax_errors": [], "lint": []}
        if language not in GRAMMARS:
            details["skipped"] = f"no tree-sitter grammar for {language}"
            return Verdict(verifier=self.name, passed=True, score=1.0, details=details)
        details["syntax_errors"] = syntax_errors(self._parser_language(language), code)
        lines = [f"syntax error at line {e['line']}, column {e['column']}: {e['message']}"
                 for e in details["syntax_errors"][: cfg.max_errors]]
        failing = bool(details["syntax_errors"])
        if language == "python" and cfg.linter != "none" and not failing:
            findings = pyflakes_findings(code) if cfg.linter == "pyflakes" else ruff_findings(code)
            fail_on = set(cfg.fail_on if cfg.fail_on is not None else
                          (PYFLAKES_FAIL if cfg.linter == "pyflakes" else RUFF_FAIL))
            for f in findings:
                f["fails"] = f["code"] in fail_on
                failing |= f["fails"]
            details["lint"] = findings
            lines += [f"line {f['line']}, column {f['column']}: {f['message']} ({f['code']})"
                      for f in sorted(findings, key=lambda f: (not f["fails"], f["line"]))[:10]]
        return Verdict(verifier=self.name, passed=not failing, score=0.0 if failing else 1.0,
                       feedback="\n".join(lines), details=details)

    def _parser_language(self, language: str) -> Any:
        if language not in self._languages:
            from tree_sitter import Language

            module, func = GRAMMARS[language]
            self._languages[language] = Language(getattr(importlib.import_module(module), func)())
        return self._languages[language]


def syntax_errors(ts_language: Any, code: str) -> list[dict[str, Any]]:
    """ERROR and MISSING nodes of the tree-sitter parse, 1-based line and column, outermost first."""
    from tree_sitter import Parser

    source = code.encode("utf-8", errors="replace")
    tree = Parser(ts_language).parse(source)
    if not tree.root_node.has_error:
        return []
    nodes = []
    stack = [tree.root_node]
    while stack and len(nodes) < 200:
        node = stack.pop()
        if node.is_missing or node.is_error:
            nodes.append(node)
        if node.has_error:
            stack.extend(reversed(node.children))
    # Report the innermost errors: an ERROR node spanning the whole file says little when a
    # MISSING '}' inside it names the mistake.
    innermost = [n for n in nodes if not any(
        o.id != n.id and n.start_byte <= o.start_byte and o.end_byte <= n.end_byte and
        (o.start_byte, o.end_byte) != (n.start_byte, n.end_byte) for o in nodes)]
    lines = code.splitlines()
    found: list[dict[str, Any]] = []
    for node in innermost:
        row, col = node.start_point
        text = lines[row].strip() if row < len(lines) else ""
        if node.is_missing:
            message = f"missing {node.type!r}"
        else:
            snippet = source[node.start_byte:node.end_byte].decode("utf-8", "replace").split("\n")[0][:40]
            message = f"unexpected {snippet!r}" if snippet else "unexpected end of input"
        found.append({"line": row + 1, "column": col + 1, "message": f"{message} in `{text[:80]}`",
                      "kind": "missing" if node.is_missing else "error"})
    return sorted(found, key=lambda e: (e["line"], e["column"]))


def pyflakes_findings(code: str) -> list[dict[str, Any]]:
    """pyflakes messages as dicts (it only parses the code: nothing is executed)."""
    from pyflakes import checker

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(code, filename="solution.py")
    except (SyntaxError, ValueError) as exc:  # tree-sitter accepted it but CPython does not
        return [{"line": getattr(exc, "lineno", 0) or 0, "column": getattr(exc, "offset", 0) or 0,
                 "code": "SyntaxError", "message": str(getattr(exc, "msg", exc))}]
    out = []
    for msg in checker.Checker(tree, filename="solution.py").messages:
        out.append({"line": msg.lineno, "column": (msg.col or 0) + 1, "code": type(msg).__name__,
                    "message": msg.message % msg.message_args})
    return out


def ruff_findings(code: str) -> list[dict[str, Any]]:
    """``ruff check`` over stdin (a separate linter process; the code is not executed)."""
    binary = shutil.which("ruff", path=os.path.dirname(sys.executable)) or shutil.which("ruff")
    if binary is None:
        return [{"line": 0, "column": 0, "code": "ruff-missing", "message": "ruff is not installed"}]
    proc = subprocess.run([binary, "check", "--isolated", "--output-format", "json", "--stdin-filename",
                           "solution.py", "-"], input=code.encode(), capture_output=True, timeout=30, check=False)
    try:
        items = json.loads(proc.stdout or b"[]")
    except json.JSONDecodeError:
        return [{"line": 0, "column": 0, "code": "ruff-error", "message": proc.stderr.decode()[:200]}]
    return [{"line": i["location"]["row"], "column": i["location"]["column"], "code": i.get("code") or "E999",
             "message": i["message"]} for i in items]

