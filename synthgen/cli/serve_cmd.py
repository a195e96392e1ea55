"""`synthgen serve MODEL_DIR`: an OpenAI-compatible server over a local model (or `tiny`)."""

from __future__ import annotations

import typer

from synthgen.cli.main import app, console


@app.command("serve")
def serve(
    model_dir: str = typer.Argument(..., help="local model directory (e.g. a fresh checkpoint), or 'tiny'"),
    host: str = typer.Option("127.0.0.1", help="interface to bind"),
    port: int = typer.Option(8000, help="TCP port"),
    served_model_name: str = typer.Option("", help="model id in /v1/models (default: the directory name)"),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:N"),
    dtype: str = typer.Option("auto", help="auto, float32, bfloat16, float16"),
    max_batch_size: int = typer.Option(64, help="rows per batched model call"),
    batch_wait_ms: float = typer.Option(2.0, help="how long a short queue waits for more requests"),
    max_tokens: int = typer.Option(256, help="default max_tokens when a request gives none"),
    log_level: str = typer.Option("warning", help="uvicorn log level"),
) -> None:
    """Serve MODEL_DIR at http://HOST:PORT/v1 (chat/completions, completions, models)."""
    from pathlib import Path

    import uvicorn
    from pydantic import ValidationError

    from synthgen.errors import ConfigError
    from synthgen.llm.server import create_app
    from synthgen.llm.transformers_backend import TransformersBackend, TransformersConfig

    try:
        config = TransformersConfig(model=model_dir, device=device, dtype=dtype,  # type: ignore[arg-type]
                                    max_batch_size=max_batch_size, batch_wait_ms=batch_wait_ms)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{first['msg']}", field="--" + str(first["loc"][0]).replace("_", "-")) from None
    backend = TransformersBackend(config)
    name = served_model_name or (model_dir if model_dir == "tiny" else Path(model_dir).resolve().name)
    console.print(f"serving [bold]{name}[/] ({backend.local.path}) at http://{host}:{port}/v1")
    uvicorn.run(create_app(backend, served_name=name, default_max_tokens=max_tokens), host=host, port=port,
                log_level=log_level)
