"""The run directory: durable per-item results and exact resume.

Layout of ``runs/<name>/``::

    config.yaml          the resolved pipeline config
    meta.json            config fingerprint, seed, package versions
    records/shard-NNNNN.jsonl
                         one line per finished source item: {"item": id, "records": [...]}
    source_errors.jsonl  unreadable source rows (file:line and reason)
    summary.json         counts and the time split, written at the end of a run
    report.html          the report a person opens in a browser
    export/              exported datasets

Why one line per item: an item counts as done only when its whole line, ending in a newline, is
in the file, so a SIGKILL at any moment leaves either the full line or a torn tail. On open the
store truncates a torn tail and rebuilds the index of done items from the shards; a resumed run
skips them and writes to a new shard, so nothing is lost, duplicated or half-written. Lines go
straight to the kernel with ``os.write`` (a killed process loses nothing written); ``fsync`` runs
periodically against machine crashes.
"""

from __future__ import annotations

import json
import os
import time
from importlib import metadata
from pathlib import Path
from typing import Iterable, Iterator

import orjson

from synthgen.errors import RunStoreError
from synthgen.records import Record

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

    def initialise(self, *, config_yaml: str, fingerprint: str, seed: int, force: bool = False) -> None:
        """Create the run dir, or check an existing one was made by the same config."""
        if self.exists():
            old = self.meta().get("fingerprint")
            if old != fingerprint and not force:
                raise RunStoreError(
                    f"{self.dir} was made by a different config (fingerprint {old}, now {fingerprint}); "
                    "use --new for a fresh run directory, or --force to keep its records and go on with this config"
                )
            if old == fingerprint:
                return
        self.records_dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "config.yaml").write_text(config_yaml)
        meta = {"fingerprint": fingerprint, "seed": seed, "versions": package_versions(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
        _atomic_write(self.dir / "meta.json", json.dumps(meta, indent=2))

    # --- reading ---------------------------------------------------------------------------
    def shards(self) -> list[Path]:
        return sorted(self.records_dir.glob("shard-*.jsonl")) if self.records_dir.is_dir() else []

    def repair(self) -> int:
        """Truncate a torn last line in every shard; returns the number of bytes dropped."""
        dropped = 0
        for shard in self.shards():
            data = shard.read_bytes()
            good = len(data)
            if data and not data.endswith(b"\n"):
                good = data.rfind(b"\n") + 1
            else:
                # a complete-looking last line can still be garbage if the fs reordered writes
                last_start = data.rfind(b"\n", 0, max(0, len(data) - 1)) + 1
                if data and not _parses(data[last_start:]):
                    good = last_start
            if good != len(data):
                with shard.open("r+b") as fh:
                    fh.truncate(good)
                dropped += len(data) - good
        return dropped

    def _lines(self) -> Iterator[dict]:
        for shard in self.shards():
            with shard.open("rb") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.endswith(b"\n"):
                        return  # torn tail of a run still being written; repair() drops it
                    try:
                        yield orjson.loads(line)
                    except orjson.JSONDecodeError:
                        raise RunStoreError(f"{shard}:{lineno}: corrupt line in the middle of a shard") from None

    def done_items(self) -> set[str]:
        return {entry["item"] for entry in self._lines()}

    def records(self) -> Iterator[Record]:
        """Every finished record, in write order."""
        for entry in self._lines():
            for rec in entry["records"]:
                yield Record.model_validate(rec)

    def sorted_records(self) -> list[Record]:
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
    """Appends one complete line per finished item with a single ``os.write``."""

    def __init__(self, path: Path, fsync_every_s: float) -> None:
        self.path = path
        self._fd: int | None = None
        self._fsync_every = fsync_every_s
        self._last_sync = time.monotonic()

    def write_item(self, item_id: str, records: list[Record]) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        body = b",".join(r.to_json() for r in records)
        line = b'{"item":' + orjson.dumps(item_id) + b',"records":[' + body + b"]}\n"
        view = memoryview(line)
        while view:  # os.write may write less than asked on some filesystems
            view = view[os.write(self._fd, view):]
        if self._fsync_every and time.monotonic() - self._last_sync >= self._fsync_every:
            os.fsync(self._fd)
            self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


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
