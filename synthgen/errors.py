"""synthgen's exception types.

A :class:`SynthgenError` is a user mistake or an unrecoverable condition the CLI prints in one or
two lines without a traceback; its message names the file, the field and the fix.
"""

from __future__ import annotations


class SynthgenError(Exception):
    """Base of every error the CLI reports without a traceback."""


class ConfigError(SynthgenError):
    """A pipeline or trainer config is malformed: names the file, the field path and the fix."""

    def __init__(self, message: str, *, path: str | None = None, field: str | None = None) -> None:
        where = ": ".join(p for p in (path, field) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.field = field


class PluginError(SynthgenError):
    """A plugin is unknown, fails to import, or breaks the plugin contract."""


class SourceError(SynthgenError):
    """A source file is missing or unreadable as a whole."""


class RunStoreError(SynthgenError):
    """The run directory refuses the operation (changed config, corrupt index)."""


class LLMError(Exception):
    """A model call failed. ``transient`` failures (timeouts, 429, 5xx) are retried with backoff."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class TransientError(Exception):
    """Raised by plugins for failures worth retrying (endpoint hiccup, sandbox restart)."""


def cancelled_by_caller() -> bool:
    """Inside ``except asyncio.CancelledError``: whether the running task itself is being cancelled
    (re-raise then). False means a cancelled inner future escaped into the task, which nobody asked
    for: treat that as a failure worth retrying."""
    import asyncio

    task = asyncio.current_task()
    return task is None or task.cancelling() > 0
