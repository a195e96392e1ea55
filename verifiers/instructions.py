"""The ``instructions`` verifier: checkable instructions, instruction-following-evaluation style.

Reads:
- the instructions of the record from ``record.metadata[field]`` (default ``"instructions"``): a
  list of ``{"id": ..., "args": {...}}``; also IFEval's own layout (``instruction_id_list`` +
  ``kwargs``) when the record carries that instead;
- instructions from the verifier config (``instructions:``) that apply to every record, checked
  when the pipeline is loaded (an unknown id or a wrong argument type stops the run before it starts);
- the response from ``candidate.text``; the prompt (for ``repeat_prompt`` without an explicit
  ``prompt_to_repeat``) from the record's last user message.

Each instruction gets a strict verdict (the response as written) and a loose one: the response
with markdown ``*`` removed, the first line removed, the last line removed, or combinations (as
IFEval's loose accuracy does); it passes loosely when any variant passes. ``mode`` picks which of
the two decides ``passed``. ``score`` is the fraction of instructions passed; ``feedback`` lists
what to change for each failed one; ``details.results`` holds per-instruction verdicts.
A record whose instructions are malformed (unknown id, wrong argument type) gets a failed verdict
naming the problem and ``details.error``; a record with no instructions passes with nothing checked.
Known ids: see :data:`verifiers._instruction_checks.SPECS` (``synthgen plugins`` lists them too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from synthgen.plugins import PluginConfig, Verifier
from synthgen.records import Candidate, Record, Verdict
from verifiers._instruction_checks import SPECS, InstructionSpec

__all__ = ["Instruction", "InstructionError", "InstructionList", "InstructionsConfig", "InstructionsVerifier", "check_all",
           "describe", "loose_variants", "parse_instructions"]


class InstructionError(ValueError):
    """An instruction that cannot be checked: unknown id or arguments of the wrong shape."""


class Instruction(BaseModel):
    """One checkable instruction: an id and its arguments (validated against the id's argument model)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SPECS:
            raise ValueError(f"unknown instruction id '{value}'; known ids: {', '.join(sorted(SPECS))}")
        return value

    def parsed_args(self) -> Any:
        spec = SPECS[self.id]
        try:
            return spec.args.model_validate(self.args)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}"
                                 + (f" (got {e['input']!r})" if e["type"] != "missing" else "")
                                 for e in exc.errors())
            raise InstructionError(f"instruction '{self.id}' has bad arguments: {problems}") from None


def parse_instructions(raw: Any) -> list[Instruction]:
    """Instructions from a list of ``{id, args}`` dicts (or ``{id: ..., **args}``); raises InstructionError."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InstructionError(f"instructions must be a list of {{id, args}} objects, got {type(raw).__name__}")
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, Instruction):
            inst = item
        elif isinstance(item, dict):
            data = dict(item)
            if "args" not in data and set(data) - {"id"}:  # flat form: {"id": "word_count", "count": 5}
                data = {"id": data.pop("id", None), "args": data}
            try:
                inst = Instruction.model_validate(data)
            except ValidationError as exc:
                raise InstructionError(f"instruction {i}: " + "; ".join(e["msg"].removeprefix("Value error, ")
                                                                        for e in exc.errors())) from None
        else:
            raise InstructionError(f"instruction {i} must be an object with `id` and `args`, got {item!r}")
        inst.parsed_args()  # argument errors surface here, with the id named
        out.append(inst)
    return out


def _check_instructions(value: list[dict[str, Any]]) -> list[dict[str, Any]]:
    try:
        parse_instructions(value)
    except InstructionError as exc:
        raise ValueError(str(exc)) from None
    return value


# A config or item field holding ``[{id, args}]``: checked when it is read, so an unknown id or a
# wrong argument type is a config error naming it (one definition for every model that has one).
InstructionList = Annotated[list[dict[str, Any]], AfterValidator(_check_instructions)]


def _from_ifeval(metadata: dict[str, Any]) -> list[dict[str, Any]] | None:
    ids = metadata.get("instruction_id_list")
    if ids is None:
        return None
    kwargs = metadata.get("kwargs") or [{}] * len(ids)
    return [{"id": i, "args": {k: v for k, v in (kw or {}).items() if v is not None}} for i, kw in zip(ids, kwargs)]


def describe(instruction: Instruction) -> str:
    """The sentence that states the instruction to a model (for system prompts)."""
    return SPECS[instruction.id].describe(instruction.parsed_args())


def loose_variants(response: str) -> list[str]:
    """The response and the IFEval loose transformations: without '*', without first/last line, combined."""
    lines = response.split("\n")
    bases = [response, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    out: list[str] = []
    for text in bases:
        for variant in (text, text.replace("*", "")):
            if variant not in out:
                out.append(variant)
    return out


@dataclass
class InstructionResult:
    id: str
    strict: bool
    loose: bool
    feedback: str  # from the strict check; '' when it passed

    def passed(self, mode: str) -> bool:
        return self.strict if mode == "strict" else self.loose

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "strict": self.strict, "loose": self.loose, "feedback": self.feedback}


def check_one(spec: InstructionSpec, args: Any, response: str) -> InstructionResult:
    strict, feedback = spec.check(response, args)
    # an emptied variant (a one-line response minus its first line) proves nothing: skipped, as IFEval does
    loose = strict or any(v.strip() and spec.check(v, args)[0] for v in loose_variants(response)[1:])
    return InstructionResult(spec.id, strict, loose, "" if strict else feedback)


def check_all(response: str, instructions: list[Instruction], prompt: str = "") -> list[InstructionResult]:
    results = []
    for inst in instructions:
        args = inst.parsed_args()
        if inst.id == "repeat_prompt" and not inst.args.get("prompt_to_repeat") and prompt:
            args = args.model_copy(update={"prompt_to_repeat": prompt})
        results.append(check_one(SPECS[inst.id], args, response))
    return results


class InstructionsConfig(PluginConfig):
    mode: Literal["strict", "loose"] = Field(
        "strict", description="strict: the response as written must comply (the default: training data should "
        "follow instructions literally); loose: IFEval's lenient variants count too")
    field: str = Field("instructions", description="record.metadata key holding the record's instructions")
    instructions: InstructionList = Field(default_factory=list,
                                          description="instructions checked on every record, besides its own")


def _last_user(record: Record) -> str:
    for m in reversed(record.messages):
        if m.get("role") == "user":
            return str(m.get("content") or "")
    return ""


class InstructionsVerifier(Verifier):
    name: ClassVar[str] = "instructions"
    version: ClassVar[str] = "0.1"
    Config: ClassVar[type[InstructionsConfig]] = InstructionsConfig

    def __init__(self, config: BaseModel | None = None) -> None:
        super().__init__(config)
        self._fixed = parse_instructions(self.config.instructions)

    def instructions_of(self, record: Record) -> list[Instruction]:
        raw = record.metadata.get(self.config.field)
        if raw is None:
            raw = _from_ifeval(record.metadata)
        return self._fixed + parse_instructions(raw)

    async def verify(self, record: Record, candidate: Candidate, ctx: Any) -> Verdict:
        return self.verify_text(record, candidate.text)

    def verify_text(self, record: Record, response: str) -> Verdict:
        mode = self.config.mode
        try:
            instructions = self.instructions_of(record)
        except InstructionError as exc:
            return Verdict(verifier=self.name, passed=False, score=0.0, feedback=f"record {record.id}: {exc}",
                           details={"error": str(exc)})
        if not instructions:
            return Verdict(verifier=self.name, passed=True, score=1.0, details={"mode": mode, "results": []})
        results = check_all(response, instructions, _last_user(record))
        passed = [r.passed(mode) for r in results]
        failed = [r for r in results if not r.passed(mode)]
        feedback = "\n".join(f"- {r.id}: {r.feedback or 'passes only in loose mode'}" for r in failed)
        return Verdict(verifier=self.name, passed=all(passed), score=sum(passed) / len(passed),
                       feedback=("Instructions not followed:\n" + feedback) if failed else "",
                       details={"mode": mode, "results": [r.as_dict() for r in results],
                                "strict_passed": sum(r.strict for r in results),
                                "loose_passed": sum(r.loose for r in results)})
