"""The pipeline config: one YAML file, validated by pydantic, that says what a run does.

Errors name the file, the field path and the fix in one line, e.g.
``pipeline.yaml: generator.options.k: Input should be a valid integer (got 'ten')``.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from synthgen.errors import ConfigError

if TYPE_CHECKING:
    from synthgen.registry import Registry


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PluginRef(_Strict):
    """A plugin by name with its options (validated against the plugin's own Config)."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class LLMRef(_Strict):
    """A model for one role: a backend plugin (transformers, openai, vllm, ...) and its options."""

    backend: str
    options: dict[str, Any] = Field(default_factory=dict)
    max_concurrency: int = Field(64, ge=1, description="concurrent generate calls in flight for this role")


class SandboxRef(_Strict):
    backend: str = "docker"
    options: dict[str, Any] = Field(default_factory=dict)
    max_concurrency: int = Field(8, ge=1, description="concurrent sandbox jobs (the pool queues the rest)")


class SourceRef(_Strict):
    """A source of items: a JSONL / JSON / parquet file, a `save_to_disk` dataset directory, or
    documents (text/markdown files or a folder of them; see synthgen.documents)."""

    path: str
    format: Literal["auto", "jsonl", "json", "parquet", "hf_disk", "text"] = "auto"
    split: str | None = None
    limit: int | None = Field(None, ge=0)
    id_field: str = "id"
    documents: dict[str, Any] | None = Field(
        None, description="read rows as documents (text column, packing): see synthgen.documents.DocumentOptions")


class VerifyConfig(_Strict):
    mode: Literal["all", "weighted"] = "all"
    weights: dict[str, float] = Field(default_factory=dict)
    threshold: float = 0.5
    short_circuit: bool = True
    run_after_generate: bool = Field(
        True, description="run the chain on candidates the generator left unverified")


class SelectionConfig(_Strict):
    """Rejection sampling and preference building (see synthgen.selection)."""

    score_key: str = Field("reward", description="candidate score used to rank passing candidates; "
                           "falls back to the verifier chain score, then to candidate order")
    keep_top_k: int = Field(1, ge=1, description="candidates kept for SFT per record (best first)")
    pairs: Literal["none", "best_vs_worst", "passed_vs_failed", "all_passed_vs_failed"] = "passed_vs_failed"
    min_margin: float = Field(0.0, ge=0.0, description="min score gap between chosen and rejected")
    max_pairs_per_record: int = Field(1, ge=0)
    similarity_threshold: float = Field(
        0.9, ge=0.0, le=1.0, description="drop pairs whose responses are this similar (token Jaccard)")
    ranking_size: int = Field(3, ge=2, le=3, description="responses per RM row (2 or 3)")


class ExportRef(_Strict):
    format: Literal["sft", "dpo", "rm"]
    file_format: Literal["jsonl", "parquet", "disk"] = "jsonl"
    path: str | None = Field(None, description="default: runs/<name>/export/<format>.<ext>; a relative "
                             "path is relative to the pipeline file")
    include_failed_records: bool = False
    provenance: bool = Field(False, description="add provenance columns: generator, model, seed, round, "
                             "record and candidate ids (see synthgen.export)")


class RayConfig(_Strict):
    address: str | None = Field(None, description="an existing cluster ('auto' or ray://...); default: start a local one")
    num_workers: int = Field(2, ge=1, description="actors, each holding the run's plugins")
    num_cpus_per_worker: float = Field(1.0, gt=0)
    num_gpus_per_worker: float = Field(0.0, ge=0)


class RunnerConfig(_Strict):
    executor: Literal["local", "ray"] = "local"
    ray: RayConfig = Field(default_factory=RayConfig)
    max_concurrent_items: int = Field(64, ge=1)
    retries: int = Field(3, ge=0, description="attempts after the first for transient failures")
    backoff_s: float = Field(0.5, ge=0.0)
    item_timeout_s: float | None = Field(None, gt=0)
    fsync_every_s: float = Field(1.0, ge=0.0)


class PipelineConfig(_Strict):
    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    seed: int = 0
    round: int = 0
    llms: dict[str, LLMRef] = Field(default_factory=dict)
    sandbox: SandboxRef | None = None
    sources: list[SourceRef] = Field(..., min_length=1)
    generator: PluginRef
    verifiers: list[PluginRef] = Field(default_factory=list)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    process: list[PluginRef] = Field(
        default_factory=list, description="processors run in order between selection and export "
        "(clean, topics, quality, difficulty, dedup, mix; see synthgen.processing)")
    export: list[ExportRef] = Field(default_factory=list)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)

    @field_validator("sources", mode="before")
    @classmethod
    def _one_source(cls, v: Any) -> Any:
        return [v] if isinstance(v, (dict, str)) else v

    # The pipeline file's folder: generators resolve paths inside items (a repository, an uploaded
    # file) against it. Private, so it is neither written by users nor part of the fingerprint.
    _base_dir: str | None = PrivateAttr(None)
    _config_file: str | None = PrivateAttr(None)  # the YAML file it came from: errors name it

    def resolved(self, base_dir: Path) -> PipelineConfig:
        """Source and export paths made absolute relative to the config file's directory, so a
        pipeline file means the same files from whatever folder it is run."""
        data = self.model_dump()
        for src in data["sources"]:
            src["path"] = str((base_dir / src["path"]).resolve())
        for exp in data["export"]:
            if exp.get("path"):
                exp["path"] = str((base_dir / exp["path"]).resolve())
        cfg = PipelineConfig.model_validate(data)
        cfg._base_dir = str(base_dir.resolve())
        return cfg

    def fingerprint(self, registry: Registry | None = None) -> str:
        """Hash of everything that changes the records a run produces: not runner/export settings, not
        the concurrency of a role or the sandbox, not the options a backend's config lists in
        ``non_result_fields`` (an endpoint URL, an API key, timeouts, retries); the processing stage
        keeps its own fingerprint, so changing `process:` never redoes generation."""
        return _hash(result_view(self.model_dump(mode="json"), registry))

    def legacy_fingerprint(self) -> str:
        """The fingerprint before non-result fields were left out (run dirs made by earlier versions)."""
        return _hash(self.model_dump(mode="json", exclude={"runner", "export", "process"}))


def _hash(data: Any) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _non_result_fields(kind: str, name: Any, registry: Registry | None) -> frozenset[str]:
    from synthgen.registry import default_registry

    try:
        cls = (registry or default_registry).load(kind, str(name))
    except Exception:  # noqa: BLE001 - an unknown plugin: every option counts (the run fails on it later)
        return frozenset()
    return frozenset(getattr(cls.Config, "non_result_fields", ()))


def result_view(data: dict[str, Any], registry: Registry | None = None) -> dict[str, Any]:
    """The part of a dumped pipeline config that decides the records (what the fingerprint hashes)."""
    view = copy.deepcopy({k: v for k, v in data.items() if k not in ("runner", "export", "process")})
    refs = [("llm", ref) for ref in (view.get("llms") or {}).values() if isinstance(ref, dict)]
    if isinstance(view.get("sandbox"), dict):
        refs.append(("sandbox", view["sandbox"]))
    for kind, ref in refs:
        ref.pop("max_concurrency", None)
        options = ref.get("options")
        if isinstance(options, dict):
            drop = _non_result_fields(kind, ref.get("backend"), registry)
            ref["options"] = {k: v for k, v in options.items() if k not in drop}
    return view


def changed_fields(old: dict[str, Any], new: dict[str, Any], registry: Registry | None = None) -> list[str]:
    """Dotted paths (``llms.policy.options.model``) whose values differ between two dumped configs,
    among the fields that decide the records."""
    def flat(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                flat(v, f"{prefix}.{k}" if prefix else str(k), out)
        elif isinstance(value, list) and value:
            for i, v in enumerate(value):
                flat(v, f"{prefix}.{i}", out)
        else:
            out[prefix] = value
        return out

    a, b = flat(result_view(old, registry), "", {}), flat(result_view(new, registry), "", {})
    keys = sorted(k for k in a.keys() | b.keys() if a.get(k, _MISSING) != b.get(k, _MISSING))
    # an empty mapping on one side and its keys on the other: name the keys, not the mapping too
    return [k for k in keys if not any(other.startswith(k + ".") for other in keys)]


_MISSING = object()


def format_validation_error(exc: ValidationError, *, prefix: str = "", path: str | None = None) -> str:
    """One line per problem: `file: field.path: message (got value)`."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        field_path = ".".join(p for p in (prefix, loc) if p)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field; remove it or check its spelling"
        elif err["type"] == "missing":
            msg = "required field is missing; add it"
        got = err.get("input")
        if err["type"] not in ("missing", "extra_forbidden") and not isinstance(got, (dict, list)):
            msg += f" (got {got!r})"
        lines.append(": ".join(p for p in (path, field_path, msg) if p))
    return "\n".join(lines)


def parse_yaml(path: str | Path) -> Any:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}", path=None)
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # a binary file, or a text file in another encoding
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"not a UTF-8 text file (byte 0x{raw[exc.start]:02x} on line {line}); a config is "
                          "YAML text: check the path, or save the file as UTF-8", path=str(p)) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise ConfigError(f"malformed YAML at {where}{problem}", path=str(p)) from None


def load_model(model: type[BaseModel], path: str | Path) -> Any:
    """Load a YAML file into a pydantic model; errors are ConfigErrors naming file and field."""
    return validate_model(model, parse_yaml(path), path)


def validate_model(model: type[BaseModel], data: Any, path: str | Path) -> Any:
    """Validate parsed YAML from ``path``; errors are ConfigErrors naming file and field."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {type(data).__name__}", path=str(path))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, path=str(path))) from None


def load_pipeline_config(path: str | Path) -> PipelineConfig:
    cfg = load_model(PipelineConfig, path).resolved(Path(path).resolve().parent)
    cfg._config_file = str(path)
    return cfg
