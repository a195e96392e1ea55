"""A small OpenAI-compatible server over the transformers backend (``synthgen serve``).

Routes: ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /v1/completions`` with ``n``,
``stop``, ``max_tokens``, ``temperature``, ``top_p``, ``top_k`` (vLLM's extension), ``seed`` and
usage counts. Concurrent HTTP requests reach the backend's micro-batcher, so they share batched
model calls. No streaming, no logprobs: this serves tests, offline demos and freshly trained
checkpoints, not production traffic.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from synthgen.errors import LLMError
from synthgen.llm.base import Completion, SamplingParams
from synthgen.llm.transformers_backend import TransformersBackend

MAX_N = 128


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients send fields we do not use (user, logprobs=false, ...)

    model: str | None = None
    n: int = Field(1, ge=1, le=MAX_N)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = 0
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False

    def params(self, default_max_tokens: int) -> SamplingParams:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return SamplingParams(
            n=self.n, temperature=self.temperature, top_p=self.top_p, top_k=max(self.top_k, 0),
            max_tokens=self.max_completion_tokens or self.max_tokens or default_max_tokens,
            stop=tuple(s for s in stop if s), seed=self.seed)


class _ChatRequest(_Sampling):
    messages: list[dict[str, Any]] = Field(..., min_length=1)


class _CompletionRequest(_Sampling):
    prompt: str | list[str]


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


def create_app(backend: TransformersBackend, *, served_name: str, default_max_tokens: int = 256) -> Starlette:
    """The ASGI app; ``served_name`` is the model id clients see in /v1/models."""

    async def parse(request: Request, model: type[_Sampling]) -> _Sampling | JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "request body must be a JSON object")
        try:
            parsed = model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return _error(400, f"{where}: {first['msg']}")
        if parsed.stream:
            return _error(400, "stream=true is not supported by synthgen serve")
        return parsed

    async def run(prompts: list[Any], params: SamplingParams) -> list[list[Completion]] | JSONResponse:
        try:
            return await backend.generate(prompts, params)
        except LLMError as exc:
            return _error(400 if not exc.transient else 503, str(exc),
                          "invalid_request_error" if not exc.transient else "server_error")

    def envelope(kind: str, choices: list[dict[str, Any]], results: list[list[Completion]]) -> JSONResponse:
        prompt_tokens = sum(group[0].prompt_tokens or 0 for group in results)
        completion_tokens = sum(c.completion_tokens or 0 for group in results for c in group)
        return JSONResponse({
            "id": f"{'chatcmpl' if kind == 'chat.completion' else 'cmpl'}-{uuid.uuid4().hex[:24]}",
            "object": kind, "created": int(time.time()), "model": served_name, "choices": choices,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [
            {"id": served_name, "object": "model", "created": int(time.time()), "owned_by": "synthgen"}]})

    async def chat(request: Request) -> JSONResponse:
        parsed = await parse(request, _ChatRequest)
        if isinstance(parsed, JSONResponse):
            return parsed
        assert isinstance(parsed, _ChatRequest)
        results = await run([parsed.messages], parsed.params(default_max_tokens))
        if isinstance(results, JSONResponse):
            return results
        choices = [{"index": j, "message": {"role": "assistant", "content": c.text},
                    "finish_reason": c.finish_reason, "logprobs": None} for j, c in enumerate(results[0])]
        return envelope("chat.completion", choices, results)

    async def completions(request: Request) -> JSONResponse:
        parsed = await parse(request, _CompletionRequest)
        if isinstance(parsed, JSONResponse):
            return parsed
        assert isinstance(parsed, _CompletionRequest)
        prompts = [parsed.prompt] if isinstance(parsed.prompt, str) else parsed.prompt
        if not prompts:
            return _error(400, "prompt: must not be empty")
        results = await run(list(prompts), parsed.params(default_max_tokens))
        if isinstance(results, JSONResponse):
            return results
        choices = [{"index": i * parsed.n + j, "text": c.text, "finish_reason": c.finish_reason, "logprobs": None}
                   for i, group in enumerate(results) for j, c in enumerate(group)]
        return envelope("text_completion", choices, results)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await backend.load()  # load before accepting traffic, so the first request is not slow
        yield
        await backend.close()

    return Starlette(routes=[
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
    ], lifespan=lifespan)
