"""`synthgen round`: the Llama 3 post-training loop, round by round, resumable per stage.

Round 0 fine-tunes the starting model on the seed demonstrations. Round r >= 1 samples K answers
per fresh prompt with the policy of round r-1, verifies them, keeps the verified ones (rejection
sampling), exports SFT/DPO(/RM) data, trains (RM, then SFT, then DPO from the SFT checkpoint, as
configured) and evaluates the new policy greedily on the held-out set with the same verifiers.
The new checkpoint is the policy of round r+1. Metrics go to ``runs/<name>/rounds.json``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from synthgen.errors import RunStoreError
from synthgen.registry import Registry
from synthgen.round import data, pipelines, train
from synthgen.round.config import RoundConfig
from synthgen.round.report import print_table, write_reports
from synthgen.round.stages import RoundDir, write_json_atomic


class RoundLoop:
    def __init__(self, cfg: RoundConfig, *, runs_dir: Path = Path("runs"), registry: Registry | None = None,
                 progress: bool = True, console: Console | None = None) -> None:
        self.cfg, self.registry, self.progress = cfg, registry, progress
        self.run_dir = Path(runs_dir) / cfg.name
        self.data_dir = self.run_dir / "data"
        self.console = console or Console(stderr=True)

    # -- bookkeeping -----------------------------------------------------------------------------
    def _prepare_run_dir(self, force: bool) -> None:
        meta_path = self.run_dir / "round_run.json"
        if force and self.run_dir.exists():
            shutil.rmtree(self.run_dir)
        if meta_path.is_file():
            import json

            old = json.loads(meta_path.read_text()).get("fingerprint")
            if old != self.cfg.fingerprint():
                raise RunStoreError(
                    f"{self.run_dir} was made by a different round config (fingerprint {old} != "
                    f"{self.cfg.fingerprint()}); rerun with --force to start over, or change `name`")
        write_json_atomic(meta_path, {"fingerprint": self.cfg.fingerprint(),
                                      "config": self.cfg.model_dump(mode="json")})

    def _stage(self, rdir: RoundDir, stage: str, work: Callable[[Path], dict[str, Any]], *,
               clean: bool = True, what: str = "") -> dict[str, Any]:
        def skipped(name: str) -> None:
            self.console.print(f"[dim]round {rdir.index} · {name}: done earlier, skipped[/]")

        if rdir.finished(stage) is None:
            self.console.rule(f"round {rdir.index} · {stage}{' · ' + what if what else ''}", style="cyan")
        return rdir.run(stage, work, clean=clean, on_skip=skipped)

    # -- stages ----------------------------------------------------------------------------------
    def _initial_model(self) -> Path:
        if self.cfg.model.path is not None:
            path = self.cfg.resolve(self.cfg.model.path)
            if not (path / "config.json").is_file():
                from synthgen.errors import ConfigError

                raise ConfigError(f"{path} is not a model checkpoint directory (no config.json)", field="model.path")
            return path
        rdir = RoundDir(self.run_dir, 0)

        def build(out: Path) -> dict[str, Any]:
            from synthgen.round import arith_task, tir_task
            from synthgen.tiny_model import TinyModelSpec, build_tiny_model

            t = self.cfg.model.tiny
            assert t is not None
            spec = TinyModelSpec(vocab_size=t.vocab_size, hidden_size=t.hidden_size, num_layers=t.num_layers,
                                 num_heads=t.num_heads, intermediate_size=t.intermediate_size,
                                 seed=t.seed + self.cfg.seed, split_digits=True)
            corpus = {"ArithTaskConfig": arith_task.tokenizer_corpus,
                      "ProductTaskConfig": tir_task.tokenizer_corpus}.get(type(self.cfg.task).__name__, lambda: None)()
            return {"checkpoint": str(build_tiny_model(out, spec, corpus=corpus))}

        return Path(self._stage(rdir, "init_model", build, what="random-init tiny model")["checkpoint"])

    def _evaluate(self, rdir: RoundDir, policy: Path, eval_set: Path) -> dict[str, Any]:
        def work(out: Path) -> dict[str, Any]:
            pipe = pipelines.eval_pipeline(self.cfg, rdir.index, policy, eval_set)
            run_dir = pipelines.run(pipe, out, registry=self.registry, progress=self.progress,
                                    allow_verifier_errors=self.cfg.allow_verifier_errors)
            return {"run": str(run_dir), **pipelines.eval_stats(run_dir)}

        return self._stage(rdir, "eval", work, clean=False, what=f"held-out pass@1 ({policy.name})")

    def _round0(self, init: Path, seed_sft: Path, eval_set: Path) -> dict[str, Any]:
        rdir = RoundDir(self.run_dir, 0)
        sft = self._stage(rdir, "train_sft", lambda out: {
            "rows": train.count_rows(seed_sft),
            **train.sft(self.cfg.train.round0_sft, model=init, dataset=seed_sft, output_dir=out / "checkpoint",
                        seed=self.cfg.seed)}, what="SFT on the seed demonstrations")
        policy = Path(sft["checkpoint"])
        ev = self._evaluate(rdir, policy, eval_set)
        return {"round": 0, "policy": str(policy), "train": {"sft": sft}, "eval": ev,
                "wall_s": {"train_sft": sft["wall_s"], "eval": ev["wall_s"]}}

    def _round(self, r: int, policy: Path, round0_policy: Path, seed_sft: Path, eval_set: Path,
               kept: list[Path], reward_model: Path | None) -> dict[str, Any]:
        cfg, rdir = self.cfg, RoundDir(self.run_dir, r)
        prompts = data.prompts_file(cfg, self.data_dir, r)
        wall: dict[str, float] = {}

        def generate(out: Path) -> dict[str, Any]:
            pipe = pipelines.generate_pipeline(cfg, r, policy, prompts, out / "export", reward_model)
            run_dir = pipelines.run(pipe, out, registry=self.registry, progress=self.progress,
                                    process_llms=cfg.process_llms, allow_verifier_errors=cfg.allow_verifier_errors)
            return {"run": str(run_dir), "exports": {e.format: e.path for e in pipe.export},
                    **pipelines.generation_stats(run_dir), **pipelines.processing_stats(run_dir)}

        ranked_by = (f" by reward model {reward_model.parent.parent.name}"
                     if reward_model is not None and pipelines.uses_reward_model(cfg, reward_model) else "")
        gen = self._stage(rdir, "generate", generate, clean=False,
                          what=f"{train.count_rows(prompts)} prompts × {cfg.generation.k} samples, verify, "
                               f"select{ranked_by}")
        wall["generate"] = gen["wall_s"]
        exports = {k: Path(v) for k, v in gen["exports"].items()}
        trained: dict[str, Any] = {}
        new_policy = policy

        if cfg.train.rm is not None and train.count_rows(exports.get("rm", Path("-"))) > 0:
            trained["rm"] = self._stage(rdir, "train_rm", lambda out: train.rm(
                cfg.train.rm, model=policy, dataset=exports["rm"], output_dir=out / "checkpoint",
                seed=cfg.seed + r), what=f"reward model on {gen['rm_rows']} ranked rows")
            wall["train_rm"] = trained["rm"]["wall_s"]

        if cfg.train.sft is not None:
            sources = [*kept, exports["sft"]] if cfg.train.sft_data == "cumulative" else [exports["sft"]]
            seed_rows = seed_sft if cfg.train.sft_data == "cumulative" else Path("-")
            start = policy if cfg.train.init_from == "previous" else round0_policy

            def sft_work(out: Path) -> dict[str, Any]:
                dataset, rows = data.sft_training_file(seed_rows, sources, out / "train.jsonl")
                return {"rows": rows, **train.sft(cfg.train.sft, model=start, dataset=dataset,
                                                  output_dir=out / "checkpoint", seed=cfg.seed + r)}

            if sources and (train.count_rows(exports["sft"]) > 0 or cfg.train.sft_data == "cumulative"):
                trained["sft"] = self._stage(rdir, "train_sft", sft_work,
                                             what=f"SFT ({cfg.train.sft_data}) from {start.name}")
                wall["train_sft"] = trained["sft"]["wall_s"]
                new_policy = Path(trained["sft"]["checkpoint"])

        if cfg.train.dpo is not None:
            if train.count_rows(exports["dpo"]) > 0:
                base = new_policy
                trained["dpo"] = self._stage(rdir, "train_dpo", lambda out: {
                    "rows": train.count_rows(exports["dpo"]),
                    **train.dpo(cfg.train.dpo, model=base, dataset=exports["dpo"], output_dir=out / "checkpoint",
                                seed=cfg.seed + r)}, what=f"DPO on {gen['dpo_pairs']} pairs from {base.name}")
                wall["train_dpo"] = trained["dpo"]["wall_s"]
                new_policy = Path(trained["dpo"]["checkpoint"])
            else:
                self.console.print(f"[yellow]round {r}: no preference pairs, DPO skipped[/]")

        ev = self._evaluate(rdir, new_policy, eval_set)
        wall["eval"] = ev["wall_s"]
        return {"round": r, "policy": str(new_policy), "generate": gen, "train": trained, "eval": ev,
                "wall_s": wall}

    # -- the loop --------------------------------------------------------------------------------
    def run(self, *, force: bool = False) -> list[dict[str, Any]]:
        from synthgen.progress import quiet_library_bars

        quiet_library_bars()  # weight loads and dataset maps would bury the stage headers
        self._prepare_run_dir(force)
        self.cfg = pipelines.with_working_sandbox(self.cfg, self.registry)  # after the fingerprint check
        seed_sft = data.seed_file(self.cfg, self.data_dir)
        eval_set = data.eval_file(self.cfg, self.data_dir)
        init = self._initial_model()
        metrics = [self._round0(init, seed_sft, eval_set)]
        self._save(metrics)
        kept: list[Path] = []
        round0_policy = policy = Path(metrics[0]["policy"])
        reward_model: Path | None = None  # the latest reward model: scores the next round's samples
        for r in range(1, self.cfg.rounds + 1):
            m = self._round(r, policy, round0_policy, seed_sft, eval_set, kept, reward_model)
            kept.append(Path(m["generate"]["exports"]["sft"]))
            if "rm" in m["train"]:
                reward_model = Path(m["train"]["rm"]["checkpoint"])
            policy = Path(m["policy"])
            metrics.append(m)
            self._save(metrics)
        print_table(metrics, self.console, title=f"{self.cfg.name}: per-round metrics")
        paths = write_reports(self.run_dir, self.cfg.name, metrics)
        self.console.print(f"report: [bold]{paths[0]}[/]  metrics: [bold]{self.run_dir / 'rounds.json'}[/]")
        return metrics

    def _save(self, metrics: list[dict[str, Any]]) -> None:
        write_json_atomic(self.run_dir / "rounds.json", {"name": self.cfg.name, "rounds": metrics})
        print_table(metrics[-1:], self.console, title=None)


def run_rounds(cfg: RoundConfig, **kwargs: Any) -> list[dict[str, Any]]:
    """Run the rounds; with ``variants``, run each variant and return the comparison rows instead."""
    force = kwargs.pop("force", False)
    if cfg.variants:
        from synthgen.round.variants import run_variants

        return run_variants(cfg, force=force, **kwargs)
    return RoundLoop(cfg, **kwargs).run(force=force)
