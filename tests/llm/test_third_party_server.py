"""The openai backend against a server nobody here wrote: `transformers serve` (the transformers
package's OpenAI-compatible server, extra `transformers[serving]`) on the tiny model, on 127.0.0.1,
behind the fault proxy so the requests the backend sent can be read back.

What it shows (transformers 5.x), and why `synthgen serve` stays:
- greedy chat completions match our in-process backend token for token;
- `n` is ignored (one choice per request): the backend asks again for the rest, one request per
  sample, where `synthgen serve` answers K samples in one batched generate call;
- `temperature` alone does not turn sampling on for a model whose generation config lacks
  `do_sample` (the tiny model, many base models): K samples would be K copies of the greedy answer
  unless the request carries `generation_config: '{"do_sample": true}'` (set through `extra_body`);
- a seed sets the server's global torch seed: reproducible one request at a time, not under
  concurrent requests (synthgen serve seeds each request's own generator);
- stop strings work; unknown fields (`top_k`) and a model name other than the served path are
  refused, and the backend reports them at once without retrying.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from synthgen.errors import LLMError
from synthgen.llm.base import SamplingParams
from synthgen.llm.openai_backend import OpenAIBackend, OpenAIConfig
from tests.fixtures.processes import free_port, stop, test_env, wait_http

pytest.importorskip("fastapi", reason="transformers serve needs the `transformers[serving]` extra (dev deps)")
pytestmark = pytest.mark.slow
HERE = Path(__file__).parent
CHAT = [{"role": "user", "content": "What is 2+2?"}]
SAMPLING = {"generation_config": json.dumps({"do_sample": True})}


@pytest.fixture(scope="module")
def transformers_serve(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = shutil.which("transformers", path=str(Path(sys.executable).parent))
    assert exe, "the transformers CLI is not installed beside this interpreter"
    port = free_port()
    log = tmp_path_factory.mktemp("transformers_serve") / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen([exe, "serve", str(tiny_dir), "--host", "127.0.0.1", "--port", str(port),
                                 "--device", "cpu", "--log-level", "warning"],
                                stdout=subprocess.DEVNULL, stderr=err, env=test_env())
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc, "transformers serve", log, timeout=240)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def proxy(transformers_serve: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("proxy3p") / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, str(HERE / "fault_proxy_for_tests.py"), "--port", str(port),
                                 "--upstream", transformers_serve], stdout=subprocess.DEVNULL, stderr=err,
                                env=test_env())
    try:
        wait_http(f"http://127.0.0.1:{port}/_log", proc, "fault proxy", log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def sent(proxy: str) -> list[dict]:
    return [entry["body"] for entry in httpx.get(f"{proxy}/_log").json()]


def backend(proxy: str, tiny_dir: Path, **options) -> OpenAIBackend:
    # transformers serve is pinned to the path it was started with: that is the model name it accepts
    return OpenAIBackend(OpenAIConfig(model=str(tiny_dir), base_url=f"{proxy}/v1", backoff_initial=0.01,
                                      max_concurrency=1, **options))


async def _texts(proxy: str, tiny_dir: Path, params: SamplingParams, **options) -> list[str]:
    b = backend(proxy, tiny_dir, **options)
    try:
        return [c.text for c in (await b.generate([CHAT], params))[0]]
    finally:
        await b.close()


async def test_greedy_chat_matches_the_in_process_backend(proxy, tiny_dir):
    from synthgen.llm.transformers_backend import TransformersBackend, TransformersConfig

    params = SamplingParams(n=1, max_tokens=10, temperature=0.0)
    local = TransformersBackend(TransformersConfig(model=str(tiny_dir)))
    try:
        expected = [c.text for c in (await local.generate([CHAT], params))[0]]
    finally:
        await local.close()
    assert await _texts(proxy, tiny_dir, params) == expected


async def test_n_is_ignored_so_the_backend_asks_once_per_sample(proxy, tiny_dir):
    before = len(sent(proxy))
    texts = await _texts(proxy, tiny_dir, SamplingParams(n=3, max_tokens=8, temperature=1.0, seed=11),
                         extra_body=SAMPLING)
    assert len(texts) == 3
    bodies = sent(proxy)[before:]
    assert [b["n"] for b in bodies] == [3, 2, 1]  # one choice back each time
    assert [b["seed"] for b in bodies] == [11, 12, 13]  # each re-ask gets its own seed
    assert len(set(texts)) > 1


async def test_temperature_alone_does_not_sample_on_this_model(proxy, tiny_dir):
    greedy = await _texts(proxy, tiny_dir, SamplingParams(n=1, max_tokens=8, temperature=0.0))
    hot = [(await _texts(proxy, tiny_dir, SamplingParams(n=1, max_tokens=8, temperature=1.0, seed=s)))[0]
           for s in (1, 2)]
    assert hot == greedy * 2  # K "samples" would all be the greedy answer
    sampled = [(await _texts(proxy, tiny_dir, SamplingParams(n=1, max_tokens=8, temperature=1.0, seed=s),
                             extra_body=SAMPLING))[0] for s in (1, 2)]
    assert sampled[0] != sampled[1]


async def test_a_seed_repeats_one_request_at_a_time(proxy, tiny_dir):
    params = SamplingParams(n=1, max_tokens=10, temperature=1.0, seed=7)
    first = await _texts(proxy, tiny_dir, params, extra_body=SAMPLING)
    assert await _texts(proxy, tiny_dir, params, extra_body=SAMPLING) == first


async def test_stop_strings_cut_the_answer(proxy, tiny_dir):
    params = SamplingParams(n=1, max_tokens=16, temperature=1.0, seed=8)
    full = (await _texts(proxy, tiny_dir, params, extra_body=SAMPLING))[0]
    stop_at = full[3:5]
    assert len(full) > 6 and stop_at.strip(), full
    b = backend(proxy, tiny_dir, extra_body=SAMPLING)
    try:
        (out,) = (await b.generate([CHAT], SamplingParams(n=1, max_tokens=16, temperature=1.0, seed=8,
                                                          stop=(stop_at,))))[0]
    finally:
        await b.close()
    assert out.finish_reason == "stop" and stop_at not in out.text and full.startswith(out.text)
    assert len(out.text) < len(full)


async def test_refusals_are_reported_at_once_without_retrying(proxy, tiny_dir):
    before = len(sent(proxy))
    with pytest.raises(LLMError) as info:
        await _texts(proxy, tiny_dir, SamplingParams(n=1, max_tokens=4, top_k=5))
    assert "422" in str(info.value) and "top_k" in str(info.value) and not info.value.transient
    b = OpenAIBackend(OpenAIConfig(model="tiny-test", base_url=f"{proxy}/v1", backoff_initial=0.01))
    try:
        with pytest.raises(LLMError) as info:
            await b.generate([CHAT], SamplingParams(n=1, max_tokens=4))
    finally:
        await b.close()
    assert "400" in str(info.value) and "pinned" in str(info.value) and not info.value.transient
    assert len(sent(proxy)) - before == 2  # one request each: a refusal is not retried
