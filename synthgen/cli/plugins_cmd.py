"""`synthgen plugins`: every installed plugin with its config fields."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from synthgen.cli.main import app
from synthgen.errors import PluginError
from synthgen.registry import KINDS, Registry, describe


@app.command("plugins")
def plugins(kind: str = typer.Option("", help="only this kind: generator, verifier, sandbox, llm, tool, processor")) -> None:
    """List installed plugins (built-in and third-party) with their config fields."""
    registry = Registry()
    out = Console()
    for k in KINDS:
        if kind and k != kind:
            continue
        table = Table(title=f"{k} plugins ({KINDS[k]})", show_lines=True)
        table.add_column("name", style="bold")
        table.add_column("version")
        table.add_column("config fields (type = default)")
        for name in registry.names(k):
            try:
                cls = registry.load(k, name)
            except PluginError as exc:
                table.add_row(name, "-", f"[red]broken: {exc}[/]")
                continue
            fields = "\n".join(f"{f}: {t} = {d}" for f, t, d in describe(cls)) or "(none)"
            table.add_row(name, getattr(cls, "version", ""), fields)
        out.print(table)
