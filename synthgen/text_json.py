"""JSON values inside model output: the one reader every judge, writer and parser of the engine uses.

Models wrap JSON in prose, fences (```json ... ```), or write several objects one per line. The reader
takes fenced blocks first, then scans the text for every ``{`` / ``[`` that starts a valid value
(``json.JSONDecoder.raw_decode``), so a value is found wherever it stands; malformed spans are skipped.
It never raises and never evaluates anything.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_START = re.compile(r"[\[{]")
MAX_SCAN_CHARS = 200_000  # longer outputs are read from their first and last 100k characters


def json_values(text: str, *, nested: bool = False, objects_only: bool = False) -> list[Any]:
    """Every JSON value in ``text``, in order: fenced blocks first, then the rest of the text.

    ``nested=False`` (default) resumes after each value found, so the members of an object are not
    listed again; ``nested=True`` also lists the objects inside others (a judge's ``{"scores": {...}}``).
    ``objects_only`` keeps only objects (dicts)."""
    if not text:
        return []
    if len(text) > MAX_SCAN_CHARS:  # bounded work on a flood of output
        half = MAX_SCAN_CHARS // 2
        text = text[:half] + "\n" + text[-half:]
    found: list[Any] = []
    for block in _FENCED.findall(text):
        try:
            found.append(json.loads(block))
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    pos = 0
    while True:
        match = _START.search(text, pos)
        if match is None:
            break
        try:
            value, end = decoder.raw_decode(text, match.start())
        except ValueError:
            pos = match.start() + 1
            continue
        found.append(value)
        pos = match.start() + 1 if nested else end
    if objects_only:
        return [v for v in found if isinstance(v, dict)]
    return found


def first_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (fenced first), or None."""
    objects = json_values(text, objects_only=True)
    return objects[0] if objects else None
