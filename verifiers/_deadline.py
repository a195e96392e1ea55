"""Run a CPU-bound check with a deadline, in worker processes that can be killed when it passes.

sympy can spend minutes (or forever) on a hostile expression and a thread cannot be stopped, so the
default is a small process pool: a call that misses its deadline kills the pool's processes and
the next call starts a fresh pool. ``isolation="thread"`` is cheaper to start but only abandons a
late call (its thread finishes in the background). Safe to share between threads and event loops.

The deadline covers the check's own run, not time spent queueing for a worker: each event loop
admits at most ``workers`` calls into the pool at once (a per-loop semaphore), so a burst of a
thousand checks does not time out while waiting.

``start()`` launches the workers at once (a verifier calls it in its constructor, so the first check
does not pay for starting processes and importing sympy). Workers are spawned, not forked (the
parent may hold threads that fork would copy half-way), and they do NOT import the parent's
``__main__``: multiprocessing's spawn re-runs the main script in every worker, which turns a plain
script without an ``if __name__ == "__main__":`` guard into a fork bomb of verifier pools. While
our workers start, ``__main__`` hides its ``__file__`` and ``__spec__`` so the workers skip that step;
the price is that a function passed to ``call`` must live in an importable module, not in a script.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from synthgen.errors import cancelled_by_caller


STARTUP_TIMEOUT_S = 120.0  # the longest a call waits for fresh workers before its own deadline starts


class DeadlineExceeded(Exception):
    """The call did not finish within its deadline (its worker was killed or abandoned)."""


class DeadlinePool:
    def __init__(self, workers: int = 2, isolation: Literal["process", "thread"] = "process",
                 initializer: Callable[[], None] | None = None) -> None:
        self.workers, self.isolation, self.initializer = workers, isolation, initializer
        self._executor: Executor | None = None
        self._warmups: list[Future] = []  # one no-op per worker: all done = every worker is up
        self._lock = threading.Lock()
        self._admission: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    def start(self) -> None:
        """Launch the workers now (they run ``initializer`` in the background); returns at once."""
        self._get()

    def _get(self) -> Executor:
        with self._lock:
            if self._executor is None:
                if self.isolation == "process":
                    executor: Executor = ProcessPoolExecutor(
                        self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=self.initializer)
                    # One no-op per worker: the pool spawns a process for each task it cannot hand to
                    # an idle worker, so this starts them all now, with __main__ hidden.
                    with _main_hidden():
                        self._warmups = [executor.submit(_ready) for _ in range(self.workers)]
                else:
                    executor = ThreadPoolExecutor(self.workers, thread_name_prefix="verify-deadline",
                                                  initializer=self.initializer)
                    self._warmups = [executor.submit(_ready) for _ in range(self.workers)]
                self._executor = executor
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
                # The deadline is for the check, not for starting workers and importing sympy.
                pending = [asyncio.wrap_future(f) for f in self._warmups if not f.done()]
                if pending:
                    await asyncio.wait(pending, timeout=STARTUP_TIMEOUT_S)
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

    def run(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """Synchronous ``call`` for plain scripts: ``fn(*args)`` in a worker, DeadlineExceeded after ``timeout``."""
        for _ in range(3):
            executor = self._get()
            concurrent.futures.wait(self._warmups, timeout=STARTUP_TIMEOUT_S)
            try:
                inner: Future = executor.submit(fn, *args)
            except (BrokenProcessPool, RuntimeError):
                self._discard(executor)
                continue
            try:
                return inner.result(timeout)
            except concurrent.futures.TimeoutError:
                if self.isolation == "process":
                    self._discard(executor)
                raise DeadlineExceeded(f"no result within {timeout:g}s") from None
            except (BrokenProcessPool, concurrent.futures.CancelledError):
                self._discard(executor)
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


def _ready() -> None:
    """A no-op task: its completion says a worker is up (and has run the initializer)."""


_MAIN_LOCK = threading.Lock()


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """Make spawned children skip importing ``__main__`` (see the module docstring).

    multiprocessing records the main module's ``__spec__`` name or ``__file__`` for the child to
    re-import; with neither, the child starts from its own empty ``__main__``.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    with _MAIN_LOCK:
        had_file, file = hasattr(main, "__file__"), getattr(main, "__file__", None)
        spec = getattr(main, "__spec__", None)
        try:
            if had_file:
                del main.__file__
            main.__spec__ = None
            yield
        finally:
            main.__spec__ = spec
            if had_file:
                main.__file__ = file
