"""The transformers backend on the real tiny model: batching, n samples, seeds, stop, max_tokens."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from synthgen.errors import ConfigError, LLMError
from synthgen.llm.base import SamplingParams
from synthgen.llm.sampling import cut_at_stop
from synthgen.llm.transformers_backend import TransformersBackend, TransformersConfig

CHAT = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "What is 12 + 30?"}]


@pytest.fixture(scope="module")
def backend(tiny_dir: Path):
    b = TransformersBackend(TransformersConfig(model=str(tiny_dir), max_batch_size=64))
    yield b
    asyncio.run(b.close())


def _well_formed(groups, n, max_tokens):
    for group in groups:
        assert len(group) == n
        for c in group:
            assert isinstance(c.text, str)
            assert c.finish_reason in ("stop", "length")
            assert c.prompt_tokens and c.prompt_tokens > 0
            assert 0 <= c.completion_tokens <= max_tokens


async def test_batched_equals_single_with_seed(backend):
    prompts = ["def add(a, b):", "Question: What is the capital of France?", "for i in range(10):" * 3]
    params = [SamplingParams(max_tokens=24, seed=7 + i, temperature=0.8 + 0.1 * i, top_p=0.95) for i in range(3)]
    single = [await backend.generate([p], sp) for p, sp in zip(prompts, params)]
    before = backend.batcher.batches_run
    together = await asyncio.gather(*(backend.generate([p], sp) for p, sp in zip(prompts, params)))
    assert backend.batcher.batches_run - before == 1  # the three requests shared one model call
    assert [g[0][0].text for g in together] == [g[0][0].text for g in single]
    _well_formed([g[0] for g in together], 1, 24)


async def test_n_samples_encode_once_and_differ(backend):
    out = await backend.generate([CHAT, "def add(a, b):"], SamplingParams(n=5, max_tokens=16, seed=3))
    _well_formed(out, 5, 16)
    for group in out:
        assert len({c.prompt_tokens for c in group}) == 1
        assert len({c.text for c in group}) >= 2  # distinct samples, not one sample copied
    again = await backend.generate([CHAT], SamplingParams(n=5, max_tokens=16, seed=3))
    assert [c.text for c in again[0]] == [c.text for c in out[0]]


async def test_greedy_and_degenerate_sampling_agree(backend):
    greedy = await backend.generate([CHAT], SamplingParams(temperature=0, max_tokens=20))
    top_k1 = await backend.generate([CHAT], SamplingParams(temperature=1.0, top_k=1, max_tokens=20, seed=5))
    tiny_p = await backend.generate([CHAT], SamplingParams(temperature=1.0, top_p=1e-6, max_tokens=20, seed=9))
    assert greedy[0][0].text == top_k1[0][0].text == tiny_p[0][0].text


async def test_max_tokens_gives_length(backend):
    out = await backend.generate(["The quick brown fox"], SamplingParams(n=4, max_tokens=3, seed=1))
    _well_formed(out, 4, 3)
    assert any(c.finish_reason == "length" and c.completion_tokens == 3 for c in out[0])


async def test_stop_string_truncates_and_reports_stop(backend):
    params = SamplingParams(max_tokens=48, seed=11)
    full = (await backend.generate(["Please explain the code"], params))[0][0].text
    # an ASCII stop string taken from the middle of the unstopped output
    stop = next(full[i:i + 2] for i in range(4, len(full) - 2) if full[i:i + 2].isascii() and full[i:i + 2].strip())
    stopped = (await backend.generate(["Please explain the code"], params.replace(stop=(stop,))))[0][0]
    assert stopped.text == cut_at_stop(full, [stop])[0]
    assert stop not in stopped.text
    assert stopped.finish_reason == "stop"
    assert stopped.completion_tokens < 48


async def test_32_concurrent_tasks_with_mixed_params(backend):
    async def one(i: int):
        params = SamplingParams(n=1 + i % 3, temperature=(i % 4) * 0.5, top_k=i % 5, max_tokens=4 + i % 9,
                                stop=("e",) if i % 2 else (), seed=i)
        prompt = CHAT if i % 3 == 0 else f"item {i}: " + "x" * (i % 7)
        return params, await backend.generate([prompt], params)

    before = backend.batcher.batches_run
    results = await asyncio.gather(*(one(i) for i in range(32)))
    assert backend.batcher.batches_run - before < 32
    for params, groups in results:
        _well_formed(groups, params.n, params.max_tokens)
        for c in groups[0]:
            assert not any(s in c.text for s in params.stop)


async def test_chat_with_tool_calls_renders(backend):
    chat = [
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
    ]
    out = await backend.generate([chat], SamplingParams(max_tokens=5, seed=0))
    _well_formed(out, 1, 5)


async def test_malformed_prompt_fails_alone(backend):
    good = asyncio.create_task(backend.generate(["fine"], SamplingParams(max_tokens=4, seed=1)))
    with pytest.raises(LLMError) as err:
        await backend.generate([[{"content": "no role"}]], SamplingParams(max_tokens=4))
    assert not err.value.transient
    with pytest.raises(LLMError, match="context"):
        await backend.generate(["x " * 5000], SamplingParams(max_tokens=4))
    with pytest.raises(LLMError, match="n must be"):
        await backend.generate(["x"], SamplingParams(n=0))
    assert len((await good)[0]) == 1


async def test_worker_error_reaches_every_caller():
    from synthgen.llm.microbatch import MicroBatcher, Row

    def run_batch(rows):
        if any(r.spec == "boom" for r in rows):
            raise RuntimeError("device fell over")
        return [r.spec for r in rows]

    batcher = MicroBatcher(run_batch, max_batch_size=8, wait_s=0.01)
    calls = [batcher.submit([Row([1], "ok")]), batcher.submit([Row([1, 2], "boom"), Row([1], "ok")])]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, LLMError) and "device fell over" in str(r) for r in results)
    assert await batcher.submit([Row([1], "fine")]) == ["fine"]  # the worker survives the failure
    await batcher.close()
    with pytest.raises(LLMError, match="closed"):
        await batcher.submit([Row([1], "late")])


async def test_tiny_value_builds_into_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHGEN_CACHE", str(tmp_path))
    b = TransformersBackend(TransformersConfig(model="tiny"))
    try:
        assert (tmp_path / "tiny-model" / "config.json").exists()
        assert b.model_name == "tiny"
        out = await b.generate([CHAT], SamplingParams(max_tokens=3, seed=0))
        _well_formed(out, 1, 3)
    finally:
        await b.close()


def test_missing_model_dir_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="model.*does not exist"):
        TransformersBackend(TransformersConfig(model=str(tmp_path / "nope")))
    with pytest.raises(ConfigError, match="config.json"):
        TransformersBackend(TransformersConfig(model=str(tmp_path)))


def test_registry_loads_the_llm_plugins():
    from synthgen.registry import Registry

    reg = Registry()
    assert reg.load("llm", "transformers") is TransformersBackend
    assert reg.load("llm", "openai").name == "openai"
    assert reg.load("llm", "vllm").name == "vllm"


async def test_rows_are_grouped_by_key_oldest_group_first():
    from synthgen.llm.microbatch import MicroBatcher, Row

    seen: list[list[str]] = []

    def run_batch(rows):
        seen.append([r.spec for r in rows])
        return [r.spec for r in rows]

    batcher = MicroBatcher(run_batch, max_batch_size=3, wait_s=0.01, group_key=lambda r: r.spec[0])
    specs = ["a1", "b1", "a2", "a3", "a4", "b2"]
    results = await asyncio.gather(*(batcher.submit([Row([1] * (9 - i), s)]) for i, s in enumerate(specs)))
    await batcher.close()
    assert [r[0] for r in results] == specs
    assert [sorted(b) for b in seen] == [["a1", "a2", "a3"], ["b1", "b2"], ["a4"]]
    assert seen[0] == ["a3", "a2", "a1"]  # shortest prompt first within a batch


async def test_short_request_is_not_batched_with_a_long_one(backend):
    # Arriving together, they would share one batch and finish together: grouped, the short one
    # runs alone first and returns while the long one is still generating.
    short = asyncio.create_task(backend.generate(["a short one"], SamplingParams(max_tokens=4, seed=4)))
    long = asyncio.create_task(backend.generate(["a long one"], SamplingParams(n=8, max_tokens=400, seed=4)))
    done, _ = await asyncio.wait({long, short}, return_when=asyncio.FIRST_COMPLETED)
    assert short in done and long not in done
    assert max(c.completion_tokens for c in (await long)[0]) > 4


async def test_cancelled_caller_does_not_disturb_the_others(backend):
    doomed = asyncio.create_task(backend.generate(["cancel me"], SamplingParams(n=4, max_tokens=64, seed=1)))
    kept = asyncio.create_task(backend.generate(["keep me"], SamplingParams(n=2, max_tokens=64, seed=1)))
    await asyncio.sleep(0)
    doomed.cancel()
    assert len((await kept)[0]) == 2
    with pytest.raises(asyncio.CancelledError):
        await doomed
    again = await backend.generate(["after"], SamplingParams(max_tokens=3, seed=2))
    assert len(again[0]) == 1
