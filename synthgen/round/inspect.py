"""`synthgen inspect` / `synthgen report` on a round run: the run (runs/<name>), one round
(runs/<name>/round_<r>) or one stage (runs/<name>/round_<r>/<stage>).

A generate or eval stage holds an ordinary pipeline run directory (``<stage>/<stage>/``), which the
commands treat like any run; a training stage holds a checkpoint and its ``train.log``, and its
numbers (rows, steps, loss) come from the stage's done marker.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from synthgen.round.stages import RoundDir

META = "round_run.json"
STAGES = ("init_model", "generate", "train_rm", "train_sft", "train_dpo", "eval")
_ROUND = re.compile(r"^round_(\d+)$")


@dataclass
class RoundTarget:
    root: Path                # runs/<name>: holds round_run.json and rounds.json
    round: int | None = None  # a round_<r> directory or one of its stages
    stage: str | None = None

    @property
    def run_dir(self) -> Path | None:
        """The pipeline run directory of a generate/eval stage, if it has one."""
        if self.round is None or self.stage is None:
            return None
        inner = RoundDir(self.root, self.round).stage_dir(self.stage) / self.stage
        return inner if (inner / "meta.json").is_file() else None

    @property
    def name(self) -> str:
        return json.loads((self.root / META).read_text()).get("config", {}).get("name", self.root.name)

    def metrics(self) -> list[dict[str, Any]]:
        path = self.root / "rounds.json"
        return json.loads(path.read_text())["rounds"] if path.is_file() else []


def find_round_target(path: Path) -> RoundTarget | None:
    """The round run, round or stage ``path`` names; None when it is not inside a round run."""
    p = path.resolve()
    parts: list[str] = []
    for _ in range(3):
        if (p / META).is_file():
            break
        parts.insert(0, p.name)
        p = p.parent
    else:
        return None
    if not parts:
        return RoundTarget(p)
    m = _ROUND.match(parts[0])
    if m is None or len(parts) > 2 or (len(parts) == 2 and parts[1] not in STAGES):
        return None
    return RoundTarget(p, int(m.group(1)), parts[1] if len(parts) == 2 else None)


def _result(stage: str, info: dict[str, Any]) -> str:
    if stage == "eval":
        return f"pass@1 {info.get('pass_at_1', 0):.3f} on {info.get('prompts')} prompts"
    if stage == "generate":
        return (f"{info.get('samples')} samples, {info.get('passed')} verified, "
                f"{info.get('sft_rows')} SFT rows, {info.get('dpo_pairs')} pairs")
    if stage.startswith("train_"):
        loss = info.get("first_loss"), info.get("last_loss")
        text = f"{info.get('rows', '-')} rows, {info.get('steps')} steps"
        if None not in loss:
            text += f", loss {loss[0]:.3g} → {loss[1]:.3g}"
        if info.get("averaged_runs"):
            text += f", average of {len(info['averaged_runs'])} runs"
        return text
    return "built"


def stage_rows(target: RoundTarget) -> list[list[str]]:
    """(round, stage, result, directory) for each stage there is, finished or not."""
    rows = []
    rounds = sorted(int(m.group(1)) for d in target.root.iterdir() if (m := _ROUND.match(d.name)))
    for r in rounds if target.round is None else [target.round]:
        rdir = RoundDir(target.root, r)
        for stage in STAGES:
            if target.stage not in (None, stage) or not rdir.stage_dir(stage).exists():
                continue
            info = rdir.finished(stage)
            where = RoundTarget(target.root, r, stage).run_dir or rdir.stage_dir(stage)
            result = _result(stage, info) if info is not None else "[yellow]not finished[/]"
            rows.append([str(r), stage, result, str(where.relative_to(target.root))])
    return rows


def print_round_target(target: RoundTarget, console: Console) -> None:
    from synthgen.round.report import print_table

    metrics = target.metrics()
    if target.round is not None:
        metrics = [m for m in metrics if m["round"] == target.round]
    if metrics and target.stage is None:
        print_table(metrics, console, title=f"{target.name}: per-round metrics")
    table = Table(title=f"{target.name}: stages", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for h in ("round", "stage", "result", "directory"):
        table.add_column(h, overflow="fold")
    for row in stage_rows(target):
        table.add_row(*row)
    console.print(table)
    console.print(f"directories are under {target.root}", soft_wrap=True)  # paths stay whole for copying
    if target.stage and target.stage.startswith("train_"):
        checkpoint = RoundDir(target.root, target.round or 0).stage_dir(target.stage) / "checkpoint"
        console.print(f"checkpoint: {checkpoint}", soft_wrap=True)
        if (checkpoint / "train.log").is_file():
            console.print(f"training library log: {checkpoint / 'train.log'}", soft_wrap=True)


def write_round_report(target: RoundTarget) -> Path:
    """Rewrite the round run's report.md and report.html from rounds.json; returns the HTML path."""
    from synthgen.errors import SynthgenError
    from synthgen.round.report import write_reports

    metrics = target.metrics()
    if not metrics:
        raise SynthgenError(f"{target.root}: no finished round yet (rounds.json is missing); nothing to report")
    return write_reports(target.root, target.name, metrics)[1]
