"""The LLM backend contract: ``async generate(prompts, SamplingParams) -> completions``.

A prompt is either a chat (a list of messages, rendered with the tokenizer's chat template or sent
to a chat endpoint) or a raw string. ``n`` samples per prompt is first-class: backends encode the
prompt once and draw ``n`` continuations (vLLM / servers share the prefix; the transformers backend
expands the encoded prompt).
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Sequence, Union

from pydantic import BaseModel

from synthgen.records import Message

Prompt = Union[str, list[Message]]


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off: pure temperature sampling
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop)
        return d

    def replace(self, **changes: Any) -> "SamplingParams":
        return SamplingParams(**{**asdict(self), **changes})


@dataclass
class Completion:
    text: str
    finish_reason: str = "stop"  # stop | length | error
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # OpenAI form, when the server parsed them


class LLMBackend(abc.ABC):
    """A model behind one async method. Plugin shape: ``name``, pydantic ``Config``, ``generate``."""

    name: ClassVar[str]
    version: ClassVar[str] = "0.1"
    Config: ClassVar[type[BaseModel]]

    def __init__(self, config: BaseModel | None = None) -> None:
        self.config = config if config is not None else self.Config()

    @property
    def model_name(self) -> str:
        return str(getattr(self.config, "model", self.name))

    @abc.abstractmethod
    async def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        """Return, for each prompt, ``params.n`` completions. Raises :class:`synthgen.errors.LLMError`."""

    async def close(self) -> None:
        """Release connections / models. Idempotent."""
