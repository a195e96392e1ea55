"""Compact, exact sets of item ids and the per-shard index sidecar of the run store.

A million item ids as Python strings in a set cost ~150 MB; here each id costs 16 bytes: its
128-bit BLAKE2b digest, kept as two sorted ``uint64`` arrays (collisions between different ids have
a probability of about n²/2¹²⁹, i.e. never at any size a run reaches). New ids wait in a small
Python set and are merged into the arrays in blocks; a bitmap of the digests' low bits answers most
"not in the set" questions without touching the arrays.

The sidecar ``records/shard-NNNNN.idx`` holds one 24-byte entry per line of its shard: the digest
of the item id and the byte offset where the line ends. The writer appends entries after the line
itself (buffered), so after a kill the index may lag behind its shard but never runs ahead of it;
:func:`load_shard_index` checks the entries against the shard and reads only the lines past the last
indexed offset (or the whole shard when the sidecar is missing or inconsistent), then rewrites it.
Knowing which items are done therefore costs reading 24 bytes per item, not every record.

An item has more than one line only after ``synthgen run --retry-failed``: the retry appends the
item's new line to a new shard and leaves the failed one in place (append-only, so a kill during a
retry loses nothing). The last line of an item wins; :func:`superseded_lines` finds the earlier
ones from the sidecars, and the store skips them when it reads.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import orjson

ENTRY = np.dtype([("hi", "<u8"), ("lo", "<u8"), ("end", "<u8")])
_BITMAP_BITS = 1 << 25  # 4 MiB: ~3% false "maybe" at a million ids, which then costs one array search
_MERGE_AT = 1 << 16


def id_digest(item_id: str) -> bytes:
    return hashlib.blake2b(item_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class IdSet:
    """An exact set of string ids in 16 bytes each (plus a fixed 4 MiB bitmap)."""

    def __init__(self) -> None:
        self._hi = np.empty(0, np.uint64)
        self._lo = np.empty(0, np.uint64)
        self._recent: set[bytes] = set()
        self._bits = bytearray(_BITMAP_BITS // 8)

    @classmethod
    def from_arrays(cls, hi: np.ndarray, lo: np.ndarray) -> "IdSet":
        out = cls()
        order = np.lexsort((lo, hi))
        hi, lo = hi[order], lo[order]
        if len(hi) > 1:  # an item retried has two lines: one entry each, one id in the set
            keep = np.ones(len(hi), bool)
            keep[1:] = (hi[1:] != hi[:-1]) | (lo[1:] != lo[:-1])
            hi, lo = hi[keep], lo[keep]
        out._hi, out._lo = hi, lo
        out._set_bits(out._lo)
        return out

    def __len__(self) -> int:
        return len(self._hi) + len(self._recent)

    def _set_bits(self, lo: np.ndarray) -> None:
        pos = (lo & np.uint64(_BITMAP_BITS - 1)).astype(np.int64)
        bits = np.frombuffer(self._bits, np.uint8)  # a writable view of the bytearray
        np.bitwise_or.at(bits, pos >> 3, (1 << (pos & 7)).astype(np.uint8))

    def add_digest(self, digest: bytes) -> None:
        """Add a digest the caller knows is new (a repeat would only cost 16 bytes, never a wrong answer)."""
        self._recent.add(digest)
        low = int.from_bytes(digest[8:], "little") & (_BITMAP_BITS - 1)
        self._bits[low >> 3] |= 1 << (low & 7)
        if len(self._recent) >= _MERGE_AT:
            self._merge()

    def add(self, item_id: str) -> None:
        digest = id_digest(item_id)
        if not self.contains_digest(digest):
            self.add_digest(digest)

    def _merge(self) -> None:
        # sorted by the high half only (equal highs are compared on the low half at lookup); an
        # insertion costs one new array at a time, not the copies a full re-sort would make
        fresh = np.frombuffer(b"".join(self._recent), np.uint64).reshape(-1, 2)
        self._recent = set()
        fresh = fresh[np.argsort(fresh[:, 0], kind="stable")]
        pos = np.searchsorted(self._hi, fresh[:, 0])
        self._hi = np.insert(self._hi, pos, fresh[:, 0])
        self._lo = np.insert(self._lo, pos, fresh[:, 1])

    def contains_digest(self, digest: bytes) -> bool:
        low = int.from_bytes(digest[8:], "little") & (_BITMAP_BITS - 1)
        if not self._bits[low >> 3] & (1 << (low & 7)):
            return False
        if digest in self._recent:
            return True
        if not len(self._hi):
            return False
        hi, lo = np.frombuffer(digest, np.uint64)
        start, stop = np.searchsorted(self._hi, hi, "left"), np.searchsorted(self._hi, hi, "right")
        return bool((self._lo[start:stop] == lo).any())

    def __contains__(self, item_id: object) -> bool:
        return isinstance(item_id, str) and self.contains_digest(id_digest(item_id))

    def contains_many(self, digests: list[bytes]) -> np.ndarray:
        """Vectorised membership for a block of digests (the resume check of a streamed chunk)."""
        if not digests:
            return np.zeros(0, bool)
        q = np.frombuffer(b"".join(digests), np.uint64).reshape(-1, 2)
        found = np.zeros(len(digests), bool)
        if len(self._hi):
            start = np.searchsorted(self._hi, q[:, 0], "left")
            stop = np.searchsorted(self._hi, q[:, 0], "right")
            one = stop - start == 1  # a hi match has one entry unless two digests share 64 bits
            found[one] = self._lo[start[one]] == q[one, 1]
            for i in np.nonzero(stop - start > 1)[0]:
                found[i] = bool((self._lo[start[i]:stop[i]] == q[i, 1]).any())
        if self._recent:
            for i, d in enumerate(digests):
                found[i] = found[i] or d in self._recent
        return found


class SeenIds:
    """The mapping :func:`synthgen.sources.iter_items` uses to drop repeated ids, in 16 bytes per id.

    It cannot say where an id was first seen (that would cost the string per id)."""

    def __init__(self) -> None:
        self._ids = IdSet()
        self._last: tuple[str, bytes] = ("", b"")

    def __contains__(self, item_id: object) -> bool:
        if not isinstance(item_id, str):
            return False
        digest = id_digest(item_id)
        self._last = (item_id, digest)  # iter_items asks `in` then stores the same id: hash once
        return self._ids.contains_digest(digest)

    def __getitem__(self, item_id: str) -> str:
        return "an earlier row"

    def __setitem__(self, item_id: str, where: str) -> None:
        last_id, digest = self._last
        self._ids.add_digest(digest if last_id == item_id else id_digest(item_id))


# --- the per-shard sidecar ---------------------------------------------------------------------

def index_path(shard: Path) -> Path:
    return shard.with_suffix(".idx")


def entry_bytes(item_id: str, end: int) -> bytes:
    return id_digest(item_id) + end.to_bytes(8, "little")


def _scan_lines(shard: Path, start: int, stop: int) -> Iterator[tuple[str, int]]:
    """(item id, end offset) of each complete line of ``shard`` in [start, stop)."""
    with shard.open("rb") as fh:
        fh.seek(start)
        pos = start
        for line in fh:
            if pos + len(line) > stop or not line.endswith(b"\n"):
                return
            pos += len(line)
            yield str(orjson.loads(line)["item"]), pos


def load_shard_index(shard: Path, size: int, *, write: bool = True) -> np.ndarray:
    """The index entries of ``shard`` (its first ``size`` bytes, already repaired), made exact:
    entries past the end are dropped, lines past the last entry are indexed, a missing or
    inconsistent sidecar is rebuilt from the shard. Rewrites the sidecar when it changed (and
    ``write``: a reader beside a running writer leaves the sidecar to it)."""
    path = index_path(shard)
    try:
        raw = path.read_bytes()
    except OSError:
        raw = b""
    usable = len(raw) - len(raw) % ENTRY.itemsize
    entries = np.frombuffer(raw[:usable], ENTRY)
    ends = entries["end"]
    consistent = bool(len(ends) == 0 or (ends[0] > 0 and (np.diff(ends.astype(np.int64)) > 0).all()))
    if consistent:
        keep = int(np.searchsorted(ends, size, "right"))
        entries = entries[:keep]
        if keep and not _ends_line(shard, int(entries["end"][-1])):
            consistent = False
    if not consistent:
        entries = entries[:0]
    start = int(entries["end"][-1]) if len(entries) else 0
    tail = [entry_bytes(item_id, end) for item_id, end in _scan_lines(shard, start, size)] if start < size else []
    if tail:
        entries = np.concatenate([entries, np.frombuffer(b"".join(tail), ENTRY)])
    if write and (len(entries) * ENTRY.itemsize != len(raw) or tail or not consistent):
        tmp = path.with_suffix(".idx.tmp")
        tmp.write_bytes(entries.tobytes())
        os.replace(tmp, path)
    return entries


def _ends_line(shard: Path, end: int) -> bool:
    with shard.open("rb") as fh:
        fh.seek(end - 1)
        return fh.read(1) == b"\n"


def done_set(shards: Iterable[tuple[Path, int]]) -> IdSet:
    """Every item id with a line in the given (shard, size) pairs, from their sidecars."""
    his, los = [], []
    for shard, size in shards:
        entries = load_shard_index(shard, size)
        his.append(entries["hi"].copy())
        los.append(entries["lo"].copy())
        del entries
    if not his:
        return IdSet()
    return IdSet.from_arrays(np.concatenate(his), np.concatenate(los))


def superseded_lines(shards: Iterable[tuple[Path, int]]) -> dict[int, set[int]]:
    """Lines replaced by a later line of the same item: {shard position: end offsets}. Empty
    (after one vectorised pass over the sidecars) unless failed items were retried."""
    shards = list(shards)
    # first the common case, in 16 bytes per line: no two lines share the high half of their
    # digest, so no item has two lines (the full pass below peaks at ~90 bytes per line)
    highs = [load_shard_index(shard, size, write=False)["hi"].copy() for shard, size in shards]
    if not highs:
        return {}
    high = np.sort(np.concatenate(highs))
    del highs
    if not (high[1:] == high[:-1]).any():
        return {}
    del high
    his, los, where, ends = [], [], [], []
    for n, (shard, size) in enumerate(shards):
        entries = load_shard_index(shard, size, write=False)
        his.append(entries["hi"])
        los.append(entries["lo"])
        ends.append(entries["end"])
        where.append(np.full(len(entries), n, np.int64))
    if not his:
        return {}
    hi, lo = np.concatenate(his), np.concatenate(los)
    end, shard_no = np.concatenate(ends), np.concatenate(where)
    order = np.lexsort((end, shard_no, lo, hi))  # by id, then in write order: the last line wins
    hi, lo = hi[order], lo[order]
    replaced = np.nonzero((hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1]))[0]  # each has a later twin
    out: dict[int, set[int]] = {}
    for i in order[replaced]:
        out.setdefault(int(shard_no[i]), set()).add(int(end[i]))
    return out
