"""The decision log of one processing step: durable per batch, exact on resume.

Layout of ``<run>/process/NN-<processor>/``::

    step.json            fingerprint of this step and every step before it (and of the input)
    out/shard-NNNNN.jsonl one line per finished batch:
                         {"batch": b, "kept": [records], "dropped": [{"id", "reason", "record"}], "stats": {...}}
    work/                the processor's own state for its first pass (embedding cache, plans)
    done.json            written last: totals and the processor's report

A batch counts as done only when its whole line is in a shard (one ``os.write``); a killed step
truncates a torn tail on open, skips the batches it finds and appends the rest to a new shard, so
no decision is lost or written twice. Kept records are the next step's input, in line order.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from synthgen.errors import RunStoreError
from synthgen.records import Record

_BATCH = re.compile(rb'^\{"batch":(\d+),')


class StepLog:
    def __init__(self, step_dir: Path) -> None:
        self.dir = step_dir
        self.out = step_dir / "out"
        self.work = step_dir / "work"

    # --- lifecycle -------------------------------------------------------------------------
    def open(self, fingerprint: str, info: dict[str, Any]) -> bool:
        """Create the step dir, or keep it if made by the same fingerprint; True if it was reset."""
        meta = self.dir / "step.json"
        if meta.is_file():
            try:
                if json.loads(meta.read_text()).get("fingerprint") == fingerprint:
                    self.repair()
                    return False
            except json.JSONDecodeError:
                pass
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.out.mkdir(parents=True)
        self.work.mkdir()
        _atomic_write(meta, json.dumps({"fingerprint": fingerprint, **info}, indent=2, sort_keys=True))
        return True

    def done(self) -> dict[str, Any] | None:
        path = self.dir / "done.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def mark_done(self, info: dict[str, Any]) -> None:
        _atomic_write(self.dir / "done.json", json.dumps(info, indent=2, sort_keys=True, default=str))

    # --- reading ---------------------------------------------------------------------------
    def shards(self) -> list[Path]:
        return sorted(self.out.glob("shard-*.jsonl")) if self.out.is_dir() else []

    def repair(self) -> None:
        for shard in self.shards():
            data = shard.read_bytes()
            if data and not data.endswith(b"\n"):
                with shard.open("r+b") as fh:
                    fh.truncate(data.rfind(b"\n") + 1)

    def _raw_lines(self) -> Iterator[tuple[Path, int, bytes]]:
        for shard in self.shards():
            with shard.open("rb") as fh:
                for lineno, line in enumerate(fh, 1):
                    if line.endswith(b"\n"):
                        yield shard, lineno, line

    def done_batches(self) -> set[int]:
        """Batch numbers already written; read from each line's prefix without parsing the records."""
        out = set()
        for shard, lineno, line in self._raw_lines():
            m = _BATCH.match(line)
            if m is None:
                raise RunStoreError(f"{shard}:{lineno}: not a batch line; delete {self.dir} to redo this step")
            out.add(int(m.group(1)))
        return out

    def lines(self) -> Iterator[dict[str, Any]]:
        for shard, lineno, line in self._raw_lines():
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                raise RunStoreError(f"{shard}:{lineno}: corrupt line; delete {self.dir} to redo this step") from None

    def kept(self) -> Iterator[Record]:
        for entry in self.lines():
            for rec in entry["kept"]:
                yield Record.model_validate(rec)

    def dropped(self) -> Iterator[tuple[Record, str]]:
        for entry in self.lines():
            for d in entry["dropped"]:
                yield Record.model_validate(d["record"]), d["reason"]

    def totals(self) -> tuple[Counter[str], Counter[str]]:
        """(summed stats incl. kept/dropped counts, dropped count per reason kind)."""
        stats: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for entry in self.lines():
            stats["kept"] += len(entry["kept"])
            stats["dropped"] += len(entry["dropped"])
            stats.update(entry.get("stats") or {})
            reasons.update(_reason_kind(d["reason"]) for d in entry["dropped"])
        return stats, reasons

    # --- writing ---------------------------------------------------------------------------
    def writer(self) -> BatchWriter:
        return BatchWriter(self.out / f"shard-{len(self.shards()):05d}.jsonl")


class BatchWriter:
    """One complete line per batch with a single ``os.write`` (a SIGKILL leaves all of it or a torn tail)."""

    def __init__(self, path: Path, fsync_every_s: float = 1.0) -> None:
        self.path = path
        self._fd: int | None = None
        self._fsync_every = fsync_every_s
        self._last_sync = time.monotonic()

    def write_batch(self, batch: int, kept: list[Record], dropped: list[tuple[Record, str]],
                    stats: dict[str, float]) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        drops = b",".join(orjson.dumps({"id": r.id, "reason": why}) [:-1] + b',"record":' + r.to_json() + b"}"
                          for r, why in dropped)
        line = (b'{"batch":' + str(batch).encode() + b',"kept":[' + b",".join(r.to_json() for r in kept)
                + b'],"dropped":[' + drops + b'],"stats":' + orjson.dumps(stats, option=orjson.OPT_SORT_KEYS) + b"}\n")
        view = memoryview(line)
        while view:
            view = view[os.write(self._fd, view):]
        if time.monotonic() - self._last_sync >= self._fsync_every:
            os.fsync(self._fd)
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


def _reason_kind(reason: str) -> str:
    """A reason is `kind; details`: the kind, so a report can count drops per kind."""
    return reason.split(";")[0][:120]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
