"""A Python kernel on any sandbox backend: cells that share state, each run isolated as one job.

Used by code-interleaved math reasoning (``math_tir``) and by the ``python`` tool. State
(variables, imports, files written) carries from one :meth:`PythonKernel.execute` to the next, as
in a notebook, while every call is one ordinary :meth:`Sandbox.run` job:

* **Replay** (the one mode): each call uploads the kernel's files and a small driver
  (``sandboxes/_kernel_driver.py``), re-executes the earlier cells that succeeded with their output
  discarded, then runs the new cell with its output captured. A cell that failed is never replayed.
  Why not a long-lived interpreter per solution: the Docker pool has 2-4 slots, and a solution
  holds its kernel while the model writes the next block (seconds to minutes), so a persistent
  interpreter would pin a slot for that whole time and starve every other candidate; replay keeps
  the isolation of a fresh job per call and frees the slot between calls, on every backend, with
  no change to the sandbox protocol. Its cost is re-running earlier cells: for TIR's few short
  blocks per solution this measured cheaper than job start-up (``benchmarks/kernel.py``).
  Caveat: replay re-executes code, so unseeded randomness or clock reads can differ between calls.

Per-call limits: ``limits.wall_time_s`` bounds the new cell (an in-job alarm, so its partial
output and files still come back); the job's own limits add the time earlier cells took.
``output_bytes`` caps what the cell prints per stream (the cell is stopped past it: status
``output_limit``). Files the cell creates or changes come back as ``artifacts`` (capped in size).
Nothing raises for what the code does: every way a cell ends is a :class:`KernelResult`.
"""

from __future__ import annotations

import ast
import asyncio
import marshal
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, Self

from sandboxes.types import ExecRequest, ExecResult, ExecStatus, Limits
from synthgen.errors import SynthgenError

__all__ = ["KernelClosedError", "KernelResult", "PythonKernel"]

_DRIVER_SOURCE = (Path(__file__).with_name("_kernel_driver.py")).read_text(encoding="utf-8")
_DRIVER_FILE = ".synthgen_kernel.py"
_SPEC_FILE = ".synthgen_cells.bin"
# What a cell may print per stream by default: a model reads it back, so a page, not a megabyte.
DEFAULT_OUTPUT_BYTES = 16 * 1024
DEFAULT_ARTIFACT_BYTES = 4 << 20
_STARTUP_S = 2.0  # interpreter start and the driver's own work, on top of the cells' time


class _Runs(Protocol):
    async def run(self, request: ExecRequest) -> ExecResult: ...


class KernelClosedError(SynthgenError):
    """``execute`` was called on a kernel after ``close``: open a new PythonKernel."""


@dataclass
class KernelResult:
    """How one cell ended. ``error`` is the traceback's last line, or why the cell was stopped."""

    status: ExecStatus
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    artifacts: dict[str, bytes] = field(default_factory=dict)
    seconds: float = 0.0
    artifacts_skipped: list[str] = field(default_factory=list)  # changed files over the size caps
    replayed: int = 0  # earlier cells re-executed before this one

    @property
    def ok(self) -> bool:
        return self.status is ExecStatus.OK


@dataclass
class _Cell:
    index: int
    source: str
    ok: bool
    seconds: float


class PythonKernel:
    """A notebook-like Python session on ``sandbox`` (a :class:`Sandbox` or ``ctx.sandbox``).

    ``files`` are uploaded into the work dir before every cell. ``limits`` apply per cell
    (defaults: :class:`Limits` with ``output_bytes`` lowered to 16 KiB). Calls on one kernel run one
    at a time; kernels are independent of each other.
    """

    def __init__(
        self,
        sandbox: _Runs,
        files: dict[str, str | bytes] | None = None,
        limits: Limits | None = None,
        *,
        artifact_bytes: int = DEFAULT_ARTIFACT_BYTES,
        artifact_file_bytes: int | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.files = dict(files or {})
        self.limits = limits if limits is not None else Limits(output_bytes=DEFAULT_OUTPUT_BYTES)
        self.artifact_bytes = artifact_bytes
        self.artifact_file_bytes = artifact_file_bytes if artifact_file_bytes is not None else artifact_bytes
        self.executions = 0
        self.errors = 0
        self.seconds = 0.0
        self._cells: list[_Cell] = []
        self._lock = asyncio.Lock()
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Forget the session. Replay holds no sandbox resource between calls; safe to call twice."""
        self._closed = True
        self._cells.clear()

    @property
    def cells(self) -> int:
        return len(self._cells)

    async def execute(self, code: str) -> KernelResult:
        """Run ``code`` after the earlier successful cells; never raises for what the code does."""
        if self._closed:
            raise KernelClosedError("this PythonKernel is closed; create a new one for a new session")
        async with self._lock:
            index = len(self._cells) + 1
            started = time.perf_counter()
            result = await self._run(index, code)
            result.seconds = time.perf_counter() - started
            self._cells.append(_Cell(index, code, result.ok, result.seconds))
            self.executions += 1
            self.errors += 0 if result.ok else 1
            self.seconds += result.seconds
            return result

    # ------------------------------------------------------------------ one job
    def _request(self, index: int, code: str, marker: str) -> ExecRequest:
        replay = [c for c in self._cells if c.ok]
        spec = {
            "replay": [[c.index, c.source] for c in replay],
            "cell": code,
            "index": index,
            "timeout_s": self.limits.wall_time_s,
            "output_cap": self.limits.output_bytes,
            "artifact_cap": self.artifact_bytes,
            "artifact_file_cap": self.artifact_file_bytes,
            "marker": marker,
        }
        # Earlier cells ran once within their limits; give their replay twice that before the backstop.
        replay_s = 2 * sum(c.seconds for c in replay)
        lim = self.limits
        job_limits = replace(
            lim,
            wall_time_s=lim.wall_time_s + replay_s + _STARTUP_S,
            cpu_time_s=lim.cpu_time_s + replay_s + _STARTUP_S,
            # the cell's capped output, the trailer with its artifacts, and room for fd-level writes
            output_bytes=lim.output_bytes * 2 + self.artifact_bytes * 4 + 64 * 1024,  # repr of bytes: <=4x
        )
        files: dict[str, str | bytes] = dict(self.files)
        files[_DRIVER_FILE] = _DRIVER_SOURCE
        files[_SPEC_FILE] = marshal.dumps(spec, 4)  # the driver reads it without importing json
        return ExecRequest(language="python", files=files, main_file=_DRIVER_FILE, limits=job_limits)

    async def _run(self, index: int, code: str) -> KernelResult:
        marker = f"\x00synthgen-kernel-{secrets.token_hex(12)}\x00"
        replayed = sum(1 for c in self._cells if c.ok)
        try:
            res = await self.sandbox.run(self._request(index, code, marker))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a broken sandbox fails this cell, not the caller
            return KernelResult(ExecStatus.SANDBOX_ERROR, error=f"sandbox error: {type(exc).__name__}: {exc}",
                                replayed=replayed)
        head, sep, tail = res.stdout.partition(marker.encode())
        stdout, stderr = head.decode("utf-8", "replace"), res.stderr_text
        if sep:
            try:
                payload = ast.literal_eval(tail.decode("utf-8", "replace"))
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                payload = None
            if not isinstance(payload, dict):
                payload = None
            if payload is not None:
                return KernelResult(
                    status=ExecStatus(payload["status"]),
                    stdout=stdout,
                    stderr=stderr,
                    error=payload.get("error"),
                    artifacts=dict(payload.get("artifacts") or {}),
                    artifacts_skipped=list(payload.get("artifacts_skipped", [])),
                    replayed=replayed,
                )
        return KernelResult(_job_status(res), stdout=stdout, stderr=stderr, error=_job_error(res, stderr),
                            replayed=replayed)


def _job_status(res: ExecResult) -> ExecStatus:
    # No trailer: the job was killed (timeout, OOM, output flood at fd level) or the cell ended the
    # interpreter itself (os._exit, a crash); an exit without trailer is never a success.
    return ExecStatus.RUNTIME_ERROR if res.status is ExecStatus.OK else res.status


def _job_error(res: ExecResult, stderr: str) -> str:
    if res.status is ExecStatus.TIMEOUT:
        return f"timeout: the cell ran past the job's limit ({res.wall_time_s:.1f}s)"
    if res.status is ExecStatus.MEMORY_LIMIT:
        return "memory limit: the cell was killed for using too much memory"
    if res.status is ExecStatus.OUTPUT_LIMIT:
        return "output limit: the cell wrote too much output"
    if res.status is ExecStatus.SANDBOX_ERROR:
        return f"sandbox error: {res.error or 'the sandbox failed'}"
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    if lines:
        return lines[-1]
    how = f"signal {res.signal}" if res.signal is not None else f"exit code {res.exit_code}"
    return f"the cell ended the interpreter ({how})"
