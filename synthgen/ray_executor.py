"""Ray executor: the same pipeline on Ray actors, a local cluster or an existing one.

Each actor builds the run's plugins once (models, sandbox pool, verifiers) and processes items
concurrently with the same code as the local executor (:class:`LocalItemProcessor`), so records are
identical for the same config and seed. The driver dispatches items, receives records as JSON and
writes them to the run store itself: durability and exact resume do not depend on the workers.
Plugins registered in code (not through entry points) are shipped to the actors by reference, so
their modules must be importable there (the driver's working directory is on the workers' path).
"""

from __future__ import annotations

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

    async def timings(self) -> dict[str, dict[str, float]]:
        return await self.processor.timings()

    async def close(self) -> None:
        await self.processor.close()


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

    async def process(self, item: SourceItem) -> list[Record]:
        actor = next(self._next)
        try:
            payload = await actor.process.remote(item.id, item.row, item.where)
        except self._ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, SynthgenError):
                raise cause from None
            raise SynthgenError(f"Ray worker failed on item {item.id}: {exc}") from None
        except self._ray.exceptions.RayActorError as exc:
            raise SynthgenError(f"a Ray worker died while processing item {item.id} "
                                f"(plugin construction failed or the process was killed): {exc}") from None
        return [Record.from_json(p) for p in payload]

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
