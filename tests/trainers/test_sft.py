import json

import pytest
import torch
from datasets import Dataset

from synthgen.errors import ConfigError
from tests.trainers.conftest import arithmetic_dialogs
from trainers.common import LoraSettings
from trainers.sft_config import SFTTrainConfig
from trainers.sft_trainer import assistant_token_mask, build_sft_trainer, train_sft


def _config(model, out, **kw):
    base = {
        "model": model,
        "dataset": Dataset.from_list(arithmetic_dialogs()),
        "output_dir": out,
        "max_steps": 12,
        "per_device_train_batch_size": 4,
        "logging_steps": 1,
        "learning_rate": 3e-3,
        "warmup_ratio": 0.0,
        "lr_scheduler_type": "constant",
        "weight_decay": 0.0,
    }
    base.update(kw)
    return SFTTrainConfig(**base)


def test_defaults_are_the_paper_numbers(tmp_path):
    cfg = SFTTrainConfig(model=tmp_path, dataset=str(tmp_path / "d.jsonl"), output_dir=tmp_path / "o")
    assert cfg.learning_rate == 1e-5
    assert cfg.lora is None and cfg.report_to == "none"
    assert cfg.resolved_bf16() is (torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    with pytest.raises(ValueError, match="extra"):
        SFTTrainConfig(model=tmp_path, dataset="d.jsonl", output_dir=tmp_path, learning_rat=1.0)


def test_only_assistant_tokens_carry_labels(tiny_model_dir, tmp_path):
    trainer = build_sft_trainer(_config(tiny_model_dir, tmp_path / "out"))
    tokenizer = trainer.processing_class
    batch = next(iter(trainer.get_train_dataloader()))
    rows = arithmetic_dialogs()
    for ids, labels in zip(batch["input_ids"], batch["labels"]):
        trained = ids[labels != -100].tolist()
        # what the model learns is exactly one assistant answer and its end-of-turn token
        text = tokenizer.decode(trained)
        assert text.endswith("<|eot_id|>")
        assert any(text == r["messages"][2]["content"] + "<|eot_id|>" for r in rows), text
        prompt_part = tokenizer.decode(ids[labels == -100].tolist())
        assert "What is" in prompt_part and "assistant" in prompt_part  # user turn and header masked
    ids, mask = assistant_token_mask(tokenizer, rows[0]["messages"])
    assert tokenizer.decode([i for i, m in zip(ids, mask) if m]) == "1+2=3. \\boxed{3}<|eot_id|>"


def test_loss_decreases_and_checkpoint_loads(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    out = train_sft(_config(tiny_model_dir, tmp_path / "out"))
    losses = [e["loss"] for e in json.loads((out / "train_metrics.json").read_text())["loss_history"]]
    assert len(losses) == 12
    assert losses[-1] < 0.6 * losses[0], losses
    model = AutoModelForCausalLM.from_pretrained(str(out))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert not torch.equal(model.model.embed_tokens.weight, base.model.embed_tokens.weight)
    assert (out / "tokenizer_config.json").is_file()


async def test_checkpoint_serves_through_the_transformers_backend(tiny_model_dir, tmp_path):
    from synthgen.llm.base import SamplingParams
    from synthgen.llm.transformers_backend import TransformersBackend, TransformersConfig

    out = train_sft(_config(tiny_model_dir, tmp_path / "out", max_steps=2))
    backend = TransformersBackend(TransformersConfig(model=str(out), device="cpu"))
    completions = await backend.generate(
        [[{"role": "user", "content": "What is 1+2?"}]],
        SamplingParams(n=1, max_tokens=4, temperature=0.0, seed=0),
    )
    assert len(completions) == 1 and len(completions[0]) == 1


def test_lora_trains_and_saves_a_merged_checkpoint(tiny_model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    out = train_sft(
        _config(tiny_model_dir, tmp_path / "out", max_steps=4, lora=LoraSettings(r=4, alpha=8, dropout=0.0))
    )
    assert not (out / "adapter_config.json").exists()  # merged: a plain checkpoint
    model = AutoModelForCausalLM.from_pretrained(str(out))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert not any("lora" in name for name, _ in model.named_parameters())
    changed = [
        n
        for (n, p), (_, q) in zip(model.named_parameters(), base.named_parameters())
        if not torch.equal(p, q)
    ]
    assert any("q_proj" in n for n in changed)


def test_dataset_without_messages_is_a_config_error(tiny_model_dir, tmp_path):
    bad = Dataset.from_list([{"text": "hello"}])
    with pytest.raises(ConfigError, match="messages"):
        train_sft(_config(tiny_model_dir, tmp_path / "out", dataset=bad))


def test_truncated_jsonl_is_a_config_error(tiny_model_dir, tmp_path):
    path = tmp_path / "sft.jsonl"
    path.write_text(json.dumps(arithmetic_dialogs()[0]) + "\n" + '{"messages": [{"role": "us')
    with pytest.raises(ConfigError, match="cannot read dataset"):
        train_sft(_config(tiny_model_dir, tmp_path / "out", dataset=path))
