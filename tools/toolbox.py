"""The tools of a run: build them from config, offer their schemas, validate and execute calls.

Every way a call can go wrong becomes a :class:`CallOutcome` with a ``reason`` (the trace records
it and ends), never an exception:

- ``unknown_tool``: the model named a tool that is not offered;
- ``bad_arguments``: the arguments are not a JSON object or do not fit the tool's schema
  (types, required, enums; undeclared parameters are errors);
- ``call_failed``: the tool ran and reported an error (a traceback, an unsolvable equation, ...);
- ``tool_timeout``: the call did not return within ``call_timeout_s`` (or the tool said it timed out);
- ``tool_output_flood``: the output was larger than ``max_output_chars`` (or the tool stopped a flood);
- ``tool_unavailable``: a transient failure (:class:`~synthgen.errors.TransientError`, a search
  endpoint down) persisted after ``retries`` attempts with backoff;
- ``tool_raised``: the tool itself crashed (a bug in the tool, not in the call).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from synthgen.errors import ConfigError, SynthgenError, TransientError, cancelled_by_caller
from synthgen.plugins import Tool, ToolResult
from verifiers.tool_call import closed_schema, schema_errors
from verifiers.tool_call_parse import BadSchema, json_schema

# What a tool may put in ``ToolResult.details["reason"]`` and the trace reason it becomes.
_TOOL_REASONS = {"timeout": "tool_timeout", "output_limit": "tool_output_flood", "unavailable": "tool_unavailable"}


class ToolRef(BaseModel):
    """One tool offered in a pipeline: a plugin name and its options."""

    model_config = ConfigDict(extra="forbid")
    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class ToolboxLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_timeout_s: float = Field(60.0, gt=0, description="a call that takes longer ends the trace (tool_timeout)")
    max_output_chars: int = Field(20000, ge=100, description="longer output ends the trace (tool_output_flood)")
    retries: int = Field(2, ge=0, description="extra attempts after a transient tool failure")
    backoff_s: float = Field(0.5, ge=0)


@dataclass
class CallOutcome:
    """One call as the trace records it."""

    name: str
    arguments: Any
    output: str = ""
    reason: str = ""  # '' when the call ran and succeeded
    error: str = ""
    artifacts: dict[str, bytes] = field(default_factory=dict)
    seconds: float = 0.0
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return not self.reason


def schema_problems(schema: dict[str, Any], arguments: dict[str, Any]) -> list[str]:
    """Why ``arguments`` do not fit ``schema`` (undeclared parameters included); [] when they do.
    The same reading as the ``tool_call`` verifier: common non-JSON-Schema type names mapped,
    integers exact."""
    try:
        mapped = json_schema(schema)
    except BadSchema as exc:
        return [f"the tool's schema is unusable: {exc}"]
    return schema_errors(arguments, closed_schema(mapped))


def parse_arguments(raw: Any) -> tuple[dict[str, Any] | None, str]:
    """A call's arguments as a dict, from a JSON string or an object; or None and why not."""
    if raw is None or raw == "":
        return {}, ""
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None, f"arguments are not valid JSON: {raw[:120]!r}"
    if not isinstance(raw, dict):
        return None, f"arguments must be a JSON object, got {type(raw).__name__}"
    return raw, ""


class Toolbox:
    """Tool instances by name with their validators; one per generator (shared by every trace)."""

    def __init__(self, tools: list[Tool], limits: ToolboxLimits | None = None) -> None:
        self.tools = {t.name: t for t in tools}
        self.limits = limits or ToolboxLimits()

    @classmethod
    def from_refs(cls, refs: list[ToolRef], limits: ToolboxLimits | None = None, *, registry: Any = None,
                  where: str = "generator.options.tools") -> Toolbox:
        from synthgen.registry import Registry

        registry = registry or Registry()
        if not refs:
            raise ConfigError("no tools: list at least one, e.g. `tools: [{name: python}]`", field=where)
        names = [r.name for r in refs]
        if len(set(names)) != len(names):
            raise ConfigError(f"a tool is listed twice: {names}", field=where)
        tools = [registry.create("tool", r.name, r.options, where=f"{where}[{i}].options")
                 for i, r in enumerate(refs)]
        return cls(tools, limits)

    def schemas(self) -> list[dict[str, Any]]:
        return [t.schema() for t in self.tools.values()]

    def check(self, name: Any, raw_arguments: Any) -> tuple[dict[str, Any] | None, CallOutcome | None]:
        """Validated arguments, or the outcome that ends the trace (unknown tool, bad arguments)."""
        if not isinstance(name, str) or name not in self.tools:
            return None, CallOutcome(str(name), raw_arguments, reason="unknown_tool",
                                     error=f"unknown tool {name!r}; offered: {', '.join(self.tools)}")
        args, err = parse_arguments(raw_arguments)
        if args is None:
            return None, CallOutcome(name, raw_arguments, reason="bad_arguments", error=err)
        problems = schema_problems(self.tools[name].parameters, args)
        if problems:
            return None, CallOutcome(name, args, reason="bad_arguments", error="; ".join(problems[:5]))
        return args, None

    async def execute(self, name: Any, raw_arguments: Any, ctx: Any) -> CallOutcome:
        """Validate and run one call with the timeout, flood and retry rules above."""
        args, refused = self.check(name, raw_arguments)
        if refused is not None:
            return refused
        tool, lim = self.tools[name], self.limits
        started = time.perf_counter()
        outcome = CallOutcome(name, args)
        for attempt in range(lim.retries + 1):
            outcome.attempts = attempt + 1
            try:
                result = await asyncio.wait_for(tool.call(args, ctx), lim.call_timeout_s)
            except asyncio.TimeoutError:
                outcome.reason, outcome.error = "tool_timeout", f"no result within {lim.call_timeout_s:g}s"
                break
            except TransientError as exc:
                outcome.reason, outcome.error = "tool_unavailable", str(exc) or type(exc).__name__
                if attempt < lim.retries:
                    await asyncio.sleep(lim.backoff_s * (2 ** attempt))
                continue
            except SynthgenError:
                raise  # a user mistake (missing corpus, unset API key) stops the run with its message
            except asyncio.CancelledError:
                if cancelled_by_caller():
                    raise
                outcome.reason, outcome.error = "tool_raised", "the tool let a cancelled future escape"
                break
            except Exception as exc:  # noqa: BLE001 - a crashing tool ends this trace, not the run
                outcome.reason, outcome.error = "tool_raised", f"{type(exc).__name__}: {exc}"
                break
            self._take(outcome, result)
            break
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _take(self, outcome: CallOutcome, result: ToolResult) -> None:
        outcome.output, outcome.artifacts = result.output or "", dict(result.artifacts)
        outcome.reason = outcome.error = ""
        if len(outcome.output) > self.limits.max_output_chars:
            outcome.reason = "tool_output_flood"
            outcome.error = f"{len(outcome.output)} characters of output (limit {self.limits.max_output_chars})"
            outcome.output = outcome.output[: self.limits.max_output_chars]
        elif not result.ok:
            outcome.reason = _TOOL_REASONS.get(str(result.details.get("reason", "")), "call_failed")
            outcome.error = result.error or "the call failed"

    async def close(self) -> None:
        for tool in self.tools.values():
            await tool.close()
