"""A fault-injecting HTTP proxy for tests: sits between the openai backend and `synthgen serve`.

Run: ``python fault_proxy_for_tests.py --port P --upstream http://127.0.0.1:Q``. Requests are
forwarded to the upstream server unless the fault plan says otherwise. The plan is set with
``POST /_faults {"plan": [fault, ...], "always": fault | null}``: each request takes the next fault
of ``plan``; once it is used up, ``always`` (if set) applies to every request. ``GET /_log`` lists
the requests seen (path, JSON body, fault applied). Faults:

- ``{"kind": "delay", "seconds": S}``: wait S seconds, then forward (client timeouts)
- ``{"kind": "status", "status": 429, "retry_after": "1"}``: answer that status, no forwarding
- ``{"kind": "truncate"}``: forward, then cut the JSON body in half (valid Content-Length)
- ``{"kind": "body", "json": {...}}`` / ``{"kind": "body", "raw": "..."}``: answer this body
- ``{"kind": "keep_choices", "keep": K}``: forward, keep only the first K choices (servers that ignore n)
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def create_proxy(upstream: str) -> Starlette:
    state: dict[str, Any] = {"plan": [], "always": None, "log": []}
    client = httpx.AsyncClient(base_url=upstream, timeout=300)

    async def set_faults(request: Request) -> JSONResponse:
        body = await request.json()
        state["plan"] = list(body.get("plan", []))
        state["always"] = body.get("always")
        state["log"] = []
        return JSONResponse({"ok": True})

    async def get_log(request: Request) -> JSONResponse:
        return JSONResponse(state["log"])

    async def forward(request: Request) -> Response:
        raw = await request.body()
        fault = state["plan"].pop(0) if state["plan"] else state["always"]
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        state["log"].append({"path": request.url.path, "body": body, "fault": fault})
        kind = (fault or {}).get("kind")
        if kind == "status":
            headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") is not None else {}
            return JSONResponse({"error": {"message": f"injected {fault['status']}", "type": "injected"}},
                                status_code=int(fault["status"]), headers=headers)
        if kind == "body":
            content = json.dumps(fault["json"]).encode() if "json" in fault else fault["raw"].encode()
            return Response(content, media_type="application/json")
        if kind == "delay":
            await asyncio.sleep(float(fault["seconds"]))
        upstream_response = await client.request(
            request.method, request.url.path, content=raw, headers={"content-type": "application/json"})
        content = upstream_response.content
        if kind == "truncate":
            content = content[: len(content) // 2]
        elif kind == "keep_choices":
            data = json.loads(content)
            data["choices"] = data["choices"][: int(fault["keep"])]
            content = json.dumps(data).encode()
        return Response(content, status_code=upstream_response.status_code, media_type="application/json")

    return Starlette(routes=[
        Route("/_faults", set_faults, methods=["POST"]),
        Route("/_log", get_log, methods=["GET"]),
        Route("/{path:path}", forward, methods=["GET", "POST"]),
    ])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    uvicorn.run(create_proxy(args.upstream), host="127.0.0.1", port=args.port, log_level="warning")
