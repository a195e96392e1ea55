"""Source items: rows of JSONL / JSON / parquet files or a `save_to_disk` dataset directory, or
documents (text files, folders, text columns; read by :mod:`synthgen.documents`).

An unreadable row is reported with its file and line and skipped; the rest is still processed.
Each item gets a stable id: its ``id`` field (configurable) or a content hash of the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, MutableMapping

import orjson

from synthgen.config import SourceRef
from synthgen.documents import TEXT_SUFFIXES, document_rows
from synthgen.errors import SourceError
from synthgen.records import content_hash


@dataclass(frozen=True)
class SourceItem:
    id: str
    row: dict[str, Any]
    where: str  # "file:line" or "dir[index]"


@dataclass(frozen=True)
class SourceProblem:
    where: str
    message: str


def detect_format(ref: SourceRef) -> str:
    path = Path(ref.path)
    if ref.format != "auto":
        return ref.format
    if path.is_dir():
        markers = ("dataset_info.json", "dataset_dict.json", "state.json")
        return "hf_disk" if any((path / m).exists() for m in markers) else "text"
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "json"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise SourceError(f"{path}: cannot tell the format from the suffix '{suffix}'; "
                      "set `format: jsonl|json|parquet|hf_disk|text` on the source")


def _rows(ref: SourceRef, problems: list[SourceProblem]) -> Iterator[tuple[str, dict[str, Any]]]:
    path = Path(ref.path)
    if not path.exists():
        raise SourceError(f"source file not found: {path} (paths are relative to the pipeline file)")
    fmt = detect_format(ref)
    if fmt == "text" or ref.documents is not None:  # documents: streamed by their own readers
        yield from document_rows(ref, fmt, problems, lambda: _table_rows(ref, fmt, problems))
        return
    yield from _table_rows(ref, fmt, problems)


def _table_rows(ref: SourceRef, fmt: str, problems: list[SourceProblem]) -> Iterator[tuple[str, dict[str, Any]]]:
    path = Path(ref.path)
    if fmt == "jsonl":
        with path.open("rb") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    problems.append(SourceProblem(f"{path}:{lineno}", f"invalid JSON: {exc}"))
                    continue
                if not isinstance(row, dict):
                    problems.append(SourceProblem(f"{path}:{lineno}", f"expected an object, got {type(row).__name__}"))
                    continue
                yield f"{path}:{lineno}", row
    elif fmt == "json":
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise SourceError(f"{path}: invalid JSON: {exc}") from None
        if not isinstance(data, list):
            raise SourceError(f"{path}: expected a JSON array of objects")
        for i, row in enumerate(data):
            if isinstance(row, dict):
                yield f"{path}[{i}]", row
            else:
                problems.append(SourceProblem(f"{path}[{i}]", f"expected an object, got {type(row).__name__}"))
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise SourceError(f"{path}: unreadable parquet file: {exc}") from None
        for i, row in enumerate(table.to_pylist()):
            yield f"{path}[{i}]", row
    else:
        from datasets import DatasetDict, load_from_disk

        try:
            ds = load_from_disk(str(path))
        except Exception as exc:
            raise SourceError(f"{path}: not a `save_to_disk` dataset: {exc}") from None
        if isinstance(ds, DatasetDict):
            split = ref.split or ("train" if "train" in ds else next(iter(ds)))
            if split not in ds:
                raise SourceError(f"{path}: no split '{split}'; splits: {', '.join(ds)}")
            ds = ds[split]
        for i, row in enumerate(ds):
            yield f"{path}[{i}]", dict(row)


def iter_items(refs: list[SourceRef], problems: list[SourceProblem],
               seen: MutableMapping[str, str] | None = None) -> Iterator[SourceItem]:
    """Items of every source in order; duplicates of an id already seen are reported and skipped.
    ``seen`` (id -> where) may be a compact mapping for sources of millions of rows
    (:class:`synthgen.store_index.SeenIds`)."""
    seen = {} if seen is None else seen
    for ref in refs:
        count = 0
        for where, row in _rows(ref, problems):
            if ref.limit is not None and count >= ref.limit:
                break
            raw_id = row.get(ref.id_field)
            item_id = str(raw_id) if raw_id not in (None, "") else content_hash(row)
            if item_id in seen:
                problems.append(SourceProblem(where, f"duplicate id '{item_id}' (first at {seen[item_id]}); skipped"))
                continue
            seen[item_id] = where
            count += 1
            yield SourceItem(item_id, row, where)
