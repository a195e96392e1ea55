"""Get the program out of a model response.

``extract_code(text, language)`` returns the first fenced block tagged with the language (or one of
its aliases: ```` ```py ````, ```` ```c++ ````, ...), else the first untagged fenced block, else the
whole text (a response that is only code). ``code_blocks`` lists every block of the language, which
is how model-written unit tests in a second block are found.
"""

from __future__ import annotations

import re

LANGUAGE_TAGS: dict[str, tuple[str, ...]] = {
    "python": ("python", "py", "python3"),
    "c": ("c",),
    "cpp": ("cpp", "c++", "cxx", "cc"),
    "java": ("java",),
    "javascript": ("javascript", "js", "node", "nodejs"),
    "typescript": ("typescript", "ts"),
    "php": ("php",),
    "rust": ("rust", "rs"),
    "bash": ("bash", "sh", "shell"),
    "sql": ("sql", "sqlite"),
}
_ALIASES = {tag: lang for lang, tags in LANGUAGE_TAGS.items() for tag in tags}

# An opening fence with an optional info string, the body, and the closing fence (or the end of
# the text: a truncated response still yields its code).
_FENCE_RE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([^\n`]*)\n(.*?)(?:^[ \t]*\1[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)


def canonical_language(language: str) -> str:
    """The canonical name of a language tag or alias ('py' -> 'python'); unknown names lower-cased."""
    key = language.strip().lower()
    return _ALIASES.get(key, key)


def _blocks(text: str) -> list[tuple[str, str]]:
    """(canonical language or '', body) of every fenced block, in order."""
    out = []
    for match in _FENCE_RE.finditer(text):
        info = match.group(2).strip().split()
        tag = canonical_language(info[0]) if info else ""
        out.append((tag, match.group(3).rstrip("\n") + "\n"))
    return out


def code_blocks(text: str, language: str) -> list[str]:
    """Every fenced block tagged with ``language`` (or untagged, when none is tagged)."""
    lang = canonical_language(language)
    blocks = _blocks(text)
    tagged = [body for tag, body in blocks if tag == lang]
    return tagged or [body for tag, body in blocks if tag == ""]


def extract_code(text: str, language: str) -> str:
    """The solution program in a response (first block of the language, else the whole text)."""
    blocks = code_blocks(text, language)
    if blocks:
        return blocks[0]
    if _blocks(text):  # only blocks of other languages: the text around them is prose
        return ""
    return text.strip("\n") + "\n" if text.strip() else ""
