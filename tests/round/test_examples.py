"""The example round configs: they load, their data files are well formed, and the real-model
config runs end to end with the tiny model in place of the real one, sampling through
`synthgen serve` (an OpenAI-compatible endpoint) and evaluating the trained checkpoint locally."""

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from synthgen.context import RunContext
from synthgen.records import Record
from synthgen.round import RoundLoop, load_round_config
from tests.fixtures.processes import serve_process
from verifiers.math_answer import MathConfig, MathVerifier

EXAMPLES = Path(__file__).parents[2] / "examples"
MATH = EXAMPLES / "data" / "math"


@pytest.mark.parametrize("name", ["demo_round.yaml", "round_real_model.yaml"])
def test_example_round_configs_load(name):
    cfg = load_round_config(EXAMPLES / name)
    assert cfg.rounds == 3


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (MATH / name).read_text().splitlines()]


def test_example_math_files_are_disjoint_and_their_seed_solutions_verify():
    questions = [r["question"] for f in ("prompts_round_1", "prompts_round_2", "prompts_round_3", "eval")
                 for r in _rows(f + ".jsonl")]
    seed = _rows("seed_sft.jsonl")
    questions += [r["messages"][1]["content"] for r in seed]
    assert len(questions) == len(set(questions)) == 1220
    # every worked solution's equations hold and its boxed answer verifies (strict mode)
    verifier = MathVerifier(MathConfig(strict_equations=True, isolation="thread"))

    async def check(row):
        *prompt, answer = row["messages"]
        boxed = answer["content"].rsplit("\\boxed{", 1)[1].rstrip("}")
        record = Record(id=row["id"], messages=prompt, metadata={"answer": boxed})
        cand = record.add_candidate([answer])
        return (await verifier.verify(record, cand, RunContext().for_item(row["id"]))).passed

    async def all_checks():
        try:
            return await asyncio.gather(*(check(r) for r in seed))
        finally:
            await verifier.close()

    assert all(asyncio.run(all_checks()))


def test_real_model_config_runs_with_an_endpoint_for_sampling(tmp_path, tiny_digits_model):
    data = yaml.safe_load((EXAMPLES / "round_real_model.yaml").read_text())
    data["rounds"] = 1
    data["model"] = {"path": str(tiny_digits_model)}
    data["task"] = {k: [str(MATH / Path(p).name) for p in v] if isinstance(v, list) else str(MATH / Path(v).name)
                    for k, v in data["task"].items()}
    small = {"max_steps": 2, "per_device_train_batch_size": 8, "max_length": 512, "learning_rate": 1e-3}
    data["train"].update(round0_sft=small, sft=small, dpo={**small, "per_device_train_batch_size": 4})
    with serve_process(tiny_digits_model, tmp_path) as url:
        data["generation"].update(
            llm={"backend": "openai", "options": {"base_url": url, "model": "tiny-test"}, "max_concurrency": 16},
            policy_option=None, eval_llm={"backend": "transformers", "options": {"device": "cpu"}},
            k=2, max_tokens=12)
        path = tmp_path / "round.yaml"
        path.write_text(yaml.safe_dump(data))
        metrics = RoundLoop(load_round_config(path), runs_dir=tmp_path / "runs", progress=False).run()
    r0, r1 = metrics
    assert r0["train"]["sft"]["rows"] == 120 and r0["eval"]["prompts"] == 200
    gen = r1["generate"]
    assert gen["prompts"] == 300 and gen["samples"] == 600 and gen["failed_records"] == 0
    assert r1["eval"]["prompts"] == 200 and 0.0 <= r1["eval"]["pass_at_1"] <= 1.0
    run_dir = tmp_path / "runs" / "round-real-model"
    assert (run_dir / "rounds.json").is_file() and (run_dir / "report.md").is_file()
    # the trained checkpoint (not the endpoint's fixed model) is what round 1 evaluated and hands on
    assert Path(r1["policy"]).is_relative_to(run_dir / "round_1")
