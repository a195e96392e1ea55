"""Generators for the Ray table of benchmarks/scale.py: one that waits (model latency) and one
that burns CPU. In a module of their own so that Ray workers can import them by name."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import ClassVar

from synthgen.plugins import Generator, PluginConfig, SourceItem
from synthgen.records import Record, content_hash


class BenchItem(SourceItem):
    id: str
    prompt: str


class WaitConfig(PluginConfig):
    wait_ms: float = 50.0


class WaitingGeneratorForBench(Generator):
    """Awaits ``wait_ms`` per item, as a call to a model server would."""

    name: ClassVar[str] = "waiting_for_bench"
    capability: ClassVar[str] = "bench"
    Config = WaitConfig
    Item = BenchItem
    roles: ClassVar[tuple[str, ...]] = ()

    async def generate(self, item: BenchItem, ctx) -> list[Record]:
        await asyncio.sleep(self.config.wait_ms / 1000)
        rec = Record(id=content_hash(self.name, item.id), capability=self.capability,
                     messages=[{"role": "user", "content": item.prompt}])
        rec.add_candidate([{"role": "assistant", "content": item.prompt[::-1]}])
        return [rec]


class BurnConfig(PluginConfig):
    burn_ms: float = 5.0


class BurningGeneratorForBench(Generator):
    """Hashes for ``burn_ms`` of CPU per item, holding the worker's core (a local verifier, a parser)."""

    name: ClassVar[str] = "burning_for_bench"
    capability: ClassVar[str] = "bench"
    Config = BurnConfig
    Item = BenchItem
    roles: ClassVar[tuple[str, ...]] = ()

    async def generate(self, item: BenchItem, ctx) -> list[Record]:
        deadline = time.process_time() + self.config.burn_ms / 1000
        digest = item.prompt.encode()
        while time.process_time() < deadline:
            for _ in range(200):
                digest = hashlib.sha256(digest).digest()
        rec = Record(id=content_hash(self.name, item.id), capability=self.capability,
                     messages=[{"role": "user", "content": item.prompt}])
        rec.add_candidate([{"role": "assistant", "content": item.prompt}])
        return [rec]


class NoopConfig(PluginConfig):
    k: int = 2


class NoopGeneratorForBench(Generator):
    """K fixed candidates per item, nothing else and no state kept between items (the runner's
    cost alone). Texts end in the item's number and the number + 1, so `parity_for_tests` passes
    one and fails the other: SFT and DPO exports are not empty."""

    name: ClassVar[str] = "noop_for_bench"
    capability: ClassVar[str] = "bench"
    Config = NoopConfig
    Item = BenchItem
    roles: ClassVar[tuple[str, ...]] = ()

    async def generate(self, item: BenchItem, ctx) -> list[Record]:
        number = int(item.id.rsplit("-", 1)[-1])
        rec = Record(id=content_hash(self.name, item.id), capability=self.capability,
                     messages=[{"role": "user", "content": item.prompt}])
        for j in range(self.config.k):
            rec.add_candidate([{"role": "assistant", "content": f"{item.prompt} #{number + j}"}])
        return [rec]


class EmptyGeneratorForBench(Generator):
    """Makes no record: what an item costs the engine alone (source row, queue, durable line, index)."""

    name: ClassVar[str] = "empty_for_bench"
    capability: ClassVar[str] = "bench"
    Item = BenchItem
    roles: ClassVar[tuple[str, ...]] = ()

    async def generate(self, item: BenchItem, ctx) -> list[Record]:
        return []
