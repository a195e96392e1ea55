"""The ``reward_score`` verifier: a sequence-classification reward model scores each candidate.

Reads ``record.messages`` (the prompt dialog) and ``candidate.messages`` (the response turns),
renders them together with the tokenizer's chat template and scores the sequence with a local
``AutoModelForSequenceClassification`` checkpoint with one output (``num_labels=1``; a Bradley-Terry
reward model such as the ones ``synthgen train rm`` writes).

Concurrent ``verify`` calls (many items, K candidates each) are grouped into padded batches by the
same micro-batcher the transformers LLM backend uses, and run on one model thread. The score is
stored as ``candidate.scores[score_key]`` (default ``"reward"``), which rejection sampling reads;
the verdict passes unless ``min_score`` is set and the score is below it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from synthgen.errors import ConfigError
from synthgen.llm.microbatch import MicroBatcher, Row
from synthgen.plugins import PluginConfig, Verifier
from synthgen.records import Candidate, Message, Record, Verdict


class RewardScoreConfig(PluginConfig):
    model: str = Field(..., description="local directory of a sequence-classification reward model")
    device: str = Field("auto", description="auto (cuda if available, else cpu), cpu, cuda, cuda:1")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    max_batch_size: int = Field(16, ge=1)
    batch_wait_ms: float = Field(5.0, ge=0, description="how long a short queue waits for more candidates")
    max_length: int = Field(4096, ge=8, description="longer dialogs keep their last tokens (the response)")
    min_score: float | None = Field(None, description="fail candidates scoring below this")
    score_key: str = "reward"


class _RewardModel:
    """Tokenizer + model, loaded on first use; ``score_batch`` runs on the micro-batcher's thread."""

    def __init__(self, config: RewardScoreConfig) -> None:
        from transformers import AutoTokenizer

        path = Path(config.model).expanduser()
        if not (path / "config.json").exists():
            raise ConfigError(f"reward model directory {path} has no config.json; point `model` at a "
                              "saved sequence-classification checkpoint", field="verifiers.reward_score.model")
        self.config = config
        self.path = path
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.tokenizer.truncation_side = "left"  # keep the response, drop the oldest context
        self._model: Any = None
        self._lock = threading.Lock()

    def encode(self, messages: list[Message]) -> list[int]:
        tok = self.tokenizer
        if getattr(tok, "chat_template", None):
            text = tok.apply_chat_template(messages, tokenize=False)
        else:
            text = "\n\n".join(f"{m.get('role')}: {m.get('content') or ''}" for m in messages)
        ids = tok(text, add_special_tokens=False, truncation=True, max_length=self.config.max_length)["input_ids"]
        return list(ids)

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import torch
                from transformers import AutoModelForSequenceClassification

                device = self.config.device
                if device == "auto":
                    device = "cuda" if torch.cuda.is_available() else "cpu"
                dtype = {"auto": torch.bfloat16 if device.startswith("cuda") else torch.float32,
                         "float32": torch.float32, "bfloat16": torch.bfloat16,
                         "float16": torch.float16}[self.config.dtype]
                model = AutoModelForSequenceClassification.from_pretrained(str(self.path), dtype=dtype)
                if model.config.num_labels != 1:
                    raise ConfigError(f"reward model {self.path} has num_labels={model.config.num_labels}; "
                                      "a reward model has one output", field="verifiers.reward_score.model")
                if model.config.pad_token_id is None:  # the model finds each row's last token by the pad id
                    model.config.pad_token_id = self.tokenizer.pad_token_id or self.tokenizer.eos_token_id
                self._model = model.to(device).eval()
                self.device = device
        return self._model

    def score_batch(self, rows: Sequence[Row]) -> list[float]:
        import torch

        model = self._load()
        pad = model.config.pad_token_id
        width = max(len(r.ids) for r in rows)
        # Right padding: the classifier reads the last non-pad token of each row.
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row.ids)] = torch.tensor(row.ids, dtype=torch.long)
            mask[i, : len(row.ids)] = 1
        with torch.inference_mode():
            logits = model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)).logits
        return [float(v) for v in logits[:, 0].float().cpu()]


class RewardScoreVerifier(Verifier):
    name: ClassVar[str] = "reward_score"
    Config: ClassVar[type[RewardScoreConfig]] = RewardScoreConfig

    def __init__(self, config: RewardScoreConfig | None = None) -> None:
        super().__init__(config)
        self.config: RewardScoreConfig
        self._model: _RewardModel | None = None
        self._batcher: MicroBatcher[float] | None = None
        self._init_lock = threading.Lock()

    def _ensure(self) -> tuple[_RewardModel, MicroBatcher[float]]:
        with self._init_lock:
            if self._model is None:
                self._model = _RewardModel(self.config)
                self._batcher = MicroBatcher(self._model.score_batch, max_batch_size=self.config.max_batch_size,
                                             wait_s=self.config.batch_wait_ms / 1000, name="reward")
        assert self._batcher is not None
        return self._model, self._batcher

    async def score(self, dialogs: Sequence[list[Message]]) -> list[float]:
        """Scores of whole dialogs (prompt + response messages), batched with concurrent callers."""
        model, batcher = self._ensure()
        return await batcher.submit([Row(ids=model.encode(d), spec=None) for d in dialogs])

    async def verify(self, record: Record, candidate: Candidate, ctx: Any = None) -> Verdict:
        if not candidate.messages:
            return Verdict(verifier=self.name, passed=False, feedback="the candidate has no messages to score")
        [value] = await self.score([list(record.messages) + list(candidate.messages)])
        candidate.scores[self.config.score_key] = value
        min_score = self.config.min_score
        passed = min_score is None or value >= min_score
        return Verdict(verifier=self.name, passed=passed, score=value, details={"reward": value},
                       feedback="" if passed else f"reward {value:.4f} is below the minimum {min_score:g}")

    async def close(self) -> None:
        if self._batcher is not None:
            await self._batcher.close()
            self._batcher = None
        self._model = None
