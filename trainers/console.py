"""Keep the training libraries' own output off the console: it goes to ``train.log`` beside the
checkpoint, and the console shows our progress display (synthgen.progress.StepProgress) instead.

What used to land between the round's stage headers: transformers' per-step dicts (its
PrinterCallback prints them), tqdm bars (carriage returns and ANSI codes in a CI log), "LOAD REPORT"
tables when a checkpoint loads into another head, TRL and peft warnings, datasets' map bars.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

LOG_NAME = "train.log"
# the libraries whose python logging goes to the file while a trainer runs
_LIBRARIES = ("transformers", "trl", "peft", "accelerate", "datasets", "torch", "huggingface_hub", "safetensors")


@contextlib.contextmanager
def library_output_to(log_path: Path) -> Iterator[IO[str]]:
    """Inside the block, the libraries' logging, warnings, prints and tqdm bars are written to
    ``log_path``; yields the real stderr, which our own progress display writes to."""
    import datasets

    log_path.parent.mkdir(parents=True, exist_ok=True)
    real_stderr = sys.stderr
    saved = {}
    bars_were_on = datasets.utils.logging.is_progress_bar_enabled()
    with open(log_path, "a", encoding="utf-8") as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        for name in _LIBRARIES:
            lg = logging.getLogger(name)
            saved[name] = (lg.handlers[:], lg.propagate)
            lg.handlers = [handler]
            lg.propagate = False
        datasets.disable_progress_bars()
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
                warnings.showwarning = lambda msg, cat, filename, lineno, file=None, line=None: fh.write(
                    warnings.formatwarning(msg, cat, filename, lineno, line))
                yield real_stderr
        finally:
            for name, (handlers, propagate) in saved.items():
                lg = logging.getLogger(name)
                lg.handlers, lg.propagate = handlers, propagate
            if bars_were_on:
                datasets.enable_progress_bars()


def progress_callback(progress: Any, log_path: Path):
    """A transformers ``TrainerCallback`` that moves ``progress`` (a StepProgress) with each step
    and appends every logged dict (loss, learning rate, ...) to ``log_path`` as a JSON line."""
    from transformers import TrainerCallback

    class _StepProgressCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            progress.set_total(state.max_steps)

        def on_step_end(self, args, state, control, **kwargs):
            progress.update(state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"step": state.global_step, **logs}, default=str) + "\n")
            if "loss" in logs:
                progress.update(state.global_step, loss=float(logs["loss"]))

    return _StepProgressCallback()


def quiet_callbacks(trainer, progress: Any, log_path: Path) -> None:
    """Swap the trainer's printing callbacks (per-step dicts, tqdm) for ours."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(progress_callback(progress, log_path))
