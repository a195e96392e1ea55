"""Host side of the supervisor protocol, shared by every backend: request -> job on the wire -> result.

A job is a header frame (limits, mode, payload size: nothing the job wrote) and then the payload
(files, stdin, commands), which the sandbox's loader child reads; a result is a header frame and
then the raw stdout, stderr and compiler output it announces (see ``sandboxes/image/supervisor.py``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shlex
import struct
from dataclasses import dataclass

from sandboxes.recipes import Recipe, command_argv, get_recipe
from sandboxes.types import ExecRequest, ExecResult, ExecStatus, SandboxFailure

SUPERVISOR_OVERHEAD_PROCESSES = 1  # RLIMIT_NPROC counts the supervisor too (same uid)
PROTOCOL = 2
# Linux refuses one argv string over 32 pages (MAX_ARG_STRLEN) and argv+environ over a quarter of
# the stack limit (2 MiB by default); we stay well inside both.
MAX_ARG_BYTES = 128 * 1024 - 1
MAX_ARGV_TOTAL_BYTES = 1 << 20
MAX_RESULT_HEADER = 1 << 20
COMPILER_SERVICES = ("javac", "tsc")
# Jobs run below the supervisor's priority, so a fork bomb of spinning processes cannot delay its
# kill at the wall limit (measured 0.55 s late on a 5 s limit at nice 0 in a 1-CPU container).
JOB_NICE = 5


class BadRequest(ValueError):
    """The request cannot be run as given (a file name escaping the work dir, no program, argv too big)."""


@dataclass(frozen=True)
class Job:
    frame: dict  # the header: limits and mode, no job data
    payload: bytes
    recipe: Recipe

    def wire(self) -> bytes:
        head = json.dumps(self.frame).encode()
        return struct.pack(">I", len(head)) + head + self.payload


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _check_name(name: str) -> None:
    norm = os.path.normpath(name)
    if not name or os.path.isabs(name) or norm == "." or norm.startswith("..") or "\x00" in name:
        raise BadRequest(f"file name {name!r} must be a relative path inside the work dir")


def _check_argv(argv: list[str]) -> None:
    total = 0
    for i, arg in enumerate(argv):
        size = len(arg.encode("utf-8", "surrogateescape"))
        if size > MAX_ARG_BYTES or "\x00" in arg:
            what = "holds a NUL byte" if "\x00" in arg else f"is {size} bytes (limit {MAX_ARG_BYTES})"
            raise BadRequest(f"argument {i} of the command {what}: pass large data through stdin or a file")
        total += size + 1
    if total > MAX_ARGV_TOTAL_BYTES:
        raise BadRequest(
            f"the command line is {total} bytes (limit {MAX_ARGV_TOTAL_BYTES}): pass large data through "
            "stdin or a file"
        )


def build_job(
    request: ExecRequest,
    *,
    compile_wall_s: float,
    address_space_mb: int | None = None,
    fork_python: bool = False,
    warm_compilers: bool = False,
) -> Job:
    """The job the supervisor runs. Raises UnknownLanguageError (a caller's mistake) or BadRequest.

    ``fork_python``: a plain Python program (the recipe's own command) runs in a fork of the
    supervisor's warm interpreter instead of a new ``python3`` process. ``warm_compilers``: a
    ``javac`` or ``tsc`` compile goes to the sandbox's long-lived compiler service when it has one.
    """
    recipe = get_recipe(request.language)
    for name in request.files:
        _check_name(name)
    main = request.main_file
    if main is None:
        # One file under another name (``solution.py``) is the program; otherwise the recipe's name.
        main = (
            next(iter(request.files))
            if len(request.files) == 1 and recipe.source_file not in request.files
            else recipe.source_file
        )
    if request.run_cmd is None and main not in request.files:
        raise BadRequest(f"no program: {main!r} is not among the files {sorted(request.files)}")
    compile_cmd = request.compile_cmd if request.compile_cmd is not None else recipe.compile_cmd
    run_cmd = request.run_cmd if request.run_cmd is not None else recipe.run_cmd
    run = command_argv(recipe.render(run_cmd, main), tuple(request.argv))
    compile_argv = command_argv(recipe.render(compile_cmd, main)) if compile_cmd else None
    _check_argv(run)
    if compile_argv:
        _check_argv(compile_argv)
    lim = request.limits
    compile_wall = getattr(lim, "compile_wall_time_s", None) or max(compile_wall_s, lim.wall_time_s)
    fork = fork_python and recipe.name == "python" and request.run_cmd is None and not compile_argv
    frame = {
        "protocol": PROTOCOL,
        "limits": {
            "wall_time_s": lim.wall_time_s,
            "cpu_time_s": lim.cpu_time_s,
            "memory_mb": lim.memory_mb,
            "processes": lim.processes,
            "output_bytes": lim.output_bytes,
            "file_size_mb": lim.file_size_mb,
            "address_space_mb": address_space_mb,
            "nice": JOB_NICE,
        },
        "env": dict(recipe.env),
        "nproc": max(lim.processes, recipe.min_processes) + SUPERVISOR_OVERHEAD_PROCESSES,
        "compile": compile_argv is not None,
        "compile_wall_s": compile_wall,
        # The compiler's CPU limit is its own: a 1 s program limit must not kill javac or tsc.
        "compile_cpu_s": getattr(lim, "compile_cpu_time_s", None) or compile_wall,
        "mode": "fork" if fork else "exec",
        "service": compiler_service(compile_argv) if warm_compilers else None,
    }
    payload = json.dumps(
        {
            "files": {n: base64.b64encode(_as_bytes(body)).decode() for n, body in request.files.items()},
            "stdin": base64.b64encode(_as_bytes(request.stdin)).decode(),
            "compile": compile_argv,
            "run": run,
            "main": main,
            "argv": list(request.argv),
        }
    ).encode()
    frame["payload"] = len(payload)
    return Job(frame, payload, recipe)


def compiler_service(argv: list[str] | None) -> str | None:
    """``javac`` or ``tsc`` when that is the compile command's program (the supervisor checks the rest)."""
    if not argv:
        return None
    words = argv
    if argv[:2] == ["/bin/sh", "-c"] and len(argv) > 2:
        try:
            words = shlex.split(argv[2])
        except ValueError:
            return None
    name = os.path.basename(words[0]) if words else ""
    return name if name in COMPILER_SERVICES else None


async def read_frame(reader: asyncio.StreamReader, limit: int = MAX_RESULT_HEADER) -> dict:
    (size,) = struct.unpack(">I", await reader.readexactly(4))
    if size > limit:
        raise ValueError(f"frame of {size} bytes from the sandbox (limit {limit})")
    return json.loads(await reader.readexactly(size))


async def read_result(reader: asyncio.StreamReader, recipe: Recipe, *, with_services: bool = False):
    """One result: its header, then the raw output blobs it announces.

    ``with_services``: also return the memory (MB) the sandbox's compiler services use after it.
    """
    head = await read_frame(reader)
    blobs = [await reader.readexactly(int(head.get(k) or 0)) for k in ("stdout_len", "stderr_len", "compile_len")]
    result = parse_result(head, *blobs, recipe=recipe)
    return (result, int(head.get("services_mb") or 0)) if with_services else result


def parse_result(
    head: dict, stdout: bytes = b"", stderr: bytes = b"", compile_out: bytes = b"", *, recipe: Recipe | None = None
) -> ExecResult:
    status = ExecStatus(head["status"])
    if status is ExecStatus.OK and recipe is not None and recipe.failure == "exit_code_or_stderr" and stderr.strip():
        status = ExecStatus.RUNTIME_ERROR  # node's console.assert prints and still exits 0
    compile_output = compile_out.decode("utf-8", "replace")
    if head.get("compile_timed_out"):
        compile_output += "\n[compilation timed out]"
    elif head.get("compile_oom"):
        compile_output += "\n[compiler killed: out of memory]"
    kind = head.get("error_kind")
    return ExecResult(
        status=status,
        exit_code=head.get("exit_code"),
        signal=head.get("signal"),
        stdout=stdout,
        stderr=stderr if status is not ExecStatus.SANDBOX_ERROR else stderr or compile_out,
        stdout_truncated=bool(head.get("stdout_truncated")),
        stderr_truncated=bool(head.get("stderr_truncated")),
        compile_output=compile_output,
        wall_time_s=float(head.get("wall_time_s") or 0.0),
        cpu_time_s=head.get("cpu_time_s"),
        peak_memory_mb=head.get("peak_memory_mb"),
        error=head.get("error") or "",
        error_kind=SandboxFailure(kind) if kind else (SandboxFailure.JOB if status is ExecStatus.SANDBOX_ERROR else None),
    )


def sandbox_error(message: str, wall_time_s: float = 0.0, kind: SandboxFailure = SandboxFailure.JOB) -> ExecResult:
    return ExecResult(status=ExecStatus.SANDBOX_ERROR, error=message, wall_time_s=wall_time_s, error_kind=kind)


def bad_request(message: str) -> ExecResult:
    return sandbox_error(f"bad request: {message}", kind=SandboxFailure.BAD_REQUEST)
