"""Small runs written for the processing tests: records straight into a run store, then the stage."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from synthgen.config import LLMRef, PluginRef
from synthgen.processing.stage import ProcessingStage, dropped_records, processed_records
from synthgen.records import PreferencePair, Record
from synthgen.registry import Registry
from synthgen.store import RunStore
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests


def sft_record(rid: str, prompt: str, response: str, *, capability: str = "general", reward: float | None = None,
               metadata: dict[str, Any] | None = None, rejected: str | None = None) -> Record:
    rec = Record(id=rid, capability=capability, messages=[{"role": "user", "content": prompt}],
                 metadata=dict(metadata or {}))
    cand = rec.add_candidate([{"role": "assistant", "content": response}])
    if reward is not None:
        cand.scores["reward"] = reward
    rec.selected = [cand.id]
    if rejected is not None:
        bad = rec.add_candidate([{"role": "assistant", "content": rejected}])
        rec.pairs = [PreferencePair(chosen=cand.id, rejected=bad.id)]
    return rec


def make_run(tmp: Path, records: list[Record], name: str = "r") -> Path:
    store = RunStore(tmp / name)
    store.initialise(config_yaml="test: true\n", fingerprint="test", seed=0)
    writer = store.writer(0)
    for rec in records:
        writer.write_item(rec.id, [rec])
    writer.close()
    return store.dir


def registry_with_scripted() -> Registry:
    registry = Registry()
    registry.register("llm", ScriptedPolicyForTests)
    return registry


def scripted(rules: list[dict[str, Any]], default: str = "no idea") -> LLMRef:
    return LLMRef(backend="scripted_policy_for_tests", options={"rules": rules, "default": default})


def run_stage(run_dir: Path, steps: list[dict[str, Any]], *, llms: dict[str, LLMRef] | None = None,
              registry: Registry | None = None, batch_size: int = 8, seed: int = 0) -> dict[str, Any]:
    stage = ProcessingStage(run_dir, [PluginRef.model_validate(s) for s in steps], llms=llms, seed=seed,
                            registry=registry or registry_with_scripted(), batch_size=batch_size)
    return asyncio.run(stage.run())


def kept(run_dir: Path) -> dict[str, Record]:
    return {r.id: r for r in processed_records(run_dir)}


def dropped(run_dir: Path) -> dict[str, str]:
    return {r.id: r.metadata["dropped"]["reason"] for r in dropped_records(run_dir)}
