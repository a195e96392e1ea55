"""The tool-use round demo (examples/demo_round_tir.yaml): its seed demonstrations pass math_tir's
checks on the real sandbox, the demo config runs end to end at a tiny size and writes its
comparison table, and TIR rounds execute the policy's code in sampling and in evaluation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from generators.math.solutions import MathItem
from generators.math.tir import MathTirConfig, MathTirGenerator
from synthgen.config import SandboxRef
from synthgen.export import sft_rows as export_sft_rows
from synthgen.registry import Registry
from synthgen.round import RoundLoop, load_round_config, run_rounds
from synthgen.round.pipelines import probe_sandbox
from synthgen.round.tir_task import ProductProblem, ProductTask, sft_rows, tokenizer_corpus
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig

EXAMPLE = Path(__file__).parents[2] / "examples" / "demo_round_tir.yaml"
FAST = {"wall_time_s": 5, "cpu_time_s": 5, "memory_mb": 512, "output_bytes": 2048}
TINY = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from synthgen.tiny_model import build_tokenizer

    return build_tokenizer(tmp_path_factory.mktemp("tok"), 340, tokenizer_corpus(), split_digits=True)


def _generated_turns(tokenizer, messages: list[dict]) -> list[str]:
    """Each assistant turn as the policy writes it: the chat template's rendering after the
    generation prompt, decoded the way the transformers backend decodes (special tokens dropped)."""
    out = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:i], add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        assert full.startswith(before)
        ids = tokenizer(full[len(before):], add_special_tokens=False)["input_ids"]
        out.append(tokenizer.decode(ids, skip_special_tokens=True))
    return out


def _rules(tokenizer, rows: list[dict], problems: list[ProductProblem]) -> list[dict]:
    """Scripted replies that replay the demonstrations: the tool call first, the answer once the
    tool's output is in the dialog."""
    rules = []
    for p, row in zip(problems, rows):
        call, answer = _generated_turns(tokenizer, row["messages"])
        rules.append({"last_user": p.question, "context": ["\n" + p.answer], "responses": [answer]})
        rules.append({"last_user": p.question, "responses": [call]})
    return rules


async def _working_backend() -> str:
    registry = Registry()
    for backend in ("docker", "bubblewrap"):
        if await probe_sandbox(SandboxRef(backend=backend), registry) is None:
            return backend
    pytest.skip("no sandbox backend works here (synthgen sandbox doctor)")


def _context(policy, sandbox, generator):
    from synthgen.context import RunContext, TimedLLM, TimedSandbox, Timers
    from synthgen.verify_chain import VerifierChain

    timers = Timers()
    chain = VerifierChain([Registry().create("verifier", "math", {"strict_equations": True, "isolation": "thread"})])
    return RunContext(run_name="test", seed=0, llm={"policy": TimedLLM("policy", policy, timers, asyncio.Semaphore(8))},
                      sandbox=TimedSandbox(sandbox, timers, asyncio.Semaphore(4)), chain=chain, timers=timers,
                      generator_name=generator.name, generator_version=generator.version)


async def test_seed_demonstrations_pass_math_tir_checks_and_export_unchanged(tokenizer):
    problems = ProductTask(seed=3, seed_size=10, prompts_per_round=1, eval_size=1, rounds=1).seed_demos()
    rows = sft_rows(problems, "tir")
    # two hostile variants of the last demonstration: code printing another product, and code that fails
    bad = ProductProblem(problems[-1].a, problems[-1].b)
    wrong_code = {"last_user": bad.question, "absent": ["\n" + bad.answer],
                  "responses": [_generated_turns(tokenizer, rows[-1]["messages"])[0].replace("*", "+")]}
    policy = ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=_rules(tokenizer, rows, problems)))
    hostile = ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=[
        {"last_user": bad.question, "context": ["\n" + str(bad.a + bad.b)],
         "responses": [f"{bad.a}+{bad.b}={bad.a + bad.b}. \\boxed{{{bad.a + bad.b}}}"]}, wrong_code]))
    gen = MathTirGenerator(MathTirConfig(k=1, max_blocks=1, system_prompt=None, limits=FAST))
    sandbox = Registry().create("sandbox", await _working_backend(), {})
    async with sandbox:
        run = _context(policy, sandbox, gen)
        for i, (p, row) in enumerate(zip(problems, rows)):
            (rec,) = await gen.generate(MathItem(id=p.id, question=p.question, answer=p.answer), run.for_item(p.id))
            (cand,) = rec.candidates
            assert cand.passed, cand.verdicts
            assert cand.verdict("tir").passed and cand.verdict("math").passed
            assert cand.metadata["executions"] == 1 and cand.metadata["errors"] == 0
            assert cand.messages[1] == {"role": "tool", "tool_call_id": "call_1", "name": "python",
                                        "content": p.answer}  # the sandbox printed the product
            rec.selected = [cand.id]
            (exported,) = export_sft_rows([rec])
            assert exported["messages"] == row["messages"]  # seed and kept samples share one SFT schema
        (rec,) = await gen.generate(MathItem(id="bad", question=bad.question, answer=bad.answer),
                                    _context(hostile, sandbox, gen).for_item("bad"))
    (cand,) = rec.candidates
    assert cand.metadata["executions"] == 1 and cand.messages[1]["content"] == str(bad.a + bad.b)
    assert cand.verdict("tir").passed and not cand.passed  # ran, but the boxed answer is not the product


def test_cot_seed_solutions_hold_and_both_styles_share_problems():
    task = ProductTask(seed=0, seed_size=50, prompts_per_round=20, eval_size=20, rounds=2)
    cot, tir = sft_rows(task.seed_demos(), "cot"), sft_rows(task.seed_demos(), "tir")
    assert [r["messages"][0] for r in cot] == [r["messages"][0] for r in tir]
    for p in task.seed_demos():
        chain = p.cot_solution().split(". ")[0]
        values = [eval(side) for side in chain.split("=")]  # our own arithmetic text
        assert len(set(values)) == 1 and values[0] == p.a * p.b
    seen = [p.id for p in task.seed_demos() + task.eval_set() + task.round_prompts(1) + task.round_prompts(2)]
    assert len(seen) == len(set(seen)) == 110


def _small_demo(tmp: Path, **changes) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["rounds"] = 1
    data["model"]["tiny"].update(TINY)
    data["task"].update(seed_size=16, prompts_per_round=4, eval_size=4)
    data["generation"]["k"] = 2
    data["train"]["round0_sft"].update(max_steps=4, per_device_train_batch_size=8)
    data["train"]["sft"].update(max_steps=2, per_device_train_batch_size=8)
    data.update(changes)
    path = tmp / "demo_round_tir.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_demo_config_runs_end_to_end_and_writes_the_comparison(tmp_path):
    rows = run_rounds(load_round_config(_small_demo(tmp_path)), runs_dir=tmp_path / "runs", progress=False)
    assert [r["round"] for r in rows] == ["0", "1"]
    run_dir = tmp_path / "runs" / "demo-round-tir"
    saved = json.loads((run_dir / "comparison.json").read_text())
    assert set(saved["pass_at_1"]) == {"cot", "tir"}
    for curve in saved["pass_at_1"].values():
        assert len(curve) == 2 and all(0.0 <= v <= 1.0 for v in curve)
    assert "| round | cot pass@1 | tir pass@1 |" in (run_dir / "comparison.md").read_text()
    # the TIR variant's pipelines run math_tir on a sandbox; the CoT variant's need none
    tir_gen = yaml.safe_load(next((run_dir / "tir" / "round_1" / "generate").glob("*/config.yaml")).read_text())
    cot_gen = yaml.safe_load(next((run_dir / "cot" / "round_1" / "generate").glob("*/config.yaml")).read_text())
    assert tir_gen["generator"]["name"] == "math_tir" and tir_gen["sandbox"]["backend"] in ("docker", "bubblewrap")
    assert cot_gen["generator"]["name"] == "math_solutions" and cot_gen["sandbox"] is None
    assert json.loads((run_dir / "tir" / "data" / "seed_sft.jsonl").read_text().splitlines()[0])["messages"][2]["role"] \
        == "tool"


def test_tir_rounds_run_the_policys_code_in_sampling_and_evaluation(tmp_path, tokenizer):
    """A scripted policy that writes the demonstrations' tool calls: every sample's code runs in the
    sandbox, the verified ones are kept and trained on with the seed, and greedy pass@1 is 1."""
    task = ProductTask(seed=0, seed_size=16, prompts_per_round=4, eval_size=4, rounds=1)
    problems = task.round_prompts(1) + task.eval_set()
    rules = _rules(tokenizer, sft_rows(problems, "tir"), problems)
    path = _small_demo(tmp_path, variants={})
    data = yaml.safe_load(path.read_text())
    data["task"]["style"] = "tir"
    data["generation"].update(generator="math_tir", llm={"backend": "scripted_policy_for_tests",
                                                         "options": {"rules": rules}},
                              eval_llm=None, generator_options={"max_blocks": 1, "limits": FAST})
    path.write_text(yaml.safe_dump(data))
    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    metrics = RoundLoop(load_round_config(path), runs_dir=tmp_path / "runs", registry=registry, progress=False).run()
    r0, r1 = metrics
    assert r0["eval"]["pass_at_1"] == 1.0 and r1["eval"]["pass_at_1"] == 1.0
    gen = r1["generate"]
    assert gen["samples"] == 8 and gen["passed"] == 8 and gen["prompts_solved"] == 4
    assert r1["train"]["sft"]["rows"] == 16 + 4  # seed + one kept chain per prompt, one SFT file
    from synthgen.store import RunStore

    for run in (r0["eval"]["run"], gen["run"], r1["eval"]["run"]):
        cands = [c for r in RunStore(Path(run)).records() for c in r.candidates]
        assert cands and all(c.metadata["executions"] == 1 for c in cands)
