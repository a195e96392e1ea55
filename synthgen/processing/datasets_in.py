"""`synthgen process DATASET`: an SFT or DPO dataset imported as a run, so the same stage processes it.

SFT rows (``messages``) become a record whose prompt is everything up to the last user turn and
whose one selected candidate is what follows; DPO rows (``prompt`` / ``chosen`` / ``rejected``,
conversational or plain strings) become a record with both candidates and the pair. ``capability``
and ``metadata`` columns are kept. A row that is neither becomes a failed record with the reason
(it is reported, never silently skipped). Records are written to ``runs/<name>/records/`` as a
generation run would write them; a finished import is not repeated.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from synthgen.config import SourceRef
from synthgen.records import PreferencePair, Record, content_hash, failed_record
from synthgen.sources import SourceProblem, _rows
from synthgen.store import RunStore


def _messages(value: Any, role: str) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if isinstance(value, list) and all(isinstance(m, dict) and "role" in m for m in value):
        return [dict(m) for m in value]
    raise ValueError(f"expected a string or a list of messages, got {type(value).__name__}")


def row_to_record(item_id: str, row: dict[str, Any], index: int = 0) -> tuple[Record, str]:
    """(record, kind) where kind is sft, dpo or failed. Identical rows stay two records (dedup's job)."""
    rid = str(row.get("id") or content_hash("dataset", index, row))
    meta = dict(row.get("metadata") or {}) if isinstance(row.get("metadata"), dict) else {}
    cap = str(row.get("capability") or meta.get("capability") or "")
    try:
        if "messages" in row:
            msgs = _messages(row["messages"], "user")
            last = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=-1)
            if last < 0 or last == len(msgs) - 1:
                raise ValueError("an SFT row needs a user turn followed by the assistant's response")
            rec = Record(id=rid, source_id=item_id, capability=cap, messages=msgs[: last + 1], metadata=meta)
            rec.selected = [rec.add_candidate(msgs[last + 1:]).id]
            return rec, "sft"
        if {"prompt", "chosen", "rejected"} <= set(row):
            rec = Record(id=rid, source_id=item_id, capability=cap, messages=_messages(row["prompt"], "user"),
                         metadata=meta)
            chosen = rec.add_candidate(_messages(row["chosen"], "assistant"))
            rejected = rec.add_candidate(_messages(row["rejected"], "assistant"))
            rec.pairs = [PreferencePair(chosen=chosen.id, rejected=rejected.id, reason="dataset")]
            return rec, "dpo"
        raise ValueError("neither an SFT row (`messages`) nor a DPO row (`prompt`, `chosen`, `rejected`)")
    except ValueError as exc:
        return failed_record(rid, source_id=item_id, capability=cap, error=f"dataset row {item_id}: {exc}"), "failed"


def import_dataset(path: Path, run_dir: Path, *, seed: int = 0) -> dict[str, Any]:
    """Write the dataset's rows as a run's records (once); returns {kinds, rows, problems}."""
    stat = path.stat() if path.is_file() else None
    fingerprint = content_hash(str(path.resolve()), stat.st_size if stat else 0, stat.st_mtime_ns if stat else 0)
    marker = run_dir / "imported.json"
    if marker.is_file() and json.loads(marker.read_text()).get("fingerprint") == fingerprint:
        return json.loads(marker.read_text())
    if run_dir.exists():
        shutil.rmtree(run_dir)  # an interrupted or outdated import is redone from scratch (it is cheap)
    store = RunStore(run_dir)
    store.initialise(config_yaml=f"dataset: {path}\n", fingerprint=fingerprint, seed=seed)
    problems: list[SourceProblem] = []
    kinds: dict[str, int] = {}
    writer = store.writer(fsync_every_s=0)
    try:
        seen: set[str] = set()
        for index, (where, row) in enumerate(_rows(SourceRef(path=str(path)), problems)):
            rec, kind = row_to_record(where, row, index)
            if rec.id in seen:  # a repeated explicit id: keep both rows, the second under a derived id
                rec.id = content_hash(rec.id, index)
            seen.add(rec.id)
            kinds[kind] = kinds.get(kind, 0) + 1
            writer.write_item(where, [rec])
    finally:
        writer.close()
    store.write_source_problems(problems)
    info = {"fingerprint": fingerprint, "dataset": str(path), "kinds": kinds, "problems": len(problems)}
    marker.write_text(json.dumps(info, indent=2))
    return info
