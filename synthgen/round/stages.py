"""Per-stage durability for the round loop: a stage is finished when its done marker exists.

Every stage writes its outputs first and its marker ``<round dir>/done/<stage>.json`` last
(atomically), so a killed ``synthgen round`` restarted skips exactly the finished stages and redoes
the interrupted one from a clean state (its partial outputs are removed first, except for pipeline
runs, which resume record by record on their own).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    tmp.replace(path)
    return path


class RoundDir:
    """``runs/<name>/round_<r>/``: one folder per stage, markers under ``done/``."""

    def __init__(self, run_dir: Path, round_index: int) -> None:
        self.index = round_index
        self.path = run_dir / f"round_{round_index}"

    def stage_dir(self, stage: str) -> Path:
        return self.path / stage

    def marker(self, stage: str) -> Path:
        return self.path / "done" / f"{stage}.json"

    def finished(self, stage: str) -> dict[str, Any] | None:
        marker = self.marker(stage)
        if not marker.is_file():
            return None
        return json.loads(marker.read_text())

    def run(self, stage: str, work: Callable[[Path], dict[str, Any]], *, clean: bool = True,
            on_skip: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Run ``work(stage_dir)`` unless the stage is finished; returns its recorded info.

        ``clean`` removes what an interrupted attempt left (a half-written checkpoint), so a rerun
        starts from the same state as the first attempt and gives the same result.
        """
        done = self.finished(stage)
        if done is not None:
            if on_skip is not None:
                on_skip(stage)
            return done
        out = self.stage_dir(stage)
        if clean and out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        info = work(out)
        info["wall_s"] = round(time.perf_counter() - started, 2)
        write_json_atomic(self.marker(stage), info)
        return info
