import json

import pytest
import torch
from datasets import Dataset
from trl.trainer.dpo_trainer import DataCollatorForPreference

from synthgen.errors import ConfigError
from tests.trainers.conftest import preference_rows
from trainers.dpo_config import DPOTrainConfig
from trainers.dpo_trainer import build_dpo_trainer, train_dpo

SPECIAL = ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")


def _config(model, out, rows=None, **kw):
    base = {
        "model": model,
        "dataset": Dataset.from_list(rows or preference_rows()),
        "output_dir": out,
        "max_steps": 10,
        "per_device_train_batch_size": 4,
        "logging_steps": 1,
        "learning_rate": 2e-3,
        "warmup_ratio": 0.0,
        "lr_scheduler_type": "constant",
        "weight_decay": 0.0,
    }
    base.update(kw)
    return DPOTrainConfig(**base)


def _tool_row() -> dict:
    call = {"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}
    return {
        "prompt": [{"role": "user", "content": "Add 2 and 3 with the tool."}],
        "chosen": [
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "content": "5"},
            {"role": "assistant", "content": "The sum is 5."},
        ],
        "rejected": [{"role": "assistant", "content": "The sum is 6."}],
    }


def test_recipe_defaults_and_trl_losses(tiny_model_dir, tmp_path):
    cfg = DPOTrainConfig(model=tiny_model_dir, dataset=str(tmp_path / "d.jsonl"), output_dir=tmp_path)
    assert (cfg.learning_rate, cfg.beta, cfg.nll_weight) == (1e-5, 0.1, 0.2)
    trainer = build_dpo_trainer(_config(tiny_model_dir, tmp_path / "o"))
    assert trainer.loss_types == ["sigmoid", "sft"] and trainer.loss_weights == [1.0, 0.2]
    assert trainer.beta == 0.1 or trainer.args.beta == 0.1


def test_collator_masks_formatting_tokens_in_chosen_and_rejected(tiny_model_dir, tmp_path):
    rows = preference_rows(2) + [_tool_row()]
    trainer = build_dpo_trainer(
        _config(tiny_model_dir, tmp_path / "o", rows=rows, per_device_train_batch_size=3)
    )
    tok = trainer.processing_class
    examples = [trainer.train_dataset[i] for i in range(3)]
    ours = trainer.data_collator(examples)
    plain = DataCollatorForPreference(pad_token_id=tok.pad_token_id, max_length=trainer.args.max_length)(
        examples
    )
    assert torch.equal(ours["input_ids"], plain["input_ids"])
    special_ids = {tok.convert_tokens_to_ids(t) for t in SPECIAL}
    removed_any_header = False
    for row in range(ours["input_ids"].size(0)):  # chosen rows, then rejected rows
        ids = ours["input_ids"][row].tolist()
        kept = [i for i, m in zip(ids, ours["completion_mask"][row].tolist()) if m]
        removed = [
            i
            for i, a, b in zip(
                ids, plain["completion_mask"][row].tolist(), ours["completion_mask"][row].tolist()
            )
            if a and not b
        ]
        assert not special_ids & set(kept), tok.decode(kept)
        assert tok.convert_tokens_to_ids("<|eot_id|>") in removed  # every response ends its turn
        removed_text = tok.decode(removed)
        # only formatting left the loss: headers with their role names, and end-of-turn tokens
        leftover = removed_text
        for t in SPECIAL + ("assistant", "ipython"):
            leftover = leftover.replace(t, "")
        assert leftover == "", removed_text
        removed_any_header |= "ipython" in removed_text
        assert tok.decode(kept).strip()  # the content itself is still trained on
    assert removed_any_header  # the multi-turn tool row had its inner headers masked
    tool_kept = tok.decode(
        [i for i, m in zip(ours["input_ids"][2].tolist(), ours["completion_mask"][2].tolist()) if m]
    )
    assert "The sum is 5." in tool_kept and tool_kept.startswith("<|python_tag|>")  # tool calls stay trained


def test_token_list_is_configurable(tiny_model_dir, tmp_path):
    trainer = build_dpo_trainer(
        _config(tiny_model_dir, tmp_path / "o", masked_tokens=[], mask_header_spans=False)
    )
    examples = [trainer.train_dataset[i] for i in range(2)]
    ours = trainer.data_collator(examples)
    plain = DataCollatorForPreference(pad_token_id=trainer.processing_class.pad_token_id)(examples)
    assert torch.equal(ours["completion_mask"], plain["completion_mask"])


def test_loss_decreases_on_a_repeated_batch(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    out = train_dpo(_config(tiny_model_dir, tmp_path / "out"))
    history = json.loads((out / "train_metrics.json").read_text())
    losses = [e["loss"] for e in history["loss_history"]]
    assert len(losses) == 10 and losses[-1] < 0.85 * losses[0], losses
    margins = [e["rewards/margins"] for e in history["log_history"] if "rewards/margins" in e]
    assert margins[-1] > margins[0]
    AutoModelForCausalLM.from_pretrained(str(out))


def test_rows_left_empty_by_the_mask_are_dropped(tiny_model_dir, tmp_path):
    rows = preference_rows(2) + [
        {
            "prompt": [{"role": "user", "content": "hi"}],
            "chosen": [{"role": "assistant", "content": ""}],
            "rejected": [{"role": "assistant", "content": "no"}],
        }
    ]
    trainer = build_dpo_trainer(_config(tiny_model_dir, tmp_path / "o", rows=rows))
    assert len(trainer.train_dataset) == 2
    with pytest.raises(ConfigError, match="empty"):
        build_dpo_trainer(_config(tiny_model_dir, tmp_path / "o", rows=rows[2:]))


def test_prompts_longer_than_max_length_name_the_setting(tiny_model_dir, tmp_path):
    rows = [{**row, "prompt": [{"role": "user", "content": "a long question " * 40}]} for row in preference_rows(2)]
    with pytest.raises(ConfigError, match="max_length=32"):
        build_dpo_trainer(_config(tiny_model_dir, tmp_path / "o", rows=rows, max_length=32))


def test_wrong_columns_are_a_config_error(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError, match="chosen"):
        train_dpo(_config(tiny_model_dir, tmp_path / "o", rows=[{"prompt": "x", "answer": "y"}]))


def test_precomputed_reference_and_lora_variants_train(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    from trainers.common import LoraSettings

    out = train_dpo(_config(tiny_model_dir, tmp_path / "pre", max_steps=3, precompute_ref_log_probs=True))
    assert len(json.loads((out / "train_metrics.json").read_text())["loss_history"]) == 3
    out = train_dpo(_config(tiny_model_dir, tmp_path / "lora", max_steps=3, lora=LoraSettings(r=4, alpha=8)))
    assert not (out / "adapter_config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(str(out))
    assert not any("lora" in n for n, _ in model.named_parameters())
