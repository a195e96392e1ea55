"""Per-trace state of the tools: the python kernel and the files the user "uploaded".

A trace's calls share one :class:`sandboxes.kernel.PythonKernel` (variables, imports and files
carry from one ``python`` call to the next). The generator opens a :class:`ToolSession` per trace
and closes it when the trace ends; tools reach it through :class:`ToolContext`, which is the
item's :class:`~synthgen.context.Context` plus ``session``, so a tool plugin stays a name, a config
and one ``call(arguments, ctx)``. Called without a session (``ctx`` a plain Context), the python
tool runs each call in a fresh kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sandboxes.kernel import PythonKernel
    from sandboxes.types import Limits


class ToolSession:
    """What the tools of one trace share. The kernel is opened on the first python call."""

    def __init__(self, ctx: Any, files: dict[str, bytes] | None = None) -> None:
        self.ctx = ctx
        self.files: dict[str, bytes] = dict(files or {})
        self.artifacts: dict[str, bytes] = {}  # every file the trace's calls wrote, latest version
        self._kernel: PythonKernel | None = None

    def kernel(self, limits: Limits) -> PythonKernel:
        if self._kernel is None:
            from sandboxes.kernel import PythonKernel

            self._kernel = PythonKernel(self.ctx.sandbox, files=self.files, limits=limits)
        return self._kernel

    @property
    def kernel_started(self) -> bool:
        return self._kernel is not None

    async def close(self) -> None:
        if self._kernel is not None:
            await self._kernel.close()
            self._kernel = None

    async def __aenter__(self) -> ToolSession:  # noqa: PYI034 - the class is not meant to be subclassed
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ToolContext:
    """The item context seen by a tool: every attribute of ``ctx`` plus ``session``."""

    def __init__(self, ctx: Any, session: ToolSession) -> None:
        self._ctx = ctx
        self.session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


def session_of(ctx: Any) -> ToolSession | None:
    session = getattr(ctx, "session", None)
    return session if isinstance(session, ToolSession) else None
