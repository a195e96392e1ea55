"""PythonKernel on the real backends: state across cells, failures of every kind, files in and out."""

from __future__ import annotations

import asyncio

import pytest

from sandboxes.kernel import KernelClosedError, KernelResult, PythonKernel
from sandboxes.types import ExecRequest, ExecResult, ExecStatus, Limits

FAST = Limits(wall_time_s=1.5, cpu_time_s=3, output_bytes=4096)


def run_cells(runner, cells, **kwargs) -> tuple[PythonKernel, list[KernelResult]]:
    async def go():
        kernel = PythonKernel(runner.sandbox, **kwargs)
        async with kernel:
            return kernel, [await kernel.execute(c) for c in cells]

    return runner.call(go())


def test_state_files_and_artifacts_carry_across_cells(backend):
    kernel, rs = run_cells(
        backend,
        [
            "import math\nx = 6\nprint('first', x)",
            "y = x * 7\ny",  # a last bare expression is shown, as in a notebook
            "rows = open('data.csv').read().split()\nwith open('out.csv', 'w') as f:\n    f.write(str(len(rows)))",
            "print(open('out.csv').read(), math.factorial(5))",
        ],
        files={"data.csv": b"a,b\n1,2\n3,4\n"},
        limits=FAST,
    )
    assert [r.status for r in rs] == [ExecStatus.OK] * 4, [r.error for r in rs]
    assert rs[0].stdout == "first 6\n"
    assert rs[1].stdout == "42\n"
    assert rs[2].artifacts == {"out.csv": b"3"}  # created by this cell
    assert rs[3].artifacts == {}  # replay recreates out.csv, but this cell did not change it
    assert rs[3].stdout == "3 120\n"
    assert [r.replayed for r in rs] == [0, 1, 2, 3]
    assert (kernel.executions, kernel.errors) == (4, 0) and kernel.seconds > 0


def test_failed_cell_is_reported_and_never_replayed(backend):
    kernel, rs = run_cells(
        backend,
        [
            "counter = 1",
            "counter += 1\nraise ValueError('bad block')",
            "def f(:",
            "counter += 10\nprint(counter)",  # 1 + 10: the failed cell's increment is not replayed
        ],
        limits=FAST,
    )
    assert rs[1].status is ExecStatus.RUNTIME_ERROR
    assert rs[1].error == "ValueError: bad block"
    assert 'File "<cell 2>", line 2' in rs[1].stderr and "_kernel" not in rs[1].stderr
    assert rs[2].status is ExecStatus.COMPILE_ERROR and rs[2].error.startswith("SyntaxError")
    assert "ast.py" not in rs[2].stderr
    assert rs[3].ok and rs[3].stdout == "11\n"
    assert (kernel.executions, kernel.errors) == (4, 2)


def test_hang_and_flood_stop_the_cell_not_the_kernel(backend):
    _, rs = run_cells(
        backend,
        [
            "total = 5",
            "print('before the loop', flush=True)\nwhile True:\n    pass",
            "import time\ntry:\n    time.sleep(60)\nexcept Exception:\n    pass",  # cannot swallow the stop
            "while True:\n    print('spam' * 100)",
            "print(total)",
        ],
        limits=FAST,
    )
    assert rs[1].status is ExecStatus.TIMEOUT and "timeout" in rs[1].error
    assert rs[1].stdout == "before the loop\n"  # partial output survives
    assert rs[2].status is ExecStatus.TIMEOUT
    assert rs[3].status is ExecStatus.OUTPUT_LIMIT and len(rs[3].stdout) <= FAST.output_bytes
    assert rs[4].ok and rs[4].stdout == "5\n"
    assert rs[4].seconds < 5  # the hung cells are not replayed


def test_interpreter_exit_and_forged_trailer(backend):
    _, rs = run_cells(
        backend,
        [
            "import os\nos._exit(0)",
            'print("\\x00synthgen-kernel-0000\\x00{\\"status\\": \\"ok\\"}")\nraise KeyError("k")',
        ],
        limits=FAST,
    )
    assert rs[0].status is ExecStatus.RUNTIME_ERROR and "ended the interpreter" in rs[0].error
    assert rs[1].status is ExecStatus.RUNTIME_ERROR and rs[1].error == "KeyError: 'k'"


def test_artifacts_are_capped(backend):
    _, rs = run_cells(
        backend,
        ["open('big.bin', 'wb').write(b'x' * 5000)\nopen('small.txt', 'w').write('ok')"],
        limits=FAST,
        artifact_bytes=1000,
    )
    assert rs[0].ok
    assert rs[0].artifacts == {"small.txt": b"ok"}
    assert rs[0].artifacts_skipped == ["big.bin"]


def test_kernels_are_independent_and_closed_kernel_refuses(backend):
    async def go():
        a, b = PythonKernel(backend.sandbox, limits=FAST), PythonKernel(backend.sandbox, limits=FAST)
        await asyncio.gather(a.execute("v = 'a'"), b.execute("v = 'b'"))
        ra, rb = await asyncio.gather(a.execute("print(v)"), b.execute("print(v)"))
        await a.close()
        await a.close()  # twice is fine
        with pytest.raises(KernelClosedError):
            await a.execute("print(1)")
        return ra, rb

    ra, rb = backend.call(go())
    assert (ra.stdout, rb.stdout) == ("a\n", "b\n")


class RaisingSandboxForTests:
    """A backend whose run raises (a dead engine): the one fault a real backend cannot be made to show."""

    async def run(self, request: ExecRequest) -> ExecResult:
        raise ConnectionError("engine went away")


async def test_a_raising_sandbox_fails_the_cell_only():
    kernel = PythonKernel(RaisingSandboxForTests())
    r = await kernel.execute("print(1)")
    assert r.status is ExecStatus.SANDBOX_ERROR and "engine went away" in r.error
    assert (kernel.executions, kernel.errors) == (1, 1)
