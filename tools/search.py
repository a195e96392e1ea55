"""The ``search`` tool: offline BM25 over a local corpus (default), or a real HTTP search API.

``provider: bm25`` indexes ``corpus`` with ``bm25s`` (sparse-matrix BM25, English stopwords) the
first time it is called: a JSONL file of ``{"id", "title", "text"}`` rows, or a directory whose
``.txt`` / ``.md`` files are documents (the file name is the title). Relative paths resolve
against the current directory.

``provider: http`` sends ``GET url?{query_param}=QUERY&{count_param}=top_k`` through httpx with
the key from the environment variable ``api_key_env`` as a bearer token (or in ``api_key_header``),
a timeout, and retries with backoff on timeouts, connection errors, 429 and 5xx. The JSON answer's
list under ``results_field`` (dotted path) holds results with a title, a url and a snippet
(``snippet`` / ``content`` / ``text`` / ``description``). An endpoint still failing after the
retries gives the reason ``unavailable`` (the trace ends as ``tool_unavailable``); a 4xx is the
call's error.
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import orjson
from pydantic import Field, model_validator

from synthgen.errors import ConfigError
from synthgen.plugins import PluginConfig, Tool, ToolResult

_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


class SearchToolConfig(PluginConfig):
    provider: Literal["bm25", "http"] = "bm25"
    corpus: str | None = Field(None, description="bm25: a JSONL file ({id, title, text}) or a directory of .txt/.md")
    top_k: int = Field(3, ge=1, le=50, description="results returned per query")
    snippet_chars: int = Field(600, ge=50, description="each result's text is cut to this")
    url: str | None = Field(None, description="http: the search endpoint")
    api_key_env: str | None = Field(None, description="http: environment variable holding the API key")
    api_key_header: str = Field("Authorization", description="http: header for the key ('Bearer ' added "
                                "for Authorization)")
    query_param: str = "q"
    count_param: str = "count"
    results_field: str = Field("results", description="http: dotted path of the result list in the JSON answer")
    timeout_s: float = Field(10.0, gt=0)
    retries: int = Field(3, ge=0)
    backoff_s: float = Field(0.5, ge=0)

    @model_validator(mode="after")
    def _provider_needs(self) -> SearchToolConfig:
        if self.provider == "bm25" and not self.corpus:
            raise ValueError("provider 'bm25' needs `corpus`: a JSONL file or a directory of .txt/.md files")
        if self.provider == "http" and not self.url:
            raise ValueError("provider 'http' needs `url`: the search endpoint")
        return self


def load_corpus(path: str) -> list[dict[str, str]]:
    """Documents ``{id, title, text}`` from a JSONL file or a directory of text files."""
    root = Path(path)
    if not root.exists():
        raise ConfigError(f"search corpus not found: {root.resolve()}", field="tools.search.options.corpus")
    docs: list[dict[str, str]] = []
    if root.is_dir():
        for file in sorted(p for p in root.rglob("*") if p.suffix in (".txt", ".md") and p.is_file()):
            docs.append({"id": str(file.relative_to(root)), "title": file.stem.replace("_", " "),
                         "text": file.read_text(encoding="utf-8", errors="replace")})
    else:
        for lineno, line in enumerate(root.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise ConfigError(f"{root}:{lineno}: not a JSON line", field="tools.search.options.corpus") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise ConfigError(f"{root}:{lineno}: each row needs a string `text`",
                                  field="tools.search.options.corpus")
            docs.append({"id": str(row.get("id", lineno)), "title": str(row.get("title", "")), "text": row["text"]})
    if not docs:
        raise ConfigError(f"search corpus {root} has no documents", field="tools.search.options.corpus")
    return docs


def _format(results: list[dict[str, str]], snippet_chars: int) -> str:
    if not results:
        return "no results"
    lines = []
    for i, r in enumerate(results, 1):
        text = " ".join(str(r.get("text", "")).split())
        if len(text) > snippet_chars:
            text = text[:snippet_chars].rsplit(" ", 1)[0] + " ..."
        head = f"[{i}] {r.get('title') or r.get('id', '')}" + (f" ({r['url']})" if r.get("url") else "")
        lines.append(f"{head}\n{text}")
    return "\n\n".join(lines)


class _BM25Index:
    def __init__(self, docs: list[dict[str, str]]) -> None:
        import bm25s

        self.docs = docs
        self.retriever = bm25s.BM25()
        tokens = bm25s.tokenize([f"{d['title']}\n{d['text']}" for d in docs], stopwords="en", show_progress=False)
        self.retriever.index(tokens, show_progress=False)

    def search(self, query: str, k: int) -> list[dict[str, str]]:
        import bm25s

        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:  # only stopwords or punctuation: nothing to match
            return []
        ids, scores = self.retriever.retrieve(tokens, k=min(k, len(self.docs)), show_progress=False)
        return [self.docs[int(i)] for i, s in zip(ids[0], scores[0]) if s > 0]


class SearchTool(Tool):
    name: ClassVar[str] = "search"
    description: ClassVar[str] = "Search the web (or the configured corpus) and return the top results with snippets."
    parameters: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "what to search for"}},
        "required": ["query"],
    }
    Config: ClassVar[type[SearchToolConfig]] = SearchToolConfig

    def __init__(self, config: SearchToolConfig | None = None) -> None:
        super().__init__(config)
        self._index: _BM25Index | None = None
        self._index_lock = asyncio.Lock()
        self._client: httpx.AsyncClient | None = None
        # an absolute path is checked now; a relative one resolves against the pipeline file's folder,
        # known at the first call (ctx.resolve_path)
        corpus = Path(self.config.corpus) if self.config.provider == "bm25" else None
        if corpus is not None and corpus.is_absolute() and not corpus.exists():
            raise ConfigError(f"search corpus not found: {corpus}", field="tools.search.options.corpus")

    async def call(self, arguments: dict[str, Any], ctx: Any) -> ToolResult:
        cfg: SearchToolConfig = self.config
        query = str(arguments["query"]).strip()
        if not query:
            return ToolResult(output="empty query", error="empty query")
        if cfg.provider == "bm25":
            index = await self._bm25(ctx)
            results = index.search(query, cfg.top_k)
            return ToolResult(output=_format(results, cfg.snippet_chars), details={"hits": [r["id"] for r in results]})
        return await self._http(query)

    async def _bm25(self, ctx: Any) -> _BM25Index:
        async with self._index_lock:
            if self._index is None:
                resolve = getattr(ctx, "resolve_path", None)
                corpus = resolve(self.config.corpus) if resolve is not None else Path(self.config.corpus)
                docs = load_corpus(str(corpus))
                self._index = await asyncio.to_thread(_BM25Index, docs)
            return self._index

    async def _http(self, query: str) -> ToolResult:
        cfg: SearchToolConfig = self.config
        if self._client is None:
            headers = {}
            if cfg.api_key_env:
                key = os.environ.get(cfg.api_key_env)
                if not key:
                    raise ConfigError(f"environment variable {cfg.api_key_env} (the search API key) is not set",
                                      field="tools.search.options.api_key_env")
                headers[cfg.api_key_header] = f"Bearer {key}" if cfg.api_key_header == "Authorization" else key
            self._client = httpx.AsyncClient(timeout=cfg.timeout_s, headers=headers)
        params = {cfg.query_param: query, cfg.count_param: str(cfg.top_k)}
        last = ""
        for attempt in range(cfg.retries + 1):
            try:
                response = await self._client.get(cfg.url, params=params)  # type: ignore[arg-type]
            except httpx.TimeoutException:
                last = f"timed out after {cfg.timeout_s:g}s"
            except httpx.TransportError as exc:
                last = f"connection failed ({type(exc).__name__})"
            else:
                if response.status_code == 200:
                    return self._parse(response)
                last = f"HTTP {response.status_code}"
                if response.status_code not in _RETRY_STATUS:
                    msg = f"the search API refused the query: {last}"
                    return ToolResult(output=msg, error=msg)
            if attempt < cfg.retries:
                base = cfg.backoff_s * (2 ** attempt)
                await asyncio.sleep(base / 2 + random.uniform(0, base / 2))
        msg = f"search provider unavailable after {cfg.retries + 1} attempts: {last}"
        return ToolResult(output=msg, error=msg, details={"reason": "unavailable"})

    def _parse(self, response: httpx.Response) -> ToolResult:
        cfg: SearchToolConfig = self.config
        try:
            data: Any = response.json()
            for part in cfg.results_field.split("."):
                data = data[part]
            if not isinstance(data, list):
                raise TypeError("not a list")
        except (ValueError, KeyError, TypeError, IndexError):
            msg = f"the search API answered without a `{cfg.results_field}` list"
            return ToolResult(output=msg, error=msg)
        results = []
        for item in data[: cfg.top_k]:
            if isinstance(item, dict):
                text = next((item[k] for k in ("snippet", "content", "text", "description")
                             if isinstance(item.get(k), str)), "")
                results.append({"title": str(item.get("title", "")), "url": str(item.get("url", "")), "text": text})
        return ToolResult(output=_format(results, cfg.snippet_chars), details={"hits": [r["url"] for r in results]})

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
