import asyncio

import pytest

from synthgen.errors import ConfigError
from synthgen.records import Record
from verifiers.reward_score import RewardScoreConfig, RewardScoreVerifier

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reward_model_dir(tmp_path_factory):
    """A tiny random reward model: the tiny causal Llama loaded as a 1-label sequence classifier."""
    import torch
    from transformers import AutoTokenizer, LlamaForSequenceClassification

    from synthgen.tiny_model import build_tiny_model

    base = build_tiny_model(tmp_path_factory.mktemp("tiny-causal"))
    torch.manual_seed(0)
    model = LlamaForSequenceClassification.from_pretrained(str(base), num_labels=1)
    out = tmp_path_factory.mktemp("tiny-rm")
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(str(out))
    return out


def record_with(n: int) -> Record:
    record = Record(id="rm", messages=[{"role": "user", "content": "Write a greeting."}])
    for i in range(n):
        record.add_candidate([{"role": "assistant", "content": "Hello " + "there " * (i * 3) + f"friend {i}!"}])
    return record


async def test_batched_scores_equal_unbatched(reward_model_dir):
    record = record_with(6)
    one_by_one = RewardScoreVerifier(RewardScoreConfig(model=str(reward_model_dir), max_batch_size=1,
                                                       batch_wait_ms=0))
    batched = RewardScoreVerifier(RewardScoreConfig(model=str(reward_model_dir), max_batch_size=8,
                                                    batch_wait_ms=50))
    try:
        single = [(await one_by_one.verify(record, c, None)).score for c in record.candidates]
        verdicts = await asyncio.gather(*(batched.verify(record, c, None) for c in record.candidates))
        assert batched._batcher.batches_run == 1  # the six concurrent calls shared one forward pass
        assert one_by_one._batcher.batches_run == 6
    finally:
        await one_by_one.close()
        await batched.close()
    assert [v.score for v in verdicts] == pytest.approx(single, abs=1e-5)
    assert len({round(s, 6) for s in single}) == 6  # different responses, different rewards
    for cand, verdict in zip(record.candidates, verdicts):
        assert verdict.passed and cand.scores["reward"] == verdict.score


async def test_min_score_fails_low_candidates(reward_model_dir):
    record = record_with(4)
    probe = RewardScoreVerifier(RewardScoreConfig(model=str(reward_model_dir)))
    scores = [(await probe.verify(record, c, None)).score for c in record.candidates]
    await probe.close()
    cut = sorted(scores)[2]
    gated = RewardScoreVerifier(RewardScoreConfig(model=str(reward_model_dir), min_score=cut))
    try:
        verdicts = [await gated.verify(record, c, None) for c in record.candidates]
    finally:
        await gated.close()
    assert [v.passed for v in verdicts] == [s >= cut for s in scores]
    assert sum(v.passed for v in verdicts) == 2
    failed = next(v for v in verdicts if not v.passed)
    assert "below the minimum" in failed.feedback


async def test_long_dialog_is_truncated_not_crashing(reward_model_dir):
    record = Record(id="long", messages=[{"role": "user", "content": "word " * 5000}])
    cand = record.add_candidate([{"role": "assistant", "content": "ok"}])
    v = RewardScoreVerifier(RewardScoreConfig(model=str(reward_model_dir), max_length=256))
    try:
        verdict = await v.verify(record, cand, None)
    finally:
        await v.close()
    assert verdict.passed and isinstance(verdict.score, float)


async def test_bad_model_path_is_a_config_error(tmp_path):
    record = record_with(1)
    with pytest.raises(ConfigError, match="has no config.json"):
        await RewardScoreVerifier(RewardScoreConfig(model=str(tmp_path))).verify(record, record.candidates[0], None)


async def test_causal_lm_with_many_labels_rejected(tmp_path):
    from synthgen.tiny_model import build_tiny_model

    path = build_tiny_model(tmp_path / "causal")  # loads as a classifier with the default 2 labels
    record = record_with(1)
    v = RewardScoreVerifier(RewardScoreConfig(model=str(path)))
    with pytest.raises(Exception, match="num_labels=2"):
        await v.verify(record, record.candidates[0], None)
    await v.close()
