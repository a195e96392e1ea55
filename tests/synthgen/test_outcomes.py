"""A run says what came out: verifier errors, nothing produced, unparseable output, resume, empty
exports, provenance, the processing stage from the Python API (issue 12, outcomes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from synthgen.config import PipelineConfig
from synthgen.plugins import Verifier
from synthgen.records import Candidate, Record, Verdict
from synthgen.run_outcome import EXIT_NOTHING_PRODUCED, EXIT_OK, EXIT_VERIFIER_ERRORS, describe_outcome
from synthgen.runner import run_pipeline
from synthgen.store import RunStore
from tests.fixtures.plugins_for_tests import registry_for_tests
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests
from tests.synthgen.test_runner import make_cfg, write_source


class RaisingVerifierForTests(Verifier):
    """Raises on candidates whose trailing number is a multiple of 3 (a verifier with a bug)."""

    name: ClassVar[str] = "raising_for_tests"

    async def verify(self, record: Record, candidate: Candidate, ctx) -> Verdict:
        n = int(candidate.text.rsplit("#", 1)[-1])
        if n % 3 == 0:
            raise KeyError(f"lookup table has no entry {n}")
        return Verdict(verifier=self.name, passed=True)


def _registry():
    reg = registry_for_tests()
    reg.register("verifier", RaisingVerifierForTests)
    reg.register("llm", ScriptedPolicyForTests)
    return reg


def _run(raw: dict, tmp_path: Path, **kwargs):
    return run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs", registry=_registry(),
                        progress=False, **kwargs)


def _cli(monkeypatch, *args: str):
    """`synthgen run` in this process, with the test plugins in its registry."""
    import synthgen.runner
    from synthgen.cli.main import _register_subcommands, app

    monkeypatch.setattr(synthgen.runner, "Registry", _registry)
    _register_subcommands()
    return CliRunner().invoke(app, ["run", *args, "--no-progress"])


def test_verifier_errors_are_counted_apart_reported_and_fail_the_run(tmp_path, monkeypatch):
    raw = make_cfg(tmp_path, n=10, k=6)
    raw["verifiers"] = [{"name": "raising_for_tests"}]
    summary = _run(raw, tmp_path)
    records = list(RunStore(summary.run_dir).records())
    raised = sum(v.details.get("error") == "verifier_error" for r in records for c in r.candidates for v in c.verdicts)
    assert raised > 0 and summary.counts["verifier_errors"] == raised
    assert sum(summary.outcome["verifier_errors"].values()) == raised
    assert "lookup table has no entry" in summary.outcome["first_verifier_error"]["message"]
    # the verdicts on answers (pass rates) do not count the errors
    report = (summary.run_dir / "report.html").read_text()
    assert "Verifier errors" in report and "lookup table has no entry" in report and "verifier-errors" in report
    outcome = describe_outcome(summary)
    assert outcome.exit_code == EXIT_VERIFIER_ERRORS and f"Verifier errors: {raised:,} candidates" in outcome.text
    assert describe_outcome(summary, allow_verifier_errors=True).exit_code == EXIT_OK
    cfg_path = tmp_path / "p.yaml"
    cfg_path.write_text(json.dumps({**raw, "name": "cli"}))
    res = _cli(monkeypatch, str(cfg_path), "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code == EXIT_VERIFIER_ERRORS, res.output
    text = " ".join(res.output.split())
    assert "Verifier errors" in text and "--allow-verifier-errors" in text
    res = _cli(monkeypatch, str(cfg_path), "--runs-dir", str(tmp_path / "runs"), "--allow-verifier-errors")
    assert res.exit_code == EXIT_OK, res.output


def test_every_item_failing_exits_non_zero_with_the_reason(tmp_path, monkeypatch):
    raw = make_cfg(tmp_path, n=6, broken_every=1)
    cfg_path = tmp_path / "p.yaml"
    cfg_path.write_text(json.dumps(raw))
    res = _cli(monkeypatch, str(cfg_path), "--runs-dir", str(tmp_path / "runs"))
    assert res.exit_code == EXIT_NOTHING_PRODUCED, res.output
    text = " ".join(res.output.split())
    assert "6 items" in text and "6 failed by reason: failed after 1 attempt(s): ValueError (6)" in text
    assert "broken on purpose" in text and "Nothing was produced: every item failed" in text


def test_an_empty_source_and_unreadable_rows_are_named(tmp_path):
    raw = make_cfg(tmp_path, n=0)
    outcome = describe_outcome(_run(raw, tmp_path))
    assert outcome.exit_code == EXIT_NOTHING_PRODUCED and "the source had no items" in outcome.text
    raw = make_cfg(tmp_path, n=4)
    raw["name"] = "half"
    with open(raw["sources"][0]["path"], "a") as fh:
        fh.write("{not json\n" * 4)
    outcome = describe_outcome(_run(raw, tmp_path))
    assert outcome.exit_code == EXIT_OK and "4 unreadable source rows skipped" in outcome.text
    assert "source_errors.jsonl" in outcome.text
    Path(raw["sources"][0]["path"]).write_text("{not json\n" * 3)
    raw["name"] = "none"
    outcome = describe_outcome(_run(raw, tmp_path))
    assert outcome.exit_code == EXIT_NOTHING_PRODUCED and "every source row was unreadable" in outcome.text


def _math_cfg(tmp_path: Path, responses: list[str], n: int = 3, **export) -> dict:
    src = tmp_path / "math.jsonl"
    src.write_text("".join(json.dumps({"id": f"m{i}", "question": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n"
                           for i in range(n)))
    return {"name": "math", "sources": [{"path": str(src)}],
            "llms": {"policy": {"backend": "scripted_policy_for_tests",
                                "options": {"rules": [{"responses": responses}]}}},
            "generator": {"name": "math_solutions", "options": {"k": 2}},
            "verifiers": [{"name": "math", "options": {"workers": 1}}],
            "export": [{"format": "sft", **export}]}


def test_no_parseable_output_names_the_likely_cause(tmp_path):
    summary = _run(_math_cfg(tmp_path, ["I like turtles."]), tmp_path)
    assert summary.counts["candidates_unparseable"] == summary.counts["candidates"] == 6
    outcome = describe_outcome(summary)
    assert outcome.exit_code == EXIT_NOTHING_PRODUCED
    assert "no parseable output" in outcome.text and "chat template" in outcome.text and "max_tokens" in outcome.text


def test_provenance_on_candidates_and_as_export_columns(tmp_path):
    from datasets import load_dataset

    summary = _run(_math_cfg(tmp_path, ["So the answer is \\boxed{0}."], n=1, file_format="parquet",
                             provenance=True), tmp_path)
    (record,) = RunStore(summary.run_dir).records()
    for cand in record.candidates:
        assert cand.provenance is not None and cand.provenance.generator == "math_solutions"
        assert cand.provenance.models == {"policy": "scripted-policy-for-tests"} and cand.provenance.seed is not None
        assert cand.provenance.parents == [record.id]
    rows = load_dataset("parquet", data_files=summary.exports["sft"], split="train")
    assert len(rows) == 1
    row = rows[0]
    assert row["generator"] == "math_solutions" and row["model"] == "scripted-policy-for-tests"
    assert row["record_id"] == record.id and row["candidate_id"] == record.selected[0] and row["round"] == 0
    assert row["seed"] == record.candidate(record.selected[0]).provenance.seed and row["run"] == "math"


def test_empty_exports_keep_their_schema_and_say_nothing_to_export(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import load_dataset

    raw = make_cfg(tmp_path, n=3, broken_every=1)
    raw["export"] = [{"format": "sft", "file_format": "parquet"}, {"format": "dpo", "file_format": "parquet",
                                                                    "provenance": True}, {"format": "rm"}]
    summary = _run(raw, tmp_path)
    sft = pq.read_table(summary.exports["sft"])  # typed columns, not nulls
    assert sft.num_rows == 0 and sft.schema.field("messages").type == pa.list_(
        pa.struct([("content", pa.string()), ("role", pa.string())]))
    dpo = pq.read_table(summary.exports["dpo"])
    assert {"chosen", "rejected", "prompt", "record_id", "chosen_id"} <= set(dpo.column_names)
    assert summary.export_rows == {"sft": 0, "dpo": 0, "rm": 0}
    assert Path(summary.exports["rm"]).read_bytes() == b""
    with pytest.raises((StopIteration, ValueError)):  # why the outcome says it: datasets cannot load it
        load_dataset("json", data_files=summary.exports["rm"], split="train")
    (tmp_path / "ok").mkdir()
    raw2 = make_cfg(tmp_path / "ok", n=4, k=4)
    raw2["selection"]["pairs"] = "none"
    outcome = describe_outcome(_run(raw2, tmp_path / "ok"))
    assert outcome.exit_code == EXIT_OK and "Nothing to export for dpo: 0 rows" in outcome.text
    from synthgen.cli.main import _register_subcommands, app

    _register_subcommands()
    res = CliRunner().invoke(app, ["export", str(tmp_path / "ok" / "runs" / "t"), "--format", "dpo"])
    assert res.exit_code == 0 and "nothing to export" in " ".join(res.output.split())


def test_resume_says_how_many_items_are_done(tmp_path, capsys):
    raw = make_cfg(tmp_path, n=5)
    _run(raw, tmp_path)
    write_source(Path(raw["sources"][0]["path"]), 8)
    summary = run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs", registry=_registry(),
                           progress=True)
    assert summary.resumed == 5 and summary.counts["records"] == 8
    err = " ".join(capsys.readouterr().err.split())
    assert "resuming: 5 of 8 items done; the done items are skipped" in err
    assert "(5 done by an earlier run)" in describe_outcome(summary).text
    # a source whose size is not known up front (JSON, parquet): the rest follows
    rows = [{"id": f"item-{i}", "prompt": f"say {i}"} for i in range(7)]
    src = tmp_path / "src.json"
    src.write_text(json.dumps(rows[:3]))
    raw = {**raw, "name": "j", "sources": [{"path": str(src)}]}
    _run(raw, tmp_path)
    src.write_text(json.dumps(rows))
    run_pipeline(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs", registry=_registry(), progress=True)
    assert "resuming: 3 items done, the rest of the source follows" in " ".join(capsys.readouterr().err.split())


def test_run_pipeline_runs_the_processing_stage(tmp_path):
    """The Python API and `synthgen run` give the same result for a config with `process:`."""
    raw = make_cfg(tmp_path, n=12, k=3)
    raw["process"] = [{"name": "clean", "options": {"phrases": ["1"], "phrases_target": 0.0, "action": "drop",
                                                    "emoji_target": None, "exclamation_target": None}}]
    summary = _run(raw, tmp_path)
    info = json.loads((summary.run_dir / "process" / "summary.json").read_text())
    assert summary.counts["processed_kept"] == info["kept"] > 0 and info["steps"][0]["totals"]["dropped"] > 0
    sft = [json.loads(line) for line in Path(summary.exports["sft"]).read_text().splitlines()]
    assert sft and all("1" not in m["content"] for row in sft for m in row["messages"] if m["role"] == "assistant")
    assert summary.export_rows["sft"] == len(sft)


@pytest.mark.parametrize("field, value, allowed", [
    ("runner.max_concurrent_items", 3, True),
    ("llms.policy.max_concurrency", 2, True),
    ("seed", 99, False),
    ("llms.policy.options.model", "other", False),
])
def test_fields_that_do_not_change_results_keep_the_fingerprint(tmp_path, field, value, allowed):
    from synthgen.errors import RunStoreError

    raw = make_cfg(tmp_path, n=3, use_llm=True)
    raw["llms"] = {"policy": {"backend": "counting_llm_for_tests"}}
    _run(raw, tmp_path)
    *path, last = field.split(".")
    node = raw
    for key in path:
        node = node.setdefault(key, {})
    node[last] = value
    if allowed:
        _run(raw, tmp_path)
    else:
        with pytest.raises(RunStoreError, match=f"changed: {field}"):
            _run(raw, tmp_path)


def test_openai_endpoint_options_are_not_results():
    a = PipelineConfig.model_validate({"name": "x", "sources": {"path": "s.jsonl"}, "generator": {"name": "math_solutions"},
                                       "llms": {"policy": {"backend": "openai", "options": {"model": "m"}}}})
    b = a.model_copy(deep=True)
    b.llms["policy"].options.update(base_url="http://10.0.0.1:9/v1", timeout=5.0, max_retries=0, api_key_env="K")
    b.llms["policy"].max_concurrency = 3
    assert a.fingerprint() == b.fingerprint()
    b.llms["policy"].options["extra_body"] = {"top_k": 5}
    assert a.fingerprint() != b.fingerprint()


def test_a_round_stage_stops_on_verifier_errors_unless_allowed(tmp_path):
    """The round loop's generate and eval runs (synthgen.round.pipelines.run): a verifier that raised
    would read as wrong answers (a lower yield, a lower pass@1), so the round stops with the outcome
    unless the round config allows it; the setting does not change the round's fingerprint."""
    from synthgen.errors import SynthgenError
    from synthgen.round import pipelines
    from synthgen.round.config import RoundConfig

    raw = make_cfg(tmp_path, n=6, k=6)
    raw["verifiers"] = [{"name": "raising_for_tests"}]
    cfg = PipelineConfig.model_validate(raw)
    with pytest.raises(SynthgenError, match=r"Verifier errors: .*allow_verifier_errors: true"):
        pipelines.run(cfg, tmp_path / "runs", registry=_registry(), progress=False)
    run_dir = pipelines.run(cfg, tmp_path / "runs", registry=_registry(), progress=False, allow_verifier_errors=True)
    assert RunStore(run_dir).exists()
    raw["verifiers"] = [{"name": "parity_for_tests"}]
    ok = pipelines.run(PipelineConfig.model_validate({**raw, "name": "clean"}), tmp_path / "runs",
                       registry=_registry(), progress=False)
    assert ok.name == "clean"
    base = {"name": "r", "model": {"tiny": {}}}
    assert (RoundConfig.model_validate(base).fingerprint()
            == RoundConfig.model_validate({**base, "allow_verifier_errors": True}).fingerprint())
