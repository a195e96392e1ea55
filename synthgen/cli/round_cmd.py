"""`synthgen round CONFIG`: run (or resume) the generate -> verify -> select -> train -> eval rounds."""

from __future__ import annotations

from pathlib import Path

import typer

from synthgen.cli.main import app, console


@app.command("round")
def round_command(
    config: Path = typer.Argument(..., help="round config YAML (see examples/demo_round.yaml)"),
    rounds: int = typer.Option(None, "--rounds", min=0, help="rounds after round 0 (overrides the config)"),
    force: bool = typer.Option(False, "--force", help="discard the run directory and start over"),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="where run directories live"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="live progress on long stages"),
) -> None:
    """Run the Llama 3 post-training loop; a killed run restarted skips the stages it finished."""
    from synthgen.progress import quiet_library_bars
    from synthgen.round import load_round_config, run_rounds

    cfg = load_round_config(config, rounds=rounds)
    # The loop prints a header per stage; the bars of every dataset map and weight load in between
    # would bury it. Training shows our own step progress; the libraries' log goes to train.log.
    quiet_library_bars()
    run_rounds(cfg, runs_dir=runs_dir, force=force, progress=progress, console=console)
