"""The repo_deps generator and verifier end to end: the real sandbox runs the repository's tests and
imports, a scripted policy (a test double: a random model never names the right files) answers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generators.repo.deps import RepoDepsConfig, RepoDepsGenerator, RepoItem
from synthgen.config import PipelineConfig, load_pipeline_config
from synthgen.registry import Registry
from synthgen.runner import run_pipeline
from synthgen.store import RunStore
from tests.generators import repo_fixture as F
from tests.generators.conftest import EXAMPLES
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig
from verifiers.repo_deps import f1_scores

INVENTORY = EXAMPLES / "data/repo/inventory"
MONEY = (INVENTORY / "src/inventory/money.py").read_text()
DEPENDENTS = [
    "src/inventory/__init__.py",
    "src/inventory/cart.py",
    "src/inventory/catalog.py",
    "src/inventory/discounts.py",
    "src/inventory/orders.py",
    "src/inventory/reports.py",
    "tests/test_money.py",
    "tests/test_orders.py",
]
WRONG_PERCENT = MONEY.replace("round(self.cents * rate / 100)", "self.cents * int(rate) // 10")
NO_TOTAL = MONEY[: MONEY.index("def total")]
EXITS_EARLY = "import os\nos._exit(0)\n" + MONEY
DEPENDENTS_Q = "Which files of the repository import it"
MISSING_Q = "Write the complete content of"


def _policy(dependents_answers: list[str], file_answers: list[str]) -> ScriptedPolicyForTests:
    return ScriptedPolicyForTests(
        ScriptedPolicyForTestsConfig(
            rules=[
                {"last_user": DEPENDENTS_Q, "responses": dependents_answers},
                {"last_user": MISSING_Q, "responses": file_answers},
            ]
        )
    )


def _fenced(code: str) -> str:
    return f"Here is the file:\n```python\n{code}```\nIt keeps the same behaviour."


async def _generate(make_context, policy, item: dict, **options):
    generator = RepoDepsGenerator(RepoDepsConfig(max_targets=1, **options))
    ctx = make_context(policy, verifiers=("repo_deps",), generator=generator)
    records = await generator.generate(RepoItem.model_validate(item), ctx)
    for record in records:
        for candidate in record.candidates:
            await ctx.verify(record, candidate)
    return records, ctx


def _verdicts(record) -> list[tuple[bool, str]]:
    return [(c.verdicts[0].passed, c.verdicts[0].feedback) for c in record.candidates]


async def test_missing_file_is_checked_by_the_repositorys_own_tests(make_context):
    answers = [
        _fenced(MONEY),
        _fenced(WRONG_PERCENT),
        _fenced(NO_TOTAL),
        "```python\ndef broken(:\n```",
        _fenced(EXITS_EARLY),
        "I cannot see the file.",
    ]
    policy = _policy(["\n".join(DEPENDENTS)], answers)
    records, _ = await _generate(
        make_context, policy, {"id": "inv", "repo": str(INVENTORY)}, k=len(answers), tasks=["missing_file"]
    )
    (record,) = records
    task = record.metadata["repo_task"]
    assert task["removed"] == "src/inventory/money.py" and task["check"] == "tests"
    assert task["tests_expected"] == 3 and sorted(task["expected"]) == DEPENDENTS
    assert {"Money", "parse_price", "total", "ZERO"} <= set(task["required_names"])
    verdicts = _verdicts(record)
    assert verdicts[0] == (True, "")
    assert record.candidates[0].verdicts[0].details["similarity"] == 1.0
    assert not verdicts[1][0] and "tests fail" in verdicts[1][1]
    assert not verdicts[2][0] and "does not define: total" in verdicts[2][1]
    assert not verdicts[3][0] and "does not parse" in verdicts[3][1]
    assert not verdicts[4][0]  # a file that ends the process on import never passes
    assert not verdicts[5][0]
    # the prompt shows the dependents and never the removed file
    prompt = record.messages[-1]["content"]
    assert "### src/inventory/cart.py" in prompt and "### src/inventory/money.py" not in prompt
    assert "def parse_price" not in prompt


async def test_dependents_are_scored_by_f1_against_the_graph(make_context):
    half = DEPENDENTS[:4]
    answers = [
        "```\n" + "\n".join(DEPENDENTS) + "\n```",
        "The importers are " + ", ".join(p.rsplit("/", 1)[-1] for p in half) + ".",
        "```\n" + "\n".join(DEPENDENTS + ["src/inventory/money.py"]) + "\n```",  # the removed one is ignored
        "no idea",
    ]
    records, _ = await _generate(
        make_context,
        _policy(answers, ["x"]),
        {"id": "inv", "repo": str(INVENTORY)},
        k=len(answers),
        tasks=["dependents"],
    )
    (record,) = records
    verdicts = [c.verdicts[0] for c in record.candidates]
    assert [v.passed for v in verdicts] == [True, False, True, False]
    assert verdicts[1].details["precision"] == 1.0 and verdicts[1].details["recall"] == 0.5
    assert "missing:" in verdicts[1].feedback
    assert verdicts[3].feedback == "the answer names no file of the repository"


async def test_import_check_when_tests_hang_on_the_original(make_context, tmp_path):
    repo = F.write(tmp_path / "shop")
    answers = [
        _fenced(F.FILES["src/shop/models.py"]),
        _fenced("class Item:\n    pass\n"),
        _fenced("import os\nos._exit(0)\n" + F.FILES["src/shop/models.py"]),
    ]
    records, _ = await _generate(
        make_context,
        _policy(["x"], answers),
        {"id": "shop", "repo": str(repo)},
        k=3,
        tasks=["missing_file"],
        test_command="python3 -c 'import time; time.sleep(60)'",
        check_time_limit_s=3,
        min_dependents=7,
    )
    (record,) = records
    task = record.metadata["repo_task"]
    assert task["removed"] == "src/shop/models.py"
    assert task["tests_on_original"].startswith("timeout")
    assert task["check"] == "import" and "shop.api.routes" in task["import_modules"]
    verdicts = _verdicts(record)
    assert verdicts[0][0], verdicts[0][1]
    assert not verdicts[1][0] and "Order" in verdicts[1][1]  # __init__ imports Order from models
    assert not verdicts[2][0] and "ended early" in verdicts[2][1]  # exit 0 before the imports returned


async def test_static_check_without_a_sandbox_and_guarded_imports_optional(make_context, tmp_path):
    repo = F.write(tmp_path / "shop")
    generator = RepoDepsGenerator(
        RepoDepsConfig(max_targets=1, tasks=["missing_file"], k=1, include_guarded=False, min_dependents=6)
    )
    ctx = make_context(
        _policy(["x"], [_fenced(F.FILES["src/shop/models.py"])]),
        verifiers=("repo_deps",),
        generator=generator,
    )
    ctx.run.sandbox = None
    (record,) = await generator.generate(RepoItem(repo=str(repo)), ctx)
    task = record.metadata["repo_task"]
    assert task["check"] == "static" and task["why_static"] == "no sandbox in the pipeline"
    assert task["removed"] in ("src/shop/models.py", "src/shop/util.py")
    assert "src/shop/typing_helpers.py" not in task["expected"] and len(task["expected"]) == 6
    if task["removed"] == "src/shop/models.py":
        await ctx.verify(record, record.candidates[0])
        assert record.candidates[0].passed


async def test_no_file_above_the_threshold_and_unreadable_repositories_are_recorded(make_context, tmp_path):
    policy = _policy(["x"], ["x"])
    (record,), _ = await _generate(
        make_context, policy, {"id": "inv", "repo": str(INVENTORY)}, min_dependents=50
    )
    assert record.status == "failed" and "no file is imported by at least 50 files" in record.error
    assert "src/inventory/money.py" in record.error
    (record,), _ = await _generate(make_context, policy, {"id": "gone", "repo": str(tmp_path / "gone")})
    assert record.status == "failed" and "repository not found" in record.error
    (record,), _ = await _generate(make_context, policy, {"id": "pkg", "package": "no_such_package_xyz"})
    assert record.status == "failed" and "not an installed Python package" in record.error
    with pytest.raises(ValueError, match="exactly one of"):
        RepoItem.model_validate({"repo": "a", "package": "b"})


def test_f1_edges():
    assert f1_scores(set(), set()) == (1.0, 1.0, 1.0)
    assert f1_scores({"a"}, set()) == (0.0, 0.0, 0.0)
    assert f1_scores({"a", "b"}, {"a"}) == (0.5, 1.0, 2 / 3)


@pytest.mark.slow
def test_example_pipeline_with_a_scripted_policy_exports_sft_and_dpo(tmp_path, sandbox_backend):
    """The example as shipped (relative repository paths resolved against the pipeline file), with the
    scripted policy in place of the tiny model; the installed-package item reports why it is static."""
    shutil.copytree(EXAMPLES / "data/repo", tmp_path / "data/repo")
    (tmp_path / "repo_deps.yaml").write_text((EXAMPLES / "repo_deps.yaml").read_text())
    cfg = load_pipeline_config(tmp_path / "repo_deps.yaml")
    data = cfg.model_dump()
    data["sandbox"]["backend"] = sandbox_backend
    data["llms"]["policy"] = {
        "backend": "scripted_policy_for_tests",
        "options": {
            "rules": [
                {
                    "last_user": DEPENDENTS_Q,
                    "context": ["inventory"],
                    "responses": ["\n".join(DEPENDENTS), "no idea"],
                },
                {
                    "last_user": MISSING_Q,
                    "context": ["inventory"],
                    "responses": [_fenced(MONEY), _fenced("class Money:\n    cents = 0\n")],
                },
            ]
        },
    }
    data["sources"][0]["limit"] = 1  # the inventory package
    new = PipelineConfig.model_validate(data)
    new._base_dir = cfg._base_dir
    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    summary = run_pipeline(new, runs_dir=tmp_path / "runs", progress=False, registry=registry)
    records = list(RunStore(summary.run_dir).records())
    assert summary.counts["records"] == 2 and summary.counts["failed_records"] == 0, [
        r.error for r in records
    ]
    assert summary.counts["sft_rows"] == 2 and summary.counts["dpo_pairs"] == 2
    records = {r.metadata["repo_task"]["task"]: r for r in RunStore(summary.run_dir).records()}
    assert records["missing_file"].metadata["repo_task"]["check"] == "tests"
    assert Path(summary.exports["sft"]).read_text().count("\n") == 2
