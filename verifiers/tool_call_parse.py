"""Read tool calls out of an assistant message, and tool schemas into JSON Schema.

Forms read (first that yields calls wins):

1. OpenAI ``tool_calls`` (``arguments`` a JSON string or an object);
2. JSON in the content: ``{"name", "arguments"|"parameters"}``, a list of them, BFCL's
   ``{"func": {"arg": ...}}``, in a fenced block, in Hermes/Qwen ``<tool_call>`` tags, or after
   Llama 3's ``<|python_tag|>`` (several separated by ``;``);
3. Python-call text, parsed with :mod:`ast` (never evaluated): ``f(a=1, b="x")``, a list
   ``[f(a=1), g(b=2)]``, dotted names ``math.hypot(x=3, y=4)``, one call per line, in a fenced
   block or after ``<|python_tag|>``. Argument values must be literals (numbers, strings, lists,
   dicts, tuples, ``True``/``true``/``None``/``null``); a name or a call as a value is an error for
   that call, not a crash. Positional arguments are kept apart and named by the verifier from the
   function's parameter order.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import orjson

from synthgen.records import Message

_FENCE_RE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
_TAG_RE = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
_PY_LITERAL_NAMES = {"true": True, "false": False, "null": None, "none": None}

# Schema type names seen in function-calling data that are not JSON Schema (BFCL's Python, Java
# and JavaScript categories, hand-written tools), mapped to JSON Schema; None = no constraint.
TYPE_ALIASES: dict[str, str | None] = {
    "dict": "object", "object": "object", "hashmap": "object", "map": "object",
    "float": "number", "double": "number", "number": "number", "decimal": "number",
    "int": "integer", "integer": "integer", "long": "integer", "short": "integer", "byte": "integer",
    "str": "string", "string": "string", "char": "string", "text": "string",
    "bool": "boolean", "boolean": "boolean",
    "list": "array", "array": "array", "tuple": "array", "arraylist": "array", "set": "array",
    "null": "null", "none": "null", "any": None, "mixed": None,
}


class BadSchema(ValueError):
    """A tool schema that cannot be validated against; the message says where."""


def find_tool_calls(message: Message) -> tuple[list[dict[str, Any]], str]:
    """(calls as ``{"name", "arguments"[, "positional", "error"]}``, where they came from)."""
    if message.get("tool_calls"):
        calls = []
        for call in message["tool_calls"]:
            fn = call.get("function", call) if isinstance(call, dict) else {}
            fn = fn if isinstance(fn, dict) else {}
            calls.append({"name": fn.get("name"), "arguments": fn.get("arguments", fn.get("parameters"))})
        return calls, "tool_calls"
    content = message.get("content") or ""
    if not isinstance(content, str):
        return [], ""
    blobs = [m.group(1) for m in _TAG_RE.finditer(content)] or [m.group(1) for m in _FENCE_RE.finditer(content)]
    blobs = blobs or [content]
    calls: list[dict[str, Any]] = []
    for blob in blobs:
        blob = blob.split("<|python_tag|>", 1)[-1].replace("<|eom_id|>", "").replace("<|eot_id|>", "").strip()
        calls += _json_calls(blob)
    if calls:
        return calls, "content"
    for blob in blobs:
        blob = blob.split("<|python_tag|>", 1)[-1].replace("<|eom_id|>", "").replace("<|eot_id|>", "").strip()
        calls += python_calls(blob)
    return calls, "python" if calls else ""


def _json_calls(blob: str) -> list[dict[str, Any]]:
    whole = _loads(blob)
    pieces = [whole] if whole is not None else [_loads(p) for p in blob.split(";") if p.strip()]
    calls: list[dict[str, Any]] = []
    for parsed in pieces:
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("name"), str):
                calls.append({"name": item["name"], "arguments": item.get("arguments", item.get("parameters"))})
            elif isinstance(item.get("function"), dict) and isinstance(item["function"].get("name"), str):
                fn = item["function"]
                calls.append({"name": fn["name"], "arguments": fn.get("arguments", fn.get("parameters"))})
            elif len(item) == 1:  # BFCL's {"math.hypot": {"x": 4, "y": 5}}
                (name, args), = item.items()
                if isinstance(args, dict):
                    calls.append({"name": name, "arguments": args})
    return calls


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text.strip())
    except orjson.JSONDecodeError:
        return None


def python_calls(text: str) -> list[dict[str, Any]]:
    """Calls in Python syntax: ``f(a=1)``, ``[f(a=1), g(b=2)]``, one per line; [] if not Python."""
    text = text.strip()
    if not text or "(" not in text or len(text) > 100_000:
        return []
    try:
        tree = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    nodes: list[ast.expr] = []
    for stmt in tree.body:
        if not isinstance(stmt, ast.Expr):
            return []  # assignments, imports, defs: code, not a call list
        value = stmt.value
        nodes += list(value.elts) if isinstance(value, (ast.List, ast.Tuple)) else [value]
    if not nodes or not all(isinstance(n, ast.Call) for n in nodes):
        return []
    return [_python_call(n) for n in nodes if isinstance(n, ast.Call)]


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _python_call(node: ast.Call) -> dict[str, Any]:
    name = _dotted(node.func)
    call: dict[str, Any] = {"name": name, "arguments": {}}
    if name is None:
        call["error"] = "the called object is not a function name"
        return call
    try:
        call["positional"] = [_literal(a) for a in node.args]
        for kw in node.keywords:
            if kw.arg is None:
                raise ValueError("**kwargs unpacking is not a literal argument")
            call["arguments"][kw.arg] = _literal(kw.value)
    except ValueError as exc:
        call["error"] = str(exc)
    return call


def _literal(node: ast.expr) -> Any:
    """The value of a literal argument; names true/false/null as JSON writes them."""
    if isinstance(node, ast.Name) and node.id.lower() in _PY_LITERAL_NAMES:
        return _PY_LITERAL_NAMES[node.id.lower()]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise ValueError("**dict unpacking is not a literal argument")
        return {str(_literal(k)): _literal(v) for k, v in zip(node.keys, node.values)}  # type: ignore[arg-type]
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise ValueError(f"argument value {ast.unparse(node)[:60]!r} is not a literal") from None


def json_schema(schema: Any, where: str = "parameters") -> Any:
    """The schema with type names mapped to JSON Schema (``dict`` -> ``object``, ``float`` ->
    ``number``, ``tuple`` -> ``array``, ``any`` -> no constraint, ...). Raises :class:`BadSchema`
    naming the place of a type it cannot read."""
    if isinstance(schema, list):
        return [json_schema(s, f"{where}/{i}") for i, s in enumerate(schema)]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "type":
            mapped = _map_type(value, where)
            if mapped is not None:
                out["type"] = mapped
        elif key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {k: json_schema(v, f"{where}/{key}/{k}") for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "anyOf", "oneOf", "allOf", "prefixItems", "contains"):
            out[key] = json_schema(value, f"{where}/{key}")
        else:
            out[key] = value
    return out


def _map_type(value: Any, where: str) -> Any:
    if isinstance(value, list):
        mapped = [_map_type(v, where) for v in value]
        return None if None in mapped else mapped
    if not isinstance(value, str):
        raise BadSchema(f"{where}: type {value!r} is not a type name")
    key = value.strip().lower()
    key = re.sub(r"^(?:list|array|tuple)\[.*\]$", "list", key)  # "list[int]"
    if key not in TYPE_ALIASES:
        raise BadSchema(f"{where}: unknown type {value!r}")
    return TYPE_ALIASES[key]
