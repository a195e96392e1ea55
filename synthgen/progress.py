"""Live progress of a run: items done, records passed and failed, rate, ETA (rich)."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class RunProgress:
    def __init__(self, *, total: int, already_done: int = 0, enabled: bool = True, title: str = "run") -> None:
        self.enabled = enabled
        self.console = Console(stderr=True)
        self._start = time.perf_counter()
        self._total = total
        self._already = already_done
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console, disable=not enabled, transient=False,
            refresh_per_second=4 if self.console.is_terminal else 0.2,
        )
        self._task = self._progress.add_task(title, total=total, stats="")
        if enabled and already_done:
            self.console.print(f"resuming: {already_done} item(s) already done, {total} to go")

    def update(self, tally: Any) -> None:
        if not self.enabled:
            return
        rate = tally.items / max(1e-9, time.perf_counter() - self._start)
        stats = (f"records {tally.records} | passed {tally.passed}/{tally.candidates} cand | "
                 f"failed {tally.failed} | {rate:.1f} items/s")
        self._progress.update(self._task, completed=tally.items, stats=stats)

    def log(self, message: str) -> None:
        if self.enabled:
            self.console.print(message)

    def __enter__(self) -> "RunProgress":
        if self.enabled and self._total:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._progress.stop()
            sys.stderr.flush()
