"""Docker backend: a warm pool of locked-down containers, each running our supervisor as PID 1.

A job costs one round trip on a unix socket (no ``docker exec``): the host listens on a socket file
bind-mounted into exactly one container, whose supervisor connects at start and then serves jobs.
When the host process ends, even by SIGKILL, the kernel closes the socket, the supervisor exits
and ``--rm`` removes its container; containers left anyway are removed, by label, by the next pool
that starts. A slot whose supervisor dies, hangs, or fails its cleanup is replaced and its queued
jobs run elsewhere. With ``pipeline_depth`` > 1, jobs are queued in a busy slot's socket so a
container never idles while the host turns a result around (off by default: a job queued behind
a slow one waits for it, and on this 2-core machine it measured no gain).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import secrets
import shutil
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from sandboxes.docker_config import DockerConfig, LimitsConfig, SandboxUnavailable
from sandboxes.docker_support import (
    SOCKET_ROOT,
    container_spec,
    force_remove,
    remove_stale_containers,
    remove_stale_socket_dirs,
)
from sandboxes.image_build import LABEL_HASH, ImageBuildError, ensure_image, image_hash
from sandboxes.jobs import BadRequest, bad_request, build_job, read_frame, read_result, sandbox_error
from sandboxes.owner import owner_token
from sandboxes.recipes import Recipe
from sandboxes.types import ExecRequest, ExecResult, Sandbox, SandboxFailure

log = logging.getLogger(__name__)
__all__ = ["DockerConfig", "DockerSandbox", "LimitsConfig", "SandboxUnavailable", "remove_stale_containers"]


class _SlotFailed(Exception):
    """The container of a slot died, hung or broke the protocol; its queued jobs go elsewhere."""


@dataclass
class _Pending:
    future: asyncio.Future
    budget_s: float
    recipe: Recipe
    deadline: float | None = None  # set when the job reaches the head of its slot's queue


@dataclass
class _Slot:
    index: int
    uid: int
    memory_mb: int
    container: Any = None
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    sock_path: Path | None = None
    inflight: collections.deque = field(default_factory=collections.deque)
    work: asyncio.Event = field(default_factory=asyncio.Event)
    pump: asyncio.Task | None = None
    dead: bool = False
    jobs: int = 0
    services_mb: int = 0  # memory of the warm compiler services the container's limit includes


class DockerSandbox(Sandbox):
    """Runs jobs in a warm pool of ``--network none --read-only --cap-drop ALL`` containers.

    Use it from one event loop; ``run`` may be called concurrently as often as you like.
    """

    name: ClassVar[str] = "docker"
    Config: ClassVar[type[BaseModel]] = DockerConfig

    def __init__(self, config: DockerConfig | None = None) -> None:
        super().__init__(config)
        self.config: DockerConfig
        self._client = None
        self._slots: dict[int, _Slot] = {}
        self._changed = asyncio.Condition()  # a slot got capacity, died or was replaced
        self._start_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._started = False
        self._closed = False
        self._pool_id = secrets.token_hex(4)
        self._owner = owner_token()
        self._sock_dir = SOCKET_ROOT / f"{os.getpid()}-{self._pool_id}"
        base = self.config.uid_base or 100000 + secrets.randbelow(100000) * 64
        self._uids = [base + i for i in range(self.config.pool_size)]
        self._replacements = 0
        self._replacing = 0
        self._job_failures = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        async with self._start_lock:
            if self._started:
                return
            if self._closed:
                raise SandboxUnavailable("this DockerSandbox was closed; create a new one")
            self._client = await asyncio.to_thread(self._connect)
            await asyncio.to_thread(remove_stale_containers, self._client)
            remove_stale_socket_dirs()
            self._sock_dir.mkdir(parents=True, exist_ok=True)
            made = await asyncio.gather(
                *(self._new_slot(i, self.config.limits.memory_mb) for i in range(self.config.pool_size)),
                return_exceptions=True,
            )
            self._started = True
            errors = [s for s in made if isinstance(s, BaseException)]
            if errors:
                await self.close()
                raise SandboxUnavailable(f"could not start the sandbox pool: {errors[0]}") from errors[0]

    def _connect(self):
        import docker

        try:
            client = docker.from_env(timeout=120)
            client.ping()
        except Exception as exc:
            raise SandboxUnavailable(
                f"Docker engine not reachable ({exc}); start it with `bash scripts/start_dockerd.sh`"
            ) from exc
        if not self.config.packages.empty():
            try:
                tag = ensure_image(self.config.packages, image=self.config.image, log=log.info)
            except ImageBuildError as exc:
                raise SandboxUnavailable(str(exc)) from exc
            self.config = self.config.model_copy(update={"image": tag})
        try:
            image = client.images.get(self.config.image)
        except docker.errors.ImageNotFound as exc:
            raise SandboxUnavailable(
                f"sandbox image {self.config.image!r} not found; build it with `synthgen sandbox build` "
                "(or `make sandbox`)"
            ) from exc
        label = (image.labels or {}).get(LABEL_HASH)
        if self.config.check_image_hash and label != image_hash():
            log.warning(
                "sandbox image %s was built from other recipes (hash %s, now %s); run `synthgen sandbox build`",
                self.config.image,
                label,
                image_hash(),
            )
        return client

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        slots = list(self._slots.values())
        for slot in slots:
            self._fail(slot, "the sandbox pool was closed", replace=False)
        await asyncio.gather(*(self._destroy(s) for s in slots), return_exceptions=True)
        async with self._changed:
            self._changed.notify_all()
        shutil.rmtree(self._sock_dir, ignore_errors=True)
        if self._client is not None:
            self._client.close()

    async def _new_slot(self, index: int, memory_mb: int) -> _Slot:
        slot = _Slot(index=index, uid=self._uids[index], memory_mb=memory_mb)
        slot.sock_path = self._sock_dir / f"slot{index}-{secrets.token_hex(3)}.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(slot.sock_path))
            os.chmod(slot.sock_path, 0o666)  # the supervisor runs as the slot's unprivileged uid
            listener.listen(1)
            listener.setblocking(False)
            spec = container_spec(
                self.config,
                name=f"synthgen-sbx-{self._pool_id}-{index}-{secrets.token_hex(2)}",
                uid=slot.uid,
                memory_mb=memory_mb,
                sock_path=slot.sock_path,
                owner=self._owner,
                pool_id=self._pool_id,
            )
            slot.container = await asyncio.to_thread(self._client.containers.run, **spec)
            loop = asyncio.get_running_loop()
            conn, _ = await asyncio.wait_for(loop.sock_accept(listener), self.config.startup_timeout_s)
            slot.reader, slot.writer = await asyncio.open_unix_connection(sock=conn)
            hello = await asyncio.wait_for(read_frame(slot.reader), self.config.startup_timeout_s)
            if not hello.get("ready") or hello.get("protocol") != 2:
                raise SandboxUnavailable(f"supervisor said {hello!r} instead of ready")
        except BaseException:
            await self._destroy(slot)
            raise
        finally:
            listener.close()
            # The supervisor holds its connection; nobody else may connect to this path again.
            slot.sock_path.unlink(missing_ok=True)
        if self._closed:
            await self._destroy(slot)
            raise SandboxUnavailable("the sandbox pool was closed")
        slot.pump = self._spawn(self._pump(slot))
        self._slots[index] = slot
        async with self._changed:
            self._changed.notify_all()
        return slot

    async def _destroy(self, slot: _Slot) -> None:
        slot.dead = True
        if self._slots.get(slot.index) is slot:
            del self._slots[slot.index]
        if slot.pump is not None and slot.pump is not asyncio.current_task():
            slot.pump.cancel()
        if slot.writer is not None:
            slot.writer.close()
        if slot.container is not None:
            container, slot.container = slot.container, None
            await asyncio.to_thread(force_remove, container)

    def _schedule_replace(self, slot: _Slot, memory_mb: int) -> None:
        """Start replacing a slot; counted at once so waiters know a container is on its way."""
        slot.dead = True
        self._replacing += 1
        self._spawn(self._replace(slot, memory_mb))

    async def _replace(self, slot: _Slot, memory_mb: int) -> None:
        """A fresh container in the slot's place (after a failure, or to change its memory limit)."""
        try:
            await self._destroy(slot)
            self._replacements += 1
            last: BaseException | None = None
            for attempt in range(3):
                if self._closed:
                    return
                try:
                    await self._new_slot(slot.index, memory_mb)
                    return
                except Exception as exc:  # noqa: BLE001 (engine hiccup: try again, then give up loudly)
                    last = exc
                    await asyncio.sleep(0.2 * (attempt + 1))
            log.error("could not replace sandbox container %d: %s", slot.index, last)
        finally:
            self._replacing -= 1
            async with self._changed:
                self._changed.notify_all()

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _fail(self, slot: _Slot, why: str, *, replace: bool = True) -> None:
        """Mark a slot dead, hand its queued jobs back for a retry, and replace its container."""
        if slot.dead and not slot.inflight:
            return
        slot.dead = True
        while slot.inflight:
            pending = slot.inflight.popleft()
            if not pending.future.done():
                pending.future.set_exception(_SlotFailed(why))
        if replace and not self._closed:
            log.warning("sandbox container %d failed (%s); replacing it", slot.index, why)
            self._schedule_replace(slot, slot.memory_mb)

    async def _pump(self, slot: _Slot) -> None:
        """Reads a slot's results in order; a hung or dead supervisor fails the slot."""
        loop = asyncio.get_running_loop()
        assert slot.reader is not None
        while not slot.dead:
            if not slot.inflight:
                slot.work.clear()
                await slot.work.wait()
                continue
            head = slot.inflight[0]
            if head.deadline is None:
                head.deadline = loop.time() + head.budget_s
            try:
                payload = await asyncio.wait_for(
                    read_result(slot.reader, head.recipe, with_services=True), max(0.0, head.deadline - loop.time())
                )
            except asyncio.CancelledError:
                raise
            except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError, ValueError, KeyError) as exc:
                self._fail(slot, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
                return
            slot.jobs += 1
            payload, services_mb = payload
            if services_mb != slot.services_mb and slot.container is not None:
                # The compiler services live beside the jobs: the container's limit grows by what they
                # use, so a job keeps exactly the memory it asked for.
                try:
                    await asyncio.to_thread(self._resize, slot, services_mb)
                except Exception as exc:  # noqa: BLE001 (the engine refused: a fresh container instead)
                    self._fail(slot, f"could not resize the container: {exc}")
                    return
            done = slot.inflight.popleft()
            if not done.future.done():
                done.future.set_result(payload)
            async with self._changed:
                self._changed.notify_all()

    def _resize(self, slot: _Slot, services_mb: int) -> None:
        mem = f"{slot.memory_mb + self.config.memory_overhead_mb + services_mb}m"
        slot.container.update(mem_limit=mem, memswap_limit=mem)
        slot.services_mb = services_mb

    # ------------------------------------------------------------------ jobs
    async def _acquire(self, memory_mb: int) -> _Slot | None:
        """A live slot with room for one more job and the right memory limit; None if none can come."""
        depth = self.config.pipeline_depth
        async with self._changed:
            while not self._closed:
                live = [s for s in self._slots.values() if not s.dead]
                fits = [s for s in live if s.memory_mb == memory_mb and len(s.inflight) < depth]
                if fits:
                    return min(fits, key=lambda s: len(s.inflight))
                idle = [s for s in live if not s.inflight]
                if idle:  # resize an idle container to the requested memory limit
                    self._schedule_replace(idle[0], memory_mb)
                elif not live and not self._replacing:
                    return None
                await self._changed.wait()
        return None

    async def run(self, request: ExecRequest) -> ExecResult:
        t0 = time.monotonic()
        try:
            job = build_job(
                request,
                compile_wall_s=self.config.compile_wall_s,
                fork_python=self.config.python_fork_server,
                warm_compilers=self.config.warm_compilers,
            )
        except BadRequest as exc:
            return bad_request(str(exc))
        await self.start()
        frame = job.wire()
        budget = request.limits.wall_time_s + self.config.host_grace_s
        if job.frame["compile"]:
            budget += job.frame["compile_wall_s"]
        failures: list[str] = []
        for _attempt in range(2):  # a failed slot: one retry of this job on a fresh container
            slot = await self._acquire(request.limits.memory_mb)
            if slot is None:
                break
            pending = _Pending(asyncio.get_running_loop().create_future(), budget, job.recipe)
            slot.inflight.append(pending)
            slot.work.set()
            try:
                assert slot.writer is not None
                slot.writer.write(frame)
                await slot.writer.drain()
            except OSError as exc:
                self._fail(slot, f"write failed: {exc}")
            try:
                return await pending.future
            except _SlotFailed as exc:
                failures.append(str(exc))
        elapsed = time.monotonic() - t0
        if self._closed:
            return sandbox_error("the sandbox pool was closed", elapsed, SandboxFailure.SANDBOX_DOWN)
        if len(failures) == 2 and await self._has_live_slot():
            # Two fresh containers failed on this job while the pool lives: the job's own doing.
            self._job_failures += 1
            return sandbox_error(
                "the program broke its sandbox twice, each time in a fresh container: " + "; ".join(failures),
                elapsed,
            )
        log.error("the Docker sandbox is down: no container could run a job (%s)", "; ".join(failures))
        return sandbox_error(
            "the sandbox is down: no live container and none could be started"
            + (f" ({'; '.join(failures)})" if failures else ""),
            elapsed,
            SandboxFailure.SANDBOX_DOWN,
        )

    async def _has_live_slot(self) -> bool:
        """Whether the pool can still run jobs, once the replacements under way have settled."""
        async with self._changed:
            while not self._closed and self._replacing and not any(not s.dead for s in self._slots.values()):
                await self._changed.wait()
            return any(not s.dead for s in self._slots.values())

    async def run_many(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        # Every run waits for a slot with room, so all containers stay busy until the batch ends.
        await self.start()
        return list(await asyncio.gather(*(self.run(r) for r in requests)))

    @property
    def stats(self) -> dict:
        return {
            "pool_size": self.config.pool_size,
            "live": len(self._slots),
            "replacements": self._replacements,
            "job_failures": self._job_failures,
        }

