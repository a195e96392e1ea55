"""`synthgen process` over a dataset and over a run, and the dataset import both ways."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from synthgen.cli.main import _register_subcommands, app
from synthgen.processing.datasets_in import row_to_record

ROOT = Path(__file__).resolve().parents[2]
_register_subcommands()


def _config(tmp_path: Path, steps, **extra) -> Path:
    path = tmp_path / "process.yaml"
    path.write_text(yaml.safe_dump({"process": steps, **extra}))
    return path


def test_process_an_sft_dataset_end_to_end(tmp_path):
    cfg = _config(tmp_path, [{"name": "clean"}, {"name": "mix", "options": {"tokenizer": "words"}}], name="chat")
    result = CliRunner().invoke(app, ["process", str(ROOT / "examples/process_data/chat_sft.jsonl"), str(cfg),
                                      "--runs-dir", str(tmp_path / "runs"), "--no-progress"])
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "chat"
    rows = [json.loads(line) for line in (run / "export" / "sft.jsonl").read_text().splitlines()]
    assert len(rows) == 80  # 83 rows: 2 bad inputs dropped with reasons, 1 malformed row a failed record
    assert "clean shares (before -> after)" in result.output and "data mix per capability" in result.output
    summary = json.loads((run / "process" / "summary.json").read_text())
    reasons = summary["steps"][0]["dropped_by_reason"]
    assert reasons == {"bad input: empty response": 1, "bad input: non-text content": 1}
    failed = [json.loads(line) for line in (run / "records").glob("*.jsonl").__next__().read_text().splitlines()]
    assert any(r["records"][0].get("status") == "failed" for r in failed)
    shares = summary["steps"][0]["report"]["shares"]
    assert shares["phrases"]["before"] > 0.3 and shares["phrases"]["after"] <= 0.05
    assert "<h2>Processing</h2>" in (run / "report.html").read_text()
    # the same command again resumes: nothing is redone
    again = CliRunner().invoke(app, ["process", str(ROOT / "examples/process_data/chat_sft.jsonl"), str(cfg),
                                     "--runs-dir", str(tmp_path / "runs"), "--no-progress"])
    assert again.exit_code == 0 and (run / "export" / "sft.jsonl").read_text().count("\n") == 80


def test_process_a_run_and_export_reads_the_processed_records(tmp_path):
    from tests.processing.helpers import make_run, sft_record

    recs = [sft_record(f"r{i}", f"Q{i}", "I'm sorry. " * (i % 2) + f"A{i}.") for i in range(10)]
    run = make_run(tmp_path, recs)
    cfg = _config(tmp_path, [{"name": "clean", "options": {"phrases_target": 0.0, "action": "drop"}}])
    result = CliRunner().invoke(app, ["process", str(run), str(cfg), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert (run / "export" / "sft.jsonl").read_text().count("\n") == 5
    out = tmp_path / "again.jsonl"
    assert CliRunner().invoke(app, ["export", str(run), "-f", "sft", "-o", str(out)]).exit_code == 0
    assert out.read_text().count("\n") == 5  # `synthgen export` skips what the stage dropped


def test_a_config_error_is_one_line_naming_the_field(tmp_path):
    cfg = _config(tmp_path, [{"name": "dedupe"}])
    result = CliRunner().invoke(app, ["process", str(ROOT / "examples/process_data/chat_sft.jsonl"), str(cfg),
                                      "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code != 0 and "unknown processor plugin 'dedupe'" in str(result.exception)


@pytest.mark.parametrize("row,kind", [
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}, "sft"),
    ({"prompt": "hi", "chosen": "hello", "rejected": "go away"}, "dpo"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "failed"),
    ({"text": "plain"}, "failed"),
    ({"prompt": "hi", "chosen": 3, "rejected": "x"}, "failed"),
])
def test_dataset_rows(row, kind):
    rec, got = row_to_record("f:1", row)
    assert got == kind
    if kind == "sft":
        assert rec.selected and rec.candidate(rec.selected[0]).text == "hello"
    if kind == "dpo":
        assert rec.candidate(rec.pairs[0].chosen).text == "hello"
    if kind == "failed":
        assert rec.status == "failed" and rec.error.startswith("dataset row f:1")


def test_synthgen_run_with_process_exports_what_the_stage_kept(tmp_path):
    """`process:` in a pipeline: generation, then the stage, then exports of the kept records only."""
    from synthgen.config import PipelineConfig
    from synthgen.processing.run import run_with_processing
    from tests.fixtures.plugins_for_tests import registry_for_tests
    from tests.synthgen.test_runner import make_cfg

    raw = make_cfg(tmp_path, n=20, k=3)
    raw["process"] = [{"name": "mix", "options": {"tokenizer": "words", "target_shares": {"test": 1.0}}},
                      {"name": "clean", "options": {"phrases": ["1"], "phrases_target": 0.0, "action": "drop",
                                                    "emoji_target": None, "exclamation_target": None}}]
    summary = run_with_processing(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs",
                                  registry=registry_for_tests(), progress=False)
    run = summary.run_dir
    info = json.loads((run / "process" / "summary.json").read_text())
    kept_n = info["kept"]
    dropped_n = info["steps"][1]["totals"]["dropped"]
    assert dropped_n > 0 and kept_n > 0  # responses with a "1" in them are gone, the rest exported
    sft = [json.loads(line) for line in Path(summary.exports["sft"]).read_text().splitlines()]
    assert sft and all("1" not in m["content"] for row in sft for m in row["messages"] if m["role"] == "assistant")
    assert json.loads((run / "summary.json").read_text())["process"]["kept"] == kept_n
    raw["process"][0]["options"]["target_shares"] = {"code": 1.0}
    from synthgen.errors import ConfigError

    with pytest.raises(ConfigError, match="lists code, which no record has; groups by capability: test"):
        run_with_processing(PipelineConfig.model_validate(raw), runs_dir=tmp_path / "runs",
                            registry=registry_for_tests(), progress=False)
