"""The context a plugin receives: models by role, the sandbox, the verifier chain, seeds, timers.

A run builds one :class:`RunContext`; each source item gets an :class:`Context` derived from it
with the item's deterministic seed. Model and sandbox calls made through the context are timed,
so a run can report the wall time split between model, sandbox and engine.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from synthgen.llm.base import Completion, LLMBackend, Prompt, SamplingParams
from synthgen.records import Candidate, Provenance, Record, Verdict, content_hash

if TYPE_CHECKING:
    from sandboxes.types import ExecRequest, ExecResult, Sandbox
    from synthgen.verify_chain import VerifierChain


def derive_seed(*parts: Any) -> int:
    """Deterministic 31-bit seed from (run seed, item id, sample index, ...)."""
    return int(content_hash(*parts, length=8), 16) & 0x7FFFFFFF


@dataclass
class Timers:
    """Accumulated seconds and call counts per resource ('llm:policy', 'sandbox', 'verify:math')."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @contextmanager
    def time(self, key: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[key] += time.perf_counter() - start
            self.calls[key] += 1

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {k: {"seconds": round(self.seconds[k], 4), "calls": self.calls[k]} for k in sorted(self.seconds)}


class TimedLLM:
    """Wraps a backend: times calls, bounds concurrency, fills a default seed."""

    def __init__(self, role: str, backend: LLMBackend, timers: Timers, limit: asyncio.Semaphore) -> None:
        self.role, self.backend, self._timers, self._limit = role, backend, timers, limit

    @property
    def model_name(self) -> str:
        return self.backend.model_name

    async def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        async with self._limit:
            with self._timers.time(f"llm:{self.role}"):
                return await self.backend.generate(prompts, params)


class TimedSandbox:
    def __init__(self, sandbox: "Sandbox", timers: Timers, limit: asyncio.Semaphore) -> None:
        self.sandbox, self._timers, self._limit = sandbox, timers, limit

    async def run(self, request: "ExecRequest") -> "ExecResult":
        async with self._limit:
            with self._timers.time("sandbox"):
                return await self.sandbox.run(request)

    async def run_many(self, requests: Sequence["ExecRequest"]) -> list["ExecResult"]:
        return list(await asyncio.gather(*(self.run(r) for r in requests)))


@dataclass
class RunContext:
    """What every item of a run shares."""

    run_name: str = "adhoc"
    seed: int = 0
    round: int = 0
    llm: Mapping[str, TimedLLM] = field(default_factory=dict)
    sandbox: TimedSandbox | None = None
    chain: "VerifierChain | None" = None
    timers: Timers = field(default_factory=Timers)
    generator_name: str = ""
    generator_version: str = ""
    base_dir: str | None = None  # the pipeline file's folder: relative paths inside items resolve here

    def for_item(self, item_id: str, seed: int | None = None) -> "Context":
        """The context of one item (``seed``: the item's seed when the caller already derived it)."""
        return Context(run=self, item_id=item_id, seed=derive_seed(self.seed, item_id) if seed is None else seed)


@dataclass
class Context:
    """Per-item view of the run: ``ctx.llm[role]``, ``ctx.sandbox``, ``ctx.verify``, ``ctx.seed``."""

    run: RunContext
    item_id: str
    seed: int
    _rng: random.Random | None = field(default=None, init=False, repr=False)

    @property
    def rng(self) -> random.Random:
        """The item's random generator, seeded with ``seed``; made on first use (seeding one costs
        more than the rest of a no-op item, and most generators never draw)."""
        if self._rng is None:
            self._rng = random.Random(self.seed)
        return self._rng

    @rng.setter
    def rng(self, value: random.Random) -> None:
        self._rng = value

    @property
    def llm(self) -> Mapping[str, TimedLLM]:
        return self.run.llm

    @property
    def sandbox(self) -> TimedSandbox:
        if self.run.sandbox is None:
            from synthgen.errors import ConfigError

            raise ConfigError("this pipeline needs a sandbox: add `sandbox: {backend: docker}` to the config",
                              field="sandbox")
        return self.run.sandbox

    @property
    def round(self) -> int:
        return self.run.round

    @property
    def timers(self) -> Timers:
        return self.run.timers

    def resolve_path(self, path: str | Path) -> Path:
        """A path written in a config or an item: relative paths resolve against the pipeline file's
        folder, like `sources` paths (against the current folder for a config built in code)."""
        p = Path(path)
        if p.is_absolute() or not self.run.base_dir:
            return p
        return Path(self.run.base_dir) / p

    def sample_seed(self, *parts: Any) -> int:
        """Seed for one sampling call of this item, e.g. ``ctx.sample_seed('solve', turn)``."""
        return derive_seed(self.seed, *parts)

    async def generate(self, role: str, prompts: Sequence[Prompt], params: SamplingParams,
                       *, seed_key: Any = 0) -> list[list[Completion]]:
        """Call the model of ``role``; a missing seed is derived from the item seed and ``seed_key``."""
        if role not in self.run.llm:
            from synthgen.errors import ConfigError

            raise ConfigError(f"no LLM for role '{role}': add `llms: {{{role}: ...}}` to the config", field="llms")
        if params.seed is None:
            params = params.replace(seed=self.sample_seed(role, seed_key))
        return await self.run.llm[role].generate(prompts, params)

    async def verify(self, record: Record, candidate: Candidate, *, only: Sequence[str] | None = None) -> list[Verdict]:
        """Run the pipeline's verifier chain on one candidate; verdicts are attached to it and returned."""
        if self.run.chain is None:
            return []
        return await self.run.chain.verify(record, candidate, self, only=only)

    def provenance(self, *, roles: Sequence[str] = ("policy",), params: SamplingParams | None = None,
                   parents: Sequence[str] = (), seed: int | None = None) -> Provenance:
        return Provenance(
            generator=self.run.generator_name,
            generator_version=self.run.generator_version,
            models={r: self.run.llm[r].model_name for r in roles if r in self.run.llm},
            sampling=params.as_dict() if params else {},
            seed=self.seed if seed is None else seed,
            round=self.run.round,
            parents=list(parents),
            run=self.run.run_name,
        )
