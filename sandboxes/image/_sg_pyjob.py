"""Fork-server mode for Python: a job runs in a fork of the warm supervisor instead of a new interpreter.

The supervisor imports :data:`PRELOAD` once; each Python job is a ``fork`` of it (a few ms instead
of ~10 ms of interpreter start and imports), limited like any job, that runs ``main.py`` as
``__main__`` the way ``python3 main.py`` would: ``sys.argv``, ``sys.path[0]``, fresh std streams,
the exit code of ``SystemExit``, a traceback and exit 1 on an uncaught exception, non-daemon
threads and ``atexit`` handlers run before exit. The template never holds job data (see
``_sg_proc``), so nothing of an earlier job can be found in a later job's memory.
"""

from __future__ import annotations

import atexit
import builtins
import io
import os
import signal
import sys
import traceback
import types

# What solutions and their tests commonly import; anything else still imports normally.
PRELOAD = (
    "abc array bisect collections collections.abc copy dataclasses datetime decimal enum fractions "
    "functools hashlib heapq itertools json math operator random re statistics string sys textwrap "
    "threading typing unittest"
).split()


def preload() -> None:
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run(path: str, argv: list, env: dict) -> None:
    """Run one Python program in this (forked) process and exit with its status; never returns."""
    os.environ.clear()
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as the interpreter sets it: BrokenPipeError
    sys.argv = [path, *argv]
    sys.path[0] = os.path.dirname(path)
    sys.dont_write_bytecode = True
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(
        io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding="utf-8"
    )
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8"
    )
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    atexit._clear()  # the supervisor's own handlers are not the job's
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    code = 0
    try:
        with open(path, "rb") as f:
            source = f.read()
        exec(compile(source, path, "exec"), main.__dict__)  # noqa: S102 (this is the job)
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException as exc:  # noqa: BLE001 (reported like the interpreter does)
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        traceback.print_exception(type(exc), exc, tb)
        code = 1
    try:
        import threading

        threading._shutdown()  # type: ignore[attr-defined]  # wait for non-daemon threads
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        code = code or 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 (e.g. stdout closed by the job)
            code = code or 120
    os._exit(code)
