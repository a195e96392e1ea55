"""The sandbox contract: what a caller asks for and what it gets back.

Every backend (Docker pool, bubblewrap) takes an :class:`ExecRequest` and returns an
:class:`ExecResult`; verifiers and generators only ever see these types.
"""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import BaseModel


class ExecStatus(str, enum.Enum):
    """How a job ended. A timeout is a timeout and an OOM is a memory_limit, never a generic failure."""

    OK = "ok"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    SANDBOX_ERROR = "sandbox_error"


class SandboxFailure(str, enum.Enum):
    """Whose fault a ``sandbox_error`` is, which decides what the caller does with it."""

    BAD_REQUEST = "bad_request"  # the request cannot run as given (caller's error): never retried
    JOB = "job"  # this job broke its sandbox on two fresh slots: fail this candidate alone
    SANDBOX_DOWN = "sandbox_down"  # the sandbox itself is down (every slot failing): retry later


@dataclass(frozen=True)
class Limits:
    """Resource limits of one job. Defaults suit a unit-test run of a small program."""

    wall_time_s: float = 10.0
    cpu_time_s: float = 10.0
    memory_mb: int = 512
    processes: int = 64
    output_bytes: int = 1 << 20  # per stream
    file_size_mb: int = 16
    # The compile step's own limits: a 1 s program limit must not kill tsc or javac. None: the
    # backend's ``compile_wall_s`` (60 s by default, at least the program's wall limit) for both.
    compile_wall_time_s: float | None = None
    compile_cpu_time_s: float | None = None


@dataclass(frozen=True)
class ExecRequest:
    """One program to run.

    ``language`` names a recipe (``python``, ``cpp``, ``java``, ...) that supplies the compile and run
    commands; ``files`` maps relative paths to contents. ``main_file`` overrides the recipe's default
    source file name; ``compile_cmd`` / ``run_cmd`` override the recipe's commands (a shell string run
    in the job's work dir).
    """

    language: str
    files: dict[str, str | bytes] = field(default_factory=dict)
    stdin: str | bytes = b""
    argv: tuple[str, ...] = ()
    main_file: str | None = None
    compile_cmd: str | None = None
    run_cmd: str | None = None
    limits: Limits = field(default_factory=Limits)


@dataclass
class ExecResult:
    status: ExecStatus
    exit_code: int | None = None
    signal: int | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    compile_output: str = ""
    wall_time_s: float = 0.0
    cpu_time_s: float | None = None
    peak_memory_mb: float | None = None
    error: str = ""  # why, for sandbox_error
    error_kind: SandboxFailure | None = None  # whose fault, for sandbox_error

    @property
    def ok(self) -> bool:
        return self.status is ExecStatus.OK

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", errors="replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", errors="replace")


class Sandbox(abc.ABC):
    """A backend that runs model-written code in isolation.

    Plugin shape: a ``name``, a pydantic ``Config`` and ``run``. ``run_many`` keeps every worker busy;
    ``close`` releases containers/processes and must be safe to call twice.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "0.1"
    Config: ClassVar[type[BaseModel]]

    def __init__(self, config: BaseModel | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @abc.abstractmethod
    async def run(self, request: ExecRequest) -> ExecResult: ...

    async def run_many(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        return list(await asyncio.gather(*(self.run(r) for r in requests)))

    async def start(self) -> None:
        """Acquire resources (start containers). Called once before the first run; idempotent."""

    async def close(self) -> None:
        """Release every resource. Idempotent."""

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
