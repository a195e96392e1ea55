"""The ``tool_call`` verifier: are the candidate's tool calls valid, and are they the right ones?

Reads:
- ``record.metadata[tools_field]`` (default ``"tools"``): function definitions, OpenAI
  ``[{"type": "function", "function": {"name", "parameters": <schema>}}]`` or bare
  ``{"name", "parameters"}``; common non-JSON-Schema type names (``dict``, ``float``, ``tuple``,
  ``any``, ``list``/``array`` of a type, ``int``, ``str``, ``bool``) are read as JSON Schema;
- ``record.metadata[expected_field]`` (default ``"expected_tool_calls"``, optional): the ground truth,
  exact calls, calls with alternatives per parameter, or BFCL's possible-answer form (see
  :mod:`verifiers.tool_call_reference`); ``[]`` means the model must not call a tool;
- the candidate's last assistant message: ``tool_calls``, JSON in the content, Python-call text
  ``f(a=1)`` / ``[f(a=1), g(b=2)]`` (see :mod:`verifiers.tool_call_parse`).

Validation (every call; an "integer" takes no float, not even 4.0): the function exists (``math_hypot`` names ``math.hypot`` when tool names
have dots, as OpenAI-style names cannot), arguments are a JSON object and satisfy the schema
(types, required, enums, nested objects, arrays; unknown parameters are errors unless
``allow_unknown_params``). Comparison with ground truth: parallel calls in any order, each call
matched to at most one expected call; integers exactly, the float tolerance for non-integral
numbers only. ``verify`` never raises: a bad schema, a bad reference or unreadable output is a
failed verdict whose feedback names the problem.

Score: the fraction of expected calls matched (with ground truth) or of calls valid (without).
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError
from pydantic import Field

from synthgen.plugins import PluginConfig, Verifier
from synthgen.records import Candidate, Record, Verdict
from verifiers.tool_call_parse import BadSchema, find_tool_calls, json_schema
from verifiers.tool_call_reference import BadReference, Reference, ValueRules, match, read_references

__all__ = ["ToolCallConfig", "ToolCallVerifier", "closed_schema", "find_tool_calls", "schema_errors"]

# An "integer" parameter takes integers only: 4.0 is a float there (JSON Schema would accept it,
# Python and BFCL's checker do not).
_StrictIntValidator = validators.extend(Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)))


class ToolCallConfig(PluginConfig):
    tools_field: str = "tools"
    expected_field: str = "expected_tool_calls"
    allow_unknown_params: bool = Field(False, description="accept arguments the schema does not declare")
    require_call: bool = Field(True, description="fail when the response makes no tool call (no ground truth)")
    allow_extra_calls: bool = Field(False, description="with ground truth: accept calls beyond the expected ones")
    numeric_strings: bool = Field(True, description="'5' equals 5 when comparing with ground truth")
    case_insensitive: bool = Field(False, description="exact-form references: compare strings ignoring case")
    normalize_whitespace: bool = Field(True, description="exact-form references: runs of spaces are one space")
    float_tolerance: float = Field(1e-6, ge=0, description="relative and absolute tolerance for non-integral numbers")


def _functions(tools: Any) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(name -> JSON Schema of its parameters, problems with the tool list)."""
    out: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    if tools is not None and not isinstance(tools, list):
        problems.append(f"the record's tools must be a list of function definitions, got {type(tools).__name__}")
    for tool in tools if isinstance(tools, list) else []:
        fn = tool.get("function", tool) if isinstance(tool, dict) else {}
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            continue
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        try:
            schema = json_schema(params)
            if not isinstance(schema, dict):
                raise BadSchema("parameters is not an object")
            Draft202012Validator.check_schema(schema)
        except (BadSchema, SchemaError) as exc:
            problems.append(f"the schema of tool {fn['name']!r} is unusable: {getattr(exc, 'message', exc)}")
            continue
        out[fn["name"]] = schema
    return out, problems


def _resolve_name(name: Any, functions: dict[str, dict[str, Any]]) -> Any:
    """``math_hypot`` -> ``math.hypot`` when that is the only dotted tool it can mean."""
    if not isinstance(name, str) or name in functions:
        return name
    candidates = [f for f in functions if f.replace(".", "_") == name]
    return candidates[0] if len(candidates) == 1 else name


def closed_schema(schema: Any) -> Any:
    """A copy of the schema where objects reject undeclared properties (unless they say otherwise)."""
    if isinstance(schema, dict):
        schema = {k: closed_schema(v) for k, v in schema.items()}
        if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [closed_schema(s) for s in schema]
    return schema


def _arguments(call: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    if call.get("error"):
        return None, call["error"]
    raw = call.get("arguments")
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            return None, f"arguments are not valid JSON: {raw[:80]!r}"
    if not isinstance(raw, dict):
        return None, f"arguments must be a JSON object, got {type(raw).__name__}"
    positional = call.get("positional") or []
    if positional:  # Python-call text: name positional values by the declared parameter order
        order = list((schema.get("properties") or {}).keys())
        if len(positional) > len(order):
            return None, f"{len(positional)} positional arguments for {len(order)} parameters"
        raw = dict(raw)
        for key, value in zip(order, positional):
            if key in raw:
                return None, f"parameter {key!r} given twice"
            raw[key] = value
    return raw, ""


def schema_errors(args: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Why ``args`` do not fit a JSON Schema (integers strict), one line each; [] when they do. Shared
    with the tool executor (``tools.toolbox``), so a call is judged the same way before it runs."""
    errors = []
    for err in sorted(_StrictIntValidator(schema).iter_errors(args), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in err.path) or "arguments"
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            errors.append(f"{where}: unknown parameter(s) {', '.join(map(repr, extra))}")
        else:
            errors.append(f"{where}: {err.message}")
    return errors


def _max_matching(ok: list[list[bool]]) -> list[tuple[int, int]]:
    """A largest one-to-one pairing of expected calls (rows) to made calls (columns)."""
    owner: dict[int, int] = {}

    def augment(row: int, seen: set[int]) -> bool:
        for col, good in enumerate(ok[row]):
            if good and col not in seen:
                seen.add(col)
                if col not in owner or augment(owner[col], seen):
                    owner[col] = row
                    return True
        return False

    for row in range(len(ok)):
        augment(row, set())
    return sorted((row, col) for col, row in owner.items())


class ToolCallVerifier(Verifier):
    name: ClassVar[str] = "tool_call"
    Config: ClassVar[type[ToolCallConfig]] = ToolCallConfig

    async def verify(self, record: Record, candidate: Candidate, ctx: Any = None) -> Verdict:
        try:
            return self._verify(record, candidate)
        except Exception as exc:  # noqa: BLE001 - a verifier reports, it does not crash the run
            return Verdict(verifier=self.name, passed=False, score=0.0,
                           feedback=f"the tool calls could not be checked: {type(exc).__name__}: {exc}"[:300],
                           details={"error": "internal", "exception": repr(exc)[:500]})

    def _verify(self, record: Record, candidate: Candidate) -> Verdict:
        cfg: ToolCallConfig = self.config
        functions, schema_problems = _functions(record.metadata.get(cfg.tools_field))
        expected = record.metadata.get(cfg.expected_field)
        message = next((m for m in reversed(candidate.messages) if m.get("role") == "assistant"), {})
        calls, source = find_tool_calls(message)
        details: dict[str, Any] = {"source": source, "calls": [], "errors": []}
        references: list[Reference] | None = None
        if expected is not None:
            try:
                references = read_references(expected, functions)
            except BadReference as exc:
                schema_problems.append(f"the reference calls are unusable: {exc}")
        if schema_problems:
            details["errors"] = schema_problems
            return Verdict(verifier=self.name, passed=False, score=0.0, details={**details, "error": "bad_schema"},
                           feedback="; ".join(schema_problems[:4]))

        if not calls:
            if references == [] or (references is None and not cfg.require_call):
                return Verdict(verifier=self.name, passed=True, score=1.0, details=details)
            return Verdict(verifier=self.name, passed=False, score=0.0, details=details,
                           feedback="no tool call found: answer with a tool call "
                                    '(JSON {"name": ..., "arguments": {...}}) for one of: '
                                    + ", ".join(sorted(functions)))
        problems: list[str] = []
        valid: list[dict[str, Any]] = []
        for i, call in enumerate(calls, 1):
            name = _resolve_name(call.get("name"), functions)
            entry: dict[str, Any] = {"name": name, "errors": []}
            details["calls"].append(entry)
            if name not in functions:
                entry["errors"].append(f"unknown function; available: {', '.join(sorted(functions)) or 'none'}")
            else:
                schema = functions[name]
                args, err = _arguments(call, schema)
                if err:
                    entry["errors"].append(err)
                else:
                    entry["arguments"] = args
                    entry["errors"] += schema_errors(args, schema if cfg.allow_unknown_params else closed_schema(schema))
                    if not entry["errors"]:
                        valid.append({"name": name, "arguments": args})
            problems += [f"call {i} ({name}): {e}" for e in entry["errors"]]

        if references is None:
            score = len(valid) / len(calls)
        else:
            score, mismatch = self._compare(valid, references, functions, total_calls=len(calls))
            problems += mismatch
        passed = not problems
        details["errors"] = problems
        return Verdict(verifier=self.name, passed=passed, score=score, details=details,
                       feedback="" if passed else "; ".join(problems[:8]))

    def _compare(self, valid: list[dict[str, Any]], wanted: list[Reference],
                 functions: dict[str, dict[str, Any]], total_calls: int) -> tuple[float, list[str]]:
        cfg: ToolCallConfig = self.config
        rules = ValueRules(cfg.numeric_strings, cfg.case_insensitive, cfg.normalize_whitespace, cfg.float_tolerance)

        def diff(want: Reference, got: dict[str, Any]) -> list[str] | None:
            if want.name != got["name"]:
                return None
            return match(want, got["arguments"], functions.get(want.name, {}), rules)

        ok = [[diff(w, c) == [] for c in valid] for w in wanted]
        best = _max_matching(ok)
        matched_w, matched_c = {w for w, _ in best}, {c for _, c in best}
        spare = [c for i, c in enumerate(valid) if i not in matched_c]
        problems = []
        for w, want in enumerate(wanted):
            if w in matched_w:
                continue
            closest = next((c for c in spare if c["name"] == want.name), None)
            if closest is None:
                problems.append(f"missing call {want.name}({_short(want.shown)})")
            else:
                spare.remove(closest)
                problems.append(f"{want.name}: wrong arguments: {', '.join(diff(want, closest) or ['differs'])}")
        if spare and not cfg.allow_extra_calls:  # valid calls that match nothing expected
            problems.append(f"{len(spare)} call(s) beyond the expected {len(wanted)}: "
                            + ", ".join(f"{c['name']}({_short(c['arguments'])})" for c in spare[:3]))
        denominator = max(len(wanted), 1 if cfg.allow_extra_calls else total_calls)
        return (len(best) / denominator if wanted else (0.0 if total_calls else 1.0)), problems


def _short(args: dict[str, Any]) -> str:
    text = orjson.dumps(args, default=str).decode()
    return text if len(text) <= 80 else text[:77] + "..."
