import json
import math
import random

import pytest
import torch
from datasets import Dataset

from synthgen.errors import ConfigError
from trainers.common import LoraSettings
from trainers.rm_config import RMTrainConfig
from trainers.rm_data import collate, concat_attention_mask, encode_row, make_sequences, rows_from_dataset
from trainers.rm_trainer import load_reward_model, pairwise_loss, score_batch, train_rm

TOPICS = ["cats", "dogs", "fish", "birds", "trees", "rivers", "stars", "boats"]


def keyword_rows(n: int, seed: int, three: bool = True) -> list[dict]:
    """Preference task: the better response contains 'yes', the worse 'no'; the best adds 'indeed'."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        prompt = [{"role": "user", "content": f"Tell me about {rng.choice(TOPICS)} {rng.randint(0, 99)}"}]
        lead = lambda: rng.choice(["sure", "ok", "well", "hmm"])
        good = f"{lead()} yes {rng.randint(0, 9)}"
        bad = f"{lead()} no {rng.randint(0, 9)}"
        ranked = ([good + " indeed"] if three else []) + [good, bad]
        rows.append({"prompt": prompt, "responses": [[{"role": "assistant", "content": r}] for r in ranked]})
    return rows


def _config(model, out, **kw):
    base = {
        "model": model,
        "dataset": Dataset.from_list(keyword_rows(48, 0)),
        "output_dir": out,
        "max_steps": 24,
        "per_device_train_batch_size": 8,
        "learning_rate": 3e-3,
        "logging_steps": 4,
        "warmup_ratio": 0.0,
    }
    base.update(kw)
    return RMTrainConfig(**base)


def _separate_reference(model, tokenizer, prompt, response) -> float:
    """The reward_score verifier's way: render prompt+response, HF's own last-non-pad pooling."""
    text = tokenizer.apply_chat_template(list(prompt) + list(response), tokenize=False)
    enc = tokenizer(text, add_special_tokens=False, return_tensors="pt")
    return model(**enc).logits[0, 0].item()


def test_concat_mask_shape_by_hand():
    segment = torch.tensor([[0, 0, 1, 1, 2, -1]])  # prompt x2, response A x2, response B x1, pad
    allowed = concat_attention_mask(segment)[0, 0]
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [1, 1, 1, 1, 0, 0],
            [1, 1, 0, 0, 1, 0],  # B sees the prompt and itself, not A
            [0, 0, 0, 0, 0, 1],  # padding sees only itself
        ],
        dtype=torch.bool,
    )
    assert torch.equal(allowed, expected)


def test_concat_row_scores_each_response_at_its_end_and_matches_separate_rows(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = load_reward_model(tiny_model_dir, tokenizer.pad_token_id).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        model.score.weight.normal_(0, 1.0)  # a random head gives well-spread scores
    raw = keyword_rows(3, 1) + keyword_rows(2, 2, three=False)
    raw[0]["responses"][0][0]["content"] += " and a much longer tail to vary the lengths " * 3
    rows = [encode_row(tokenizer, r["prompt"], r["responses"]) for r in raw]
    sequences = make_sequences(rows, "concat", 4096, random.Random(0))
    assert [len(s.segments) for s in sequences] == [3, 3, 3, 2, 2]
    batch = collate(sequences, tokenizer.pad_token_id)
    assert batch.attention_mask.dim() == 4
    eot = tokenizer.convert_tokens_to_ids("<|eot_id|>")
    ends = batch.input_ids[batch.score_index[:, 0], batch.score_index[:, 1]]
    assert torch.all(ends == eot)  # every response is read at its own end-of-turn token
    with torch.no_grad():
        concat = score_batch(model, batch)
        shuffled = score_batch(
            model, collate(make_sequences(rows, "concat", 4096, random.Random(7)), tokenizer.pad_token_id)
        )
        separate_batch = collate(
            make_sequences(rows, "separate", 4096, random.Random(0)), tokenizer.pad_token_id
        )
        separate = score_batch(model, separate_batch)
        reference = {
            (r, k): _separate_reference(model, tokenizer, raw[r]["prompt"], raw[r]["responses"][k])
            for r in range(len(raw))
            for k in range(len(raw[r]["responses"]))
        }
    spread = max(reference.values()) - min(reference.values())
    assert spread > 0.5  # the comparison below is not trivially true
    for scores, b in ((concat, batch), (separate, separate_batch)):
        got = {(r, k): v for r, k, v in zip(b.score_row.tolist(), b.score_rank.tolist(), scores.tolist())}
        assert got.keys() == reference.keys()
        for key, value in reference.items():
            assert abs(got[key] - value) < 1e-4, (key, got[key], value)
    # response order inside the concatenated row does not change any score
    by_key = lambda b, s: dict(zip(zip(b.score_row.tolist(), b.score_rank.tolist()), s.tolist()))
    shuffled_batch = collate(make_sequences(rows, "concat", 4096, random.Random(7)), tokenizer.pad_token_id)
    for key, value in by_key(shuffled_batch, shuffled).items():
        assert abs(value - reference[key]) < 1e-4


def test_naive_concatenation_would_not_match(tiny_model_dir):
    """Control: a plain causal mask over the concatenated row lets responses see each other, and the
    scores move; the arranged mask is what makes concat equal separate."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    model = load_reward_model(tiny_model_dir, tokenizer.pad_token_id).eval()
    torch.manual_seed(0)
    with torch.no_grad():
        model.score.weight.normal_(0, 1.0)
    raw = keyword_rows(1, 3)
    rows = [encode_row(tokenizer, r["prompt"], r["responses"]) for r in raw]
    batch = collate(make_sequences(rows, "concat", 4096, random.Random(0)), tokenizer.pad_token_id)
    naive = type(batch)(
        batch.input_ids,
        torch.ones_like(batch.input_ids),
        torch.arange(batch.input_ids.size(1))[None],
        batch.score_index,
        batch.score_row,
        batch.score_rank,
    )
    with torch.no_grad():
        arranged, plain = score_batch(model, batch), score_batch(model, naive)
    assert (arranged - plain).abs()[1:].max() > 1e-3  # responses after the first are contaminated


def test_pairwise_loss_over_all_ordered_pairs():
    scores = torch.tensor([2.0, 1.0, 0.0, 5.0, 3.0])
    rows = torch.tensor([0, 0, 0, 1, 1])
    ranks = torch.tensor([0, 1, 2, 1, 0])  # row 1 is ranked the wrong way round
    loss, acc = pairwise_loss(scores, rows, ranks)
    diffs = torch.tensor([1.0, 2.0, 1.0, -2.0])  # (0,1), (0,2), (1,2) of row 0; (best, worse) of row 1
    assert math.isclose(loss.item(), (-torch.nn.functional.logsigmoid(diffs)).mean().item(), rel_tol=1e-6)
    assert math.isclose(acc.item(), 0.75)


@pytest.mark.parametrize("mode", ["separate", "concat"])
def test_both_modes_learn_the_keyword_preference(tiny_model_dir, tmp_path, mode):
    out = train_rm(
        _config(
            tiny_model_dir, tmp_path / mode, mode=mode, eval_dataset=Dataset.from_list(keyword_rows(24, 99))
        )
    )
    metrics = json.loads((out / "train_metrics.json").read_text())
    losses = [e["loss"] for e in metrics["loss_history"]]
    assert losses[-1] < 0.5 * losses[0], losses
    assert metrics["eval"]["accuracy"] >= 0.9, metrics["eval"]
    assert metrics["eval"]["pairs"] == 24 * 3


def test_modes_agree_on_held_out_accuracy(tiny_model_dir, tmp_path):
    held_out = Dataset.from_list(keyword_rows(24, 99))
    acc = {}
    for mode in ("separate", "concat"):
        out = train_rm(
            _config(tiny_model_dir, tmp_path / mode, mode=mode, eval_dataset=held_out, max_steps=12)
        )
        acc[mode] = json.loads((out / "train_metrics.json").read_text())["eval"]["accuracy"]
    assert abs(acc["separate"] - acc["concat"]) <= 0.1, acc


def test_pairwise_rows_train_and_the_checkpoint_scores_like_training(tiny_model_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    pairwise = [
        {"prompt": r["prompt"], "chosen": r["responses"][0], "rejected": r["responses"][1]}
        for r in keyword_rows(16, 5, three=False)
    ]
    out = train_rm(_config(tiny_model_dir, tmp_path / "rm", dataset=Dataset.from_list(pairwise), max_steps=3))
    model = AutoModelForSequenceClassification.from_pretrained(str(out)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    assert model.config.num_labels == 1 and model.config.pad_token_id == tokenizer.pad_token_id
    rows = [encode_row(tokenizer, pairwise[0]["prompt"], [pairwise[0]["chosen"], pairwise[0]["rejected"]])]
    with torch.no_grad():
        ours = score_batch(
            model, collate(make_sequences(rows, "concat", 4096, random.Random(0)), tokenizer.pad_token_id)
        )
        # the verifier scores a batch of prompt+response with right padding at the last non-pad token
        texts = [
            tokenizer.apply_chat_template(pairwise[0]["prompt"] + pairwise[0][k], tokenize=False)
            for k in ("chosen", "rejected")
        ]
        tokenizer.padding_side = "right"
        enc = tokenizer(texts, add_special_tokens=False, return_tensors="pt", padding=True)
        theirs = model(**enc).logits[:, 0]
    assert torch.allclose(ours, theirs, atol=1e-4)


def test_lora_reward_model_saves_merged_with_its_head(tiny_model_dir, tmp_path):
    from transformers import AutoModelForSequenceClassification

    out = train_rm(_config(tiny_model_dir, tmp_path / "rm", max_steps=3, lora=LoraSettings(r=4, alpha=8)))
    assert not (out / "adapter_config.json").exists()
    from transformers import AutoModelForCausalLM

    model = AutoModelForSequenceClassification.from_pretrained(str(out))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert model.score.weight.shape[0] == 1
    assert not torch.equal(
        model.model.layers[0].self_attn.q_proj.weight, base.model.layers[0].self_attn.q_proj.weight
    )
    assert not any("lora" in n for n, _ in model.named_parameters())


def test_rows_too_long_for_one_sequence_fall_back_to_separate(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    raw = keyword_rows(1, 4)[0]
    row = encode_row(tokenizer, raw["prompt"], raw["responses"])
    longest = len(row.prompt_ids) + max(len(r) for r in row.response_ids)
    assert [len(s.segments) for s in make_sequences([row], "concat", longest, random.Random(0))] == [1, 1, 1]


@pytest.mark.parametrize(
    "rows, match",
    [
        (
            [
                {
                    "prompt": [{"role": "user", "content": "q"}],
                    "responses": [[{"role": "assistant", "content": "a"}]],
                }
            ],
            "1 responses",
        ),
        (
            [
                {
                    "prompt": [{"role": "user", "content": "q"}],
                    "responses": [[{"role": "assistant", "content": c}] for c in "abcd"],
                }
            ],
            "4 responses",
        ),
        ([{"prompt": "q", "answer": "a"}], "prompt\\+responses"),
    ],
)
def test_malformed_rows_are_config_errors(rows, match):
    with pytest.raises(ConfigError, match=match):
        rows_from_dataset(Dataset.from_list(rows))


def test_missing_model_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config.json"):
        train_rm(_config(tmp_path / "nothing", tmp_path / "o"))
