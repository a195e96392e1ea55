"""The round config: one YAML file that says what `synthgen round` does, round by round.

```yaml
name: demo-round          # run directory: runs/<name>/
rounds: 3                 # rounds 1..N after round 0 (SFT on the seed demonstrations)
model: {tiny: {...}}      # start from a freshly built tiny model, or {path: /local/checkpoint}
task: {builtin: arith}    # the demo task, {builtin: products, style: tir} (synthgen.round.tir_task),
                          # or {seed: seed.jsonl, prompts: [r1.jsonl, ...], eval: eval.jsonl}
generation: {llm: {backend: transformers, options: {...}}, k: 8, temperature: 1.0}
sandbox: {backend: docker}  # for generators that run code (generation.generator: math_tir)
variants: {cot: {...}, tir: {...}}  # optional: run the config once per variant, compare pass@1
verifiers: [{name: math, options: {strict: true}}]
selection: {...}          # synthgen.config.SelectionConfig
train: {round0_sft: {...}, sft: {...}, dpo: null, rm: null}
```
Paths are relative to the YAML file. Errors name the file and the field in one line.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from synthgen.config import LLMRef, PluginRef, SandboxRef, SelectionConfig, VerifyConfig, load_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TinyInit(_Strict):
    """A random-init tiny Llama built at round 0 (the offline demo). Digits are one token each."""

    vocab_size: int = Field(300, ge=264, description="byte-level BPE size; 256 bytes + 8 specials minimum")
    hidden_size: int = Field(128, ge=8)
    num_layers: int = Field(4, ge=1)
    num_heads: int = Field(4, ge=1)
    intermediate_size: int = Field(384, ge=8)
    seed: int = 0


class ModelInit(_Strict):
    """Where round 0 starts: a local checkpoint directory or a freshly built tiny model."""

    path: str | None = Field(None, description="local HF checkpoint directory (model + tokenizer)")
    tiny: TinyInit | None = None

    @model_validator(mode="after")
    def _one(self) -> ModelInit:
        if (self.path is None) == (self.tiny is None):
            raise ValueError("give exactly one of `path` (a local checkpoint) or `tiny: {}` (build one)")
        return self


class ArithTaskConfig(_Strict):
    """The built-in demo task (synthgen.round.arith_task): addition of two integers in [low, high]."""

    builtin: Literal["arith"] = "arith"
    low: int = Field(10, ge=0)
    high: int = Field(99, ge=1)
    seed_size: int = Field(300, ge=1, description="seed demonstrations trained on in round 0")
    prompts_per_round: int = Field(1000, ge=1, description="fresh unlabelled prompts sampled each round")
    eval_size: int = Field(500, ge=1, description="held-out prompts for pass@1")


class FileTaskConfig(_Strict):
    """Your own task: JSONL files. Seed rows are SFT rows (`messages`); prompt and eval rows are
    math_solutions items (`{id, question | messages, answer}`). One prompt file per round, or one
    file reused by every round."""

    seed: str
    prompts: list[str] = Field(..., min_length=1)
    eval: str


class ProductTaskConfig(_Strict):
    """The tool-use demo task (synthgen.round.tir_task): "What is 347*29?", taught either to compute in
    writing (``cot``) or to run ``print(347*29)`` and read the output (``tir``, with math_tir)."""

    builtin: Literal["products"]
    style: Literal["cot", "tir"] = Field("tir", description="how the seed demonstrations answer")
    a_digits: int = Field(3, ge=1, le=6, description="digits of the first factor")
    b_digits: int = Field(2, ge=1, le=6, description="digits of the second factor")
    seed_size: int = Field(300, ge=1, description="seed demonstrations trained on in round 0")
    prompts_per_round: int = Field(300, ge=1, description="fresh unlabelled prompts sampled each round")
    eval_size: int = Field(300, ge=1, description="held-out prompts for pass@1")


def _task_kind(value: Any) -> str:
    """Files if the task names any file, else the named built-in task (so errors speak of one kind only)."""
    if isinstance(value, dict):
        if {"seed", "prompts", "eval"} & set(value):
            return "files"
        return "products" if value.get("builtin") == "products" else "builtin"
    if isinstance(value, FileTaskConfig):
        return "files"
    return "products" if isinstance(value, ProductTaskConfig) else "builtin"


TaskConfig = Annotated[Annotated[ArithTaskConfig, Tag("builtin")] | Annotated[ProductTaskConfig, Tag("products")]
                       | Annotated[FileTaskConfig, Tag("files")], Discriminator(_task_kind)]


class GenerationConfig(_Strict):
    """How the policy samples in rounds >= 1 (and answers the held-out set greedily)."""

    llm: LLMRef = Field(default_factory=lambda: LLMRef(backend="transformers"))
    policy_option: str | None = Field(
        "model", description="llm option that receives each round's policy checkpoint path; null keeps "
        "the options as written (e.g. a fixed OpenAI-compatible endpoint)")
    eval_llm: LLMRef | None = Field(
        None, description="LLM for the held-out evaluation; default: `llm`. Set it when `llm` is a fixed "
        "endpoint, so the trained checkpoint is what gets evaluated")
    eval_policy_option: str | None = Field("model", description="eval_llm option that receives the checkpoint")
    k: int = Field(8, ge=1, description="samples per prompt")
    temperature: float = Field(1.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(32, ge=1)
    system_prompt: str | None = None
    eval_max_tokens: int | None = Field(None, ge=1, description="default: max_tokens")
    generator: Literal["math_solutions", "math_tir"] = Field(
        "math_solutions", description="math_solutions: one answer per sample; math_tir: the policy may run "
        "```python blocks / python tool calls in the sandbox between turns (needs `sandbox:`)")
    generator_options: dict[str, Any] = Field(
        default_factory=dict, description="further generator options, e.g. math_tir's max_blocks and limits")


class AverageRuns(_Strict):
    """Train a stage several times and average the checkpoints' weights (trainers/averaging.py), as
    Llama 3 averages the models of runs with different data or settings at each of RM, SFT and DPO."""

    runs: int = Field(3, ge=2, le=16, description="training runs averaged; run i uses seed + 1000*i, "
                      "so each sees the data in another order")


class StageTrain(_Strict):
    """Trainer settings for one stage; passed to the trainer's config (trainers/*_config.py)."""

    learning_rate: float = Field(1e-5, gt=0)
    max_steps: int = Field(100, ge=1)
    per_device_train_batch_size: int = Field(8, ge=1)
    max_length: int = Field(512, ge=8)
    warmup_ratio: float = Field(0.03, ge=0, le=1)
    lr_scheduler_type: str = "cosine"
    weight_decay: float = Field(0.1, ge=0)
    extra: dict[str, Any] = Field(default_factory=dict, description="other trainer config fields")
    average: AverageRuns | None = Field(None, description="e.g. {runs: 3}: train the stage 3 times "
                                        "(seeds / data orders) and use the average of the checkpoints")

    def trainer_kwargs(self) -> dict[str, Any]:
        return {**self.model_dump(exclude={"extra", "average"}), **self.extra}


class TrainConfig(_Strict):
    round0_sft: StageTrain = Field(default_factory=StageTrain, description="SFT on the seed set")
    sft: StageTrain | None = Field(default_factory=StageTrain, description="SFT in rounds >= 1; null = none")
    sft_data: Literal["cumulative", "round"] = Field(
        "cumulative", description="cumulative: seed + every verified sample kept so far; round: this round's only")
    init_from: Literal["previous", "base"] = Field(
        "previous", description="start each round's SFT from the previous policy or from the round-0 model")
    dpo: StageTrain | None = Field(None, description="DPO from the SFT checkpoint on this round's pairs; null = none")
    rm: StageTrain | None = Field(None, description="reward model trained on this round's rankings; null = none")
    rm_selects: bool = Field(
        True, description="the latest trained reward model scores the next round's verified samples and "
        "selection keeps the best-scoring (a `reward_score` verifier is added when none is listed)")


class RoundConfig(_Strict):
    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    seed: int = 0
    rounds: int = Field(3, ge=0, le=100)
    model: ModelInit
    task: TaskConfig = Field(default_factory=ArithTaskConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    verifiers: list[PluginRef] = Field(default_factory=lambda: [PluginRef(name="math")], min_length=1)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    process: list[PluginRef] = Field(
        default_factory=list, description="processors run on each round's verified samples before training "
        "(clean, topics, quality, difficulty, dedup, mix; see synthgen.processing)")
    process_llms: dict[str, LLMRef] = Field(
        default_factory=dict, description="LLM roles the processors use (judge, tagger, classifier)")
    sandbox: SandboxRef | None = Field(None, description="code sandbox for generation.generator: math_tir")
    sandbox_fallback: str | None = Field(
        None, description="sandbox backend used when `sandbox.backend` does not work here (e.g. bubblewrap "
        "without a Docker engine); checked once when the loop starts")
    variants: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="run this config once per variant (each a partial config merged "
        "over this one) into runs/<name>/<variant>/ and compare their pass@1 round by round")
    allow_verifier_errors: bool = Field(
        False, description="go on when a verifier raised in a generate or eval run (counted as failed "
        "samples); by default the round stops there, as `synthgen run` exits 3")
    base_dir: Path = Field(Path("."), exclude=True, description="directory relative paths start from")

    @model_validator(mode="after")
    def _sandbox_for_code(self) -> RoundConfig:
        if self.generation.generator == "math_tir" and self.sandbox is None and not self.variants:
            raise ValueError("generation.generator math_tir runs code: add `sandbox: {backend: docker}`")
        return self

    def resolve(self, rel: str) -> Path:
        p = Path(rel).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def fingerprint(self) -> str:
        """Hash of what changes a round's results; `rounds` is left out so a run can be extended."""
        data = self.model_dump(mode="json", exclude={"rounds", "allow_verifier_errors"})  # no result changes
        # absent = as before they existed: old run dirs still match
        for key in ("process", "process_llms", "sandbox", "sandbox_fallback", "variants"):
            if not data[key]:
                del data[key]
        for key, default in (("generator", "math_solutions"), ("generator_options", {})):
            if data["generation"][key] == default:
                del data["generation"][key]
        for stage in ("round0_sft", "sft", "dpo", "rm"):  # `average` and `rm_selects` at their defaults:
            if isinstance(data["train"].get(stage), dict) and data["train"][stage].get("average") is None:
                data["train"][stage].pop("average", None)  # run dirs made before they existed still match
        if data["train"].get("rm_selects") is True:
            del data["train"]["rm_selects"]
        return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def load_round_config(path: str | Path, *, rounds: int | None = None) -> RoundConfig:
    cfg: RoundConfig = load_model(RoundConfig, path)
    cfg.base_dir = Path(path).resolve().parent
    if rounds is not None:
        cfg.rounds = rounds
    return cfg
