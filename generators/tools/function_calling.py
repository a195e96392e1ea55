"""Zero-shot function calling (Llama 3, "Tool use"): functions mined from real code, single, parallel and
nested calls, multi-turn dialogs, answers checked by the ``tool_call`` verifier against reference calls.

A source item is one file's functions: ``functions`` (as written by ``python -m
generators.tools._mining SRC --out items.jsonl``: schemas plus ``runnable``/``symbol`` and the
file's ``code``), or a ``path`` to a source file mined on the fly (relative to ``source_root``).

1. The policy sees the functions and writes a user ``query`` needing one call, several parallel
   calls, or nested calls (the first call's result, written ``"$0"``, is an argument of the
   second), plus the reference ``calls``; with ``multi_turn`` also a ``follow_up`` user turn and its
   ``follow_up_calls``, which use the earlier results. References must name offered functions with
   arguments that fit their schemas (else ``dropped: query_unusable``).
2. Where a function is runnable, every reference call runs in the sandbox and its result fills in
   the ``"$i"`` placeholders, so the later steps' references hold real values. Nested and follow-up
   steps need runnable functions (else ``dropped: not_runnable`` / the follow-up is skipped).
3. K answers are sampled with the functions offered as tools. Each step's calls are checked by the
   pipeline's ``tool_call`` verifier against that step's reference; a passing step's calls are
   executed (runnable functions) and their results go into the dialog as ``tool`` turns; then the
   next step (the nested call; the follow-up turn) is sampled, and a final answer closes each turn.
   The candidate's ``tool_call`` verdict holds every step's verdict (``details.steps``).
Stages: ``queries``, ``samples``, ``passed_step_<i>``, ``executed_calls``, ``dropped:<reason>``.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from generators.tools import _prompts as P
from generators.tools._calls import assistant_turn, parse_reply, tool_turn
from generators.tools._mining import LANGUAGES, mine_source
from generators.tools._run_functions import run_function
from synthgen.context import Context
from synthgen.errors import ConfigError
from synthgen.llm.base import SamplingParams
from synthgen.text_json import first_object
from synthgen.plugins import Generator
from synthgen.records import Candidate, Message, Record, Verdict, content_hash
from tools.toolbox import parse_arguments, schema_problems

CallShape = Literal["single", "parallel", "nested"]
_PLACEHOLDER = re.compile(r"^\$(\d+)$")


class FunctionItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    path: str | None = None
    language: str | None = None
    functions: list[dict[str, Any]] | None = None
    code: str | None = None
    shape: CallShape | None = None
    multi_turn: bool | None = None


class FunctionCallingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shapes: list[CallShape] = Field(default_factory=lambda: ["single", "parallel", "nested"],
                                    description="call shapes drawn per item (items may set `shape`)")
    multi_turn_rate: float = Field(0.3, ge=0, le=1, description="share of items given a follow-up user turn")
    k: int = Field(4, ge=1, description="answers sampled per query")
    max_functions: int = Field(8, ge=1, description="functions offered per query")
    execute: bool = Field(True, description="run runnable functions in the sandbox and show their results")
    call_timeout_s: float = Field(5.0, gt=0)
    temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=1)
    query_temperature: float = Field(0.9, ge=0.0)
    query_max_tokens: int = Field(512, ge=1)
    source_root: str | None = Field(None, description="directory of items' `path` (relative to the pipeline file)")


def _fill(value: Any, results: list[Any]) -> Any:
    """Replace ``"$i"`` placeholders with result ``i``."""
    if isinstance(value, str):
        m = _PLACEHOLDER.match(value.strip())
        return results[int(m.group(1))] if m and int(m.group(1)) < len(results) else value
    if isinstance(value, dict):
        return {k: _fill(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, results) for v in value]
    return value


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_PLACEHOLDER.match(value.strip()))
    if isinstance(value, dict):
        return any(_has_placeholder(v) for v in value.values())
    return isinstance(value, list) and any(_has_placeholder(v) for v in value)


class FunctionCallingGenerator(Generator):
    name: ClassVar[str] = "function_calling"
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = "tool_use"
    Config: ClassVar[type[BaseModel]] = FunctionCallingConfig
    Item: ClassVar[type[BaseModel]] = FunctionItem
    roles: ClassVar[tuple[str, ...]] = ("policy",)

    async def generate(self, item: FunctionItem, ctx: Context) -> list[Record]:
        cfg: FunctionCallingConfig = self.config  # type: ignore[assignment]
        if ctx.run.chain is None or "tool_call" not in [v.name for v in ctx.run.chain.verifiers]:
            raise ConfigError("function_calling checks answers with the tool_call verifier: add "
                              "`verifiers: [{name: tool_call}]` to the config", field="verifiers")
        functions, code = self._functions(item, ctx)
        functions = functions[: cfg.max_functions]
        by_name = {f["name"]: f for f in functions}
        tools = [{"type": "function", "function": {"name": f["name"], "description": f.get("description", ""),
                                                   "parameters": f["parameters"]}} for f in functions]
        shape: CallShape = item.shape or ctx.rng.choice(cfg.shapes)
        multi_turn = item.multi_turn if item.multi_turn is not None else ctx.rng.random() < cfg.multi_turn_rate
        stages: dict[str, float] = {"queries": 0, "samples": 0, "executed_calls": 0}
        item_id = item.id or ctx.item_id
        record = Record(id=content_hash(self.name, self.version, item_id, shape, multi_turn), capability=self.capability,
                        source_id=item_id, metadata={"tools": tools, "shape": shape, "multi_turn": multi_turn,
                                                     "stages": stages})
        record.provenance = ctx.provenance(parents=[item_id])
        if not functions:
            return [_dropped(record, "no_functions", "the item has no documented functions")]
        request = P.QUERY_REQUEST.format(
            functions="\n".join(json.dumps(t["function"], sort_keys=True) for t in tools), need=P.NEEDS[shape],
            nested_rule=P.NESTED_RULE if shape == "nested" else "",
            follow_up_field=P.FOLLOW_UP_FIELD if multi_turn else "")
        ask = [{"role": "user", "content": request}]
        qparams = SamplingParams(n=1, temperature=cfg.query_temperature, max_tokens=cfg.query_max_tokens)
        reply = (await ctx.generate("policy", [ask], qparams, seed_key="query"))[0][0]
        stages["queries"] = 1
        record.metadata["query_generation"] = {"messages": ask + [{"role": "assistant", "content": reply.text}]}
        spec = first_object(reply.text) or {}
        problem = self._check_spec(spec, shape, multi_turn, by_name)
        if problem:
            return [_dropped(record, "query_unusable", problem)]
        record.messages = [{"role": "user", "content": spec["query"].strip()}]
        steps, follow_up, problem = await self._references(spec, shape, multi_turn, by_name, code, ctx)
        if problem:
            return [_dropped(record, problem[0], problem[1])]
        record.metadata.update(reference_steps=steps, follow_up=follow_up)
        record.metadata["expected_tool_calls"] = steps[0]
        params = SamplingParams(n=cfg.k, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens)
        record.provenance = ctx.provenance(params=params, parents=[item_id])
        system = {"role": "system", "content": P.tools_system(tools)}
        (first,) = await ctx.generate("policy", [[system] + record.messages], params, seed_key=("answer", 0))
        dialogs = await asyncio.gather(*(self._dialog(record, system, steps, follow_up, by_name, code, c, i, ctx)
                                         for i, c in enumerate(first)))
        others = [v.name for v in ctx.run.chain.verifiers if v.name != "tool_call"]
        for turns, verdict in dialogs:
            cand = record.add_candidate(turns, verdicts=[verdict])
            stages["samples"] += 1
            if verdict.passed and others:
                await ctx.verify(record, cand, only=others)
        for i in range(len(steps) + (1 if follow_up else 0)):
            stages[f"passed_step_{i}"] = sum(
                1 for _, v in dialogs if len(v.details["steps"]) > i and v.details["steps"][i]["passed"])
        stages["executed_calls"] = sum(v.details.get("executed", 0) for _, v in dialogs)
        return [record]

    # ------------------------------------------------------------------------------------ preparation
    def _functions(self, item: FunctionItem, ctx: Any) -> tuple[list[dict[str, Any]], str | None]:
        if item.functions is not None:
            return [f if "parameters" in f else dict(f.get("function", f)) for f in item.functions], item.code
        if not item.path:
            raise ConfigError(f"item {item.id!r} has neither `functions` nor `path`", field="sources")
        cfg: FunctionCallingConfig = self.config  # type: ignore[assignment]
        path = ctx.resolve_path(cfg.source_root or ".") / item.path
        language = item.language or LANGUAGES.get(path.suffix)
        if not path.is_file() or language is None:
            raise ConfigError(f"source file {path.resolve()} not found or not Python/JavaScript/Java",
                              field="generator.options.source_root")
        code = path.read_text(encoding="utf-8", errors="replace")
        return [f.as_dict() for f in mine_source(code, language, item.path)], code

    @staticmethod
    def _check_spec(spec: dict[str, Any], shape: CallShape, multi_turn: bool, by_name: dict[str, Any]) -> str:
        if not isinstance(spec.get("query"), str) or not spec["query"].strip():
            return "no `query` in the policy's JSON"
        lists = [("calls", spec.get("calls"))] + ([("follow_up_calls", spec.get("follow_up_calls"))]
                                                  if multi_turn else [])
        for field, calls in lists:
            if not isinstance(calls, list) or not calls:
                return f"`{field}` is not a non-empty list"
            for call in calls:
                if not isinstance(call, dict) or call.get("name") not in by_name:
                    return f"`{field}` names a function that is not offered: {str(call)[:80]}"
                args, err = parse_arguments(call.get("arguments"))
                if args is None:
                    return f"{call['name']}: {err}"
                concrete = {k: v for k, v in args.items() if not _has_placeholder(v)}
                schema = dict(by_name[call["name"]]["parameters"])
                schema["required"] = [r for r in schema.get("required", []) if r not in set(args) - set(concrete)]
                problems = schema_problems(schema, concrete)
                if problems:
                    return f"{call['name']}: {'; '.join(problems[:3])}"
        calls = spec["calls"]
        if shape == "single" and len(calls) != 1:
            return f"a single-call query needs 1 call, got {len(calls)}"
        if shape == "parallel" and (len(calls) < 2 or any(_has_placeholder(c.get("arguments")) for c in calls)):
            return "a parallel query needs at least 2 independent calls"
        if shape == "nested" and (len(calls) != 2 or not _has_placeholder(calls[1].get("arguments"))
                                  or _has_placeholder(calls[0].get("arguments"))):
            return 'a nested query needs 2 calls, the second using "$0"'
        if multi_turn and not (isinstance(spec.get("follow_up"), str) and spec["follow_up"].strip()):
            return "no `follow_up` text"
        return ""

    async def _references(self, spec: dict[str, Any], shape: CallShape, multi_turn: bool, by_name: dict[str, Any],
                          code: str | None, ctx: Context) -> tuple[list[list[dict]], dict | None, tuple[str, str] | None]:
        """Reference calls per step, with placeholders replaced by executed results."""
        calls = [{"name": c["name"], "arguments": parse_arguments(c.get("arguments"))[0]} for c in spec["calls"]]
        needs_results = shape == "nested" or multi_turn
        results: list[Any] = []
        if needs_results:
            runnable = self.config.execute and code and all(by_name[c["name"]].get("runnable") for c in calls)
            if not runnable:
                if shape == "nested":
                    return [], None, ("not_runnable", "nested calls need runnable functions to get the inner result")
                multi_turn = False  # the follow-up needs real results; skip it
            else:
                for call in calls:
                    run = await self._run(call, by_name, code, results, ctx)
                    if not run.ok:
                        return [], None, ("reference_failed", f"{call['name']}: {run.error}")
                    results.append(run.value)
        steps = [calls] if shape != "nested" else [[calls[0]], [{"name": calls[1]["name"],
                                                                 "arguments": _fill(calls[1]["arguments"], results)}]]
        follow_up = None
        if multi_turn:
            follow_up = {"query": spec["follow_up"].strip(), "calls": [
                {"name": c["name"], "arguments": _fill(parse_arguments(c.get("arguments"))[0], results)}
                for c in spec["follow_up_calls"]]}
        return steps, follow_up, None

    async def _run(self, call: dict[str, Any], by_name: dict[str, Any], code: str | None, results: list[Any],
                   ctx: Context) -> Any:
        return await run_function(ctx.sandbox, code or "", by_name[call["name"]], _fill(call["arguments"], results),
                                  self.config.call_timeout_s)

    # ---------------------------------------------------------------------------------------- dialogs
    async def _dialog(self, record: Record, system: Message, steps: list[list[dict]], follow_up: dict | None,
                      by_name: dict[str, Any], code: str | None, first: Any, index: int,
                      ctx: Context) -> tuple[list[Message], Verdict]:
        cfg: FunctionCallingConfig = self.config  # type: ignore[assignment]
        turns: list[Message] = []
        checks: list[dict[str, Any]] = []
        executed = 0
        plan = [(s, None) for s in steps] + ([(follow_up["calls"], follow_up["query"])] if follow_up else [])
        completion = first
        for number, (reference, user_turn) in enumerate(plan):
            if user_turn is not None:
                turns.append({"role": "user", "content": user_turn})
            if number > 0:
                params = SamplingParams(n=1, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens)
                completion = (await ctx.generate("policy", [[system] + record.messages + turns], params,
                                                 seed_key=("answer", index, number)))[0][0]
            reply = parse_reply(completion)
            message = assistant_turn(reply.content, reply.calls, number)
            turns.append(message)
            verdict = await self._check(record, turns, reference, number, ctx)
            checks.append(verdict.model_dump(mode="json"))
            if not verdict.passed:
                break
            runnable = cfg.execute and code and all(by_name[c["name"]].get("runnable") for c in reply.calls)
            if not runnable:
                break  # a call-only example: nothing to execute, so no results to answer from
            for i, call in enumerate(reply.calls):
                run = await run_function(ctx.sandbox, code, by_name[call["name"]],
                                         parse_arguments(call["arguments"])[0] or {}, cfg.call_timeout_s)
                executed += 1
                turns.append(tool_turn(run.text, call["name"], number, i))
            if number + 1 < len(plan) and plan[number + 1][1] is None:
                continue  # the nested call comes next, in the same turn
            params = SamplingParams(n=1, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens)
            answer = parse_reply((await ctx.generate("policy", [[system] + record.messages + turns], params,
                                                     seed_key=("final", index, number)))[0][0])
            turns.append({"role": "assistant", "content": answer.content})
            if answer.calls or not answer.content:
                checks.append({"verifier": "tool_call", "passed": False, "feedback": "no final answer after the results"})
                break
        passed = len(checks) >= len(plan) and all(c["passed"] for c in checks)
        scores = [c.get("score") if c.get("score") is not None else float(c["passed"]) for c in checks]
        feedback = next((c.get("feedback", "") for c in checks if not c["passed"]), "")
        return turns, Verdict(verifier="tool_call", passed=passed, score=sum(scores) / max(len(plan), 1),
                              feedback=feedback, details={"steps": checks, "executed": executed})

    async def _check(self, record: Record, turns: list[Message], reference: list[dict], number: int,
                     ctx: Context) -> Verdict:
        """The pipeline's tool_call verifier on this step's assistant turn against its reference calls."""
        step = Record(id=f"{record.id}:step{number}", messages=record.messages + turns[:-1],
                      metadata={"tools": record.metadata["tools"], "expected_tool_calls": reference})
        cand = Candidate(id=f"{record.id}:step{number}", messages=[turns[-1]])
        verdicts = await ctx.verify(step, cand, only=["tool_call"])
        return verdicts[0] if verdicts else Verdict(verifier="tool_call", passed=False, feedback="not checked")


def _dropped(record: Record, reason: str, detail: str) -> Record:
    record.metadata["dropped"], record.metadata["error"] = reason, detail[:500]
    record.metadata["stages"][f"dropped:{reason}"] = 1
    return record
