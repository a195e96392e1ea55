"""Executed tool-call traces (Llama 3, "Tool use"): single-step, multi-step (ReAct-like) and file uploads.

A source item gives a user prompt (``prompt`` or ``messages``), or a ``topic`` from which the
policy writes one for the offered tools; a ``file`` item names uploaded files (``files`` inline as
``{name: text}``, or ``file_paths`` under the ``files_root`` option) and a ``task`` (summarise,
fix_bug, optimise, analyse, plot). Per item one record: the prompt, and K traces as candidates.

Each trace: the policy sees the tools (a system turn, see ``_prompts.tools_system``) and the
dialog so far, and replies with reasoning plus calls, or a final answer. Every call is validated
and executed (:class:`tools.Toolbox`): the ``python`` tool in the trace's own sandbox kernel
(state and the uploaded files carry across calls; files it writes, such as a plot, are kept as
``metadata.artifacts`` base64). The tool output goes back as a ``tool`` turn, and so on for up to
``max_steps`` steps. A trace ends, with a failed ``tool_trace`` verdict naming its reason, when:
a reply is a badly formatted call (``malformed_call``), a call names an unknown tool
(``unknown_tool``) or has arguments outside the schema (``bad_arguments``), repeats an earlier
call (``repeated_call``), fails (``call_failed``), times out (``tool_timeout``), floods
(``tool_output_flood``), the tool is down after retries (``tool_unavailable``) or crashes
(``tool_raised``), the shape's call count is not met (``too_few_calls`` / ``too_many_calls``), or
no final answer comes within the steps (``no_final_answer``, ``truncated_answer``). The paper
dropped about 30% of raw traces this way.

Complete traces are left unverified: the pipeline's chain judges the final answer (``llm_judge``
with ``rubric: tool_use``: does it use the tool outputs, does it answer the question).
Stages: ``prompts_written``, ``traces``, ``executed``, ``calls``, ``dropped:<reason>``.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from generators.tools import _prompts as P
from generators.tools._calls import Reply, assistant_turn, call_key, parse_reply, tool_turn
from synthgen.context import Context
from synthgen.errors import ConfigError
from synthgen.llm.base import Completion, SamplingParams
from synthgen.plugins import Generator
from synthgen.records import Candidate, Message, Record, Verdict, content_hash
from tools import Toolbox, ToolContext, ToolRef, ToolSession
from tools.toolbox import ToolboxLimits

Shape = Literal["single", "multi", "file"]
_CALLS = {"single": (1, 1), "multi": (2, None), "file": (1, None)}  # (min, max) call steps per shape


class ToolTraceItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | None = None
    prompt: str | None = None
    messages: list[Message] | None = None
    topic: str | None = None
    shape: Shape | None = None
    tools: list[str] | None = Field(None, description="names of the offered tools to use (default: all)")
    files: dict[str, str] = Field(default_factory=dict, description="uploaded files inline: name -> text")
    file_paths: list[str] = Field(default_factory=list, description="uploaded files under `files_root`")
    task: Literal["summarise", "fix_bug", "optimise", "analyse", "plot"] | None = None

    @model_validator(mode="after")
    def _has_prompt_source(self) -> ToolTraceItem:
        if not (self.prompt or self.messages or self.topic or self.files or self.file_paths):
            raise ValueError("give `prompt`, `messages`, a `topic`, or uploaded `files`/`file_paths` with a `task`")
        return self


class ToolTracesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tools: list[ToolRef] = Field(default_factory=lambda: [ToolRef(name="python")],
                                 description="tool plugins offered to the model, with their options")
    shape: Shape = Field("single", description="default trace shape of items that do not say")
    k: int = Field(4, ge=1, description="traces sampled per prompt")
    max_steps: int = Field(6, ge=1, description="model turns per trace (calls and the final answer)")
    temperature: float = Field(0.8, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=1)
    prompt_temperature: float = Field(0.9, ge=0.0, description="sampling of policy-written prompts")
    prompt_max_tokens: int = Field(256, ge=1)
    min_prompt_chars: int = Field(15, ge=1)
    system_prompt: str | None = Field(None, description="steering text added to the tools system turn")
    files_root: str | None = Field(None, description="directory of items' `file_paths` (relative to the pipeline file)")
    preview_chars: int = Field(800, ge=50, description="start of an uploaded file shown when writing a prompt")
    limits: ToolboxLimits = Field(default_factory=ToolboxLimits)
    max_artifact_bytes: int = Field(1 << 20, ge=0, description="artifacts kept per trace (base64 in metadata)")


class ToolTracesGenerator(Generator):
    name: ClassVar[str] = "tool_traces"
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = "tool_use"
    Config: ClassVar[type[BaseModel]] = ToolTracesConfig
    Item: ClassVar[type[BaseModel]] = ToolTraceItem
    roles: ClassVar[tuple[str, ...]] = ("policy",)

    def __init__(self, config: ToolTracesConfig | None = None) -> None:
        super().__init__(config)
        cfg: ToolTracesConfig = self.config  # type: ignore[assignment]
        self.toolbox = Toolbox.from_refs(cfg.tools, cfg.limits)

    async def close(self) -> None:
        await self.toolbox.close()

    # ------------------------------------------------------------------------------------------ item
    async def generate(self, item: ToolTraceItem, ctx: Context) -> list[Record]:
        cfg: ToolTracesConfig = self.config  # type: ignore[assignment]
        shape: Shape = item.shape or ("file" if item.files or item.file_paths else cfg.shape)
        schemas = self._offered(item)
        files = self._files(item, ctx)
        stages: dict[str, float] = {"traces": 0, "executed": 0, "calls": 0}
        messages, generation = await self._prompt(item, shape, schemas, files, ctx, stages)
        item_id = item.id or ctx.item_id
        record = Record(id=content_hash(self.name, self.version, item_id, shape, messages), capability=self.capability,
                        source_id=item_id, messages=messages,
                        metadata={"shape": shape, "tools": schemas, "files": sorted(files), "stages": stages})
        if generation:
            record.metadata["prompt_generation"] = generation
        params = SamplingParams(n=cfg.k, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens)
        record.provenance = ctx.provenance(params=params, parents=[item_id])
        if not messages:
            stages["dropped:prompt_unusable"] = 1
            record.metadata["dropped"] = "prompt_unusable"
            return [record]
        system = {"role": "system", "content": P.tools_system(
            schemas, "\n".join(x for x in (cfg.system_prompt, P.FILE_NOTE.format(files=", ".join(sorted(files)))
                                           if files else None) if x) or None)}
        (first,) = await ctx.generate("policy", [[system] + messages], params, seed_key=("trace", 0))
        traces = await asyncio.gather(*(self._trace(system, messages, first[i], i, shape, files, ctx)
                                        for i in range(len(first))))
        for turns, meta in traces:
            cand = record.add_candidate(turns, metadata=meta)
            stages["traces"] += 1
            stages["calls"] += meta["calls"]
            reason = meta.get("dropped")
            if reason:
                stages[f"dropped:{reason}"] = stages.get(f"dropped:{reason}", 0) + 1
                _drop(cand, reason, meta.get("error", ""))
            else:
                stages["executed"] += 1
        return [record]

    def _offered(self, item: ToolTraceItem) -> list[dict[str, Any]]:
        if item.tools is None:
            return self.toolbox.schemas()
        unknown = [t for t in item.tools if t not in self.toolbox.tools]
        if unknown:
            raise ConfigError(f"item {item.id!r} asks for tools {unknown} that the generator does not offer; "
                              f"offered: {', '.join(self.toolbox.tools)}", field="generator.options.tools")
        return [self.toolbox.tools[t].schema() for t in item.tools]

    def _files(self, item: ToolTraceItem, ctx: Any) -> dict[str, bytes]:
        cfg: ToolTracesConfig = self.config  # type: ignore[assignment]
        files = {name: text.encode("utf-8") for name, text in item.files.items()}
        for rel in item.file_paths:
            if cfg.files_root is None:
                raise ConfigError("items name `file_paths` but `files_root` is not set",
                                  field="generator.options.files_root")
            path = ctx.resolve_path(cfg.files_root) / rel
            if not path.is_file():
                raise ConfigError(f"uploaded file not found: {path.resolve()}", field="generator.options.files_root")
            files[Path(rel).name] = path.read_bytes()
        return files

    async def _prompt(self, item: ToolTraceItem, shape: Shape, schemas: list[dict[str, Any]],
                      files: dict[str, bytes], ctx: Context, stages: dict[str, float]) -> tuple[list[Message], dict]:
        """The user prompt: the item's own, or written by the policy (from a topic, or from a file)."""
        cfg: ToolTracesConfig = self.config  # type: ignore[assignment]
        if item.messages:
            return [dict(m) for m in item.messages], {}
        if item.prompt:
            return [{"role": "user", "content": item.prompt}], {}
        if shape == "file":
            name = min(files) if files else "(no file)"
            preview = files.get(name, b"").decode("utf-8", "replace")[: cfg.preview_chars]
            request = P.PROMPT_REQUEST["file"].format(file=name, preview=preview,
                                                      task=P.FILE_TASKS[item.task or "analyse"])
        else:
            request = P.PROMPT_REQUEST[shape].format(tools=P.tool_names(schemas), topic=item.topic or "anything")
        params = SamplingParams(n=1, temperature=cfg.prompt_temperature, max_tokens=cfg.prompt_max_tokens)
        ask = [{"role": "user", "content": request}]
        reply = (await ctx.generate("policy", [ask], params, seed_key="prompt"))[0][0]
        stages["prompts_written"] = 1
        text = reply.text.strip().strip('"').strip()
        generation = {"messages": ask + [{"role": "assistant", "content": reply.text}], "sampling": params.as_dict()}
        if len(text) < cfg.min_prompt_chars or reply.finish_reason == "length":
            return [], generation
        return [{"role": "user", "content": text}], generation

    # ----------------------------------------------------------------------------------------- trace
    async def _trace(self, system: Message, prompt: list[Message], first: Completion, index: int, shape: Shape,
                     files: dict[str, bytes], ctx: Context) -> tuple[list[Message], dict[str, Any]]:
        cfg: ToolTracesConfig = self.config  # type: ignore[assignment]
        low, high = _CALLS[shape]
        turns: list[Message] = []
        meta: dict[str, Any] = {"shape": shape, "sample": index, "calls": 0, "call_log": []}
        seen: set[str] = set()
        call_steps = 0
        async with ToolSession(ctx, files) as session:
            tctx = ToolContext(ctx, session)
            completion = first
            for step in range(cfg.max_steps):
                if step > 0:
                    params = SamplingParams(n=1, temperature=cfg.temperature, top_p=cfg.top_p,
                                            max_tokens=cfg.max_tokens)
                    completion = (await ctx.generate("policy", [[system] + prompt + turns], params,
                                                     seed_key=("trace", index, step)))[0][0]
                reply = parse_reply(completion)
                if reply.problem:
                    turns.append({"role": "assistant", "content": completion.text})
                    return turns, self._ended(meta, "malformed_call", reply.problem, session)
                if not reply.calls:  # a final answer
                    turns.append({"role": "assistant", "content": reply.content})
                    if reply.finish_reason == "length":
                        return turns, self._ended(meta, "truncated_answer", "the final answer hit max_tokens", session)
                    if not reply.content:
                        return turns, self._ended(meta, "no_final_answer", "the final reply is empty", session)
                    if call_steps < low:
                        return turns, self._ended(meta, "too_few_calls",
                                             f"{call_steps} call step(s); a {shape} trace needs {low}", session)
                    return turns, self._ended(meta, "", "", session)
                if high is not None and call_steps >= high:
                    turns.append(assistant_turn(reply.content, reply.calls, step))
                    return turns, self._ended(meta, "too_many_calls", f"a {shape} trace makes {high} call step(s)",
                                         session)
                call_steps += 1
                ended = await self._execute(reply, step, turns, meta, seen, tctx)
                if ended:
                    return turns, self._ended(meta, ended[0], ended[1], session)
            return turns, self._ended(meta, "no_final_answer", f"no final answer within {cfg.max_steps} steps", session)

    def _ended(self, meta: dict[str, Any], reason: str, error: str, session: ToolSession) -> dict[str, Any]:
        if reason:
            meta["dropped"], meta["error"] = reason, error[:500]
        if session.artifacts:
            kept = _capped(session.artifacts, self.config.max_artifact_bytes)  # type: ignore[attr-defined]
            meta["artifacts"] = {name: base64.b64encode(data).decode("ascii") for name, data in kept.items()}
            meta["artifacts_dropped"] = sorted(set(session.artifacts) - set(kept))
        return meta

    async def _execute(self, reply: Reply, step: int, turns: list[Message], meta: dict[str, Any], seen: set[str],
                       tctx: ToolContext) -> tuple[str, str] | None:
        """Run every call of one reply; append the assistant and tool turns; (reason, error) if the trace ends."""
        turns.append(assistant_turn(reply.content, reply.calls, step))
        for i, call in enumerate(reply.calls):
            key = call_key(call["name"], call.get("arguments"))
            if key in seen:
                return "repeated_call", f"{call['name']} called again with the same arguments"
            seen.add(key)
            outcome = await self.toolbox.execute(call["name"], call.get("arguments"), tctx)
            meta["calls"] += 1
            tctx.timers.seconds[f"tool:{outcome.name}"] += outcome.seconds  # timings stay out of records
            tctx.timers.calls[f"tool:{outcome.name}"] += 1
            meta["call_log"].append({"step": step, "name": outcome.name, "attempts": outcome.attempts,
                                     "reason": outcome.reason})
            if not outcome.ok:
                if outcome.reason in ("call_failed", "tool_timeout", "tool_output_flood") and outcome.output:
                    turns.append(tool_turn(outcome.output, outcome.name, step, i))
                return outcome.reason, outcome.error
            turns.append(tool_turn(outcome.output, outcome.name, step, i))
        return None


def _capped(artifacts: dict[str, bytes], budget: int) -> dict[str, bytes]:
    out, used = {}, 0
    for name in sorted(artifacts):
        if used + len(artifacts[name]) <= budget:
            out[name] = artifacts[name]
            used += len(artifacts[name])
    return out


def _drop(cand: Candidate, reason: str, error: str) -> None:
    cand.verdicts.append(Verdict(verifier="tool_trace", passed=False, score=0.0,
                                 feedback=f"{reason}: {error}" if error else reason, details={"reason": reason}))
