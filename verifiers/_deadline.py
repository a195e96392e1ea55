"""Run a CPU-bound check with a deadline, in worker processes that can be killed when it passes.

sympy can spend minutes (or forever) on a hostile expression and a thread cannot be stopped, so the
default is a small process pool: a call that misses its deadline kills the pool's processes and
the next call starts a fresh pool. ``isolation="thread"`` is cheaper to start but only abandons a
late call (its thread finishes in the background). Safe to share between threads and event loops.

The deadline covers the check's own run, not time spent queueing for a worker: each event loop
admits at most ``workers`` calls into the pool at once (a per-loop semaphore), so a burst of a
thousand checks does not time out while waiting.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from synthgen.errors import cancelled_by_caller


class DeadlineExceeded(Exception):
    """The call did not finish within its deadline (its worker was killed or abandoned)."""


class DeadlinePool:
    def __init__(self, workers: int = 2, isolation: Literal["process", "thread"] = "process",
                 initializer: Callable[[], None] | None = None) -> None:
        self.workers, self.isolation, self.initializer = workers, isolation, initializer
        self._executor: Executor | None = None
        self._lock = threading.Lock()
        self._admission: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    def _get(self) -> Executor:
        with self._lock:
            if self._executor is None:
                if self.isolation == "process":
                    # spawn, not fork: the parent may hold threads (event loop, torch) that fork would copy.
                    self._executor = ProcessPoolExecutor(
                        self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=self.initializer)
                else:
                    self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="verify-deadline",
                                                        initializer=self.initializer)
            return self._executor

    def _discard(self, executor: Executor) -> None:
        with self._lock:
            if self._executor is not executor:
                return  # someone else already replaced it
            self._executor = None
        _kill(executor)  # the only way to stop sympy mid-computation

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._lock:
            for old in [lp for lp in self._admission if lp.is_closed()]:
                del self._admission[old]
            if loop not in self._admission:
                self._admission[loop] = asyncio.Semaphore(self.workers)
            return self._admission[loop]

    async def call(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """``fn(*args)`` in a worker; raises :class:`DeadlineExceeded` after ``timeout`` seconds."""
        async with self._gate():
            for attempt in range(3):
                executor = self._get()
                try:
                    inner = executor.submit(fn, *args)
                except (BrokenProcessPool, RuntimeError):
                    # Another thread's deadline shut this pool down since _get ("cannot schedule
                    # new futures after shutdown"): retry on a fresh pool.
                    self._discard(executor)
                    continue
                try:
                    return await asyncio.wait_for(asyncio.wrap_future(inner), timeout)
                except asyncio.TimeoutError:
                    if self.isolation == "process":
                        self._discard(executor)
                    raise DeadlineExceeded(f"no result within {timeout:g}s") from None
                except BrokenProcessPool:
                    # Another call's deadline killed the pool under us: retry on a fresh pool.
                    self._discard(executor)
                except asyncio.CancelledError:
                    if cancelled_by_caller():
                        raise
                    # Nobody cancelled this task, so the cancellation came from the worker's future:
                    # the pool was shut down (another call's deadline) under it. Retry.
            raise DeadlineExceeded("the worker pool kept failing")

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            _kill(executor)


def _kill(executor: Executor) -> None:
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for proc in processes:
        if proc.is_alive():
            proc.kill()
    executor.shutdown(wait=False, cancel_futures=True)
