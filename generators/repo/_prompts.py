"""Prompts of the repository tasks and the readers of the model's answers."""

from __future__ import annotations

import posixpath
import re

DEPENDENTS_TASK = (
    "The file `{removed}` has been removed from the repository shown above. Which files of the "
    "repository import it (directly, with an import statement)? List every such file by its path, one "
    "per line, inside a fenced block:\n```\npath/one.py\npath/two.py\n```"
)
MISSING_FILE_TASK = (
    "The file `{removed}` has been removed from the repository shown above. The files that import it "
    "still expect it. Write the complete content of `{removed}` so that they work again. Answer with "
    "the whole file in one fenced code block."
)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PATHISH = re.compile(r"[A-Za-z0-9_./@-]+\.(?:pyi?|[cm]?[jt]sx?)\b")


def render_context(repo_name: str, files: list[tuple[str, str]], removed: str) -> str:
    """The repository as the model sees it: a file listing, then each file in a fenced block."""
    listing = "\n".join(path for path, _ in files)
    blocks = "\n\n".join(f"### {path}\n```{_lang(path)}\n{text.rstrip()}\n```" for path, text in files)
    return (
        f"Repository `{repo_name}` ({len(files)} files shown; `{removed}` is missing).\n"
        f"Files:\n{listing}\n\n{blocks}\n"
    )


def _lang(path: str) -> str:
    return "python" if path.endswith((".py", ".pyi")) else "typescript" if ".ts" in path else "javascript"


def read_paths(text: str, known: set[str]) -> list[str]:
    """Repository paths the answer names, in order, each once.

    Exact paths count; so do dotted module names (``pkg.sub.mod``) and, when unique in the
    repository, bare file names or path suffixes (``mod.py`` for ``src/pkg/mod.py``)."""
    by_suffix: dict[str, list[str]] = {}
    by_module: dict[str, str] = {}
    for path in known:
        parts = path.split("/")
        for i in range(len(parts)):
            by_suffix.setdefault("/".join(parts[i:]), []).append(path)
        stem = path.rsplit(".", 1)[0]
        mod = stem.removesuffix("/__init__")
        for i in range(len(mod.split("/"))):
            by_module.setdefault(".".join(mod.split("/")[i:]), path)
    fenced = [m.group(2) for m in _FENCE.finditer(text)]
    body = "\n".join(fenced) if fenced else text
    out: list[str] = []
    tokens: list[str] = []
    for line in body.splitlines():
        found = _PATHISH.findall(line)
        # a line without a file name may hold a dotted module name ("- shop.api.routes")
        tokens += found or [line.strip().lstrip("-*0123456789.) ").strip("`'\",;. ")]
    for token in tokens:
        token = token.strip("`'\"").lstrip("./")
        token = posixpath.normpath(token) if token else token
        hit = token if token in known else None
        if hit is None and len(by_suffix.get(token, [])) == 1:
            hit = by_suffix[token][0]
        if hit is None and token in by_module:
            hit = by_module[token]
        if hit is not None and hit not in out:
            out.append(hit)
    return out


def read_code(text: str, language: str = "python") -> str | None:
    """The file the model wrote: its longest fenced block of the language (or an untagged one); a
    response without any fence is taken whole. None when the answer is empty."""
    blocks = [(tag.lower(), body) for tag, body in _FENCE.findall(text)]
    wanted = ("python", "py", "python3") if language == "python" else ("javascript", "js", "typescript", "ts")
    tagged = [b for t, b in blocks if t in wanted]
    untagged = [b for t, b in blocks if not t]
    pool = tagged or untagged
    if pool:
        return max(pool, key=len)
    if blocks:
        return None  # only blocks of other languages: not an answer
    return text if text.strip() else None
