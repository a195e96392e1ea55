"""The former exporter, kept as the reference the new one is checked against.

Every record and row in one sorted list, rows built from :class:`Record` objects. The exporter a run
uses (:mod:`synthgen.export`) streams the stored lines and builds its rows from their dicts without
a model per record; the tests (``tests/synthgen/test_scale.py``, the export tests) and
``benchmarks/scale.py`` require its files to be byte-identical to this one's. Not used by runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import orjson

from synthgen.errors import SynthgenError
from synthgen.export import FileFormat, Format, _clean, empty_dataset
from synthgen.records import Record


def _with_tools(row: dict, record: Record) -> dict:
    """Tool-use records offer tools: their OpenAI schemas go in a ``tools`` column as one JSON string
    (TRL's SFT trainer parses it and passes it to the chat template; a string keeps Arrow's schema
    the same whatever the functions' parameters are)."""
    tools = record.metadata.get("tools")
    if tools:
        row["tools"] = json.dumps(tools, sort_keys=True)
    return row


def _provenance(row: dict, record: Record, first: str | None, **ids: Any) -> dict:
    """Provenance columns: of the (first) candidate when it has its own, else of the record."""
    cand = record.candidate(first).provenance if first else None
    prov = cand if cand is not None and cand.generator else record.provenance
    models = prov.models or record.provenance.models
    row.update(generator=prov.generator or record.provenance.generator,
               model=models.get("policy") or next(iter(models.values()), ""),
               seed=prov.seed if prov.seed is not None else record.provenance.seed,
               round=prov.round, run=prov.run or record.provenance.run, record_id=record.id, **ids)
    return row


def _sft_rows(records: Iterable[Record], provenance: bool = False) -> list[dict]:
    rows = []
    for r in records:
        for cid in r.selected:
            row = _with_tools({"id": f"{r.id}:{cid}", "messages": _clean(r.messages + r.candidate(cid).messages)}, r)
            rows.append(_provenance(row, r, cid, candidate_id=cid) if provenance else row)
    return rows


def _dpo_rows(records: Iterable[Record], provenance: bool = False) -> list[dict]:
    rows = []
    for r in records:
        for p in r.pairs:
            row = _with_tools({"id": f"{r.id}:{p.chosen}:{p.rejected}", "prompt": _clean(r.messages),
                               "chosen": _clean(r.candidate(p.chosen).messages),
                               "rejected": _clean(r.candidate(p.rejected).messages)}, r)
            rows.append(_provenance(row, r, p.chosen, chosen_id=p.chosen, rejected_id=p.rejected)
                        if provenance else row)
    return rows


def _rm_rows(records: Iterable[Record], provenance: bool = False) -> list[dict]:
    rows = []
    for r in records:
        if len(r.ranking) < 2:
            continue
        responses = [_clean(r.candidate(cid).messages) for cid in r.ranking]
        row = _with_tools({"id": r.id, "prompt": _clean(r.messages), "responses": responses,
                           "chosen": responses[0], "rejected": responses[-1]}, r)
        rows.append(_provenance(row, r, r.ranking[0], candidate_ids=list(r.ranking)) if provenance else row)
    return rows


_ROWS = {"sft": _sft_rows, "dpo": _dpo_rows, "rm": _rm_rows}




def export_records_in_memory(records: Iterable[Record], fmt: Format, path: str | Path,
                             file_format: FileFormat = "jsonl", include_failed_records: bool = False, provenance: bool = False) -> Path:
    """The former exporter: every record and row in one sorted list (the reference in tests)."""
    if fmt not in _ROWS:
        raise SynthgenError(f"unknown export format '{fmt}'; use sft, dpo or rm")
    # a record the processing stage dropped carries metadata['dropped'] (synthgen.processing): never exported
    recs = sorted((r for r in records if (include_failed_records or r.status == "ok") and "dropped" not in r.metadata),
                  key=lambda r: r.id)
    rows = sorted(_ROWS[fmt](recs, provenance), key=lambda row: row["id"])
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "jsonl":
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("wb") as fh:
            for row in rows:
                fh.write(orjson.dumps(row, option=orjson.OPT_SORT_KEYS) + b"\n")
        tmp.replace(out)
        return out
    from datasets import Dataset

    ds = Dataset.from_list(rows) if rows else empty_dataset(fmt, provenance)
    if file_format == "parquet":
        ds.to_parquet(str(out))
    elif file_format == "disk":
        ds.save_to_disk(str(out))
    else:
        raise SynthgenError(f"unknown file format '{file_format}'; use jsonl, parquet or disk")
    return out


