"""DeadlinePool under contention: a call ends with its result or DeadlineExceeded, never with a
stray CancelledError or a "cannot schedule new futures" RuntimeError from a pool that another
call's deadline shut down; a caller's own cancellation still propagates."""

import asyncio
import threading
import time

import pytest

from verifiers._deadline import DeadlineExceeded, DeadlinePool


def square(x: int) -> int:
    return x * x


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def fails() -> None:
    raise RuntimeError("raised by the checked function")


async def test_slow_calls_killing_the_pool_do_not_break_the_others():
    pool = DeadlinePool(workers=2, isolation="process")
    try:

        async def one(i: int):
            try:
                if i % 5 == 0:
                    return await pool.call(nap, 30.0, timeout=0.5)  # misses its deadline
                return await pool.call(square, i, timeout=20)
            except DeadlineExceeded:
                return "deadline"

        results = await asyncio.gather(*(one(i) for i in range(40)))
        for i, result in enumerate(results):
            if i % 5 == 0:
                assert result == "deadline"
            else:
                assert result in (i * i, "deadline"), (i, result)
        # the fast calls that queued behind a killed pool got their results on a fresh pool
        assert sum(r == i * i for i, r in enumerate(results) if i % 5) >= 24
    finally:
        pool.close()


async def test_a_pool_shut_down_by_another_thread_is_replaced():
    pool = DeadlinePool(workers=1, isolation="process")
    try:
        assert await pool.call(square, 3, timeout=60) == 9
        executor = pool._get()
        threading.Thread(target=lambda: executor.shutdown(wait=True)).start()
        await asyncio.sleep(0.2)  # the shared executor is now shut down, as after another loop's deadline
        assert await pool.call(square, 4, timeout=60) == 16
    finally:
        pool.close()


async def test_an_error_of_the_checked_function_is_not_retried():
    pool = DeadlinePool(workers=1, isolation="thread")
    with pytest.raises(RuntimeError, match="raised by the checked function"):
        await pool.call(fails, timeout=10)
    pool.close()


async def test_the_callers_cancellation_propagates():
    pool = DeadlinePool(workers=1, isolation="thread")
    task = asyncio.create_task(pool.call(nap, 1.0, timeout=10))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pool.close()
