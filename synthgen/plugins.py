"""Plugin base classes. A plugin is a name, a pydantic config and one async method.

Generators: ``async generate(item, ctx) -> list[Record]`` for one source item.
Verifiers: ``async verify(record, candidate, ctx) -> Verdict`` for one candidate of a record (the
record holds the prompt and references, the candidate the response being judged).
Tools: ``async call(arguments, ctx) -> ToolResult``: one executed tool call (``python``, ``search``, ...).
Processors: ``async process(records, ctx) -> list[Decision]``: one batch of finished records through
one data-processing step (cleaning, topics, quality, dedup, ...), kept or dropped with a reason.
Sandboxes and LLM backends have their own bases in :mod:`sandboxes.types` and :mod:`synthgen.llm.base`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterable

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

    async def close(self) -> None:
        """Release what the generator holds (tool sandboxes, search indexes): called once when its
        run ends, finished or not, so a round of many runs in one process does not keep them."""


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


@dataclass
class ToolResult:
    """What one executed tool call returns: the text the model reads next, whether the call failed,
    and files the call produced (name -> bytes: plots, CSVs) to keep on the trace."""

    output: str
    error: str | None = None
    artifacts: dict[str, bytes] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


class Tool(abc.ABC):
    """An executable tool: a name, a description and JSON schema of its arguments (what the model is
    offered, in the OpenAI ``tools`` form), a pydantic config, and one async ``call``."""

    name: ClassVar[str]
    version: ClassVar[str] = "0.1"
    description: ClassVar[str] = ""
    parameters: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    Config: ClassVar[type[BaseModel]] = PluginConfig

    def __init__(self, config: BaseModel | None = None) -> None:
        self.config = config if config is not None else self.Config()

    def schema(self) -> dict[str, Any]:
        """The OpenAI tool schema offered to the model."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}

    @abc.abstractmethod
    async def call(self, arguments: dict[str, Any], ctx: "Context") -> ToolResult:
        """Execute one call. Never raise for bad arguments or a failing call: return a ToolResult with
        ``error`` set (the trace records it); raise only for transient infrastructure failures."""

    async def close(self) -> None:
        """Release resources (kernels, clients, indexes). Idempotent."""


@dataclass
class Decision:
    """What a processor decided about one record: kept, or dropped with the reason (never silent)."""

    kept: bool = True
    reason: str = ""  # required when ``kept`` is False: it goes to the run store's decision log


class Processor(abc.ABC):
    """One data-processing step over batches of finished records (``process:`` in a pipeline).

    ``process`` returns one :class:`Decision` per record, in order, and writes scores and tags into
    ``record.metadata[name]`` (it may also rewrite a response in place, e.g. ``clean``). A step that
    needs a view of the whole dataset (quartiles, clusters, target shares) sets ``global_view`` and
    gets one ``prepare`` pass over every batch first; it keeps whatever it must not recompute after
    a kill under ``ctx.workdir``. The stage stores decisions per batch, durably and resumably.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "0.1"
    Config: ClassVar[type[BaseModel]] = PluginConfig
    global_view: ClassVar[bool] = False

    def __init__(self, config: BaseModel | None = None) -> None:
        self.config = config if config is not None else self.Config()

    async def prepare(self, batches: Iterable[list[Record]], ctx: Any) -> None:
        """The first pass of a ``global_view`` step (default: nothing)."""

    @abc.abstractmethod
    async def process(self, records: list[Record], ctx: Any) -> list[Decision]:
        """Decide about the records of one batch: one Decision each, in order."""

    def batch_stats(self, records: list[Record], decisions: list[Decision]) -> dict[str, float]:
        """Counters of one batch, stored with its decisions and summed over the step (default: none)."""
        return {}

    def report(self, totals: dict[str, float]) -> dict[str, Any]:
        """The step's report from the summed counters (default: the counters)."""
        return dict(totals)

    async def close(self) -> None:
        """Release resources (embedding models, indexes). Idempotent."""
