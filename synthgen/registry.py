"""Plugin registry over entry points.

Groups: ``synthgen.generators``, ``synthgen.verifiers``, ``synthgen.sandboxes``, ``synthgen.llms``,
``synthgen.tools``, ``synthgen.processors``.
Built-ins are registered through the same entry points in our ``pyproject.toml``, so a third-party
package adds a plugin with one line in its own ``pyproject.toml`` and never touches ours. A plugin
is validated when it loads: it must be a class of the right base with a ``name``, a pydantic
``Config`` and its async method; a broken plugin raises :class:`PluginError` naming it.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from pydantic import BaseModel, ValidationError

from synthgen.errors import PluginError

KINDS: dict[str, str] = {
    "generator": "synthgen.generators",
    "verifier": "synthgen.verifiers",
    "sandbox": "synthgen.sandboxes",
    "llm": "synthgen.llms",
    "tool": "synthgen.tools",
    "processor": "synthgen.processors",
}
_METHODS = {"generator": "generate", "verifier": "verify", "sandbox": "run", "llm": "generate",
            "tool": "call", "processor": "process"}


def _base(kind: str) -> type:
    if kind == "generator":
        from synthgen.plugins import Generator as base
    elif kind == "verifier":
        from synthgen.plugins import Verifier as base
    elif kind == "sandbox":
        from sandboxes.types import Sandbox as base
    elif kind == "tool":
        from synthgen.plugins import Tool as base
    elif kind == "processor":
        from synthgen.plugins import Processor as base
    else:
        from synthgen.llm.base import LLMBackend as base
    return base


@dataclass
class Registry:
    """Entry-point plugins plus any registered in code (``register``), by kind and name."""

    extra: dict[str, dict[str, type]] = field(default_factory=lambda: {k: {} for k in KINDS})

    def names(self, kind: str) -> list[str]:
        self._check_kind(kind)
        eps = {ep.name for ep in metadata.entry_points(group=KINDS[kind])}
        return sorted(eps | set(self.extra[kind]))

    def register(self, kind: str, cls: type) -> type:
        """Register a plugin class in code (tests, notebooks). Validates it like an entry point."""
        self._check_kind(kind)
        validate_plugin(kind, cls, origin=f"{cls.__module__}.{cls.__qualname__}")
        self.extra[kind][cls.name] = cls
        return cls

    def load(self, kind: str, name: str, *, where: str = "") -> type:
        """The plugin class; ``where`` (``file: field.path``) prefixes the error of an unknown name."""
        self._check_kind(kind)
        if name in self.extra[kind]:
            return self.extra[kind][name]
        eps = [ep for ep in metadata.entry_points(group=KINDS[kind]) if ep.name == name]
        if not eps:
            known = ", ".join(self.names(kind)) or "none"
            raise PluginError(f"{where + ': ' if where else ''}unknown {kind} plugin '{name}'; installed: {known} "
                              "(see `synthgen plugins`)")
        ep = eps[0]
        try:
            cls = ep.load()
        except Exception as exc:  # a broken third-party module must not take the run down silently
            raise PluginError(
                f"{kind} plugin '{name}' ({ep.value}) failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        validate_plugin(kind, cls, origin=ep.value)
        if cls.name != name:
            raise PluginError(f"{kind} plugin '{name}' ({ep.value}) declares name '{cls.name}'; they must match")
        return cls

    def create(self, kind: str, name: str, options: dict[str, Any] | None, *, where: str = "") -> Any:
        """Instantiate a plugin with validated options; errors name the config field path."""
        cls = self.load(kind, name)
        try:
            config = cls.Config.model_validate(options or {})
        except ValidationError as exc:
            from synthgen.config import format_validation_error

            raise PluginError(format_validation_error(exc, prefix=where or f"{kind}.{name}.options")) from None
        return cls(config)

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in KINDS:
            raise PluginError(f"unknown plugin kind '{kind}'; kinds: {', '.join(KINDS)}")


def validate_plugin(kind: str, cls: Any, *, origin: str) -> None:
    base = _base(kind)
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        raise PluginError(f"{kind} plugin {origin} is not a subclass of {base.__module__}.{base.__name__}")
    if not isinstance(getattr(cls, "name", None), str) or not cls.name:
        raise PluginError(f"{kind} plugin {origin} has no `name` class attribute")
    config = getattr(cls, "Config", None)
    if not (inspect.isclass(config) and issubclass(config, BaseModel)):
        raise PluginError(f"{kind} plugin {origin} has no pydantic `Config` class")
    method = getattr(cls, _METHODS[kind], None)
    if method is None or not inspect.iscoroutinefunction(method) or getattr(method, "__isabstractmethod__", False):
        raise PluginError(f"{kind} plugin {origin} must implement `async def {_METHODS[kind]}(...)`")


def _short_repr(value: Any, limit: int = 60) -> str:
    """A default as `synthgen plugins` shows it: long ones (a whole taxonomy) cut, with their size."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} entries)" if isinstance(value, (dict, list, tuple, set)) else ""
    return text[: limit - 1] + "…" + size


def describe(cls: type) -> list[tuple[str, str, str]]:
    """(field, type, default) rows of a plugin's config, for `synthgen plugins`."""
    rows = []
    for fname, info in cls.Config.model_fields.items():
        ann = getattr(info.annotation, "__name__", None) or str(info.annotation).replace("typing.", "")
        default = "required" if info.is_required() else _short_repr(info.get_default(call_default_factory=True))
        rows.append((fname, ann, default))
    return rows


default_registry = Registry()
