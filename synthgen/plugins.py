"""Plugin base classes. A plugin is a name, a pydantic config and one async method.

Generators: ``async generate(item, ctx) -> list[Record]`` for one source item.
Verifiers: ``async verify(record, candidate, ctx) -> Verdict`` for one candidate of a record (the
record holds the prompt and references, the candidate the response being judged).
Sandboxes and LLM backends have their own bases in :mod:`sandboxes.types` and :mod:`synthgen.llm.base`.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from synthgen.records import Candidate, Record, Verdict

if TYPE_CHECKING:
    from synthgen.context import Context


class PluginConfig(BaseModel):
    """Base for plugin configs: unknown keys are an error, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid")


class SourceItem(BaseModel):
    """Base for the source item a generator expects; extra fields are kept and ignored."""

    model_config = ConfigDict(extra="allow")


class Generator(abc.ABC):
    name: ClassVar[str]
    version: ClassVar[str] = "0.1"
    capability: ClassVar[str] = ""
    Config: ClassVar[type[BaseModel]] = PluginConfig
    Item: ClassVar[type[BaseModel]] = SourceItem  # what one source row must look like
    roles: ClassVar[tuple[str, ...]] = ("policy",)  # LLM roles the generator uses

    def __init__(self, config: BaseModel | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @abc.abstractmethod
    async def generate(self, item: Any, ctx: "Context") -> list[Record]:
        """Turn one source item (an instance of ``Item``) into records."""


class Verifier(abc.ABC):
    name: ClassVar[str]
    version: ClassVar[str] = "0.1"
    Config: ClassVar[type[BaseModel]] = PluginConfig

    def __init__(self, config: BaseModel | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @abc.abstractmethod
    async def verify(self, record: Record, candidate: Candidate, ctx: "Context") -> Verdict:
        """Judge one candidate. Never raise for bad model output: return a failed Verdict with feedback."""

    async def close(self) -> None:
        """Release resources (models, pools). Idempotent."""
