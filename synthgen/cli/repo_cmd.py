"""`synthgen repo-graph DIR`: the import graph of a repository, summarised and written to a file."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from synthgen.cli.main import app


@app.command("repo-graph")
def repo_graph(
    repo: Path = typer.Argument(
        ..., help="a directory, a git repository (with --commit) or a .tar.gz/.zip archive"
    ),
    commit: str | None = typer.Option(None, help="read this commit of a git repository"),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="write the graph: .graphml, else node-link JSON"
    ),
    top: int = typer.Option(10, help="how many of the most-depended-on files to list"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Build a repository's import graph (Python and JavaScript/TypeScript, parsed with tree-sitter)."""
    from generators.repo._files import load_repo
    from generators.repo.graph import build_graph, summary, write_graph

    files = load_repo(repo, commit=commit)  # a SourceError becomes one line from the CLI
    graph, stats = build_graph(files)
    info = summary(graph, stats, top)
    if out is not None:
        write_graph(graph, out)
    if as_json:
        typer.echo(json.dumps(info, indent=1))
        return
    console = Console()
    console.print(
        f"[bold]{files.name}[/]: {info['files']} files ({info['python_files']} Python, "
        f"{info['js_files']} JS/TS), {info['edges']} import edges, {info['import_cycles']} import cycles, "
        f"{info['parse_errors']} files with parse errors, {info['unresolved_internal']} unresolved "
        f"internal imports"
    )
    if info["skipped"]:
        console.print("skipped: " + ", ".join(f"{k} {v}" for k, v in info["skipped"].items()))
    if info["edge_kinds"]:
        console.print("import kinds: " + ", ".join(f"{k} {v}" for k, v in info["edge_kinds"].items()))
    table = Table(title="most depended-on files")
    table.add_column("file")
    table.add_column("imported by", justify="right")
    for path, count in info["most_depended_on"]:
        table.add_row(path, str(count))
    console.print(table)
    if out is not None:
        console.print(f"graph written to {out}")
