"""In-process vLLM (``AsyncLLM``, continuous batching, prefix caching): a thin adapter.

vLLM is the optional extra ``synthgen[vllm]``; it pins its own torch and transformers, so it is
never installed in CI and this module imports it only when the backend is constructed. Without it
the constructor raises :class:`PluginError` naming the two ways out: install the extra, or run
``vllm serve MODEL`` and use the ``openai`` backend against it (same results, separate process).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from synthgen.errors import LLMError, PluginError
from synthgen.llm.base import Completion, LLMBackend, Prompt, SamplingParams

INSTALL_HINT = ("the 'vllm' backend needs vLLM: `pip install 'synthgen[vllm]'` on a CUDA machine, or run "
                "`vllm serve MODEL` and use `backend: openai` with `base_url: http://HOST:8000/v1`")


class VLLMConfig(BaseModel):
    """Options of the ``vllm`` backend (passed to vLLM's ``AsyncEngineArgs``)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(..., description="local model directory")
    dtype: str = "auto"
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int | None = None
    enable_prefix_caching: bool = Field(True, description="share KV cache of common prompt prefixes")
    seed: int = 0
    trust_remote_code: bool = False
    engine_args: dict[str, Any] = Field(default_factory=dict, description="any other AsyncEngineArgs field")


class VLLMBackend(LLMBackend):
    """``vllm``: in-process AsyncLLM engine."""

    name = "vllm"
    version = "0.1"
    Config = VLLMConfig

    def __init__(self, config: VLLMConfig | None = None) -> None:
        try:
            import vllm
        except ImportError:
            raise PluginError(INSTALL_HINT) from None
        super().__init__(config)
        cfg: VLLMConfig = self.config  # type: ignore[assignment]
        from transformers import AutoTokenizer

        self._vllm = vllm
        self.tokenizer = AutoTokenizer.from_pretrained(cfg.model, trust_remote_code=cfg.trust_remote_code)
        args = vllm.AsyncEngineArgs(
            model=cfg.model, dtype=cfg.dtype, tensor_parallel_size=cfg.tensor_parallel_size,
            gpu_memory_utilization=cfg.gpu_memory_utilization, max_model_len=cfg.max_model_len,
            enable_prefix_caching=cfg.enable_prefix_caching, seed=cfg.seed,
            trust_remote_code=cfg.trust_remote_code, **cfg.engine_args)
        self.engine = vllm.AsyncLLMEngine.from_engine_args(args)

    def _encode(self, prompt: Prompt) -> list[int]:
        if isinstance(prompt, str):
            return list(self.tokenizer(prompt)["input_ids"])
        text = self.tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    async def _one(self, prompt: Prompt, params: SamplingParams) -> list[Completion]:
        ids = self._encode(prompt)
        sampling = self._vllm.SamplingParams(
            n=params.n, temperature=params.temperature, top_p=params.top_p,
            top_k=params.top_k if params.top_k > 0 else -1, max_tokens=params.max_tokens,
            stop=list(params.stop) or None, seed=params.seed)
        final = None
        try:
            async for output in self.engine.generate({"prompt_token_ids": ids}, sampling, uuid.uuid4().hex):
                final = output
        except Exception as exc:  # engine failures reach the runner as LLMError
            raise LLMError(f"vLLM engine failed: {type(exc).__name__}: {exc}", transient=False) from exc
        if final is None:
            raise LLMError("vLLM engine returned no output", transient=False)
        return [Completion(text=o.text, finish_reason=str(o.finish_reason or "stop"), prompt_tokens=len(ids),
                           completion_tokens=len(o.token_ids)) for o in final.outputs]

    async def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        import asyncio

        return list(await asyncio.gather(*(self._one(p, params) for p in prompts)))

    async def close(self) -> None:
        shutdown = getattr(self.engine, "shutdown", None)
        if shutdown is not None:
            shutdown()
