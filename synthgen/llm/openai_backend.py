"""Any OpenAI-compatible server (vLLM serve, SGLang, TGI, llama.cpp, hosted APIs) over httpx.

One HTTP request per prompt with ``n`` passed through (the server shares the prompt's prefix).
Concurrency is bounded by a semaphore and the connection pool. Transient faults (429, honouring
Retry-After; 5xx; 408; timeouts; connection errors) are retried with exponential backoff and
jitter; what still fails becomes an :class:`LLMError` naming the URL. A malformed answer (bad
JSON, no choices) is ``LLMError(transient=False)``: the runner records it on the record.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from synthgen.errors import LLMError
from synthgen.llm.base import Completion, LLMBackend, Prompt, SamplingParams

_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class OpenAIConfig(BaseModel):
    """Options of the ``openai`` backend."""

    model_config = ConfigDict(extra="forbid")
    # where and how patiently the model is reached, not what it answers: changing these keeps a run's
    # fingerprint, so a run resumes (or retries its failed items) after an endpoint moved
    non_result_fields: ClassVar[frozenset[str]] = frozenset({
        "base_url", "api_key", "api_key_env", "max_concurrency", "timeout", "connect_timeout", "max_retries",
        "backoff_initial", "backoff_max", "headers"})

    model: str = Field(..., description="model name the server expects (see its /v1/models)")
    base_url: str = Field("http://127.0.0.1:8000/v1", description="server root including /v1")
    api_key: str | None = Field(None, description="literal key; prefer api_key_env")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the key")
    endpoint: Literal["chat", "completions"] = Field(
        "chat", description="chat: /chat/completions (the server applies the chat template); "
                            "completions: /completions with raw string prompts")
    max_concurrency: int = Field(64, ge=1, description="requests in flight at once")
    timeout: float = Field(120.0, gt=0, description="seconds per request (read/write/pool)")
    connect_timeout: float = Field(10.0, gt=0)
    max_retries: int = Field(5, ge=0, description="retries of transient failures per request")
    backoff_initial: float = Field(0.5, ge=0, description="first backoff in seconds, doubled per retry")
    backoff_max: float = Field(30.0, ge=0, description="cap of one backoff (and of a Retry-After)")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="merged into every request body")
    headers: dict[str, str] = Field(default_factory=dict)


class OpenAIBackend(LLMBackend):
    """``openai``: an OpenAI-compatible HTTP endpoint."""

    name = "openai"
    version = "0.1"
    Config = OpenAIConfig

    def __init__(self, config: OpenAIConfig | None = None) -> None:
        super().__init__(config)
        cfg: OpenAIConfig = self.config  # type: ignore[assignment]
        self.cfg = cfg
        path = "/chat/completions" if cfg.endpoint == "chat" else "/completions"
        self.url = cfg.base_url.rstrip("/") + path
        self._client: httpx.AsyncClient | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.attempts = 0  # HTTP attempts made, retries included (for tests and reports)

    # -- client per event loop -------------------------------------------------------------------
    def _ensure_client(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            cfg = self.cfg
            headers = {"Content-Type": "application/json", **cfg.headers}
            key = cfg.api_key or os.environ.get(cfg.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
            self._client = httpx.AsyncClient(
                headers=headers,
                timeout=httpx.Timeout(cfg.timeout, connect=cfg.connect_timeout),
                limits=httpx.Limits(max_connections=cfg.max_concurrency,
                                    max_keepalive_connections=cfg.max_concurrency),
            )
            self._semaphore = asyncio.Semaphore(cfg.max_concurrency)
            self._loop = loop
        assert self._semaphore is not None
        return self._client, self._semaphore

    # -- public ----------------------------------------------------------------------------------
    async def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        if params.n < 1:
            raise LLMError(f"n must be >= 1, got {params.n}", transient=False)
        return list(await asyncio.gather(*(self._generate_one(p, params) for p in prompts)))

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                await client.aclose()
            except RuntimeError:  # its event loop is already gone; nothing left to release
                pass

    # -- one prompt ------------------------------------------------------------------------------
    async def _generate_one(self, prompt: Prompt, params: SamplingParams) -> list[Completion]:
        got: list[Completion] = []
        # Some servers ignore `n` and answer one choice: ask again for the remainder (bounded).
        for _ in range(params.n):
            want = params.n - len(got)
            seed = None if params.seed is None else params.seed + len(got)
            choices = await self._request(self._body(prompt, params, want, seed))
            got.extend(choices[:want])
            if len(got) >= params.n:
                break
        if len(got) < params.n:
            raise LLMError(f"{self.url} returned {len(got)} of {params.n} requested choices", transient=False)
        if params.stop:  # some servers keep the stop string (transformers serve does); OpenAI's contract drops it
            for c in got:
                cuts = [i for s in params.stop if s and (i := c.text.find(s)) >= 0]
                if cuts:
                    c.text, c.finish_reason = c.text[:min(cuts)], "stop"
        return got

    def _body(self, prompt: Prompt, params: SamplingParams, n: int, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.cfg.model, "n": n, "max_tokens": params.max_tokens,
                                "temperature": params.temperature, "top_p": params.top_p}
        if self.cfg.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
        else:
            if not isinstance(prompt, str):
                raise LLMError("endpoint 'completions' takes raw string prompts; set `endpoint: chat` for chat "
                               "prompts", transient=False)
            body["prompt"] = prompt
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = seed
        if params.top_k > 0:  # not an OpenAI field; vLLM/SGLang accept it, hosted APIs reject it
            body["top_k"] = params.top_k
        body.update(self.cfg.extra_body)
        return body

    async def _request(self, body: dict[str, Any]) -> list[Completion]:
        client, semaphore = self._ensure_client()
        cfg = self.cfg
        last = ""
        for attempt in range(cfg.max_retries + 1):
            wait: float | None = None
            async with semaphore:
                self.attempts += 1
                try:
                    response = await client.post(self.url, json=body)
                except httpx.TimeoutException as exc:
                    last = f"timed out after {cfg.timeout:g}s ({type(exc).__name__})"
                except httpx.TransportError as exc:
                    last = f"connection failed ({type(exc).__name__}: {exc})"
                else:
                    if response.status_code == 200:
                        return self._parse(response)
                    detail = _error_detail(response)
                    last = f"HTTP {response.status_code}{': ' + detail if detail else ''}"
                    if response.status_code not in _RETRY_STATUS:
                        raise LLMError(f"{self.url} refused the request: {last}", transient=False)
                    wait = _retry_after(response, cfg.backoff_max)
            if attempt == cfg.max_retries:
                break
            if wait is None:
                base = min(cfg.backoff_max, cfg.backoff_initial * (2 ** attempt))
                wait = base / 2 + random.uniform(0, base / 2)  # jitter spreads retries of many tasks
            await asyncio.sleep(wait)
        raise LLMError(f"{self.url} failed after {cfg.max_retries + 1} attempts: {last}", transient=True)

    def _parse(self, response: httpx.Response) -> list[Completion]:
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            raise LLMError(f"{self.url} returned malformed JSON ({exc}); body starts "
                           f"{response.content[:80]!r}", transient=False) from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices:
            raise LLMError(f"{self.url} returned no choices: {str(data)[:200]}", transient=False)
        usage = data.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        completions = []
        for choice in sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0):
            if not isinstance(choice, dict):
                raise LLMError(f"{self.url} returned a malformed choice: {str(choice)[:200]}", transient=False)
            if self.cfg.endpoint == "chat":
                message = choice.get("message")
                if not isinstance(message, dict):
                    raise LLMError(f"{self.url} returned a choice without a message: {str(choice)[:200]}",
                                   transient=False)
                text, tool_calls = message.get("content") or "", _tool_calls(message.get("tool_calls"), self.url)
            else:
                text, tool_calls = choice.get("text"), []
                if not isinstance(text, str):
                    raise LLMError(f"{self.url} returned a choice without text: {str(choice)[:200]}",
                                   transient=False)
            completions.append(Completion(
                text=text, finish_reason=str(choice.get("finish_reason") or "stop"), prompt_tokens=prompt_tokens,
                completion_tokens=None, tool_calls=tool_calls))
        if len(completions) == 1 and isinstance(usage, dict):
            completions[0].completion_tokens = usage.get("completion_tokens")
        return completions


def _tool_calls(raw: Any, url: str) -> list[dict[str, Any]]:
    if not raw:
        return []
    if not isinstance(raw, list):
        raise LLMError(f"{url} returned tool_calls that are not a list: {str(raw)[:200]}", transient=False)
    calls = []
    for call in raw:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise LLMError(f"{url} returned a malformed tool call: {str(call)[:200]}", transient=False)
        calls.append({"id": call.get("id", ""), "type": call.get("type", "function"),
                      "function": {"name": fn["name"], "arguments": fn.get("arguments", "{}")}})
    return calls


def _error_detail(response: httpx.Response) -> str:
    try:
        data = response.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        return str(err.get("message", err) if isinstance(err, dict) else err)[:300]
    except ValueError:
        return response.text[:300]


def _retry_after(response: httpx.Response, cap: float) -> float | None:
    """Seconds the server asked us to wait (Retry-After: seconds or an HTTP date), capped."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, cap))
