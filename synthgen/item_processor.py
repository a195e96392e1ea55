"""Processing one source item: validate, generate, verify, select; retries and recorded failures.

:class:`LocalItemProcessor` holds the plugins of a run in this process; the Ray executor runs one
per actor (:mod:`synthgen.ray_executor`). Both give the same records for the same config and seed.
"""

from __future__ import annotations

import asyncio
import copy
import random
from typing import Any

from pydantic import ValidationError

from synthgen.config import PipelineConfig, format_validation_error
from synthgen.context import RunContext, TimedLLM, TimedSandbox, Timers, derive_seed
from synthgen.errors import LLMError, SynthgenError, TransientError, cancelled_by_caller
from synthgen.plugins import Generator
from synthgen.records import Provenance, Record, content_hash, failed_record
from synthgen.registry import Registry
from synthgen.selection import select
from synthgen.sources import SourceItem
from synthgen.verify_chain import VerifierChain


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (TransientError, asyncio.TimeoutError, ConnectionError)):
        return True
    return isinstance(exc, LLMError) and exc.transient


async def process_item(item: SourceItem, generator: Generator, run_ctx: RunContext,
                        cfg: PipelineConfig) -> list[Record]:
    fail_id = lambda: content_hash("failed", cfg.generator.name, item.id)  # made only on failure
    seed = derive_seed(run_ctx.seed, item.id)  # once: every attempt's context has the same seed
    prov = dict(generator=generator.name, generator_version=generator.version, round=cfg.round,
                run=cfg.name, parents=[item.id], seed=seed)
    try:
        parsed = generator.Item.model_validate(item.row)
    except ValidationError as exc:
        msg = format_validation_error(exc).replace("\n", "; ")
        return [failed_record(fail_id(), source_id=item.id, capability=generator.capability,
                              error=f"source row {item.where} does not fit {generator.name}'s item: {msg}",
                              provenance=Provenance(**prov))]
    attempts = cfg.runner.retries + 1
    last_error = ""
    for attempt in range(attempts):
        ctx = run_ctx.for_item(item.id, seed)
        try:
            coro = _generate_and_verify(parsed, generator, ctx, cfg)
            try:
                return await (asyncio.wait_for(coro, cfg.runner.item_timeout_s) if cfg.runner.item_timeout_s else coro)
            except asyncio.CancelledError:
                if cancelled_by_caller():
                    raise  # the run is being stopped
                # nobody cancelled this item: a plugin let a cancelled inner future escape
                raise TransientError("a plugin raised CancelledError without a cancellation") from None
        except SynthgenError:
            raise  # a user mistake (missing role, bad plugin config) stops the run with its message
        except Exception as exc:  # noqa: BLE001 - every other failure is recorded, never dropped
            last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if not _is_transient(exc) or attempt == attempts - 1:
                break
            delay = cfg.runner.backoff_s * (2 ** attempt) * (1 + random.random() * 0.25)
            await asyncio.sleep(delay)
    return [failed_record(fail_id(), source_id=item.id, capability=generator.capability,
                          error=f"failed after {attempt + 1} attempt(s): {last_error}", provenance=Provenance(**prov))]


async def _generate_and_verify(item: Any, generator: Generator, ctx, cfg: PipelineConfig) -> list[Record]:
    records = await generator.generate(item, ctx)
    if not isinstance(records, list) or not all(isinstance(r, Record) for r in records):
        raise TypeError(f"generator {generator.name} must return list[Record], got {type(records).__name__}")
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids) or not all(ids):
        raise ValueError(f"generator {generator.name} returned records with empty or duplicate ids")
    for r in records:
        if not r.source_id:
            r.source_id = ctx.item_id
        own = None
        for cand in r.candidates:  # a generator that left a candidate's provenance empty: the record's
            if cand.provenance is None:  # (or the context's), with the record as its parent
                if own is None:
                    own = _with_parent(r.provenance, r.id) if r.provenance.generator else ctx.provenance(parents=[r.id])
                    cand.provenance = own
                else:  # the same, in containers of its own
                    cand.provenance = _with_parent(own, r.id)
        if cfg.verify.run_after_generate and ctx.run.chain is not None:
            for cand in r.candidates:
                if not cand.verdicts:
                    await ctx.verify(r, cand)
        select(r, cfg.selection)
    return records


def _with_parent(base: Provenance, parent: str) -> Provenance:
    """A copy of ``base`` whose parent is ``parent`` (what ``model_copy(update=..., deep=True)`` gives,
    at a third of its cost: the fields are JSON data, validated again into fresh containers)."""
    fields = dict(base.__dict__)
    fields["parents"] = [parent]
    if fields["sampling"]:  # values may be lists (stop sequences): validation would share them
        fields["sampling"] = copy.deepcopy(fields["sampling"])
    return Provenance(**fields)


def build_run_context(cfg: PipelineConfig, registry: Registry, timers: Timers) -> tuple[Generator, RunContext]:
    generator = registry.create("generator", cfg.generator.name, cfg.generator.options, where="generator.options")
    llms = {}
    for role, ref in cfg.llms.items():
        backend = registry.create("llm", ref.backend, ref.options, where=f"llms.{role}.options")
        llms[role] = TimedLLM(role, backend, timers, asyncio.Semaphore(ref.max_concurrency))
    sandbox = None
    if cfg.sandbox is not None:
        sb = registry.create("sandbox", cfg.sandbox.backend, cfg.sandbox.options, where="sandbox.options")
        sandbox = TimedSandbox(sb, timers, asyncio.Semaphore(cfg.sandbox.max_concurrency))
    verifiers = [registry.create("verifier", v.name, v.options, where=f"verifiers.{i}.options")
                 for i, v in enumerate(cfg.verifiers)]
    chain = VerifierChain(verifiers, mode=cfg.verify.mode, weights=cfg.verify.weights,
                          threshold=cfg.verify.threshold, short_circuit=cfg.verify.short_circuit) if verifiers else None
    run_ctx = RunContext(run_name=cfg.name, seed=cfg.seed, round=cfg.round, llm=llms, sandbox=sandbox, chain=chain,
                         timers=timers, generator_name=generator.name, generator_version=generator.version,
                         base_dir=cfg._base_dir)
    return generator, run_ctx


async def close_run_context(run_ctx: RunContext) -> None:
    for llm in run_ctx.llm.values():
        await llm.backend.close()
    if run_ctx.sandbox is not None:
        await run_ctx.sandbox.sandbox.close()
    if run_ctx.chain is not None:
        await run_ctx.chain.close()


def validate_plugins(cfg: PipelineConfig, registry: Registry) -> None:
    """Load every plugin class and validate its options without instantiating it (no model loads)."""
    refs = [("generator", cfg.generator.name, cfg.generator.options, "generator.name", "generator.options")]
    refs += [("llm", r.backend, r.options, f"llms.{role}.backend", f"llms.{role}.options")
             for role, r in cfg.llms.items()]
    if cfg.sandbox is not None:
        refs.append(("sandbox", cfg.sandbox.backend, cfg.sandbox.options, "sandbox.backend", "sandbox.options"))
    refs += [("verifier", v.name, v.options, f"verifiers.{i}.name", f"verifiers.{i}.options")
             for i, v in enumerate(cfg.verifiers)]
    from synthgen.errors import PluginError

    file = cfg._config_file  # None for pipelines built in code (the round loop's)
    for kind, name, options, name_field, where in refs:
        cls = registry.load(kind, name, where=": ".join(p for p in (file, name_field) if p))
        try:
            cls.Config.model_validate(options or {})
        except ValidationError as exc:
            raise PluginError(format_validation_error(exc, prefix=where, path=file)) from None
    gen_cls = registry.load("generator", cfg.generator.name)
    missing = [role for role in gen_cls.roles if role not in cfg.llms]
    if missing:
        raise SynthgenError(f"generator '{gen_cls.name}' needs LLM role(s) {', '.join(missing)}: "
                            f"add them under `llms:` in the config")


class LocalItemProcessor:
    """The plugins of one run, instantiated in this process."""

    def __init__(self, cfg: PipelineConfig, registry: Registry) -> None:
        self.cfg = cfg
        self.timers = Timers()
        self.generator, self.run_ctx = build_run_context(cfg, registry, self.timers)

    async def process(self, item: SourceItem) -> list[Record]:
        return await process_item(item, self.generator, self.run_ctx, self.cfg)

    async def timings(self) -> dict[str, dict[str, float]]:
        return self.timers.as_dict()

    async def close(self) -> None:
        try:
            await self.generator.close()
        finally:
            await close_run_context(self.run_ctx)
