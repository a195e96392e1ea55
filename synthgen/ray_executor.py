"""Ray executor: the same pipeline on Ray actors, a local cluster or an existing one.

Each actor builds the run's plugins once (models, sandbox pool, verifiers) and processes items
concurrently with the same code as the local executor (:class:`LocalItemProcessor`), so records are
identical for the same config and seed. The driver dispatches items, receives records as JSON and
writes them to the run store itself: durability and exact resume do not depend on the workers.

Items travel in micro-batches (up to ``_BATCH`` items, or what arrived within ``_BATCH_WAIT_S``):
one Ray call per batch instead of per item, so the driver's cost per item stays a small fraction
of a worker's even for items that take microseconds; the records' JSON from the worker is written
to the store as it came (no second serialisation on the driver).
Plugins registered in code (not through entry points) are shipped to the actors by reference, so
their modules must be importable there (the driver's working directory is on the workers' path).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from typing import Any

from synthgen.config import PipelineConfig
from synthgen.errors import SynthgenError
from synthgen.records import Record
from synthgen.registry import Registry
from synthgen.sources import SourceItem


def _ray():
    try:
        import ray
    except ImportError:
        raise SynthgenError("runner.executor is 'ray' but Ray is not installed: pip install 'synthgen[ray]'") from None
    return ray


class _ItemWorker:
    """Body of the Ray actor: a LocalItemProcessor in the worker process."""

    def __init__(self, cfg_json: str, extra: dict[str, dict[str, type]]) -> None:
        from synthgen.item_processor import LocalItemProcessor

        registry = Registry()
        for kind, plugins in extra.items():
            for cls in plugins.values():
                registry.register(kind, cls)
        self.processor = LocalItemProcessor(PipelineConfig.model_validate_json(cfg_json), registry)

    async def process(self, item_id: str, row: dict, where: str) -> list[bytes]:
        records = await self.processor.process(SourceItem(item_id, row, where))
        return [r.to_json() for r in records]

    async def process_batch(self, items: list[tuple[str, dict, str]]) -> list[list[bytes] | BaseException]:
        """Each item's records as JSON, or the exception that stopped it (raised on the driver)."""
        async def one(item: tuple[str, dict, str]) -> list[bytes]:
            return await self.process(*item)

        return list(await asyncio.gather(*(one(it) for it in items), return_exceptions=True))

    async def timings(self) -> dict[str, dict[str, float]]:
        return await self.processor.timings()

    async def close(self) -> None:
        await self.processor.close()


_BATCH = 32
_BATCH_WAIT_S = 0.002


class RayItemProcessor:
    def __init__(self, cfg: PipelineConfig, registry: Registry) -> None:
        ray = _ray()
        self._ray = ray
        rc = cfg.runner.ray
        self._owns_cluster = not ray.is_initialized()
        if self._owns_cluster:
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if rc.address:
                kwargs["address"] = rc.address
            else:
                kwargs["num_cpus"] = max(rc.num_workers * rc.num_cpus_per_worker, os.cpu_count() or 1)
            ray.init(**kwargs)
        per_actor = max(1, cfg.runner.max_concurrent_items // rc.num_workers)
        actor_cls = ray.remote(_ItemWorker).options(
            num_cpus=rc.num_cpus_per_worker, num_gpus=rc.num_gpus_per_worker, max_concurrency=per_actor)
        extra = {kind: dict(plugins) for kind, plugins in registry.extra.items() if plugins}
        self._actors = [actor_cls.remote(cfg.model_dump_json(), extra) for _ in range(rc.num_workers)]
        self._next = itertools.cycle(self._actors)
        # at least two batches in flight per actor, so one is computed while the other travels
        self._batch_size = max(1, min(_BATCH, per_actor // 2))
        self._pending: list[tuple[SourceItem, asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: set[asyncio.Task] = set()

    async def process(self, item: SourceItem) -> list[Record]:
        return (await self.process_encoded(item))[0]

    async def process_encoded(self, item: SourceItem) -> tuple[list[Record], list[bytes]]:
        """The item's records and their JSON as the worker wrote it (the runner stores those bytes)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._batch_size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(_BATCH_WAIT_S, self._flush)
        payload = await future
        return [Record.from_json(p) for p in payload], payload

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            ref = next(self._next).process_batch.remote([(it.id, it.row, it.where) for it, _ in batch])
            task = asyncio.ensure_future(self._deliver(ref, batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _deliver(self, ref: Any, batch: list[tuple[SourceItem, asyncio.Future]]) -> None:
        try:
            results = await ref
        except self._ray.exceptions.RayTaskError as exc:
            results = [SynthgenError(f"Ray worker failed on a batch of {len(batch)} item(s) "
                                     f"from {batch[0][0].id}: {exc}")] * len(batch)
        except self._ray.exceptions.RayActorError as exc:
            results = [SynthgenError(f"a Ray worker died while processing items from {batch[0][0].id} "
                                     f"(plugin construction failed or the process was killed): {exc}")] * len(batch)
        except BaseException as exc:  # cancelled: the run is stopping
            results = [exc] * len(batch)
        for (item, future), result in zip(batch, results):
            if future.done():
                continue
            if isinstance(result, SynthgenError):
                future.set_exception(result)
            elif isinstance(result, BaseException):
                future.set_exception(SynthgenError(f"Ray worker failed on item {item.id}: {result!r}"))
            else:
                future.set_result(result)

    async def timings(self) -> dict[str, dict[str, float]]:
        merged: dict[str, dict[str, float]] = {}
        for actor in self._actors:
            try:
                part = await actor.timings.remote()
            except self._ray.exceptions.RayError:
                continue
            for key, val in part.items():
                slot = merged.setdefault(key, {"seconds": 0.0, "calls": 0})
                slot["seconds"] = round(slot["seconds"] + val["seconds"], 4)
                slot["calls"] += val["calls"]
        return merged

    async def close(self) -> None:
        for actor in self._actors:
            try:
                await actor.close.remote()
            except self._ray.exceptions.RayError:
                pass
            self._ray.kill(actor)
        if self._owns_cluster:
            self._ray.shutdown()
