"""Run mined functions in the sandbox: one call per job, arguments by name, the result as JSON.

Only functions the miner marked ``runnable`` (pure top-level Python or JavaScript functions) get
here; the module's source is uploaded next to a small driver that calls the function and prints
its result as JSON. A failing or hanging call is the call's error, never ours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sandboxes.types import ExecRequest, Limits

_PY_DRIVER = """import json
import mined_module
args = json.load(open("args.json"))
print(json.dumps(getattr(mined_module, {symbol!r})(**args), default=str))
"""
_JS_DRIVER = """
;(() => {{
  const args = JSON.parse(require("fs").readFileSync("args.json", "utf8"));
  const order = {order};
  console.log(JSON.stringify({symbol}(...order.map((k) => args[k]))));
}})();
"""


@dataclass
class FunctionRun:
    ok: bool
    value: Any = None
    error: str = ""

    @property
    def text(self) -> str:
        return json.dumps(self.value, sort_keys=True) if self.ok else f"error: {self.error}"


async def run_function(sandbox: Any, code: str, function: dict[str, Any], arguments: dict[str, Any],
                       timeout_s: float = 5.0) -> FunctionRun:
    """Call ``function`` (a mined function's dict) from module ``code`` with ``arguments``."""
    limits = Limits(wall_time_s=timeout_s, cpu_time_s=timeout_s, memory_mb=512, output_bytes=64 * 1024)
    args = json.dumps(arguments)
    if function["language"] == "python":
        request = ExecRequest(language="python", main_file="main.py", limits=limits, files={
            "mined_module.py": code, "main.py": _PY_DRIVER.format(symbol=function["symbol"]), "args.json": args})
    elif function["language"] == "javascript":
        driver = _JS_DRIVER.format(order=json.dumps(function["param_order"]), symbol=function["symbol"])
        request = ExecRequest(language="javascript", main_file="main.js", limits=limits,
                              files={"main.js": code + driver, "args.json": args})
    else:
        return FunctionRun(False, error=f"{function['language']} functions are not executed")
    result = await sandbox.run(request)
    if not result.ok:
        lines = [ln for ln in result.stderr_text.strip().splitlines() if ln.strip()]
        return FunctionRun(False, error=lines[-1] if lines else result.status.value)
    try:
        return FunctionRun(True, json.loads(result.stdout_text.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return FunctionRun(False, error=f"the function printed no JSON result: {result.stdout_text[:200]!r}")
