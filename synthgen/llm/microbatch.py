"""Group concurrent generate calls from many asyncio tasks into batched model calls.

Callers submit rows (one row = one sample of one prompt) and await a future. One worker task per
event loop takes up to ``max_batch_size`` pending rows of one group (after waiting ``wait_s`` for more
to arrive when the queue is short; the group is the oldest row's, e.g. its max_tokens bucket, so a
short request does not wait behind a long one), sorts them by prompt length to limit padding, and runs them in a single
worker thread, since the model is not thread-safe. Rows that arrive while a batch runs form the
next batch. A failure in the thread reaches every caller of that batch as an :class:`LLMError`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from synthgen.errors import LLMError

Result = TypeVar("Result")


@dataclass
class _Request(Generic[Result]):
    future: asyncio.Future
    results: list[Any]
    remaining: int


@dataclass
class Row:
    """One sample to generate: its prompt token ids and whatever the batch runner needs."""

    ids: list[int]
    spec: Any
    request: _Request | None = field(default=None, repr=False)
    slot: int = 0


class MicroBatcher(Generic[Result]):
    def __init__(self, run_batch: Callable[[list[Row]], Sequence[Result]], *, max_batch_size: int,
                 wait_s: float, name: str = "llm", group_key: Callable[[Row], Hashable] | None = None) -> None:
        self._run_batch = run_batch
        self._group_key = group_key
        self.max_batch_size = max_batch_size
        self.wait_s = wait_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"synthgen-{name}")
        self._pending: deque[Row] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._closed = False
        self.batches_run = 0  # for tests and benchmarks: how many model calls served the requests

    async def submit(self, rows: list[Row]) -> list[Result]:
        """Queue ``rows`` and return their results in order."""
        if self._closed:
            raise LLMError("the model backend is closed", transient=False)
        if not rows:
            return []
        loop = self._ensure_worker()
        request: _Request = _Request(loop.create_future(), [None] * len(rows), len(rows))
        for slot, row in enumerate(rows):
            row.request, row.slot = request, slot
            self._pending.append(row)
        assert self._wakeup is not None
        self._wakeup.set()
        return await request.future

    async def run_in_worker(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the model thread (loading, warm-up) without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _ensure_worker(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Rows queued under another (finished) event loop can never be answered there.
            self._pending.clear()
            self._loop, self._wakeup, self._task = loop, asyncio.Event(), None
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._work(), name="synthgen-microbatcher")
        return loop

    async def _gather_window(self) -> None:
        assert self._loop is not None and self._wakeup is not None
        deadline = self._loop.time() + self.wait_s
        while len(self._pending) < self.max_batch_size:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take_batch(self) -> list[Row]:
        """The oldest live row's group, oldest first, up to max_batch_size; other rows keep their place."""
        batch: list[Row] = []
        keep: deque[Row] = deque()
        key: Hashable = None
        while self._pending:
            row = self._pending.popleft()
            if row.request is None or row.request.future.done():  # a cancelled caller: drop its rows
                continue
            row_key = self._group_key(row) if self._group_key else None
            if not batch:
                key = row_key
            if len(batch) < self.max_batch_size and row_key == key:
                batch.append(row)
            else:
                keep.append(row)
            if len(batch) >= self.max_batch_size:
                break
        keep.extend(self._pending)
        self._pending = keep
        batch.sort(key=lambda r: len(r.ids))  # similar lengths side by side: less padding
        return batch

    async def _work(self) -> None:
        assert self._loop is not None and self._wakeup is not None
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if len(self._pending) < self.max_batch_size and self.wait_s > 0:
                await self._gather_window()
            batch = self._take_batch()
            if not batch:
                continue
            try:
                results = await self._loop.run_in_executor(self._executor, self._run_batch, batch)
                self.batches_run += 1
            except Exception as exc:  # noqa: BLE001 - every failure must reach the awaiting callers
                error = exc if isinstance(exc, LLMError) else LLMError(
                    f"model call failed for a batch of {len(batch)} rows: {type(exc).__name__}: {exc}",
                    transient=False)
                for row in batch:
                    if row.request is not None and not row.request.future.done():
                        row.request.future.set_exception(error)
                continue
            for row, result in zip(batch, results):
                request = row.request
                if request is None or request.future.done():
                    continue
                request.results[row.slot] = result
                request.remaining -= 1
                if request.remaining == 0:
                    request.future.set_result(request.results)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None and not self._task.done() and not self._task.get_loop().is_closed():
            self._task.cancel()
            if self._loop is asyncio.get_running_loop():
                try:
                    await self._task
                except asyncio.CancelledError:
                    pass
        for row in self._pending:
            if row.request is not None and not row.request.future.done():
                row.request.future.set_exception(LLMError("the model backend was closed", transient=False))
        self._pending.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
