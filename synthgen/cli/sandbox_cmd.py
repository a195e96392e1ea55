"""`synthgen sandbox build|doctor|exec`: build the image, check the backends, run one file."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import typer
from rich.table import Table

from synthgen.cli.main import app, console
from synthgen.errors import SynthgenError

sandbox_app = typer.Typer(no_args_is_help=True, help="Code-execution sandboxes (Docker pool, bubblewrap).")
app.add_typer(sandbox_app, name="sandbox")

BACKENDS = ("docker", "bubblewrap")


def _make_sandbox(backend: str, pool_size: int):
    if backend == "docker":
        from sandboxes.docker_pool import DockerConfig, DockerSandbox

        return DockerSandbox(DockerConfig(pool_size=pool_size))
    if backend == "bubblewrap":
        from sandboxes.bwrap import BubblewrapSandbox, BwrapConfig

        return BubblewrapSandbox(BwrapConfig(workers=pool_size))
    raise SynthgenError(f"--backend {backend!r}: choose one of {', '.join(BACKENDS)}")


@sandbox_app.command("build")
def build(
    force: bool = typer.Option(False, "--force", help="rebuild even when the cached image matches"),
) -> None:
    """Build the sandbox image offline (debootstrap + docker import), cached by the recipes' hash."""
    from sandboxes.image_build import build_image

    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0
    ):
        raise SynthgenError("the Docker engine is not running; start it with `bash scripts/start_dockerd.sh`")
    result = build_image(force=force, log=lambda msg: console.print(msg, highlight=False))
    print(result.image)


async def _probe(backend: str) -> tuple[bool, str]:
    from sandboxes.types import ExecRequest

    try:
        sandbox = _make_sandbox(backend, 1)
        async with sandbox:
            result = await sandbox.run(ExecRequest(language="python", files={"main.py": "print('ok')"}))
    except SynthgenError as exc:
        return False, str(exc)
    if result.ok and result.stdout_text == "ok\n":
        return True, f"python hello world ran in {result.wall_time_s * 1000:.0f} ms"
    return False, f"test job ended {result.status.value}: {result.error or result.stderr_text[:300]}"


def _languages(backend: str) -> str:
    from sandboxes.recipes import RECIPES

    if backend == "docker":
        return ", ".join(RECIPES)  # all are in the image
    from sandboxes.bwrap import host_languages

    langs = host_languages()
    missing = [name for name, ok in langs.items() if not ok]
    return ", ".join(n for n, ok in langs.items() if ok) + (
        f" (host lacks: {', '.join(missing)})" if missing else ""
    )


@sandbox_app.command("doctor")
def doctor() -> None:
    """Say which sandbox backends work on this machine, and why not."""
    table = Table(title="sandbox backends")
    for column in ("backend", "works", "details", "languages"):
        table.add_column(column)
    working = 0
    for backend in BACKENDS:
        ok, why = asyncio.run(_probe(backend))
        working += ok
        table.add_row(
            backend, "[green]yes[/]" if ok else "[red]no[/]", why, _languages(backend) if ok else ""
        )
    console.print(table)
    if not working:
        raise SynthgenError(
            "no sandbox backend works here: install docker.io or bubblewrap "
            "(bash scripts/install_system_deps.sh), then `make sandbox`"
        )


def _guess_language(path: Path) -> str:
    from sandboxes.recipes import RECIPES

    suffix = path.suffix.lower()
    for recipe in RECIPES.values():
        if Path(recipe.source_file).suffix == suffix:
            return recipe.name
    raise SynthgenError(f"{path}: cannot tell the language from {suffix!r}; pass --language")


@sandbox_app.command("exec")
def exec_file(
    files: list[Path] = typer.Argument(
        ..., help="program file(s); the first is the main file", exists=True, dir_okay=False
    ),
    language: str = typer.Option(None, "--language", "-l", help="recipe name (python, cpp, java, ...)"),
    backend: str = typer.Option("docker", "--backend", "-b", help="docker or bubblewrap"),
    stdin: Path = typer.Option(None, "--stdin", help="file fed to the program's stdin ('-' for ours)"),
    args: list[str] = typer.Option([], "--arg", help="program argument (repeatable)"),
    wall: float = typer.Option(10.0, help="wall-time limit, seconds"),
    memory: int = typer.Option(512, help="memory limit, MiB"),
) -> None:
    """Run a program in the sandbox and print its status, output and timings."""
    from sandboxes.types import ExecRequest, Limits

    lang = language or _guess_language(files[0])
    data = b"" if stdin is None else (sys.stdin.buffer.read() if str(stdin) == "-" else stdin.read_bytes())
    request = ExecRequest(
        language=lang,
        files={f.name: f.read_bytes() for f in files},
        main_file=files[0].name,
        stdin=data,
        argv=tuple(args),
        limits=Limits(wall_time_s=wall, cpu_time_s=wall, memory_mb=memory),
    )

    async def go():
        async with _make_sandbox(backend, 1) as sandbox:
            return await sandbox.run(request)

    result = asyncio.run(go())
    cpu = "-" if result.cpu_time_s is None else f"{result.cpu_time_s:.3f}s"
    peak = "-" if result.peak_memory_mb is None else f"{result.peak_memory_mb} MiB"
    console.print(
        f"status: [bold]{result.status.value}[/]  exit_code: {result.exit_code}  signal: {result.signal}  "
        f"wall: {result.wall_time_s:.3f}s  cpu: {cpu}  peak: {peak}",
        highlight=False,
    )
    if result.compile_output:
        console.print("[bold]compile output:[/]", highlight=False)
        console.print(result.compile_output, highlight=False, markup=False)
    if result.error:
        console.print(f"error: {result.error}", highlight=False, markup=False)
    if result.stderr:
        trunc = " (truncated)" if result.stderr_truncated else ""
        console.print(f"[bold]stderr{trunc}:[/]", highlight=False)
        console.print(result.stderr_text, highlight=False, markup=False, end="")
    sys.stdout.write(result.stdout_text + ("\n[stdout truncated]\n" if result.stdout_truncated else ""))
    raise typer.Exit(0 if result.ok else 1)
