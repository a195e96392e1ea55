"""Local Hugging Face model behind a micro-batcher (CPU or GPU).

Concurrent ``generate`` calls from many items are grouped into batched ``model.generate`` calls
(left padding with an attention mask, rows sorted by length). Each prompt is tokenised once and
its ids repeated for the ``n`` samples. Rows with different temperature / top_p / top_k / stop share
a batch: sampling and stopping are per row (see :mod:`synthgen.llm.sampling`). Rows are grouped by
max_tokens (within 2x), since a batch lasts as long as its longest row. The model's own
generation_config sampling defaults are not used: SamplingParams alone decide.

Determinism: with a ``seed``, a sample's random stream is a pure function of (seed, sample index,
step), so the same prompt and seed give the same tokens alone or in any batch, on the same device,
dtype and library versions. What batching can still change: padding and batch shape alter the
floating-point rounding of the logits, which can flip a near-tie (rare in fp32, more likely in
bf16/fp16 on GPU). Prompts in one call that share the seed draw from the same streams, as they
would in separate requests to a server. Without a seed each call draws a fresh random seed.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from synthgen.errors import LLMError
from synthgen.llm.base import Completion, LLMBackend, Prompt, SamplingParams
from synthgen.llm.microbatch import MicroBatcher, Row
from synthgen.llm.model_path import TINY, resolve_model_path
from synthgen.llm.sampling import RowSampling, RowStopper, SeededSampler, cut_at_stop, row_seed


class TransformersConfig(BaseModel):
    """Options of the ``transformers`` backend."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(TINY, description="local model directory, or 'tiny' for the built-in offline model")
    device: str = Field("auto", description="auto (cuda if available, else cpu), cpu, cuda, cuda:1, ...")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bfloat16 on cuda, float32 on cpu")
    max_batch_size: int = Field(64, ge=1, description="rows (prompt x sample) per model.generate call")
    batch_wait_ms: float = Field(2.0, ge=0, description="how long a short queue waits for more requests")
    trust_remote_code: bool = False


@dataclass(frozen=True)
class _RowSpec:
    sampling: RowSampling
    max_tokens: int
    stop: tuple[str, ...]


class LocalModel:
    """A loaded model + tokenizer and the synchronous batched generate the micro-batcher calls."""

    def __init__(self, config: TransformersConfig) -> None:
        self.config = config
        self.path = resolve_model_path(config.model)
        self._model: Any = None
        self.tokenizer: Any = None
        self._load_tokenizer()
        # The model thread decodes while the event loop encodes; a Rust tokenizer shared across
        # threads can fail with "Already borrowed", so the model thread gets its own copy.
        self._decoder = copy.deepcopy(self.tokenizer)
        self.max_positions = self._read_max_positions()

    def _load_tokenizer(self) -> None:
        from transformers import AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(
                str(self.path), trust_remote_code=self.config.trust_remote_code)
        except Exception as exc:  # report which directory is broken
            raise LLMError(f"cannot load the tokenizer from {self.path}: {type(exc).__name__}: {exc}") from exc

    def _read_max_positions(self) -> int | None:
        import json

        try:
            config = json.loads((self.path / "config.json").read_text())
        except (OSError, ValueError):
            return None
        value = config.get("max_position_embeddings") or config.get("text_config", {}).get("max_position_embeddings")
        return int(value) if isinstance(value, int) and value > 0 else None

    def load(self) -> Any:
        """Load the weights (once); runs on the model thread."""
        if self._model is not None:
            return self._model
        import torch
        from transformers import AutoModelForCausalLM

        device = self.config.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype_name = self.config.dtype
        if dtype_name == "auto":
            dtype_name = "bfloat16" if device.startswith("cuda") else "float32"
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(self.path), dtype=getattr(torch, dtype_name), trust_remote_code=self.config.trust_remote_code)
        except Exception as exc:
            raise LLMError(f"cannot load the model from {self.path}: {type(exc).__name__}: {exc}") from exc
        model.to(device)
        model.eval()
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            eos_ids.add(self.tokenizer.eos_token_id)
        self.eos_ids = eos_ids
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else min(eos_ids) if eos_ids else 0
        self.device = torch.device(device)
        self._model = model
        return model

    # -- prompts ---------------------------------------------------------------------------------
    def encode(self, prompt: Prompt) -> list[int]:
        tok = self.tokenizer
        if isinstance(prompt, str):
            text, add_special = prompt, not (tok.bos_token and prompt.startswith(tok.bos_token))
        else:
            if not isinstance(prompt, list) or not all(isinstance(m, dict) and "role" in m for m in prompt):
                raise LLMError("a chat prompt must be a list of messages with a 'role' each", transient=False)
            if not getattr(tok, "chat_template", None):
                raise LLMError(f"the tokenizer in {self.path} has no chat template; pass raw string prompts",
                               transient=False)
            try:
                text = tok.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
            except Exception as exc:  # a malformed message fails only its caller
                raise LLMError(f"chat template failed on the prompt: {type(exc).__name__}: {exc}",
                               transient=False) from exc
            add_special = False  # the template writes BOS itself
        return list(tok(text, add_special_tokens=add_special)["input_ids"])

    # -- the batched call ------------------------------------------------------------------------
    def run_batch(self, rows: list[Row]) -> list[Completion]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        model = self.load()
        width = max(len(r.ids) for r in rows)
        specs: list[_RowSpec] = [r.spec for r in rows]
        max_new = max(s.max_tokens for s in specs)
        if self.max_positions:
            max_new = min(max_new, self.max_positions - width)
            if max_new <= 0:
                raise LLMError(f"prompt of {width} tokens leaves no room in the model's context of "
                               f"{self.max_positions}", transient=False)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):  # left padding: generation continues from the right edge
            ids[i, width - len(row.ids):] = torch.tensor(row.ids, dtype=torch.long)
            mask[i, width - len(row.ids):] = 1
        sampler = _as_processor(SeededSampler([s.sampling for s in specs], width, self.device))
        stopper = _as_criterion(RowStopper(width, [s.max_tokens for s in specs], [s.stop for s in specs],
                                           self.eos_ids, self._decode))
        gen_config = GenerationConfig(
            max_new_tokens=max_new, do_sample=False, num_beams=1, use_cache=True,
            eos_token_id=sorted(self.eos_ids), pad_token_id=self.pad_id,
            bos_token_id=self.tokenizer.bos_token_id,
        )
        with torch.inference_mode():
            out = model.generate(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device), generation_config=gen_config,
                logits_processor=LogitsProcessorList([sampler]), stopping_criteria=StoppingCriteriaList([stopper]),
            )
        out = out.cpu()
        results = []
        for i, (row, spec) in enumerate(zip(rows, specs)):
            length = stopper.length[i] if stopper.done[i] else min(out.shape[1] - width, spec.max_tokens)
            tokens = out[i, width:width + length].tolist()
            text, cut = cut_at_stop(self._decode(tokens), spec.stop)
            reason = "stop" if cut or (stopper.done[i] and stopper.reason[i] == "stop") else "length"
            results.append(Completion(text=text, finish_reason=reason, prompt_tokens=len(row.ids),
                                      completion_tokens=len(tokens)))
        return results

    def _decode(self, tokens: list[int]) -> str:
        return self._decoder.decode(tokens, skip_special_tokens=True)

    def unload(self) -> None:
        self._model = None


def _max_tokens_bucket(row: Row) -> int:
    """Rows share a batch when their max_tokens are within 2x: a batch runs as long as its longest row."""
    return int(row.spec.max_tokens - 1).bit_length()


def _as_processor(sampler: SeededSampler) -> Any:
    from transformers import LogitsProcessor

    class _Processor(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            return sampler(input_ids, scores)

    return _Processor()


def _as_criterion(stopper: RowStopper) -> Any:
    from transformers import StoppingCriteria

    class _Criterion(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any = None, **kwargs: Any) -> Any:
            return stopper(input_ids, scores)

    crit = _Criterion()
    crit.done, crit.length, crit.reason = stopper.done, stopper.length, stopper.reason  # shared lists
    return crit


class TransformersBackend(LLMBackend):
    """``transformers``: a local model with micro-batching of concurrent requests."""

    name = "transformers"
    version = "0.1"
    Config = TransformersConfig

    def __init__(self, config: TransformersConfig | None = None) -> None:
        super().__init__(config)
        cfg: TransformersConfig = self.config  # type: ignore[assignment]
        self.local = LocalModel(cfg)
        self.batcher: MicroBatcher[Completion] = MicroBatcher(
            self.local.run_batch, max_batch_size=cfg.max_batch_size, wait_s=cfg.batch_wait_ms / 1000.0,
            name="transformers", group_key=_max_tokens_bucket)

    @property
    def model_name(self) -> str:
        return str(self.config.model)  # type: ignore[attr-defined]

    @property
    def tokenizer(self) -> Any:
        return self.local.tokenizer

    async def load(self) -> None:
        """Load the weights now (otherwise the first batch does)."""
        await self.batcher.run_in_worker(self.local.load)

    async def generate(self, prompts: Sequence[Prompt], params: SamplingParams) -> list[list[Completion]]:
        if params.n < 1:
            raise LLMError(f"n must be >= 1, got {params.n}", transient=False)
        if params.max_tokens < 1:
            raise LLMError(f"max_tokens must be >= 1, got {params.max_tokens}", transient=False)
        seed = params.seed if params.seed is not None else secrets.randbits(62)
        rows: list[Row] = []
        for prompt in prompts:
            ids = self.local.encode(prompt)  # once per prompt; the n samples share the ids
            limit = self.local.max_positions
            if limit is not None and len(ids) >= limit:
                raise LLMError(f"prompt of {len(ids)} tokens does not fit the model's context of {limit} tokens",
                               transient=False)
            for j in range(params.n):
                sampling = RowSampling(seed=row_seed(seed, j), temperature=params.temperature,
                                       top_p=params.top_p, top_k=params.top_k)
                rows.append(Row(ids=ids, spec=_RowSpec(sampling, params.max_tokens, tuple(params.stop))))
        flat = await self.batcher.submit(rows)
        return [flat[i * params.n:(i + 1) * params.n] for i in range(len(prompts))]

    async def close(self) -> None:
        await self.batcher.close()
        self.local.unload()  # drop the weights; a closed backend refuses new work
