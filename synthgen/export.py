"""Export finished records to TRL's canonical datasets.

- ``sft``: ``{"id", "messages"}``: the prompt dialog followed by a kept candidate's turns.
- ``dpo``: ``{"id", "prompt", "chosen", "rejected"}`` in TRL's conversational preference form.
- ``rm``:  ``{"id", "prompt", "responses"}``: 2-3 responses ranked best first (pairwise trainers
  can use ``responses[0]`` / ``responses[-1]``), plus ``chosen`` / ``rejected`` for TRL's RewardTrainer.
Rows are sorted by id, so a resumed run exports byte-identical files. Tool-call arguments are
serialised to JSON strings (the OpenAI form) so Arrow sees one schema across rows; records that
offer tools add a ``tools`` column (their schemas, one JSON string).

``provenance=True`` (``export: [{format: sft, provenance: true}]``) adds where each row came from:
``generator``, ``model`` (the policy's), ``seed``, ``round``, ``run``, ``record_id`` and the candidate
ids (``candidate_id``; DPO ``chosen_id``/``rejected_id``; RM ``candidate_ids``, best first).

An export with no rows is still written (a consumer counting rows finds 0): a JSONL file of 0 bytes,
parquet and ``disk`` datasets with the column types a non-empty export has (pyarrow and pandas read
them). ``datasets`` (5.x) loads none of them: ``load_dataset`` raises on an empty JSON or parquet
file and ``load_from_disk`` on an empty dataset, so the run's outcome and ``synthgen export`` say
there is nothing to export instead of leaving it to that error.
"""

from __future__ import annotations

import heapq
import json
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

import orjson

from synthgen.errors import SynthgenError
from synthgen.records import Message, Record, stored_form

Format = Literal["sft", "dpo", "rm"]
FileFormat = Literal["jsonl", "parquet", "disk"]
_EXT = {"jsonl": ".jsonl", "parquet": ".parquet", "disk": ""}


def _clean(messages: list[Message]) -> list[Message]:
    out = []
    for m in messages:
        msg: dict[str, Any] = {"role": m["role"], "content": m.get("content") or ""}
        if m.get("tool_calls"):
            calls = []
            for call in m["tool_calls"]:
                fn = dict(call.get("function", call))
                if not isinstance(fn.get("arguments"), str):
                    fn["arguments"] = json.dumps(fn.get("arguments", {}), sort_keys=True)
                calls.append({"type": "function", "function": {"name": fn["name"], "arguments": fn["arguments"]}})
            msg["tool_calls"] = calls
        if m.get("tool_call_id"):
            msg["tool_call_id"] = m["tool_call_id"]
        out.append(msg)
    return out


def _with_tools(row: dict, record: dict) -> dict:
    """Tool-use records offer tools: their OpenAI schemas go in a ``tools`` column as one JSON string
    (TRL's SFT trainer parses it and passes it to the chat template; a string keeps Arrow's schema
    the same whatever the functions' parameters are)."""
    tools = (record.get("metadata") or {}).get("tools")
    if tools:
        row["tools"] = json.dumps(tools, sort_keys=True)
    return row


def _candidate(record: dict, candidate_id: str) -> dict:
    for c in record.get("candidates") or ():
        if c.get("id", "") == candidate_id:
            return c
    raise KeyError(f"record {record['id']} has no candidate {candidate_id}")


def _provenance(row: dict, record: dict, first: str | None, **ids: Any) -> dict:
    """Provenance columns: of the (first) candidate when it has its own, else of the record."""
    rec = record.get("provenance") or {}
    cand = _candidate(record, first).get("provenance") if first else None
    prov = cand if cand is not None and cand.get("generator") else rec
    models = prov.get("models") or rec.get("models") or {}
    seed = prov.get("seed")
    row.update(generator=prov.get("generator") or rec.get("generator", ""),
               model=models.get("policy") or next(iter(models.values()), ""),
               seed=seed if seed is not None else rec.get("seed"),
               round=prov.get("round", 0), run=prov.get("run") or rec.get("run", ""), record_id=record["id"], **ids)
    return row


# The row builders read records in their stored form: the dict ``Record.to_json`` writes, defaults
# left out (the end of a run exports the stored lines without building a model per record; a
# Record is turned into that form first). The former exporter, on Record
# objects, is kept as the reference the tests and benchmarks compare with (synthgen.export_reference).
def sft_rows(records: Iterable[dict | Record], provenance: bool = False) -> list[dict]:
    rows = []
    for r in map(stored_form, records):
        for cid in r.get("selected") or ():
            messages = (r.get("messages") or []) + (_candidate(r, cid).get("messages") or [])
            row = _with_tools({"id": f"{r['id']}:{cid}", "messages": _clean(messages)}, r)
            rows.append(_provenance(row, r, cid, candidate_id=cid) if provenance else row)
    return rows


def dpo_rows(records: Iterable[dict | Record], provenance: bool = False) -> list[dict]:
    rows = []
    for r in map(stored_form, records):
        for p in r.get("pairs") or ():
            chosen, rejected = p["chosen"], p["rejected"]
            row = _with_tools({"id": f"{r['id']}:{chosen}:{rejected}", "prompt": _clean(r.get("messages") or []),
                               "chosen": _clean(_candidate(r, chosen).get("messages") or []),
                               "rejected": _clean(_candidate(r, rejected).get("messages") or [])}, r)
            rows.append(_provenance(row, r, chosen, chosen_id=chosen, rejected_id=rejected) if provenance else row)
    return rows


def rm_rows(records: Iterable[dict | Record], provenance: bool = False) -> list[dict]:
    rows = []
    for r in map(stored_form, records):
        ranking = r.get("ranking") or []
        if len(ranking) < 2:
            continue
        responses = [_clean(_candidate(r, cid).get("messages") or []) for cid in ranking]
        row = _with_tools({"id": r["id"], "prompt": _clean(r.get("messages") or []), "responses": responses,
                           "chosen": responses[0], "rejected": responses[-1]}, r)
        rows.append(_provenance(row, r, ranking[0], candidate_ids=list(ranking)) if provenance else row)
    return rows


_ROWS = {"sft": sft_rows, "dpo": dpo_rows, "rm": rm_rows}


def _check_formats(fmt: str, file_format: str) -> None:
    if fmt not in _ROWS:
        raise SynthgenError(f"unknown export format '{fmt}'; use sft, dpo or rm")
    if file_format not in _EXT:
        raise SynthgenError(f"unknown file format '{file_format}'; use jsonl, parquet or disk")


def _exported(r: dict, include_failed_records: bool) -> bool:
    # a record the processing stage dropped carries metadata['dropped'] (synthgen.processing): never exported
    return (include_failed_records or r.get("status", "ok") == "ok") and "dropped" not in (r.get("metadata") or {})


def export_records(records: Iterable[dict | Record], fmt: Format, path: str | Path,
                   file_format: FileFormat = "jsonl", include_failed_records: bool = False,
                   provenance: bool = False) -> Path:
    """Write one dataset; returns its path. Failed records are skipped unless asked for; records the
    processing stage dropped are always skipped. Records may come in any order, as many as the disk
    holds: memory stays bounded (see :class:`StreamingExport`)."""
    export = StreamingExport(fmt, path, file_format, include_failed_records, provenance=provenance)
    try:
        for r in records:
            export.add(r)
        return export.finish()
    finally:
        export.discard()


class StreamingExport:
    """One export being written: ``add`` records (any order), then ``finish``."""

    def __init__(self, fmt: Format, path: str | Path, file_format: FileFormat = "jsonl",
                 include_failed_records: bool = False, spill_bytes: int = 8 << 20, *,
                 provenance: bool = False) -> None:
        _check_formats(fmt, file_format)
        self.fmt, self.path, self.file_format = fmt, Path(path), file_format
        self.include_failed_records = include_failed_records
        self.provenance = provenance
        self._rows = _ROWS[fmt]
        self._buffer: list[tuple[bytes, bytes]] = []
        self._buffered = 0
        self._spill_bytes = spill_bytes
        self._runs: list[Path] = []
        self._tmp: Path | None = None
        self.rows = 0

    def add(self, record: dict | Record) -> None:
        """A record in its stored form (a dict as ``Record.to_json`` writes it) or a Record."""
        record = stored_form(record)
        if not _exported(record, self.include_failed_records):
            return
        # jsonl lines are final bytes (sorted keys); Arrow rows keep their key order, which
        # Dataset.from_list turns into the column and struct-field order
        option = orjson.OPT_SORT_KEYS if self.file_format == "jsonl" else 0
        for row in self._rows([record], self.provenance):
            line = orjson.dumps(row, option=option) + b"\n"
            key = row["id"].encode("utf-8", "surrogatepass")
            self._buffer.append((key, line))
            self._buffered += len(line) + len(key) + 120  # + the tuple and bytes headers
            self.rows += 1
        if self._buffered >= self._spill_bytes:
            self._spill()

    def _spill(self) -> None:
        if self._tmp is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        self._buffer.sort()
        run = self._tmp / f"run-{len(self._runs):05d}"
        with run.open("wb") as fh:
            for key, line in self._buffer:
                fh.write(struct.pack("<II", len(key), len(line)) + key + line)
        self._runs.append(run)
        self._buffer, self._buffered = [], 0

    def sorted_lines(self) -> Iterator[bytes]:
        """Every row's JSON line, in id order."""
        self._buffer.sort()
        if not self._runs:
            return (line for _, line in self._buffer)
        return (line for _, line in heapq.merge(*(_read_run(p) for p in self._runs), iter(self._buffer)))

    def finish(self) -> Path:
        out = self.path
        out.parent.mkdir(parents=True, exist_ok=True)
        if self.file_format == "jsonl":
            tmp = out.with_name(out.name + ".tmp")
            with tmp.open("wb", buffering=1 << 20) as fh:
                for line in self.sorted_lines():
                    fh.write(line)
            tmp.replace(out)
        else:
            # Arrow files are built from the sorted rows in memory (rows only, not records), the way
            # Dataset.from_list infers one schema over every row; jsonl is the streamed format.
            _write_dataset([orjson.loads(line) for line in self.sorted_lines()], self.fmt, out, self.file_format,
                           self.provenance)
        self.discard()
        return out

    def discard(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self._runs, self._buffer = [], []


def _read_run(path: Path) -> Iterator[tuple[bytes, bytes]]:
    # every run is open at once during the merge (one per 8 MB spilled: ~50 per export at a
    # million rows), so each gets a modest buffer
    with path.open("rb", buffering=1 << 18) as fh:
        while header := fh.read(8):
            klen, llen = struct.unpack("<II", header)
            key = fh.read(klen)
            yield key, fh.read(llen)


def _write_dataset(rows: list[dict], fmt: str, out: Path, file_format: str, provenance: bool = False) -> None:
    from datasets import Dataset

    ds = Dataset.from_list(rows) if rows else empty_dataset(fmt, provenance)
    if file_format == "parquet":
        ds.to_parquet(str(out))
    else:
        ds.save_to_disk(str(out))


def default_export_path(run_dir: Path, fmt: str, file_format: str) -> Path:
    return run_dir / "export" / f"{fmt}{_EXT[file_format]}"


def export_path(run_dir: Path, exp) -> Path:
    """Where an ``export:`` entry writes: its ``path`` (in a pipeline file, relative to that file's
    folder, like sources: see ``PipelineConfig.resolved``), else ``export/<format>.<ext>`` in the run."""
    if not exp.path:
        return default_export_path(run_dir, exp.format, exp.file_format)
    return Path(exp.path)


def empty_dataset(fmt: str, provenance: bool = False):
    """A dataset of no rows with the columns and types a non-empty export has (``datasets`` loads a
    parquet file of it; an export of untyped empty columns would load as nulls)."""
    from datasets import Dataset, Features, List, Value

    dialog = List({"content": Value("string"), "role": Value("string")})
    columns: dict[str, Any] = {"sft": {"id": Value("string"), "messages": dialog},
                               "dpo": {"id": Value("string"), "prompt": dialog, "chosen": dialog, "rejected": dialog},
                               "rm": {"id": Value("string"), "prompt": dialog, "responses": List(dialog),
                                      "chosen": dialog, "rejected": dialog}}[fmt]
    if provenance:
        columns.update(generator=Value("string"), model=Value("string"), seed=Value("int64"), round=Value("int64"),
                       run=Value("string"), record_id=Value("string"))
        columns.update({"sft": {"candidate_id": Value("string")},
                        "dpo": {"chosen_id": Value("string"), "rejected_id": Value("string")},
                        "rm": {"candidate_ids": List(Value("string"))}}[fmt])
    features = Features(columns)
    return Dataset.from_dict({k: [] for k in features}, features=features)
