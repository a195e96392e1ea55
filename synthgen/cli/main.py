"""The `synthgen` command line. Each command group lives in its own module beside this one."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from synthgen.errors import SynthgenError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# our own progress display is the one to read; hub/transformers bars for local loads are noise
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="synthgen: verified post-training data, the Llama 3 way.")
console = Console(stderr=True, soft_wrap=True)  # an error stays on one line, whatever the width


@app.command("tiny-model")
def tiny_model(
    out_dir: Path = typer.Argument(..., help="directory to write the model and tokenizer to"),
    vocab_size: int = typer.Option(512, help="BPE vocabulary size"),
    hidden_size: int = typer.Option(64), layers: int = typer.Option(2), heads: int = typer.Option(4),
    intermediate_size: int = typer.Option(128), seed: int = typer.Option(0),
) -> None:
    """Build a tiny random-weight Llama model with a locally trained tokenizer (offline)."""
    from synthgen.tiny_model import TinyModelSpec, build_tiny_model

    spec = TinyModelSpec(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=layers, num_heads=heads,
                         intermediate_size=intermediate_size, seed=seed)
    path = build_tiny_model(out_dir, spec)
    console.print(f"tiny model written to [bold]{path}[/]")


def _register_subcommands() -> None:
    # Each module adds its commands to `app`; imported here so `synthgen --help` lists them all.
    from synthgen.cli import plugins_cmd, run_cmd  # noqa: F401

    for optional in ("sandbox_cmd", "serve_cmd", "train_cmd", "round_cmd", "repo_cmd", "process_cmd"):
        try:
            __import__(f"synthgen.cli.{optional}")
        except ModuleNotFoundError as exc:
            if exc.name != f"synthgen.cli.{optional}":
                raise


def main() -> None:
    _register_subcommands()
    try:
        app()
    except SynthgenError as exc:
        # escaped: a message holds brackets (`pip install 'synthgen[vllm]'`, `verifiers[0]`) rich would eat
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted; the run directory keeps every finished record, run again to resume")
        sys.exit(130)


if __name__ == "__main__":  # `python -m synthgen.cli.main`: run the imported module's app, not __main__'s copy
    from synthgen.cli.main import main as _main

    _main()
