"""Lay out a Java program (prompt prefix + solution + tests) as files ``javac`` accepts.

Public benchmarks arrange Java three ways, and the imports of the prompt must reach every file:
- HumanEval-X: the prefix holds ``import java.util.*;`` and opens ``class Solution``; the tests are a
  separate ``public class Main`` that uses ``List``/``Arrays`` without importing them;
- MultiPL-E: the prefix holds the imports and opens ``class Problem`` and a method; the tests close
  the method and add ``main`` to the same class (so ``Problem`` is the class to run);
- a model's whole program: one or more classes, any of them public.

So: every ``import`` of every part is hoisted (deduplicated) to the top of each file, ``package``
lines are dropped, the code is split into top-level types (with a scanner that skips comments,
strings and text blocks), the class to run is the one with ``main`` (the tests' one first), and each
public type other than that one gets its own ``Name.java`` (javac's rule); the rest share the
entry file. A prefix that opens a class the solution then declares in full (the model repeated
the signature) contributes its imports only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IMPORT = re.compile(r"^[ \t]*import\s+(?:static\s+)?[\w.]+(?:\.\*)?\s*;[ \t]*$", re.MULTILINE)
_PACKAGE = re.compile(r"^[ \t]*package\s+[\w.]+\s*;[ \t]*$", re.MULTILINE)
_TYPE = re.compile(r"\b(class|interface|enum|record)\s+([A-Za-z_$][\w$]*)")
_MAIN = re.compile(r"\bstatic\s+(?:final\s+)?void\s+main\s*\(")


def mask(src: str) -> str:
    """``src`` with comments and string/char/text-block literals blanked (same length, newlines kept)."""
    out = list(src)
    i, n = 0, len(src)

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
        elif src.startswith('"""', i):
            j = src.find('"""', i + 3)
            j = n if j < 0 else j + 3
            blank(i + 1, j - 1)
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        else:
            i += 1
    return "".join(out)


@dataclass
class _Type:
    name: str
    public: bool
    has_main: bool
    start: int
    end: int
    decl: int  # where the ``class Name`` keyword is


def _top_level_types(code: str, masked: str) -> list[_Type] | None:
    """The top-level type declarations, in order; None when the braces do not balance."""
    types: list[_Type] = []
    depth, seg_start = 0, 0
    for i, ch in enumerate(masked):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                return None
            if depth == 0:
                seg = masked[seg_start : i + 1]
                match = _TYPE.search(seg)
                if match is None:
                    return None
                header = seg[: match.start()]
                types.append(_Type(match.group(2), bool(re.search(r"\bpublic\b", header)),
                                   bool(_MAIN.search(seg)), seg_start, i + 1, seg_start + match.start()))
                seg_start = i + 1
    if depth != 0 or masked[seg_start:].strip(" \t\n;"):
        return None
    return types


def _open_type(masked: str) -> str | None:
    """The name of the type a prefix leaves open (a class whose body the solution completes)."""
    depth, name = 0, None
    for match in re.finditer(r"[{}]|" + _TYPE.pattern, masked):
        token = match.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif depth == 0:
            name = match.group(2)
    return name if depth > 0 else None


def java_files(prefix: str, solution: str, tests: str) -> tuple[dict[str, str], str]:
    """(files, entry file) for ``prefix + solution + tests``."""
    masked_prefix = mask(prefix)
    open_name = _open_type(masked_prefix) if prefix.strip() else None
    if open_name and re.search(rf"\b(class|interface|enum|record)\s+{re.escape(open_name)}\b", mask(solution)):
        prefix = "\n".join(prefix[a:b].strip() for a, b in (m.span() for m in _IMPORT.finditer(masked_prefix)))
    parts = [p for p in (prefix, solution, tests) if p.strip()]
    imports: list[str] = []
    bodies: list[str] = []
    for part in parts:
        masked = mask(part)
        spans = [m.span() for m in _IMPORT.finditer(masked)] + [m.span() for m in _PACKAGE.finditer(masked)]
        for a, b in sorted(spans):
            if _IMPORT.fullmatch(masked[a:b]):
                imports.append(re.sub(r"\s+", " ", part[a:b].strip()))
        keep, last = [], 0
        for a, b in sorted(spans):
            keep.append(part[last:a])
            last = b
        keep.append(part[last:])
        bodies.append("".join(keep).strip("\n"))
    header = "\n".join(dict.fromkeys(imports))
    header = header + "\n\n" if header else ""
    tests_body = bodies[-1] if tests.strip() and bodies else ""
    code = "\n\n".join(bodies) + "\n"
    tests_at = len(code) - len(tests_body) - 1 if tests_body else len(code)
    masked_code = mask(code)
    types = _top_level_types(code, masked_code)
    if not types:
        # Unbalanced (a truncated answer): one file named after the class before the last main,
        # and javac says what is wrong.
        mains = list(_MAIN.finditer(masked_code))
        before = masked_code[: mains[-1].start()] if mains else masked_code
        names = [m.group(2) for m in _TYPE.finditer(before)]
        entry = names[-1] if names else "Main"
        return {f"{entry}.java": header + code}, f"{entry}.java"
    with_main = [t for t in types if t.has_main]
    from_tests = [t for t in with_main if t.decl >= tests_at]
    entry_type = (from_tests or with_main or [next((t for t in types if t.public), types[-1])])[-1]
    files: dict[str, str] = {}
    entry_parts: list[str] = []
    for t in types:
        text = code[t.start : t.end].strip("\n")
        if t.public and t is not entry_type:
            files[f"{t.name}.java"] = header + text + "\n"
        else:
            entry_parts.append(text)
    entry_file = f"{entry_type.name}.java"
    files[entry_file] = header + "\n\n".join(entry_parts) + "\n"
    return files, entry_file
