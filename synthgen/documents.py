"""Documents as source items: text and markdown files, a folder of them, or rows of JSONL / parquet /
a ``save_to_disk`` dataset with a text column; streamed, one document (or one pack) in memory at a time.

Each document becomes the row ``{id, title, text, source}``. A file that is not UTF-8 text (a binary
file, a truncated multi-byte character) still becomes a row, with ``text: ""`` and ``read_error``
saying why, so the generator records the reason on a failed record instead of losing the item.

``documents.pack_to_tokens`` (with ``documents.tokenizer``) or ``pack_to_chars`` concatenates
consecutive short documents, each under its title and joined by ``separator``, until the pack
reaches the target length: the Llama 3 recipe needs contexts of 16K-128K tokens and most documents
are shorter. A pack's row lists its ``parts`` (id, title, character offset); a document already
longer than the target stays alone.

The pipeline names these options under a source's ``documents:`` key (see :class:`DocumentOptions`);
``format: text`` (or a ``.txt``/``.md`` path, or a folder that is not a dataset) reads files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthgen.errors import SourceError
from synthgen.records import content_hash

if TYPE_CHECKING:
    from synthgen.config import SourceRef
    from synthgen.sources import SourceProblem

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst", ".text")


class DocumentOptions(BaseModel):
    """Options of a document source (the ``documents:`` mapping of a pipeline source)."""

    model_config = ConfigDict(extra="forbid")

    text_field: str = Field("text", description="column holding the document text (JSONL / parquet / datasets)")
    title_field: str = Field("title", description="column holding the title; files use their name")
    suffixes: list[str] = Field(list(TEXT_SUFFIXES), description="files of a folder that are read")
    pack_to_tokens: int | None = Field(None, ge=1, description="concatenate short documents up to this many "
                                       "tokens of `tokenizer` (the policy model's)")
    pack_to_chars: int | None = Field(None, ge=1, description="the same, counted in characters")
    tokenizer: str | None = Field(None, description="model directory or tokenizer.json for pack_to_tokens")
    separator: str = Field("\n\n", description="between packed documents")
    title_template: str = Field("# {title}\n\n", description="written before each packed document")

    @model_validator(mode="after")
    def _one_target(self) -> DocumentOptions:
        if self.pack_to_tokens and self.pack_to_chars:
            raise ValueError("give one of `pack_to_tokens` or `pack_to_chars`")
        if self.pack_to_tokens and not self.tokenizer:
            raise ValueError("`pack_to_tokens` counts tokens of a tokenizer: set `tokenizer` to the policy "
                             "model's directory (or tokenizer.json), or use `pack_to_chars`")
        return self


def document_options(ref: SourceRef) -> DocumentOptions:
    try:
        return DocumentOptions.model_validate(ref.documents or {})
    except ValidationError as exc:
        from synthgen.config import format_validation_error

        raise SourceError(format_validation_error(exc, prefix="documents", path=ref.path)) from None


def _read_text(path: Path) -> tuple[str, str]:
    """(text, read_error): binary and undecodable files give ('', reason)."""
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        return "", "binary file (NUL bytes), not text"
    try:
        return data.decode("utf-8").removeprefix("\ufeff"), ""
    except UnicodeDecodeError as exc:
        return "", f"not UTF-8 text: {exc.reason} at byte {exc.start}"


def _text_files(ref: SourceRef, opts: DocumentOptions) -> Iterator[tuple[str, dict[str, Any]]]:
    root = Path(ref.path)
    if root.is_file():
        files: Iterator[Path] = iter([root])
    else:
        wanted = {s.lower() for s in opts.suffixes}
        files = (p for p in sorted(root.rglob("*")) if p.is_file() and p.suffix.lower() in wanted)
    found = False
    for path in files:
        found = True
        rel = path.name if root.is_file() else path.relative_to(root).as_posix()
        text, error = _read_text(path)
        row = {"id": rel, "title": path.stem.replace("_", " ").replace("-", " "), "text": text, "source": rel}
        if error:
            row["read_error"] = error
        yield str(path), row
    if not found:
        raise SourceError(f"{root}: no document files ({', '.join(opts.suffixes)}); "
                          "set `documents.suffixes` or point at a file")


def _parquet_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - any reader error means the file is unusable
        raise SourceError(f"{path}: unreadable parquet file: {exc}") from None
    index = 0
    for batch in pf.iter_batches(batch_size=64):  # a batch of long documents at a time, not the file
        for row in batch.to_pylist():
            yield f"{path}[{index}]", row
            index += 1


def _as_document(where: str, row: dict[str, Any], ref: SourceRef, opts: DocumentOptions,
                 problems: list[SourceProblem]) -> dict[str, Any] | None:
    from synthgen.sources import SourceProblem

    if opts.text_field not in row:
        problems.append(SourceProblem(where, f"no `{opts.text_field}` column; set `documents.text_field` "
                                             f"(columns: {', '.join(map(str, row))})"))
        return None
    text = row.get(opts.text_field)
    doc = {k: v for k, v in row.items() if k != opts.text_field}
    doc["text"] = text if isinstance(text, str) else ""
    if not isinstance(text, str):
        doc["read_error"] = f"`{opts.text_field}` is {type(text).__name__}, not text"
    elif "\x00" in text:
        doc["text"], doc["read_error"] = "", "binary content (NUL characters), not text"
    raw_id = row.get(ref.id_field)
    doc["id"] = str(raw_id) if raw_id not in (None, "") else content_hash(row)  # the whole row: two empty texts differ
    title = row.get(opts.title_field)
    doc["title"] = str(title) if title not in (None, "") else ""
    doc.setdefault("source", where)
    return doc


def _pack(docs: Iterator[tuple[str, dict[str, Any]]], opts: DocumentOptions) -> Iterator[tuple[str, dict[str, Any]]]:
    """Consecutive documents joined until a pack reaches the target; streamed, one pack held."""
    if opts.pack_to_tokens:
        from tokenizers import Tokenizer

        path = Path(opts.tokenizer or "")
        tok_file = path / "tokenizer.json" if path.is_dir() else path
        if not tok_file.is_file():
            raise SourceError(f"documents.tokenizer: no tokenizer at {opts.tokenizer}; give the policy model's "
                              "directory (with tokenizer.json) or the tokenizer.json file")
        tok = Tokenizer.from_file(str(tok_file))
        tok.no_truncation()
        size: Callable[[str], int] = lambda s: len(tok.encode(s, add_special_tokens=False))
        target = opts.pack_to_tokens
    else:
        size, target = len, opts.pack_to_chars or 0
    parts: list[tuple[str, dict[str, Any], str]] = []
    used = 0

    def flush() -> tuple[str, dict[str, Any]]:
        if len(parts) == 1:
            where, doc, _ = parts[0]
            return where, doc
        texts, meta, offset = [], [], 0
        for _, doc, block in parts:
            meta.append({"id": doc["id"], "title": doc.get("title", ""), "char_start": offset})
            texts.append(block)
            offset += len(block) + len(opts.separator)
        ids = [m["id"] for m in meta]
        row = {"id": "pack-" + content_hash(*ids), "title": " | ".join(m["title"] for m in meta if m["title"]),
               "text": opts.separator.join(texts), "parts": meta, "source": parts[0][0]}
        return parts[0][0], row

    for where, doc in docs:
        if doc.get("read_error") or not doc.get("text", "").strip():
            yield where, doc  # kept alone, so the generator records its reason
            continue
        block = (opts.title_template.format(title=doc["title"]) if doc.get("title") else "") + doc["text"]
        parts.append((where, doc, block))
        used += size(block)
        if used >= target:
            yield flush()
            parts, used = [], 0
    if parts:
        yield flush()


def document_rows(ref: SourceRef, fmt: str, problems: list[SourceProblem],
                  table_rows: Callable[[], Iterator[tuple[str, dict[str, Any]]]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Rows ``{id, title, text, ...}`` of a document source; ``table_rows`` reads JSONL / JSON / datasets."""
    opts = document_options(ref)
    if fmt == "text":
        raw = _text_files(ref, opts)
        docs: Iterator[tuple[str, dict[str, Any]]] = raw
    else:
        rows = _parquet_rows(Path(ref.path)) if fmt == "parquet" else table_rows()
        docs = ((w, d) for w, r in rows if (d := _as_document(w, r, ref, opts, problems)) is not None)
    if opts.pack_to_tokens or opts.pack_to_chars:
        docs = _pack(docs, opts)
    yield from docs
