"""The ``tool_call`` verifier: are the candidate's tool calls valid, and are they the right ones?

Reads:
- ``record.metadata[tools_field]`` (default ``"tools"``): OpenAI function definitions,
  ``[{"type": "function", "function": {"name", "parameters": <JSON schema>}}]`` (bare
  ``{"name", "parameters"}`` entries work too);
- ``record.metadata[expected_field]`` (default ``"expected_tool_calls"``, optional): the ground truth,
  ``[{"name": ..., "arguments": {...}}]``; ``[]`` means the model must not call a tool;
- the candidate's last assistant message: its ``tool_calls`` (OpenAI form, ``arguments`` a JSON
  string or an object), else JSON in its content (``{"name", "arguments"|"parameters"}``, a list of
  them, a fenced block, or Llama 3's ``<|python_tag|>`` calls separated by ``;``).

Validation (every call): the function exists, arguments parse as a JSON object and satisfy the
schema (types, required, enums, nested objects, arrays; unknown parameters are errors unless
``allow_unknown_params``). Comparison with ground truth (order-insensitive for parallel calls):
same function, same arguments after normalisation (defaults from the schema filled in, numeric
strings equal numbers, optional case/whitespace folding for strings, float tolerance).

Score: the fraction of expected calls matched (with ground truth) or of calls valid (without).
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from typing import Any, ClassVar

import orjson
from jsonschema import Draft202012Validator
from pydantic import Field

from synthgen.plugins import PluginConfig, Verifier
from synthgen.records import Candidate, Message, Record, Verdict

_FENCE_RE = re.compile(r"```(?:json)?\s*\n?(.*?)```", re.DOTALL)


class ToolCallConfig(PluginConfig):
    tools_field: str = "tools"
    expected_field: str = "expected_tool_calls"
    allow_unknown_params: bool = Field(False, description="accept arguments the schema does not declare")
    require_call: bool = Field(True, description="fail when the response makes no tool call (no ground truth)")
    allow_extra_calls: bool = Field(False, description="with ground truth: accept calls beyond the expected ones")
    numeric_strings: bool = Field(True, description="'5' equals 5 when comparing with ground truth")
    case_insensitive: bool = False
    normalize_whitespace: bool = True
    float_tolerance: float = 1e-6


def find_tool_calls(message: Message) -> tuple[list[dict[str, Any]], str]:
    """(calls as ``{"name", "arguments", "raw_arguments"}``, where they came from) from one message."""
    if message.get("tool_calls"):
        calls = []
        for call in message["tool_calls"]:
            fn = call.get("function", call) if isinstance(call, dict) else {}
            calls.append({"name": fn.get("name"), "arguments": fn.get("arguments", fn.get("parameters"))})
        return calls, "tool_calls"
    content = message.get("content") or ""
    if not isinstance(content, str):
        return [], ""
    blobs = [m.group(1) for m in _FENCE_RE.finditer(content)] or [content]
    calls: list[dict[str, Any]] = []
    for blob in blobs:
        blob = blob.replace("<|python_tag|>", "").strip()
        for piece in _split_calls(blob):
            parsed = _loads(piece)
            items = parsed if isinstance(parsed, list) else [parsed]
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    calls.append({"name": item["name"], "arguments": item.get("arguments", item.get("parameters"))})
    return calls, "content" if calls else ""


def _split_calls(blob: str) -> list[str]:
    whole = _loads(blob)
    if whole is not None:
        return [blob]
    return [p for p in blob.split(";") if p.strip()]  # Llama 3: '{...}; {...}'


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text.strip())
    except orjson.JSONDecodeError:
        return None


def _functions(tools: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for tool in tools or []:
        fn = tool.get("function", tool) if isinstance(tool, dict) else {}
        if isinstance(fn.get("name"), str):
            out[fn["name"]] = fn.get("parameters") or {"type": "object", "properties": {}}
    return out


def _closed(schema: Any) -> Any:
    """A copy of the schema where objects reject undeclared properties (unless they say otherwise)."""
    if isinstance(schema, dict):
        schema = {k: _closed(v) for k, v in schema.items()}
        if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    return schema


def _arguments(raw: Any) -> tuple[dict[str, Any] | None, str]:
    if raw is None:
        return {}, ""
    if isinstance(raw, str):
        parsed = _loads(raw) if raw.strip() else {}
        if parsed is None:
            return None, f"arguments are not valid JSON: {raw[:80]!r}"
        raw = parsed
    if not isinstance(raw, dict):
        return None, f"arguments must be a JSON object, got {type(raw).__name__}"
    return raw, ""


def _schema_errors(args: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    errors = []
    for err in sorted(Draft202012Validator(schema).iter_errors(args), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in err.path) or "arguments"
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            errors.append(f"{where}: unknown parameter(s) {', '.join(map(repr, extra))}")
        elif err.validator == "required":
            errors.append(f"{where}: {err.message}")
        else:
            errors.append(f"{where}: {err.message}")
    return errors


def _with_defaults(args: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(args)
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict):
            if name not in out and "default" in prop:
                out[name] = prop["default"]
            elif isinstance(out.get(name), dict) and prop.get("type") == "object":
                out[name] = _with_defaults(out[name], prop)
    return out


class ToolCallVerifier(Verifier):
    name: ClassVar[str] = "tool_call"
    Config: ClassVar[type[ToolCallConfig]] = ToolCallConfig

    async def verify(self, record: Record, candidate: Candidate, ctx: Any = None) -> Verdict:
        cfg: ToolCallConfig = self.config
        functions = _functions(record.metadata.get(cfg.tools_field))
        expected = record.metadata.get(cfg.expected_field)
        message = next((m for m in reversed(candidate.messages) if m.get("role") == "assistant"), {})
        calls, source = find_tool_calls(message)
        details: dict[str, Any] = {"source": source, "calls": [], "errors": []}
        problems: list[str] = []

        if not calls:
            if expected == [] or (expected is None and not cfg.require_call):
                return Verdict(verifier=self.name, passed=True, score=1.0, details=details)
            return Verdict(verifier=self.name, passed=False, score=0.0, details=details,
                           feedback="no tool call found: answer with a tool call "
                                    '(JSON {"name": ..., "arguments": {...}}) for one of: '
                                    + ", ".join(sorted(functions)))
        valid: list[dict[str, Any]] = []
        for i, call in enumerate(calls, 1):
            label = f"call {i} ({call['name']})"
            entry: dict[str, Any] = {"name": call["name"], "errors": []}
            details["calls"].append(entry)
            if call["name"] not in functions:
                entry["errors"].append(f"unknown function; available: {', '.join(sorted(functions)) or 'none'}")
            else:
                args, err = _arguments(call["arguments"])
                if err:
                    entry["errors"].append(err)
                else:
                    schema = functions[call["name"]]
                    entry["arguments"] = args
                    entry["errors"] += _schema_errors(args, schema if cfg.allow_unknown_params else _closed(schema))
                    if not entry["errors"]:
                        valid.append({"name": call["name"], "arguments": _with_defaults(args, schema)})
            problems += [f"{label}: {e}" for e in entry["errors"]]

        if expected is None:
            score = len(valid) / len(calls)
            passed = not problems
        else:
            score, mismatch = self._compare(valid, expected, functions, total_calls=len(calls))
            problems += mismatch
            passed = not problems
        details["errors"] = problems
        return Verdict(verifier=self.name, passed=passed, score=score, details=details,
                       feedback="" if passed else "; ".join(problems[:8]))

    def _compare(self, valid: list[dict[str, Any]], expected: list[dict[str, Any]],
                 functions: dict[str, dict[str, Any]], total_calls: int) -> tuple[float, list[str]]:
        cfg: ToolCallConfig = self.config
        wanted = []
        for exp in expected:
            schema = functions.get(exp.get("name"), {})
            args, _ = _arguments(exp.get("arguments", exp.get("parameters")))
            wanted.append({"name": exp.get("name"), "arguments": _with_defaults(args or {}, schema)})
        # Best one-to-one matching of expected to made calls (parallel calls are unordered).
        best: list[tuple[int, int]] = []
        if len(wanted) <= 7 and len(valid) <= 7:
            for perm in itertools.permutations(range(len(valid)), min(len(valid), len(wanted))):
                pairs = [(w, c) for w, c in enumerate(perm) if self._same(wanted[w], valid[c])]
                if len(pairs) > len(best):
                    best = pairs
        else:  # greedy for long call lists
            used: set[int] = set()
            for w, want in enumerate(wanted):
                c = next((c for c in range(len(valid)) if c not in used and self._same(want, valid[c])), None)
                if c is not None:
                    used.add(c)
                    best.append((w, c))
        matched_w, matched_c = {w for w, _ in best}, {c for _, c in best}
        spare = [c for i, c in enumerate(valid) if i not in matched_c]
        problems = []
        for w, want in enumerate(wanted):
            if w not in matched_w:
                closest = next((c for c in spare if c["name"] == want["name"]), None)
                if closest is not None:
                    spare.remove(closest)
                if closest is None:
                    problems.append(f"missing call {want['name']}({_short(want['arguments'])})")
                else:
                    diffs = self._diff(want["arguments"], closest["arguments"])
                    problems.append(f"{want['name']}: wrong arguments: {diffs}")
        if spare and not cfg.allow_extra_calls:  # valid calls that match nothing expected
            problems.append(f"{len(spare)} call(s) beyond the expected {len(wanted)}: "
                            + ", ".join(f"{c['name']}({_short(c['arguments'])})" for c in spare[:3]))
        denominator = max(len(wanted), 1 if cfg.allow_extra_calls else total_calls)
        return (len(best) / denominator if wanted else (0.0 if total_calls else 1.0)), problems

    def _same(self, want: dict[str, Any], got: dict[str, Any]) -> bool:
        return want["name"] == got["name"] and self._equal(want["arguments"], got["arguments"])

    def _equal(self, a: Any, b: Any) -> bool:
        cfg: ToolCallConfig = self.config
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(self._equal(a[k], b[k]) for k in a)
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(self._equal(x, y) for x, y in zip(a, b))
        na, nb = self._number(a), self._number(b)
        if na is not None and nb is not None:
            return math.isclose(na, nb, rel_tol=cfg.float_tolerance, abs_tol=cfg.float_tolerance)
        if isinstance(a, str) and isinstance(b, str):
            return self._text(a) == self._text(b)
        return a == b and type(a) is type(b)

    def _number(self, v: Any) -> float | None:
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            return float(v)
        if self.config.numeric_strings and isinstance(v, str):
            try:
                return float(v.strip())
            except ValueError:
                return None
        return None

    def _text(self, s: str) -> str:
        if self.config.normalize_whitespace:
            s = " ".join(s.split())
        return s.casefold() if self.config.case_insensitive else s

    def _diff(self, want: dict[str, Any], got: dict[str, Any]) -> str:
        parts = []
        for key in sorted(set(want) | set(got)):
            if key not in got:
                parts.append(f"missing {key!r} (expected {want[key]!r})")
            elif key not in want:
                parts.append(f"unexpected {key!r}={got[key]!r}")
            elif not self._equal(want[key], got[key]):
                parts.append(f"{key!r} expected {want[key]!r}, got {got[key]!r}")
        return ", ".join(parts) or "differs"


def _short(args: dict[str, Any]) -> str:
    text = orjson.dumps(args).decode()
    return text if len(text) <= 80 else text[:77] + "..."
