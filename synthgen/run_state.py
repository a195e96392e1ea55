"""What a finished run saw, so that re-running an unchanged, complete run costs next to nothing.

``finished.json`` in the run directory is written at the end of every run: the config fingerprint,
the (name, size) of every record shard, a signature of the sources (each file's size and
modification time, and the source options), the exports (with their sizes) and the summary. A new
run of the same pipeline returns that summary without reading the sources or the records when all of
it still matches and the last run had every source item done; anything else (a source edited, a
record shard grown, an export deleted or changed) takes the ordinary path, which streams the
sources and skips the done items.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synthgen.config import PipelineConfig, SourceRef
from synthgen.errors import SourceError
from synthgen.export import export_path

if TYPE_CHECKING:
    from synthgen.runner import RunSummary
    from synthgen.store import RunStore

_FILE = "finished.json"


def check_sources(refs: list[SourceRef]) -> None:
    """Missing files and unknown formats fail before the run directory is touched (the rows
    themselves are read later, while the run streams them)."""
    from synthgen.sources import detect_format

    for ref in refs:
        if not Path(ref.path).exists():
            raise SourceError(f"source file not found: {ref.path} (paths are relative to the pipeline file)")
        detect_format(ref)


def _stat(path: Path) -> list:
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def sources_signature(refs: list[SourceRef]) -> list:
    sig = []
    for ref in refs:
        path = Path(ref.path)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        sig.append([ref.model_dump(mode="json"), [_stat(p) for p in files]])
    return sig


def estimate_items(refs: list[SourceRef]) -> int:
    """Lines of the JSONL sources (for the progress bar); 0 when a source is of another kind."""
    from synthgen.sources import detect_format

    total = 0
    for ref in refs:
        if detect_format(ref) != "jsonl" or ref.documents is not None:
            return 0
        lines = 0
        with open(ref.path, "rb") as fh:
            while block := fh.read(1 << 20):
                lines += block.count(b"\n")
        total += min(lines, ref.limit) if ref.limit is not None else lines
    return total


def _export_paths(store: "RunStore", cfg: PipelineConfig) -> list[dict[str, Any]]:
    out = []
    for exp in cfg.export:
        path = export_path(store.dir, exp)
        out.append({"config": exp.model_dump(mode="json"), "path": str(path),
                    "size": path.stat().st_size if path.is_file() else (-1 if path.is_dir() else None)})
    return out


def write_finished(store: "RunStore", cfg: PipelineConfig, sources_sig: list | None, summary: "RunSummary",
                   fingerprint: str | None = None) -> None:
    store.write_json(_FILE, {
        "fingerprint": fingerprint or cfg.fingerprint(), "state": store.state(), "sources": sources_sig,
        "complete": sources_sig is not None, "exports": _export_paths(store, cfg),
        "summary": {"counts": summary.counts, "stages": summary.stages, "exports": summary.exports,
                    "source_problems": summary.source_problems, "outcome": summary.outcome,
                    "export_rows": summary.export_rows},
    })


def unchanged_finished_run(store: "RunStore", cfg: PipelineConfig, sources_sig: list,
                           fingerprint: str | None = None) -> "RunSummary | None":
    """The saved summary when the last run was complete and nothing it depended on changed."""
    from synthgen.runner import RunSummary

    path = store.dir / _FILE
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    fingerprint = fingerprint or cfg.fingerprint()
    if not (isinstance(saved, dict) and saved.get("complete") and saved.get("fingerprint") == fingerprint
            and saved.get("sources") == json.loads(json.dumps(sources_sig)) and saved.get("state") == store.state()
            and saved.get("exports") == _export_paths(store, cfg)
            and all(e["size"] is not None for e in saved["exports"])
            and (store.dir / "summary.json").is_file() and (store.dir / "report.html").is_file()):
        return None
    info = saved["summary"]
    return RunSummary(run_dir=store.dir, counts=info["counts"], stages=info["stages"], exports=info["exports"],
                      timings={"wall_s": 0.0, "resources": {}, "unchanged": True},
                      source_problems=info.get("source_problems", 0), outcome=info.get("outcome") or {},
                      export_rows=info.get("export_rows") or {},
                      resumed=(info.get("outcome") or {}).get("items", 0))


def forget_finished(run_dir: Path) -> None:
    """Called by anything that changes a run's outputs outside a run (the next run redoes them)."""
    try:
        os.unlink(run_dir / _FILE)
    except FileNotFoundError:
        pass
