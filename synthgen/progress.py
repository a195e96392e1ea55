"""Live progress of a run (items done, records passed and failed, rate, ETA) and of a training run
(steps, loss), through rich.

On a terminal each shows a live bar. Written to a file or a pipe (CI logs, ``| tee``) a live bar
turns into carriage returns and escape codes, so there each prints a plain line every
``_LINE_EVERY_S`` seconds and one when it ends.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

_LINE_EVERY_S = 30.0


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f} min"


class _Display:
    """A rich bar on a terminal; plain periodic lines elsewhere."""

    def __init__(self, *, total: int, title: str, enabled: bool, file: IO[str] | None = None,
                 transient: bool = False) -> None:
        self.enabled, self.total, self.title = enabled, total, title
        self.console = Console(stderr=file is None, file=file, highlight=False)
        self.live = enabled and self.console.is_terminal
        self.started = self._last_line = time.perf_counter()
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console, disable=not self.live, transient=transient, refresh_per_second=4,
        )
        self._task = self._progress.add_task(escape(title), total=total or None, stats="")
        self.completed = 0
        self.stats = ""

    def set(self, completed: int, stats: str) -> None:
        self.completed, self.stats = completed, stats
        if self.live:
            self._progress.update(self._task, completed=completed, stats=escape(stats))
        elif self.enabled and time.perf_counter() - self._last_line >= _LINE_EVERY_S:
            self.line()

    def line(self, suffix: str = "") -> None:
        self._last_line = time.perf_counter()
        done = f"{self.completed}/{self.total}" if self.total else str(self.completed)
        elapsed = _fmt_s(time.perf_counter() - self.started)
        self.console.print(escape(f"{self.title}: {done} {self.stats} · {elapsed}{suffix}"), soft_wrap=True)

    def start(self) -> None:
        if self.live:
            self._progress.start()

    def stop(self) -> None:
        if self.live:
            self._progress.stop()
        elif self.enabled:
            self.line()
        sys.stderr.flush()


class RunProgress:
    def __init__(self, *, total: int, already_done: int = 0, enabled: bool = True, title: str = "run") -> None:
        self.enabled = enabled
        self._display = _Display(total=total, title=title, enabled=enabled)
        self.console = self._display.console
        self._start = time.perf_counter()
        self._total = total
        self._already = already_done
        if enabled and already_done:
            self.console.print(f"resuming: {already_done} item(s) already done, {total} to go")

    def update(self, tally: Any) -> None:
        if not self.enabled:
            return
        rate = tally.items / max(1e-9, time.perf_counter() - self._start)
        # records only when an item makes other than one record: the line fits 80 columns
        records = f"records {tally.records} | " if tally.records != tally.items else ""
        stats = (f"{records}passed {tally.passed}/{tally.candidates} cand | failed {tally.failed} | "
                 f"{rate:.1f} items/s")
        self._display.set(tally.items, stats)

    def log(self, message: str) -> None:
        if self.enabled:
            self.console.print(message)

    def __enter__(self) -> RunProgress:
        if self.enabled and self._total:
            self._display.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled and (self._total or self._display.completed):
            self._display.stop()


class StepProgress:
    """Steps of one training run with the latest loss; ends with one line: steps, first and last loss,
    time, and where the training library's own log went."""

    def __init__(self, *, total: int, title: str, log_path: Path | None = None, enabled: bool = True,
                 file: IO[str] | None = None) -> None:
        self._display = _Display(total=total, title=title, enabled=enabled, file=file, transient=True)
        self.log_path = log_path
        self.first_loss: float | None = None
        self.last_loss: float | None = None

    def update(self, step: int, *, loss: float | None = None) -> None:
        if loss is not None:
            self.first_loss = loss if self.first_loss is None else self.first_loss
            self.last_loss = loss
        self._display.set(step, f"loss {self.last_loss:.4g}" if self.last_loss is not None else "")

    def set_total(self, total: int) -> None:
        self._display.total = total
        self._display._progress.update(self._display._task, total=total)

    def __enter__(self) -> StepProgress:
        self._display.start()
        return self

    def __exit__(self, *exc: object) -> None:
        d = self._display
        if d.live:
            d._progress.stop()
        if not d.enabled:
            return
        loss = (f"loss {self.first_loss:.4g} → {self.last_loss:.4g}" if self.first_loss is not None
                and self.last_loss is not None else "")
        d.stats = loss
        d.line(f" · library log: {self.log_path}" if self.log_path else "")


def quiet_library_bars() -> None:
    """Turn off the transformers and datasets progress bars (weight loads, shard writes, dataset maps):
    between our stage headers they are noise, and in a log file they are carriage returns."""
    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
