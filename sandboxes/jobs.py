"""Host side of the supervisor protocol, shared by every backend: request -> job frame -> result."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from sandboxes.recipes import Recipe, command_argv, get_recipe
from sandboxes.types import ExecRequest, ExecResult, ExecStatus

SUPERVISOR_OVERHEAD_PROCESSES = 1  # RLIMIT_NPROC counts the supervisor too (same uid)


class BadRequest(ValueError):
    """The request cannot be run as given (a file name escaping the work dir, no program)."""


@dataclass(frozen=True)
class Job:
    frame: dict
    recipe: Recipe


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def _check_name(name: str) -> None:
    norm = os.path.normpath(name)
    if not name or os.path.isabs(name) or norm == "." or norm.startswith("..") or "\x00" in name:
        raise BadRequest(f"file name {name!r} must be a relative path inside the work dir")


def build_job(request: ExecRequest, *, compile_wall_s: float, address_space_mb: int | None = None) -> Job:
    """The frame the supervisor runs. Raises UnknownLanguageError (a caller's mistake) or BadRequest."""
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
    lim = request.limits
    limits = {
        "wall_time_s": lim.wall_time_s,
        "cpu_time_s": lim.cpu_time_s,
        "memory_mb": lim.memory_mb,
        "processes": lim.processes,
        "output_bytes": lim.output_bytes,
        "file_size_mb": lim.file_size_mb,
        "address_space_mb": address_space_mb,
    }
    frame = {
        "files": {name: base64.b64encode(_as_bytes(body)).decode() for name, body in request.files.items()},
        "stdin": base64.b64encode(_as_bytes(request.stdin)).decode(),
        "compile": command_argv(recipe.render(compile_cmd, main)) if compile_cmd else None,
        "run": command_argv(recipe.render(run_cmd, main), tuple(request.argv)),
        "env": dict(recipe.env),
        "limits": limits,
        "nproc": max(lim.processes, recipe.min_processes) + SUPERVISOR_OVERHEAD_PROCESSES,
        "compile_wall_s": max(compile_wall_s, lim.wall_time_s),
        "failure": recipe.failure,
    }
    return Job(frame, recipe)


def parse_result(payload: dict) -> ExecResult:
    return ExecResult(
        status=ExecStatus(payload["status"]),
        exit_code=payload.get("exit_code"),
        signal=payload.get("signal"),
        stdout=base64.b64decode(payload.get("stdout") or ""),
        stderr=base64.b64decode(payload.get("stderr") or ""),
        stdout_truncated=bool(payload.get("stdout_truncated")),
        stderr_truncated=bool(payload.get("stderr_truncated")),
        compile_output=payload.get("compile_output") or "",
        wall_time_s=float(payload.get("wall_time_s") or 0.0),
        cpu_time_s=payload.get("cpu_time_s"),
        peak_memory_mb=payload.get("peak_memory_mb"),
        error=payload.get("error") or "",
    )


def sandbox_error(message: str, wall_time_s: float = 0.0) -> ExecResult:
    return ExecResult(status=ExecStatus.SANDBOX_ERROR, error=message, wall_time_s=wall_time_s)
