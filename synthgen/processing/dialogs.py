"""What a processor looks at in a record: the responses it teaches and the dialog they complete.

A record teaches the candidates export turns into rows: ``selected`` (SFT), the chosen side of each
preference pair (DPO) and every ranked response but the last (RM). Processors score and clean those;
a record that teaches nothing (a failed record, an eval record) passes every step untouched.
"""

from __future__ import annotations

from synthgen.records import Candidate, Message, Record


def taught_ids(record: Record) -> list[str]:
    """Ids of the candidates the record's exports train on, best first, without repeats."""
    ids: list[str] = []
    for cid in [*record.selected, *(p.chosen for p in record.pairs), *record.ranking[:-1]]:
        if cid not in ids:
            ids.append(cid)
    return ids


def primary(record: Record) -> Candidate | None:
    """The response that stands for the record (the best selected, else the first chosen/ranked)."""
    ids = taught_ids(record)
    if record.status != "ok" or not ids:
        return None
    try:
        return record.candidate(ids[0])
    except KeyError:
        return None


def render(messages: list[Message]) -> str:
    """A dialog as plain text, one ``role: content`` block per message (tool calls included)."""
    parts = []
    for m in messages:
        content = m.get("content")
        text = content if isinstance(content, str) else ""
        for call in m.get("tool_calls") or []:
            fn = call.get("function", call)
            text += f"\n[tool call {fn.get('name')}: {fn.get('arguments')}]"
        parts.append(f"{m.get('role', 'user')}: {text}")
    return "\n".join(parts)


def dialog_text(record: Record, candidate: Candidate | None = None) -> str:
    """The whole dialog: prompt messages and the (primary) response."""
    cand = candidate or primary(record)
    return render(list(record.messages) + (list(cand.messages) if cand else []))


def last_user(record: Record) -> str:
    for m in reversed(record.messages):
        if m.get("role") == "user" and isinstance(m.get("content"), str):
            return m["content"]
    return ""


def input_problem(record: Record) -> str | None:
    """Why a record cannot be processed (non-text content, empty taught response), or None."""
    if record.status != "ok":
        return None
    for i, m in enumerate(record.messages):
        if m.get("content") is not None and not isinstance(m.get("content"), str):
            return f"non-text content; {type(m['content']).__name__} in prompt message {i}"
    for cid in taught_ids(record):
        try:
            cand = record.candidate(cid)
        except KeyError:
            return f"unknown candidate; selection names {cid}, which the record does not have"
        for i, m in enumerate(cand.messages):
            if m.get("content") is not None and not isinstance(m.get("content"), str):
                return f"non-text content; {type(m['content']).__name__} in response {cid} message {i}"
        if not any((m.get("content") or "").strip() or m.get("tool_calls") for m in cand.messages
                   if m.get("role") == "assistant"):
            return f"empty response; candidate {cid}"
    return None
