"""Executable tools offered to the model in tool-use data (``python``, ``math``, ``search``).

A tool is a plugin (entry-point group ``synthgen.tools``): a name, a description and JSON schema
of its arguments, a pydantic config, and one ``async call(arguments, ctx) -> ToolResult``. The
generators hold a :class:`~tools.toolbox.Toolbox` per run and a :class:`~tools.session.ToolSession`
per trace (the python kernel, the uploaded files); the toolbox validates and executes each call and
turns every way a call can fail into a recorded reason.
"""

from tools.session import ToolContext, ToolSession
from tools.toolbox import CallOutcome, Toolbox, ToolRef

__all__ = ["CallOutcome", "ToolContext", "ToolRef", "ToolSession", "Toolbox"]
