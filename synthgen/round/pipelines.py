"""The two pipeline runs of a round, built on the engine's runner: sampling K answers to the
round's prompts with the current policy, and greedy answers to the held-out set (pass@1).
Both use the configured generator (math_solutions, or math_tir, whose code blocks run in the
round's sandbox, in sampling and in the greedy evaluation alike) and the round's verifier chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthgen.config import (
    ExportRef,
    LLMRef,
    PipelineConfig,
    PluginRef,
    SandboxRef,
    SelectionConfig,
    SourceRef,
)
from synthgen.errors import ConfigError, SynthgenError
from synthgen.registry import Registry
from synthgen.round.config import RoundConfig
from synthgen.store import RunStore


def policy_llm(cfg: RoundConfig, checkpoint: Path, *, for_eval: bool = False) -> LLMRef:
    """The configured LLM with the policy checkpoint put into its ``policy_option``."""
    g = cfg.generation
    ref, option = g.llm, g.policy_option
    if for_eval and g.eval_llm is not None:
        ref, option = g.eval_llm, g.eval_policy_option
    ref = ref.model_copy(deep=True)
    if option:
        ref.options = {**ref.options, option: str(checkpoint)}
    return ref


REWARD_VERIFIER = "reward_score"


def _verifiers(cfg: RoundConfig, reward_model: Path | None) -> list[PluginRef]:
    """The configured chain; a `reward_score` verifier scores with the latest trained reward model.

    Before any reward model exists (round 1, or `train.rm: null`) a `reward_score` entry without its
    own `model` option is left out, and selection falls back to the verifier scores. Once one exists
    and none is listed, one is appended (``train.rm_selects``): the chain runs it last, on samples
    that passed the other verifiers, and selection keeps the best-scoring of them.
    """
    if uses_reward_model(cfg, reward_model) and all(ref.name != REWARD_VERIFIER for ref in cfg.verifiers):
        return [*cfg.verifiers, PluginRef(name=REWARD_VERIFIER, options={"model": str(reward_model)})]
    out = []
    for ref in cfg.verifiers:
        if ref.name == REWARD_VERIFIER and "model" not in ref.options:
            if reward_model is None:
                continue
            ref = PluginRef(name=ref.name, options={**ref.options, "model": str(reward_model)})
        out.append(ref)
    return out


def uses_reward_model(cfg: RoundConfig, reward_model: Path | None) -> bool:
    """Whether the round's sampling is scored by ``reward_model`` (listed, or added by rm_selects)."""
    listed = any(ref.name == REWARD_VERIFIER and "model" not in ref.options for ref in cfg.verifiers)
    return reward_model is not None and (listed or cfg.train.rm_selects)


def _pipeline(cfg: RoundConfig, *, name: str, round_index: int, checkpoint: Path, source: Path,
              generator_options: dict[str, Any], selection: SelectionConfig,
              export: list[ExportRef], reward_model: Path | None = None) -> PipelineConfig:
    g = cfg.generation
    runs_code = g.generator == "math_tir"
    return PipelineConfig(
        name=name, seed=cfg.seed + round_index, round=round_index,
        llms={"policy": policy_llm(cfg, checkpoint, for_eval=name == "eval")},
        sandbox=cfg.sandbox if runs_code else None,
        sources=[SourceRef(path=str(source), format="jsonl")],
        generator=PluginRef(name=g.generator, options={**g.generator_options, **generator_options}),
        verifiers=_verifiers(cfg, reward_model), verify=cfg.verify, selection=selection, export=export,
        process=cfg.process if name == "generate" else [],
    )


def generate_pipeline(cfg: RoundConfig, round_index: int, checkpoint: Path, prompts: Path,
                      export_dir: Path, reward_model: Path | None = None) -> PipelineConfig:
    g = cfg.generation
    formats = ["sft", "dpo"] + (["rm"] if cfg.train.rm is not None else [])
    return _pipeline(
        cfg, name="generate", round_index=round_index, checkpoint=checkpoint, source=prompts,
        generator_options={"k": g.k, "temperature": g.temperature, "top_p": g.top_p,
                           "max_tokens": g.max_tokens, "system_prompt": g.system_prompt},
        selection=cfg.selection, reward_model=reward_model,
        export=[ExportRef(format=f, path=str(export_dir / f"{f}.jsonl")) for f in formats],
    )


def eval_pipeline(cfg: RoundConfig, round_index: int, checkpoint: Path, eval_set: Path) -> PipelineConfig:
    g = cfg.generation
    return _pipeline(
        cfg, name="eval", round_index=round_index, checkpoint=checkpoint, source=eval_set,
        generator_options={"k": 1, "temperature": 0.0, "max_tokens": g.eval_max_tokens or g.max_tokens,
                           "system_prompt": g.system_prompt},
        selection=SelectionConfig(pairs="none"), export=[],
    )


async def probe_sandbox(ref: SandboxRef, registry: Registry) -> str | None:
    """None when one python job runs on the backend, else why not."""
    from sandboxes.types import ExecRequest

    try:
        sandbox = registry.create("sandbox", ref.backend, ref.options, where="sandbox.options")
        async with sandbox:
            res = await sandbox.run(ExecRequest(language="python", files={"main.py": "print('ok')"}))
    except Exception as exc:  # noqa: BLE001 - any failure to start means: try the fallback
        return f"{type(exc).__name__}: {exc}"
    return None if res.ok and res.stdout_text == "ok\n" else f"test job ended {res.status.value}: {res.error}"


def with_working_sandbox(cfg: RoundConfig, registry: Registry | None = None) -> RoundConfig:
    """``cfg`` with a sandbox that works here: ``sandbox`` if it runs a test job, else ``sandbox_fallback``.

    Checked once per loop (a second or two) and only when the generator runs code, so a machine
    without a Docker engine runs the demo on bubblewrap instead of failing every code block.
    """
    import asyncio

    if cfg.generation.generator != "math_tir" or cfg.sandbox is None:
        return cfg
    registry = registry or Registry()
    why = asyncio.run(probe_sandbox(cfg.sandbox, registry))
    if why is None:
        return cfg
    if cfg.sandbox_fallback and cfg.sandbox_fallback != cfg.sandbox.backend:
        fallback = SandboxRef(backend=cfg.sandbox_fallback, max_concurrency=cfg.sandbox.max_concurrency)
        why_fallback = asyncio.run(probe_sandbox(fallback, registry))
        if why_fallback is None:
            return cfg.model_copy(update={"sandbox": fallback})
        why += f"; fallback {cfg.sandbox_fallback}: {why_fallback}"
    raise ConfigError(f"sandbox backend {cfg.sandbox.backend} does not work here ({why}); see "
                      "`synthgen sandbox doctor`, or set `sandbox_fallback: bubblewrap`", field="sandbox")


def run(pipeline: PipelineConfig, runs_dir: Path, *, registry: Registry | None, progress: bool,
        process_llms: dict[str, LLMRef] | None = None, allow_verifier_errors: bool = False) -> Path:
    """Run one stage's pipeline; a verifier that raised stops the round (its failed samples would
    read as wrong answers: a lower yield, a lower pass@1) unless ``allow_verifier_errors``."""
    from synthgen.processing.run import run_with_processing
    from synthgen.run_outcome import describe_outcome

    if pipeline.process and process_llms:  # the processors' roles beside the policy
        pipeline = pipeline.model_copy(update={"llms": {**process_llms, **pipeline.llms}})
    summary = run_with_processing(pipeline, runs_dir=runs_dir, registry=registry, progress=progress)
    outcome = describe_outcome(summary, allow_verifier_errors=allow_verifier_errors)
    if outcome.verifier_errors and not allow_verifier_errors:
        raise SynthgenError(f"{pipeline.name}: {outcome.text} Set `allow_verifier_errors: true` in the round "
                            f"config to go on anyway; the run is in {summary.run_dir}.")
    return Path(summary.run_dir)


def processing_stats(run_dir: Path) -> dict[str, Any]:
    """What the processing stage kept and the data-mix table (empty without `process:`)."""
    import json

    path = run_dir / "process" / "summary.json"
    if not path.is_file():
        return {}
    info = json.loads(path.read_text())
    out: dict[str, Any] = {"processed_kept": info.get("kept"),
                           "processed_steps": {s["processor"]: s["totals"].get("dropped", 0) for s in info["steps"]}}
    mix = run_dir / "process" / "mix.json"
    if mix.is_file():
        out["mix"] = json.loads(mix.read_text()).get("rows", [])
    return out


def generation_stats(run_dir: Path) -> dict[str, Any]:
    """Verified yield of the K samples and what selection kept."""
    prompts = samples = passed = solved = sft = pairs = ranked = failed = 0
    for record in RunStore(run_dir).records():
        prompts += 1
        if record.status == "failed":
            failed += 1
            continue
        samples += len(record.candidates)
        n_pass = sum(c.passed for c in record.candidates)
        passed += n_pass
        solved += n_pass > 0
        sft += len(record.selected)
        pairs += len(record.pairs)
        ranked += bool(record.ranking)
    return {"prompts": prompts, "failed_records": failed, "samples": samples, "passed": passed,
            "verified_yield": round(passed / samples, 4) if samples else 0.0,
            "prompts_solved": solved, "sft_rows": sft, "dpo_pairs": pairs, "rm_rows": ranked}


def eval_stats(run_dir: Path) -> dict[str, Any]:
    """Greedy pass@1 on the held-out prompts (a failed record counts as a miss)."""
    total = correct = 0
    for record in RunStore(run_dir).records():
        total += 1
        correct += record.status == "ok" and bool(record.candidates) and record.candidates[0].passed
    return {"prompts": total, "passed": correct, "pass_at_1": round(correct / total, 4) if total else 0.0}
