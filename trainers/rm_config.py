"""Config of the reward-model trainer (``synthgen train rm CONFIG.yaml``).

Llama 3 trains its reward model on top of the pre-trained checkpoint with the Llama 2 pairwise
ranking loss WITHOUT the margin term, on rows of 2 or 3 ranked responses (edited > chosen >
rejected), and concatenates the prompt and all of a row's responses into one sequence for speed.
The optimisation numbers are Llama 2's: lr 1e-5 (5e-6 at 70B), cosine schedule, warmup 3% of
steps, weight decay 0.1, one epoch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from trainers.common import BaseTrainConfig


class RMTrainConfig(BaseTrainConfig):
    """Rows ``{"prompt": [msgs], "responses": [[msgs], [msgs], ...]}`` ranked best first, or pairwise
    ``{"prompt", "chosen", "rejected"}``. ``per_device_train_batch_size`` counts rows (prompts)."""

    learning_rate: float = Field(1e-5, gt=0, description="Llama 2 RM: 1e-5")
    mode: Literal["concat", "separate"] = Field(
        "concat",
        description="concat: the paper's one-sequence-per-row trick; separate: one sequence "
        "per prompt+response",
    )
    eval_dataset: Any = Field(None, description="held-out rows; pairwise accuracy is reported on them")
    eval_batch_size: int = Field(16, ge=1)

    @field_validator("eval_dataset")
    @classmethod
    def _eval_kind(cls, value: Any) -> Any:
        return None if value is None else BaseTrainConfig._dataset_kind(value)
