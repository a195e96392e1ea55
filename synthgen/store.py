"""The run directory: durable per-item results and exact resume.

Layout of ``runs/<name>/``::

    config.yaml          the resolved pipeline config
    meta.json            config fingerprint, seed, package versions
    records/shard-NNNNN.jsonl
                         one line per finished source item: {"item": id, "records": [...]}
    records/shard-NNNNN.idx
                         its index: 24 bytes per line (item-id digest, end offset); see store_index.
                         An item retried with --retry-failed has a later line in a later shard,
                         which replaces its failed one when the store is read
    finished.json        what the last finished run saw (shard sizes, sources, exports): a re-run
                         of an unchanged, complete run returns at once
    source_errors.jsonl  unreadable source rows (file:line and reason)
    summary.json         counts and the time split, written at the end of a run
    report.html          the report a person opens in a browser
    export/              exported datasets

Why one line per item: an item counts as done only when its whole line, ending in a newline, is
in the file, so a SIGKILL at any moment leaves either the full line or a torn tail. On open the
store truncates a torn tail (reading only the end of each shard) and loads the done items from the
index sidecars, reading only the shard lines an index lags behind (:mod:`synthgen.store_index`); a
resumed run skips them and writes to a new shard, so nothing is lost, duplicated or half-written. Lines go
straight to the kernel with ``os.write`` (a killed process loses nothing written); ``fsync`` runs
periodically against machine crashes.
"""

from __future__ import annotations

import json
import os
import time
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable, Iterator

import orjson

from synthgen.errors import RunStoreError
from synthgen.records import Record
from synthgen.store_index import IdSet, done_set, entry_bytes, index_path, superseded_lines

_VERSIONED = ("synthgen", "torch", "transformers", "trl", "datasets", "pydantic", "vllm", "httpx", "docker")


def package_versions() -> dict[str, str]:
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


class RunStore:
    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir)
        self.records_dir = self.dir / "records"

    # --- lifecycle -------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.dir / "meta.json").is_file()

    def meta(self) -> dict:
        try:
            return json.loads((self.dir / "meta.json").read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RunStoreError(f"{self.dir}: not a run directory (meta.json unreadable: {exc})") from None

    def initialise(self, *, config_yaml: str, fingerprint: str, seed: int, force: bool = False,
                   also_accept: tuple[str, ...] = (), changed: Callable[[str], list[str]] | None = None) -> None:
        """Create the run dir, or check an existing one was made by the same config.

        ``also_accept``: fingerprints an earlier version computed for the same config (the meta is
        upgraded); ``changed(old_config_yaml)`` names the fields that differ when refusing. A config
        that differs only in fields that do not change records (an endpoint URL, concurrency) goes on,
        and its config.yaml is rewritten to what runs now."""
        if self.exists():
            meta = self.meta()
            old = meta.get("fingerprint")
            if old != fingerprint and old in also_accept:
                _atomic_write(self.dir / "meta.json", json.dumps({**meta, "fingerprint": fingerprint}, indent=2))
                old = fingerprint
            if old != fingerprint and not force:
                fields = self._changed(changed)
                what = f"changed: {', '.join(fields[:8])}{' ...' if len(fields) > 8 else ''}; " if fields else ""
                raise RunStoreError(
                    f"{self.dir} was made by a different config ({what}fingerprint {old}, now {fingerprint}); "
                    "use --new for a fresh run directory, or --force to keep its records and go on with this config"
                )
            if old == fingerprint:
                config_path = self.dir / "config.yaml"
                if not config_path.is_file() or config_path.read_text() != config_yaml:
                    _atomic_write(config_path, config_yaml)  # e.g. a new endpoint URL: the file says what ran
                return
        self.records_dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "config.yaml").write_text(config_yaml)
        meta = {"fingerprint": fingerprint, "seed": seed, "versions": package_versions(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        _atomic_write(self.dir / "meta.json", json.dumps(meta, indent=2))

    def _changed(self, changed: Callable[[str], list[str]] | None) -> list[str]:
        try:
            return changed((self.dir / "config.yaml").read_text()) if changed else []
        except Exception:  # noqa: BLE001 - a missing or hand-edited config.yaml: refuse without the list
            return []

    # --- reading ---------------------------------------------------------------------------
    def shards(self) -> list[Path]:
        return sorted(self.records_dir.glob("shard-*.jsonl")) if self.records_dir.is_dir() else []

    def repair(self) -> int:
        """Truncate a torn last line in every shard; returns the number of bytes dropped.

        Reads only the end of each shard: its last line must end in a newline and parse."""
        dropped = 0
        for shard in self.shards():
            size = shard.stat().st_size
            good = _last_good_end(shard, size)
            if good != size:
                with shard.open("r+b") as fh:
                    fh.truncate(good)
                dropped += size - good
        return dropped

    def _lines(self) -> Iterator[dict]:
        for shard, lineno, line in self._raw_lines():
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                raise RunStoreError(f"{shard}:{lineno}: corrupt line in the middle of a shard") from None

    def _raw_lines(self) -> Iterator[tuple[Path, int, bytes]]:
        shards = self.shards()
        # lines of failed items that a retry replaced (--retry-failed): the item's last line wins
        replaced = superseded_lines((s, s.stat().st_size) for s in shards)
        for n, shard in enumerate(shards):
            skip = replaced.get(n, ())
            with shard.open("rb") as fh:
                end = 0
                for lineno, line in enumerate(fh, 1):
                    if not line.endswith(b"\n"):
                        return  # torn tail of a run still being written; repair() drops it
                    end += len(line)
                    if end not in skip:
                        yield shard, lineno, line

    def failed_items(self) -> IdSet:
        """Digests of the items whose current line holds a failed record (what --retry-failed redoes)."""
        failed = IdSet()
        for _, _, line in self._raw_lines():
            # a record's status is stored only when it is "failed" (defaults are left out): only lines
            # holding that text are parsed (a metadata field of that name is told apart by the parse)
            if b'"status":"failed"' in line:
                entry = orjson.loads(line)
                if any(rec.get("status") == "failed" for rec in entry["records"]):
                    failed.add(entry["item"])
        return failed

    def done_items(self) -> set[str]:
        """Every done item id as a string (reads every shard; runs use :meth:`done_index`)."""
        return {entry["item"] for entry in self._lines()}

    def done_index(self) -> IdSet:
        """The done items as a compact set, from the index sidecars (call :meth:`repair` first)."""
        return done_set((shard, shard.stat().st_size) for shard in self.shards())

    def state(self) -> list[list]:
        """(name, size) of every shard: changes whenever an item is written."""
        return [[shard.name, shard.stat().st_size] for shard in self.shards()]

    def raw_entries(self) -> Iterator[dict]:
        """The stored lines as dicts ({"item", "records": [record dicts]}), in write order."""
        return self._lines()

    def stored_records(self) -> Iterator[dict]:
        """Every finished record in its stored form (``Record.to_json``'s dict), in write order."""
        for entry in self._lines():
            yield from entry["records"]

    def records(self) -> Iterator[Record]:
        """Every finished record, in write order."""
        for entry in self._lines():
            for rec in entry["records"]:
                yield Record.model_validate(rec)

    def sorted_records(self) -> list[Record]:
        """Every record in memory, sorted by id (small runs and tests; a run streams instead)."""
        return sorted(self.records(), key=lambda r: r.id)

    # --- writing ---------------------------------------------------------------------------
    def writer(self, fsync_every_s: float = 1.0) -> "ShardWriter":
        index = len(self.shards())
        return ShardWriter(self.records_dir / f"shard-{index:05d}.jsonl", fsync_every_s)

    def write_json(self, name: str, data: object) -> Path:
        path = self.dir / name
        _atomic_write(path, json.dumps(data, indent=2, sort_keys=True))
        return path

    def write_source_problems(self, problems: Iterable[object]) -> None:
        """Rewrite the list of unreadable source rows (sources are re-read on resume)."""
        lines = [json.dumps({"where": p.where, "message": p.message}) + "\n" for p in problems]  # type: ignore[attr-defined]
        path = self.dir / "source_errors.jsonl"
        if lines:
            _atomic_write(path, "".join(lines))
        elif path.exists():
            path.unlink()


class ShardWriter:
    """Appends one complete line per finished item with a single ``os.write``, then its index
    entry (buffered: an index behind its shard is caught up on the next open, never ahead)."""

    _INDEX_FLUSH = 2048

    def __init__(self, path: Path, fsync_every_s: float) -> None:
        self.path = path
        self._fd: int | None = None
        self._fsync_every = fsync_every_s
        self._last_sync = time.monotonic()
        self._size = 0
        self._pending: list[bytes] = []

    def write_item(self, item_id: str, records: list[Record]) -> None:
        self.write_encoded(item_id, [r.to_json() for r in records])

    def write_encoded(self, item_id: str, records_json: list[bytes]) -> None:
        """Same as :meth:`write_item` for records already serialised with ``Record.to_json``."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._size = os.fstat(self._fd).st_size
        line = b'{"item":' + orjson.dumps(item_id) + b',"records":[' + b",".join(records_json) + b"]}\n"
        _write_all(self._fd, line)
        self._size += len(line)
        self._pending.append(entry_bytes(item_id, self._size))
        if len(self._pending) >= self._INDEX_FLUSH:
            self._flush_index()
        if self._fsync_every and time.monotonic() - self._last_sync >= self._fsync_every:
            os.fsync(self._fd)
            self._last_sync = time.monotonic()

    def _flush_index(self) -> None:
        if not self._pending:
            return
        fd = os.open(index_path(self.path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            _write_all(fd, b"".join(self._pending))
        finally:
            os.close(fd)
        self._pending = []

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            self._flush_index()
            os.close(self._fd)
            self._fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # os.write may write less than asked on some filesystems
        view = view[os.write(fd, view):]


def _last_good_end(shard: Path, size: int) -> int:
    """Length of ``shard`` without a torn or unparsable last line, reading only its tail."""
    if size == 0:
        return 0
    window = 1 << 16
    with shard.open("rb") as fh:
        while True:
            start = max(0, size - window)
            fh.seek(start)
            tail = fh.read(size - start)
            if not tail.endswith(b"\n"):
                cut = tail.rfind(b"\n")
                if cut >= 0:
                    return start + cut + 1
            else:
                # a complete-looking last line can still be garbage if the fs reordered writes
                cut = tail.rfind(b"\n", 0, len(tail) - 1)
                if cut >= 0:
                    return size if _parses(tail[cut + 1:]) else start + cut + 1
            if start == 0:  # the whole shard is one line (or a torn one)
                return size if tail.endswith(b"\n") and _parses(tail) else 0
            window *= 4


def _parses(line: bytes) -> bool:
    try:
        orjson.loads(line)
        return True
    except orjson.JSONDecodeError:
        return False


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
