"""The ``python`` tool: code runs in the sandbox, in the trace's kernel (state kept across calls).

Reads the trace's :class:`~tools.session.ToolSession` from ``ctx.session`` (one
:class:`sandboxes.kernel.PythonKernel` per trace, with the uploaded files in its work dir); without
a session each call runs in a fresh kernel. What the model reads back: the cell's stdout (and
stderr, when any), or the error line when the cell failed. Files the cell wrote (a plot as PNG, a
CSV) come back as artifacts and are kept on the trace. A cell that runs past ``timeout_s`` is a
``timeout``; one that prints more than ``output_bytes`` is stopped as an ``output_limit``; both end
the trace with their reason (see :mod:`tools.toolbox`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from sandboxes.types import ExecStatus, Limits
from synthgen.errors import TransientError
from synthgen.plugins import PluginConfig, Tool, ToolResult
from tools.session import ToolSession, session_of


class PythonToolConfig(PluginConfig):
    timeout_s: float = Field(10.0, gt=0, description="wall time of one cell")
    memory_mb: int = Field(512, ge=32)
    output_bytes: int = Field(16 * 1024, ge=256, description="what one cell may print per stream")
    shown_chars: int = Field(4000, ge=100, description="output the model reads back is cut to this")


class PythonTool(Tool):
    name: ClassVar[str] = "python"
    description: ClassVar[str] = (
        "Run Python 3 code in a stateful sandboxed session (variables and files persist between calls; "
        "uploaded files are in the working directory; no network). Print what you need to see.")
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"code": {"type": "string", "description": "Python source to execute"}},
        "required": ["code"],
    }
    Config: ClassVar[type[PythonToolConfig]] = PythonToolConfig

    def limits(self) -> Limits:
        cfg: PythonToolConfig = self.config
        return Limits(wall_time_s=cfg.timeout_s, cpu_time_s=cfg.timeout_s, memory_mb=cfg.memory_mb,
                      output_bytes=cfg.output_bytes)

    async def call(self, arguments: dict[str, Any], ctx: Any) -> ToolResult:
        session = session_of(ctx)
        if session is None:  # standalone call: a one-cell session
            async with ToolSession(ctx) as one_off:
                return await self._run(arguments["code"], one_off)
        return await self._run(arguments["code"], session)

    async def _run(self, code: str, session: ToolSession) -> ToolResult:
        cfg: PythonToolConfig = self.config
        result = await session.kernel(self.limits()).execute(code)
        if result.status is ExecStatus.SANDBOX_ERROR:  # the sandbox failed, not the code: worth a retry
            raise TransientError(result.error or "sandbox error")
        session.artifacts.update(result.artifacts)
        shown = result.stdout
        if result.stderr.strip():
            shown += ("\n" if shown else "") + "[stderr]\n" + result.stderr
        if len(shown) > cfg.shown_chars:
            shown = shown[: cfg.shown_chars] + f"\n[... {len(shown) - cfg.shown_chars} more characters cut]"
        details: dict[str, Any] = {"status": result.status.value, "artifacts": sorted(result.artifacts)}
        if result.ok:
            return ToolResult(output=shown or "(no output)", artifacts=result.artifacts, details=details)
        if result.status is ExecStatus.TIMEOUT:
            details["reason"] = "timeout"
        elif result.status is ExecStatus.OUTPUT_LIMIT:
            details["reason"] = "output_limit"
        error = result.error or result.status.value
        return ToolResult(output=(shown + "\n" if shown else "") + error, error=error,
                          artifacts=result.artifacts, details=details)
