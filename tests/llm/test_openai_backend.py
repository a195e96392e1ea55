"""The openai backend against a real `synthgen serve` process, through a fault-injecting proxy."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from synthgen.errors import LLMError
from synthgen.llm.base import SamplingParams
from synthgen.llm.openai_backend import OpenAIBackend, OpenAIConfig
from synthgen.llm.transformers_backend import TransformersBackend, TransformersConfig

CHAT = [{"role": "user", "content": "What is 2 + 2?"}]
FAST_RETRY = {"backoff_initial": 0.01, "backoff_max": 2.0}


def faults(proxy: str, plan: list | None = None, always: dict | None = None) -> None:
    httpx.post(f"{proxy}/_faults", json={"plan": plan or [], "always": always}).raise_for_status()


def log(proxy: str) -> list[dict]:
    return httpx.get(f"{proxy}/_log").json()


def backend(proxy: str, **options) -> OpenAIBackend:
    return OpenAIBackend(OpenAIConfig(model="tiny-test", base_url=f"{proxy}/v1", **{**FAST_RETRY, **options}))


async def test_chat_passes_sampling_params_and_returns_n(proxy):
    faults(proxy)
    b = backend(proxy)
    params = SamplingParams(n=3, max_tokens=12, temperature=0.7, top_p=0.9, stop=("\n",), seed=42)
    out = await b.generate([CHAT, "raw string becomes a user message"], params)
    await b.close()
    assert [len(g) for g in out] == [3, 3]
    for c in out[0]:
        assert c.finish_reason in ("stop", "length") and "\n" not in c.text
        assert c.prompt_tokens and c.prompt_tokens > 0
    bodies = [entry["body"] for entry in log(proxy)]
    assert len(bodies) == 2
    assert {b_["n"] for b_ in bodies} == {3}
    sent = bodies[0]
    assert (sent["max_tokens"], sent["temperature"], sent["top_p"], sent["stop"], sent["seed"]) == (
        12, 0.7, 0.9, ["\n"], 42)
    assert "top_k" not in sent  # off by default; hosted APIs reject the field
    assert {tuple(m["role"] for m in b_["messages"]) for b_ in bodies} == {("user",)}


async def test_server_output_matches_local_backend(proxy, tiny_dir: Path):
    faults(proxy)
    params = SamplingParams(n=2, max_tokens=10, seed=5)
    remote = backend(proxy)
    local = TransformersBackend(TransformersConfig(model=str(tiny_dir)))
    try:
        over_http = await remote.generate([CHAT], params)
        in_process = await local.generate([CHAT], params)
    finally:
        await remote.close()
        await local.close()
    assert [c.text for c in over_http[0]] == [c.text for c in in_process[0]]


async def test_completions_endpoint(proxy):
    faults(proxy)
    b = backend(proxy, endpoint="completions")
    out = await b.generate(["def add(a, b):"], SamplingParams(n=2, max_tokens=5, seed=1))
    assert len(out[0]) == 2 and log(proxy)[0]["path"] == "/v1/completions"
    with pytest.raises(LLMError, match="endpoint: chat") as err:
        await b.generate([CHAT], SamplingParams())
    assert not err.value.transient
    await b.close()


async def test_429_retry_after_is_honoured(proxy):
    faults(proxy, plan=[{"kind": "status", "status": 429, "retry_after": "1"}])
    b = backend(proxy)
    start = time.monotonic()
    out = await b.generate([CHAT], SamplingParams(max_tokens=4, seed=1))
    elapsed = time.monotonic() - start
    await b.close()
    assert len(out[0]) == 1
    assert elapsed >= 0.95  # waited as told, not the 10 ms backoff
    assert [e["fault"] and e["fault"]["status"] for e in log(proxy)] == [429, None]


async def test_500s_then_recovery(proxy):
    faults(proxy, plan=[{"kind": "status", "status": 500}, {"kind": "status", "status": 503}])
    b = backend(proxy)
    out = await b.generate([CHAT], SamplingParams(max_tokens=4, seed=1))
    await b.close()
    assert len(out[0]) == 1 and b.attempts == 3


async def test_persistent_500_becomes_llm_error_naming_url(proxy):
    faults(proxy, always={"kind": "status", "status": 500})
    b = backend(proxy, max_retries=2)
    with pytest.raises(LLMError) as err:
        await b.generate([CHAT], SamplingParams(max_tokens=4))
    await b.close()
    assert f"{proxy}/v1/chat/completions" in str(err.value)
    assert "HTTP 500" in str(err.value) and "injected 500" in str(err.value) and "3 attempts" in str(err.value)
    assert err.value.transient
    assert len(log(proxy)) == 3


async def test_slow_response_times_out_then_recovers(proxy):
    faults(proxy, plan=[{"kind": "delay", "seconds": 3}])
    b = backend(proxy, timeout=0.8)
    out = await b.generate([CHAT], SamplingParams(max_tokens=4, seed=1))
    await b.close()
    assert len(out[0]) == 1 and b.attempts == 2


async def test_persistent_slowness_becomes_timeout_error(proxy):
    faults(proxy, always={"kind": "delay", "seconds": 3})
    b = backend(proxy, timeout=0.5, max_retries=1)
    with pytest.raises(LLMError, match="timed out") as err:
        await b.generate([CHAT], SamplingParams(max_tokens=4))
    await b.close()
    assert f"{proxy}/v1/chat/completions" in str(err.value)
    faults(proxy)
    await asyncio.sleep(3)  # let the proxy's delayed requests drain before the next test


async def test_truncated_json_is_a_permanent_failure(proxy):
    faults(proxy, plan=[{"kind": "truncate"}])
    b = backend(proxy)
    with pytest.raises(LLMError, match="malformed JSON") as err:
        await b.generate([CHAT], SamplingParams(max_tokens=4))
    await b.close()
    assert not err.value.transient and b.attempts == 1


@pytest.mark.parametrize("body,message", [
    ({"id": "x", "object": "chat.completion"}, "no choices"),
    ({"choices": []}, "no choices"),
    ({"choices": [{"index": 0, "finish_reason": "stop"}]}, "without a message"),
    ({"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [{"function": 3}]}}]},
     "malformed tool call"),
    ([1, 2, 3], "no choices"),
])
async def test_malformed_bodies(proxy, body, message):
    faults(proxy, plan=[{"kind": "body", "json": body}])
    b = backend(proxy)
    with pytest.raises(LLMError, match=message) as err:
        await b.generate([CHAT], SamplingParams(max_tokens=4))
    await b.close()
    assert not err.value.transient


async def test_tool_calls_are_parsed(proxy):
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}
    body = {"choices": [{"index": 0, "finish_reason": "tool_calls",
                         "message": {"role": "assistant", "content": None, "tool_calls": [call]}}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 4}}
    faults(proxy, plan=[{"kind": "body", "json": body}])
    b = backend(proxy)
    out = await b.generate([CHAT], SamplingParams())
    await b.close()
    c = out[0][0]
    assert c.text == "" and c.finish_reason == "tool_calls" and c.tool_calls == [call]
    assert (c.prompt_tokens, c.completion_tokens) == (9, 4)


async def test_server_ignoring_n_gets_the_remainder_requested(proxy):
    faults(proxy, always={"kind": "keep_choices", "keep": 1})
    b = backend(proxy)
    out = await b.generate([CHAT], SamplingParams(n=3, max_tokens=4, seed=10))
    await b.close()
    assert len(out[0]) == 3
    assert [(e["body"]["n"], e["body"]["seed"]) for e in log(proxy)] == [(3, 10), (2, 11), (1, 12)]


async def test_client_errors_are_not_retried(proxy):
    faults(proxy)
    b = backend(proxy)
    with pytest.raises(LLMError, match="refused the request: HTTP 400") as err:
        await b.generate([CHAT], SamplingParams(n=1000))  # the server caps n at 128
    await b.close()
    assert not err.value.transient and b.attempts == 1


async def test_connection_refused_names_the_url(unused_port):
    url = f"http://127.0.0.1:{unused_port}/v1"
    b = OpenAIBackend(OpenAIConfig(model="m", base_url=url, max_retries=2, **FAST_RETRY))
    with pytest.raises(LLMError, match="connection failed") as err:
        await b.generate([CHAT], SamplingParams())
    await b.close()
    assert f"{url}/chat/completions failed after 3 attempts" in str(err.value)


async def test_concurrency_is_bounded(proxy):
    faults(proxy, always={"kind": "delay", "seconds": 0.5})
    b = backend(proxy, max_concurrency=2)
    start = time.monotonic()
    out = await b.generate([f"prompt {i}" for i in range(6)], SamplingParams(max_tokens=2, seed=0))
    elapsed = time.monotonic() - start
    await b.close()
    faults(proxy)
    assert len(out) == 6
    assert elapsed >= 1.45  # 6 requests of >= 0.5 s, two at a time


async def test_api_key_from_env_is_sent(proxy, monkeypatch):
    faults(proxy)
    monkeypatch.setenv("SYNTHGEN_TEST_KEY", "sk-test-123")
    b = backend(proxy, api_key_env="SYNTHGEN_TEST_KEY")
    client, _ = b._ensure_client()
    assert client.headers["authorization"] == "Bearer sk-test-123"
    await b.close()
