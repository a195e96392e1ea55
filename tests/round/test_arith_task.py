import asyncio

import pytest

from synthgen.errors import ConfigError
from synthgen.records import Record
from synthgen.round.arith_task import ArithProblem, ArithTask, prompt_rows, sft_rows


def test_splits_are_deterministic_and_disjoint():
    task = ArithTask(seed=3, seed_size=50, prompts_per_round=40, eval_size=30, rounds=2)
    again = ArithTask(seed=3, seed_size=50, prompts_per_round=40, eval_size=30, rounds=2)
    assert task.seed_demos() == again.seed_demos() and task.round_prompts(2) == again.round_prompts(2)
    splits = [task.seed_demos(), task.eval_set(), task.round_prompts(1), task.round_prompts(2)]
    ids = [p.id for split in splits for p in split]
    assert len(ids) == len(set(ids)) == 50 + 30 + 80
    assert ArithTask(seed=4).seed_demos() != task.seed_demos()[:300]
    with pytest.raises(ValueError):
        task.round_prompts(3)


def test_pool_too_small_is_a_config_error():
    with pytest.raises(ConfigError, match="widen the range"):
        ArithTask(low=10, high=12, seed_size=5, eval_size=5, prompts_per_round=1).seed_demos()


def test_rows_carry_reference_but_prompts_no_solution():
    p = ArithProblem(47, 38)
    assert p.solution == "47+38=85. \\boxed{85}"
    (row,) = prompt_rows([p])
    assert row == {"id": "add-47-38", "question": "What is 47+38?", "answer": "85"}
    (sft,) = sft_rows([p], system_prompt="Add.")
    assert [m["role"] for m in sft["messages"]] == ["system", "user", "assistant"]


def test_demonstrations_pass_the_strict_math_verifier_and_wrong_traces_fail():
    from verifiers.math_answer import MathVerifier

    verifier = MathVerifier(MathVerifier.Config(strict_equations=True, isolation="thread"))
    record = Record(id="r", metadata={"answer": "85"}, messages=[{"role": "user", "content": "What is 47+38?"}])
    texts = ["47+38=85. \\boxed{85}", "47+38=84. \\boxed{85}", "47+38=84. \\boxed{84}"]
    for text in texts:
        record.add_candidate([{"role": "assistant", "content": text}])

    async def verdicts():
        try:
            return [await verifier.verify(record, c, None) for c in record.candidates]
        finally:
            await verifier.close()

    assert [v.passed for v in asyncio.run(verdicts())] == [True, False, False]
