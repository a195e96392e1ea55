"""Config of the DPO trainer (``synthgen train dpo CONFIG.yaml``).

Defaults are the Llama 3 paper's: learning rate 1e-5, beta 0.1, an NLL term on the chosen response
with coefficient 0.2 (TRL 1.16: ``loss_type=["sigmoid", "sft"], loss_weights=[1.0, 0.2]``), and the
special formatting tokens (header and end-of-turn tokens) masked out of the loss for both chosen and
rejected responses. DPO starts from the SFT checkpoint of the same round, which is also the
reference model.
"""

from __future__ import annotations

from pydantic import Field

from trainers.common import BaseTrainConfig

#: Masked by default: the Llama 3 header markers, the role name between them (mask_header_spans) and
#: the end-of-turn/end-of-message tokens. Tokens missing from a tokenizer's vocabulary are skipped.
DEFAULT_MASKED_TOKENS = ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>")


class DPOTrainConfig(BaseTrainConfig):
    """DPO on our preference export: rows ``{"prompt": [msgs], "chosen": [msgs], "rejected": [msgs]}``."""

    learning_rate: float = Field(1e-5, gt=0, description="Llama 3 DPO: 1e-5")
    beta: float = Field(0.1, gt=0, description="Llama 3 DPO: 0.1")
    nll_weight: float = Field(
        0.2, ge=0, description="weight of the NLL term on the chosen response (Llama 3: 0.2); 0 turns it off"
    )
    masked_tokens: list[str] = Field(
        list(DEFAULT_MASKED_TOKENS), description="special tokens removed from the loss of chosen and rejected"
    )
    mask_header_spans: bool = Field(
        True, description="also mask the role name between <|start_header_id|> and <|end_header_id|>"
    )
    precompute_ref_log_probs: bool = Field(
        False, description="compute reference log-probs once up front instead of keeping a reference model"
    )
