"""Variants of one round config, run one after the other and compared round by round.

``variants: {cot: {...}, tir: {...}}`` in a round config: each variant is a partial config merged
over the rest of the file (mappings merge key by key, anything else replaces), run by the ordinary
:class:`RoundLoop` into ``runs/<name>/<variant>/`` (so each resumes stage by stage on its own), then
held-out pass@1 per round of every variant goes into one table, printed and written to
``runs/<name>/comparison.md`` and ``comparison.json``. Every variant is validated before the first
one starts, so a typo in the last variant costs nothing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from synthgen.config import format_validation_error
from synthgen.errors import ConfigError
from synthgen.round.config import RoundConfig
from synthgen.round.stages import write_json_atomic

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return override


def variant_configs(cfg: RoundConfig) -> dict[str, RoundConfig]:
    """One full round config per variant; errors name ``variants.<variant>.<field>``."""
    base = cfg.model_dump(mode="json", exclude={"variants"})
    out = {}
    for name, override in cfg.variants.items():
        if not _NAME.match(name):
            raise ConfigError("a variant name is a directory name: letters, digits, '.', '_', '-'",
                              field=f"variants.{name}")
        if not isinstance(override, dict) or "variants" in override or "name" in override:
            raise ConfigError("a variant is a partial round config without `name` or `variants`",
                              field=f"variants.{name}")
        try:
            sub = RoundConfig.model_validate({**_merge(base, override), "name": name})
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, prefix=f"variants.{name}")) from None
        sub.base_dir = cfg.base_dir
        out[name] = sub
    return out


def comparison_rows(results: dict[str, list[dict[str, Any]]]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: per round, each variant's held-out pass@1, verified yield and SFT rows."""
    names = list(results)
    headers = ["round"] + [f"{n} pass@1" for n in names] + [f"{n} yield" for n in names] + \
        [f"{n} SFT rows" for n in names]

    def cell(metrics: list[dict[str, Any]], r: int, what: str) -> str:
        if r >= len(metrics):
            return "-"
        m = metrics[r]
        if what == "pass":
            return f"{m['eval']['pass_at_1']:.3f}"
        if what == "yield":
            gen = m.get("generate")
            return f"{gen['verified_yield']:.3f}" if gen else "-"
        return str(((m.get("train") or {}).get("sft") or {}).get("rows", "-"))

    rows = []
    for r in range(max(len(m) for m in results.values())):
        rows.append([str(r)] + [cell(results[n], r, what) for what in ("pass", "yield", "rows") for n in names])
    return headers, rows


def _wall(metrics: list[dict[str, Any]]) -> float:
    return sum(sum(m.get("wall_s", {}).values()) for m in metrics)


def write_comparison(run_dir: Path, name: str, results: dict[str, list[dict[str, Any]]]) -> Path:
    headers, rows = comparison_rows(results)
    md = [f"# Variant comparison: {name}", "",
          ("Held-out greedy pass@1 of each variant's policy after each round (round 0 = SFT on the seed "
           "demonstrations); `yield` = verified share of the round's K samples; `SFT rows` = rows that "
           "round trained on."), "",
          "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += ["", "Stage wall time: " + ", ".join(f"{n} {_wall(m):.0f} s" for n, m in results.items()) + "."]
    path = run_dir / "comparison.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(md) + "\n")
    write_json_atomic(run_dir / "comparison.json", {
        "name": name, "headers": headers, "rows": rows,
        "pass_at_1": {n: [m["eval"]["pass_at_1"] for m in ms] for n, ms in results.items()},
        "wall_s": {n: round(_wall(ms), 1) for n, ms in results.items()}})
    return path


def run_variants(cfg: RoundConfig, *, runs_dir: Path = Path("runs"), force: bool = False,
                 console: Console | None = None, **kwargs: Any) -> list[dict[str, Any]]:
    """Run every variant's rounds, then print and write the comparison; returns one row per round."""
    from synthgen.round.loop import RoundLoop

    console = console or Console(stderr=True)
    configs = variant_configs(cfg)
    run_dir = Path(runs_dir) / cfg.name
    if force and run_dir.exists():
        shutil.rmtree(run_dir)
    results: dict[str, list[dict[str, Any]]] = {}
    for name, sub in configs.items():
        console.rule(f"[bold]variant {name}[/]", style="magenta")
        results[name] = RoundLoop(sub, runs_dir=run_dir, console=console, **kwargs).run()
    headers, rows = comparison_rows(results)
    table = Table(title=f"{cfg.name}: held-out pass@1 by round")
    for h in headers:
        table.add_column(h, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    path = write_comparison(run_dir, cfg.name, results)
    console.print(f"comparison: [bold]{path}[/]")
    return [dict(zip(headers, row)) for row in rows]
