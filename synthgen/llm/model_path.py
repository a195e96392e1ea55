"""Resolve a model setting to a local directory; the special value ``tiny`` builds the offline model.

``tiny`` lets example pipelines and ``synthgen serve tiny`` run with no setup and no hub: the tiny
random-weight model is built once into ``$SYNTHGEN_CACHE/tiny-model`` (default
``~/.cache/synthgen/tiny-model``) and reused. The build goes to a temporary sibling directory that
is renamed into place, so two processes building at once never see a half-written model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from synthgen.errors import ConfigError

TINY = "tiny"


def cache_dir() -> Path:
    return Path(os.environ.get("SYNTHGEN_CACHE") or Path.home() / ".cache" / "synthgen")


def tiny_model_dir() -> Path:
    """The cached tiny model, built on first use."""
    target = cache_dir() / "tiny-model"
    if (target / "config.json").exists():
        return target
    from synthgen.tiny_model import build_tiny_model

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-model-", dir=target.parent))
    try:
        build_tiny_model(staging)
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / "config.json").exists():  # lost a race only if the winner finished
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model_path(model: str, *, field: str = "model") -> Path:
    """A local model directory for ``model`` (a path, or ``tiny``); ConfigError naming the fix otherwise."""
    if model == TINY:
        return tiny_model_dir()
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"model directory '{model}' does not exist; give a local checkout with config.json and the "
            f"tokenizer (no hub access), or `tiny` for the built-in offline model", field=field)
    if not (path / "config.json").exists():
        raise ConfigError(f"'{model}' has no config.json; point at a Hugging Face model directory "
                          f"(e.g. the output of `synthgen train` or `synthgen tiny-model DIR`)", field=field)
    return path
