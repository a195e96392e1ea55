"""``math_tir``: tool-integrated reasoning: the model interleaves reasoning with Python it runs.

Per problem (``{id, question, answer}``) K chains. In each chain the model writes an assistant turn;
a turn holding code (a ```python block, a ``python`` tool call the server parsed, or the tool-call
JSON ``{"name": "python", "parameters": {"code": ...}}`` a chat template renders) is one block: it
runs in the chain's :class:`sandboxes.kernel.PythonKernel` (blocks of one chain share variables,
imports and files), its output becomes a ``tool`` turn, and the model goes on; up to ``max_blocks``
blocks, then the model must answer. Generation of a turn stops when its block closes (``block_stop``).

Exported like every tool call (the format the chat template and TRL train on)::

    {"role": "assistant", "content": "<reasoning before the code>",
     "tool_calls": [{"type": "function", "function": {"name": "python", "arguments": "{\\"code\\": \\"...\\"}"}}]}
    {"role": "tool", "name": "python", "tool_call_id": "call_1", "content": "<stdout, or the error>"}
    ... more blocks ...
    {"role": "assistant", "content": "... The answer is \\boxed{56088}."}

A chain fails (verdict ``tir``) when a block is never closed, a block errored and no later block
ran cleanly (never repaired), the model still writes code after ``max_blocks``, or there is no final
answer turn; otherwise the pipeline's chain (``math``) checks the final answer. A sandbox fault or a
hanging/flooding block fails that chain only. Per candidate: ``blocks``, ``executions``, ``errors``,
``sandbox_seconds``, ``repaired``. Funnel (``metadata.stages``): problems, samples, ran_code,
structured (passed the ``tir`` checks), verified.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from generators.math import _prompts as P
from generators.math._steps import Stages
from generators.math.solutions import MathItem
from sandboxes.kernel import KernelResult, PythonKernel
from sandboxes.types import Limits
from synthgen.context import Context
from synthgen.errors import ConfigError
from synthgen.llm.base import Completion, SamplingParams
from synthgen.plugins import Generator, PluginConfig
from synthgen.records import Message, Record, Verdict, content_hash

_FENCE_OPEN = re.compile(r"```(?:python|py)[ \t]*\n")
_TOOL_JSON = re.compile(r"(?:<\|python_tag\|>)?\s*(\{.*\})\s*$", re.DOTALL)


class KernelLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wall_time_s: float = Field(10.0, gt=0, description="per block")
    cpu_time_s: float = Field(10.0, gt=0)
    memory_mb: int = Field(512, ge=16, description="keep equal to the sandbox pool's so slots are reused")
    output_bytes: int = Field(8192, ge=256, description="a block printing more is stopped")


class MathTirConfig(PluginConfig):
    k: int = Field(4, ge=1, le=256, description="chains per problem")
    max_blocks: int = Field(4, ge=1, le=32, description="code blocks per chain")
    temperature: float = Field(0.8, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=1, description="per assistant turn")
    system_prompt: str | None = Field(P.TIR_SYSTEM, description="explains the ```python protocol to the model")
    block_stop: list[str] = Field(default_factory=lambda: ["\n```\n"], description="stop strings ending a turn at "
                                  "its block's closing fence; [] lets the model end turns itself")
    output_chars: int = Field(1500, ge=100, description="tool output shown to the model (head and tail kept)")
    limits: KernelLimits = Field(default_factory=KernelLimits)


@dataclass
class _Turn:
    reasoning: str
    code: str | None = None
    unclosed: bool = False


def parse_turn(c: Completion, stops: list[str]) -> _Turn:
    """The reasoning text and the code of one assistant turn (None when the turn answers)."""
    for call in c.tool_calls or []:
        fn = call.get("function", call)
        if fn.get("name") == "python":
            return _Turn(c.text.strip(), _code_argument(fn.get("arguments")))
    text = c.text
    m = _FENCE_OPEN.search(text)
    if m is not None:
        rest = text[m.end():]
        close = rest.find("```")
        if close >= 0:
            return _Turn(text[: m.start()].strip(), rest[:close])
        # cut by a block_stop string: the closing fence was the stop; otherwise the model never closed it
        closed_by_stop = bool(stops) and c.finish_reason == "stop"
        return _Turn(text[: m.start()].strip(), rest if closed_by_stop else None, unclosed=not closed_by_stop)
    j = _TOOL_JSON.search(text)
    if j is not None:
        try:
            obj = json.loads(j.group(1))
        except ValueError:
            obj = None
        if isinstance(obj, dict) and obj.get("name") == "python":
            code = _code_argument(obj.get("parameters", obj.get("arguments")))
            if code is not None:
                return _Turn(text[: j.start()].replace("<|python_tag|>", "").strip(), code)
    return _Turn(text.strip())


def _code_argument(arguments: Any) -> str | None:
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return arguments  # a raw code string
    if isinstance(arguments, dict) and isinstance(arguments.get("code"), str):
        return arguments["code"]
    return None


def tool_output(r: KernelResult, limit: int) -> str:
    """What the model reads after a block: its output, and the error as a notebook shows it."""
    text = r.stdout
    if not r.ok:
        tail = r.stderr.strip().splitlines()[-8:] if r.stderr.strip() else []
        error = "\n".join(tail) if tail and r.error and r.error in tail[-1] else (r.error or r.status.value)
        text = (text + "\n" if text and not text.endswith("\n") else text) + error
    text = text.strip("\n") or "(no output)"
    if len(text) > limit:
        half = limit // 2
        text = text[:half] + f"\n... [{len(text) - limit} characters cut] ...\n" + text[-half:]
    return text


class MathTirGenerator(Generator):
    name: ClassVar[str] = "math_tir"
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = "math"
    Config: ClassVar[type[BaseModel]] = MathTirConfig
    Item: ClassVar[type[BaseModel]] = MathItem
    roles: ClassVar[tuple[str, ...]] = ("policy",)

    def prompt(self, item: MathItem) -> list[Message]:
        if item.messages is not None:
            return [dict(m) for m in item.messages]
        cfg: MathTirConfig = self.config  # type: ignore[assignment]
        system = [{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt else []
        return system + [{"role": "user", "content": item.question}]

    def params(self, n: int) -> SamplingParams:
        cfg: MathTirConfig = self.config  # type: ignore[assignment]
        return SamplingParams(n=n, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens,
                              stop=tuple(cfg.block_stop))

    async def generate(self, item: MathItem, ctx: Context) -> list[Record]:
        cfg: MathTirConfig = self.config  # type: ignore[assignment]
        if ctx.run.sandbox is None:
            raise ConfigError("math_tir runs code: add `sandbox: {backend: docker}` to the pipeline", field="sandbox")
        prompt = self.prompt(item)
        item_id = item.id or content_hash(prompt, item.answer)
        record = Record(id=content_hash(self.name, item_id, prompt), capability=self.capability, source_id=item_id,
                        messages=prompt, metadata={"answer": item.answer},
                        provenance=ctx.provenance(params=self.params(cfg.k), parents=[item_id]))
        (first,) = await ctx.generate("policy", [prompt], self.params(cfg.k), seed_key=("tir", 0))
        chains = await asyncio.gather(*(self._chain(prompt, i, c, ctx) for i, c in enumerate(first)))
        stages = Stages("problems", "samples", "ran_code", "structured", "verified")
        stages.add("problems")
        for i, (messages, meta, failure) in enumerate(chains):
            cand = record.add_candidate(messages, metadata={"sample": i, **meta}, provenance=ctx.provenance(
                params=self.params(cfg.k), parents=[record.id], seed=ctx.sample_seed("policy", ("tir", 0))))
            stages.add("samples")
            stages.add("ran_code", int(meta["executions"] > 0))
            if failure:
                cand.verdicts.append(Verdict(verifier="tir", passed=False, score=0.0, feedback=failure))
                continue
            stages.add("structured")
            cand.verdicts.append(Verdict(verifier="tir", passed=True, score=1.0))
            await ctx.verify(record, cand)
            stages.add("verified", int(cand.passed))
        record.metadata["stages"] = dict(stages)
        return [record]

    async def _chain(self, prompt: list[Message], sample: int, first: Completion,
                     ctx: Context) -> tuple[list[Message], dict[str, Any], str]:
        cfg: MathTirConfig = self.config  # type: ignore[assignment]
        lim = cfg.limits
        limits = Limits(wall_time_s=lim.wall_time_s, cpu_time_s=lim.cpu_time_s, memory_mb=lim.memory_mb,
                        output_bytes=lim.output_bytes)
        messages: list[Message] = []
        failure, unrepaired, blocks, reply = "", False, 0, first
        artifacts: list[str] = []
        async with PythonKernel(ctx.sandbox, limits=limits) as kernel:
            while True:
                turn = parse_turn(reply, cfg.block_stop)
                if turn.unclosed:
                    messages.append({"role": "assistant", "content": reply.text})
                    failure = "the code block was never closed (```)"
                    break
                if turn.code is None:
                    messages.append({"role": "assistant", "content": reply.text.strip()})
                    if reply.finish_reason == "length":
                        failure = "the final answer turn was cut at max_tokens"
                    break
                if blocks >= cfg.max_blocks:
                    messages.append({"role": "assistant", "content": reply.text})
                    failure = f"the model kept writing code after {cfg.max_blocks} blocks"
                    break
                blocks += 1
                call_id = f"call_{blocks}"
                messages.append({"role": "assistant", "content": turn.reasoning, "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": "python",
                                                                     "arguments": {"code": turn.code}}}]})
                result = await kernel.execute(turn.code)
                artifacts += list(result.artifacts)
                unrepaired = not result.ok  # a later clean block repairs an earlier error
                messages.append({"role": "tool", "tool_call_id": call_id, "name": "python",
                                 "content": tool_output(result, cfg.output_chars)})
                (replies,) = await ctx.generate("policy", [prompt + messages], self.params(1),
                                                seed_key=("tir", sample, blocks))
                reply = replies[0]
            # the kernel's time goes to the run's timers: a record holds no measured time (reproducible)
            ctx.timers.seconds["sandbox:tir_kernel"] += kernel.seconds
            ctx.timers.calls["sandbox:tir_kernel"] += kernel.executions
            meta = {"blocks": blocks, "executions": kernel.executions, "errors": kernel.errors, "repaired": kernel.errors > 0 and not unrepaired,
                    "artifacts": sorted(set(artifacts))}
        if not failure and unrepaired:
            failure = "a code block failed and no later block repaired it"
        return messages, meta, failure
