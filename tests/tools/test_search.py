"""The search tool: offline BM25 over the example corpus, and the HTTP provider against a real local server."""

from __future__ import annotations

import pytest

from synthgen.errors import ConfigError
from tests.tools.conftest import TOOLS_DATA
from tools import Toolbox, ToolRef
from tools.search import SearchTool, SearchToolConfig


async def test_bm25_ranks_the_matching_document_first():
    tool = SearchTool(SearchToolConfig(corpus=str(TOOLS_DATA / "corpus.jsonl"), top_k=2))
    result = await tool.call({"query": "How deep is Lake Baikal?"}, None)
    assert result.ok and result.output.startswith("[1] Lake Baikal") and "1,642" in result.output
    assert result.details["hits"][0] == "lake-baikal" and len(result.details["hits"]) <= 2
    nothing = await tool.call({"query": "the of and"}, None)
    assert nothing.ok and nothing.output == "no results"


def test_bm25_over_a_directory_and_config_errors(tmp_path):
    (tmp_path / "kiwi_bird.md").write_text("The kiwi is a flightless bird of New Zealand.")
    (tmp_path / "ignored.bin").write_bytes(b"\x00")
    from tools.search import load_corpus

    assert [d["title"] for d in load_corpus(str(tmp_path))] == ["kiwi bird"]
    with pytest.raises(ConfigError, match="corpus not found"):
        SearchTool(SearchToolConfig(corpus=str(tmp_path / "missing.jsonl")))
    with pytest.raises(ValueError, match="needs `url`"):
        SearchToolConfig(provider="http")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"title": "no text"}\n')
    with pytest.raises(ConfigError, match="bad.jsonl:2"):
        load_corpus(str(bad))


def _http(url: str, **kw) -> SearchTool:
    return SearchTool(SearchToolConfig(provider="http", url=url, api_key_env="SEARCH_KEY_FOR_TESTS",
                                       backoff_s=0.05, timeout_s=2, **kw))


async def test_http_provider_sends_the_key_and_reads_results(search_server, monkeypatch):
    monkeypatch.setenv("SEARCH_KEY_FOR_TESTS", "test-key")
    tool = _http(f"{search_server}/search", top_k=1)
    try:
        result = await tool.call({"query": "speed of sound in steel"}, None)
    finally:
        await tool.close()
    assert result.ok and "Speed of sound" in result.output and "https://docs.example/speed-of-sound" in result.output


async def test_http_provider_retries_transient_errors(search_server, monkeypatch):
    monkeypatch.setenv("SEARCH_KEY_FOR_TESTS", "test-key")
    tool = _http(f"{search_server}/flaky", retries=3)
    try:
        result = await tool.call({"query": "marathon distance"}, None)
    finally:
        await tool.close()
    assert result.ok and "42.195" in result.output


async def test_http_provider_failures_are_reasons(search_server, monkeypatch):
    from tests.fixtures.processes import free_port

    monkeypatch.setenv("SEARCH_KEY_FOR_TESTS", "wrong-key")
    refused = _http(f"{search_server}/search")
    down = _http(f"http://127.0.0.1:{free_port()}/search", retries=1)
    slow = _http(f"{search_server}/slow", retries=0, )
    slow.config.timeout_s = 0.5
    broken = _http(f"{search_server}/broken")
    try:
        r_refused = await refused.call({"query": "x y"}, None)
        r_down = await down.call({"query": "x y"}, None)
        r_slow = await slow.call({"query": "x y"}, None)
        r_broken = await broken.call({"query": "x y"}, None)
    finally:
        for tool in (refused, down, slow, broken):
            await tool.close()
    assert "HTTP 401" in r_refused.error and "reason" not in r_refused.details
    assert r_down.details["reason"] == "unavailable" and "connection failed" in r_down.error
    assert r_slow.details["reason"] == "unavailable" and "timed out" in r_slow.error
    assert "without a `results` list" in r_broken.error


async def test_a_provider_that_is_down_ends_the_call_as_tool_unavailable(monkeypatch):
    from tests.fixtures.processes import free_port

    monkeypatch.setenv("SEARCH_KEY_FOR_TESTS", "test-key")
    box = Toolbox.from_refs([ToolRef(name="search", options={
        "provider": "http", "url": f"http://127.0.0.1:{free_port()}/search", "api_key_env": "SEARCH_KEY_FOR_TESTS",
        "retries": 1, "backoff_s": 0.01})])
    outcome = await box.execute("search", {"query": "anything"}, None)
    await box.close()
    assert outcome.reason == "tool_unavailable"


async def test_missing_api_key_is_a_config_error(monkeypatch):
    monkeypatch.delenv("SEARCH_KEY_FOR_TESTS", raising=False)
    tool = _http("http://127.0.0.1:9/search")
    with pytest.raises(ConfigError, match="SEARCH_KEY_FOR_TESTS"):
        await tool.call({"query": "x"}, None)
