"""Config of the SFT trainer (``synthgen train sft CONFIG.yaml``).

Defaults follow the Llama 3 paper: cross-entropy on the assistant (target) tokens only, prompt
tokens masked; learning rate 1e-5 (the paper trains 8.5K-9K steps at 405B scale: set ``max_steps``
for your scale). Schedule, warmup and weight decay are the Llama 2 values (cosine, 3%, 0.1).
"""

from __future__ import annotations

from pydantic import Field

from trainers.common import BaseTrainConfig


class SFTTrainConfig(BaseTrainConfig):
    """SFT on our ``messages`` export (TRL conversational format; system and tool turns allowed).

    Only the assistant turns are trained on: the tokenizer's chat template marks them with
    ``{% generation %}`` and TRL's ``assistant_only_loss`` turns that into the loss mask.
    """

    learning_rate: float = Field(1e-5, gt=0, description="Llama 3 SFT: 1e-5")
    packing: bool = Field(False, description="pack several conversations into one sequence (TRL BFD)")
