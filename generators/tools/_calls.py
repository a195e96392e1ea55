"""Tool calls in model replies: parse them (the ``tool_call`` verifier's parser) and write the OpenAI form."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from synthgen.llm.base import Completion

# A reply that tries to call but that the parser cannot read: a python tag, a JSON fence, or a line
# opening an object with a "name" key.
_ATTEMPT = re.compile(r"<\|python_tag\|>|```json|^\s*\{\s*[\"']name[\"']", re.MULTILINE)
_CALL_START = re.compile(r"<\|python_tag\|>|```|^\s*[\[{]", re.MULTILINE)
_OPENING = re.compile(r"^[ \t]*(?:<\|python_tag\|>|```(?:json)?\s*)?[ \t]*(?=[\[{])", re.MULTILINE)
_DECODER = json.JSONDecoder()


def _as_call(obj: Any) -> dict[str, Any] | None:
    if isinstance(obj, dict) and "name" in obj and ("arguments" in obj or "parameters" in obj or len(obj) == 1):
        return {"name": obj["name"], "arguments": obj.get("arguments", obj.get("parameters"))}
    return None


def extract_calls(text: str) -> list[dict[str, Any]]:
    """Calls written as JSON objects (or lists of them) that start a line, after an optional
    ``<|python_tag|>`` or a fence; several may follow each other, separated by newlines or ``;``."""
    calls: list[dict[str, Any]] = []
    pos = 0
    for match in _OPENING.finditer(text):
        at = match.end()
        if at < pos:
            continue
        while at < len(text) and text[at] in "[{":
            try:
                obj, end = _DECODER.raw_decode(text, at)
            except ValueError:
                break
            found = [c for c in map(_as_call, obj if isinstance(obj, list) else [obj]) if c]
            if not found:
                break
            calls += found
            pos = at = end
            while at < len(text) and text[at] in " \t;\n`":
                at += 1
    return calls


def _openai_calls(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for call in raw:
        fn = call.get("function", call) if isinstance(call, dict) else {}
        out.append({"name": fn.get("name"), "arguments": fn.get("arguments", fn.get("parameters"))})
    return out


@dataclass
class Reply:
    content: str  # reasoning or final answer text (the call JSON removed)
    calls: list[dict[str, Any]] = field(default_factory=list)  # {"name", "arguments"}
    problem: str = ""  # why the reply is a badly formatted call
    finish_reason: str = "stop"


def parse_reply(completion: Completion) -> Reply:
    text = completion.text or ""
    if completion.tool_calls:  # a server that parsed the calls itself
        calls = _openai_calls(completion.tool_calls)
        content = text
    else:
        calls = extract_calls(text)
        content = text
        if calls:
            start = _CALL_START.search(text)
            content = text[: start.start()] if start else ""
    reply = Reply(content.strip(), calls, finish_reason=completion.finish_reason)
    if not calls and _ATTEMPT.search(text):
        reply.problem = "the reply tries to call a tool but the call does not parse as JSON"
    elif any(not isinstance(c.get("name"), str) or not c["name"] for c in calls):
        reply.problem = "a call has no function name"
    return reply


def call_id(step: int, index: int) -> str:
    return f"call_{step}_{index}"


def arguments_text(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, sort_keys=True, ensure_ascii=False)


def assistant_turn(content: str, calls: list[dict[str, Any]], step: int) -> dict[str, Any]:
    """An assistant message in the OpenAI form: ``tool_calls`` with ids and JSON-string arguments."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [{"id": call_id(step, i), "type": "function",
                                  "function": {"name": c["name"], "arguments": arguments_text(c.get("arguments"))}}
                                 for i, c in enumerate(calls)]
    return message


def tool_turn(output: str, name: str, step: int, index: int) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id(step, index), "name": name, "content": output}


def call_key(name: str, arguments: Any) -> str:
    """Identity of a call, for loop detection (argument order does not matter)."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass
    return f"{name}:{json.dumps(arguments, sort_keys=True, default=str)}"
