"""Shared pieces of the code generators: languages, code extraction, per-stage counters, options.

Everything here is pure (no model or sandbox calls), so the three generators stay straight-line
async code and malformed model output is handled in one place: an empty reply, prose without a
code block, a block in the wrong language or an unterminated fence all become an
:class:`Extraction` with ``code=None`` and a reason a model can act on, never an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sandboxes.recipes import UnknownLanguageError, get_recipe
from synthgen.errors import ConfigError
from synthgen.llm.base import SamplingParams
from synthgen.records import Message, Verdict
from verifiers.code_extract import code_blocks

# Human names used in prompts.
DISPLAY = {
    "python": "Python", "c": "C", "cpp": "C++", "java": "Java", "javascript": "JavaScript",
    "typescript": "TypeScript", "php": "PHP", "rust": "Rust", "bash": "Bash", "sql": "SQL (SQLite)",
}

# How a complete program reads stdin / is laid out in each language (keeps prompts honest about
# what the sandbox recipe will run: e.g. Java must be `public class Main`).
PROGRAM_HINTS = {
    "java": "Write a single file whose public class is named `Main` with a `public static void main`.",
    "cpp": "Write a complete C++17 program with `int main()`; use only the standard library.",
    "c": "Write a complete C11 program with `int main(void)`; use only the standard library.",
    "rust": "Write a complete Rust program with `fn main()`; use only the standard library (no crates).",
    "javascript": "Write a Node.js script; read all of stdin with `require('fs').readFileSync(0, 'utf8')`.",
    "typescript": "Write a TypeScript file for Node.js (its globals such as `require` are declared); "
                  "read stdin with `require('fs').readFileSync(0, 'utf8')`.",
    "php": "Write a PHP script starting with `<?php`; read stdin with `file_get_contents('php://stdin')`.",
    "bash": "Write a Bash script; use only coreutils, grep, sed and awk.",
    "python": "Write a Python 3 script that uses only the standard library.",
    "sql": "Write SQLite statements.",
}


def canonical_language(language: str, *, field: str) -> str:
    """The recipe name for ``language`` (an alias is fine); a ConfigError names the field otherwise."""
    try:
        return get_recipe(language).name
    except UnknownLanguageError as exc:
        raise ConfigError(str(exc), field=field) from None


def display(language: str) -> str:
    return DISPLAY.get(language, language)


# ---------------------------------------------------------------------------------------------
# Code extraction: the same block the verifiers will read (verifiers.code_extract), plus a reason
_FENCE_OPEN = re.compile(r"^[ \t]*(?:```+|~~~+)[ \t]*([^\n`]*)\n", re.MULTILINE)


@dataclass(frozen=True)
class Extraction:
    code: str | None
    reason: str = ""  # why code is None, phrased as feedback for the model
    blocks: tuple[str, ...] = ()  # every block of the language, in order (tests may be the second)


def extract_code(text: str | None, language: str) -> Extraction:
    """The first code block for ``language`` in a model reply, as the ``static``/``code_exec`` verifiers read it.

    Unlike the verifiers' fallback (the whole text is the program), a reply without any fenced block
    is rejected here with a reason: prose that happens to parse would be a false positive, and the
    reason becomes the feedback of a correction turn. Blocks tagged with other languages only are a
    wrong-language answer; an unterminated block (a truncated reply) still yields its code.
    """
    if text is None or not text.strip():
        return Extraction(None, "The response was empty; no code was written.")
    blocks = tuple(b for b in code_blocks(text, language))
    if not blocks:
        tags = sorted({(m.group(1).split() or [""])[0].lower() for m in _FENCE_OPEN.finditer(text)} - {""})
        if tags:
            return Extraction(None, f"The code block is in the wrong language ({', '.join(tags)}); "
                                    f"expected {display(language)}.")
        return Extraction(None, f"No ```{language} code block was found in the response.")
    if not blocks[0].strip():
        return Extraction(None, f"The ```{language} code block is empty.")
    return Extraction(blocks[0].strip("\n") + "\n", blocks=blocks)


# ---------------------------------------------------------------------------------------------
# Per-stage yields
class Stages:
    """Counts of candidates reaching each stage; stored as ``record.metadata['stages']`` (numbers only).

    The run report sums these dicts over records, so every value is an int and stage names are
    shared across generators: generated, extracted, parsed, compiled, passed, corrected_after_<k>.
    """

    def __init__(self, *names: str) -> None:
        self.counts: dict[str, int] = {n: 0 for n in names}

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def as_dict(self) -> dict[str, int]:
        return dict(self.counts)


def count_check_stages(stages: Stages, verdicts: list[Verdict]) -> None:
    """Advance parsed / compiled / passed from a candidate's verdicts (static, code_exec, ...)."""
    by_name = {v.verifier: v for v in verdicts}
    static = by_name.get("static")
    execv = by_name.get("code_exec")
    if static is None or static.passed:
        if static is not None or execv is not None:
            stages.add("parsed")
    else:
        return
    if execv is not None and not compile_failed(execv):
        stages.add("compiled")
    if verdicts and all(v.passed for v in verdicts):
        stages.add("passed")


def compile_failed(verdict: Verdict) -> bool:
    """True when an execution verdict failed at the compile step (reads the verifier's details)."""
    details = verdict.details or {}
    status = str(details.get("status", ""))
    if status == "compile_error":
        return True
    results = details.get("results") or details.get("cases") or []
    return any(isinstance(r, dict) and r.get("status") == "compile_error" for r in results)


# ---------------------------------------------------------------------------------------------
# Options users write
class SamplingOptions(BaseModel):
    """Sampling for one model call; unset fields fall back to the generator-level values."""

    model_config = ConfigDict(extra="forbid")
    temperature: float | None = Field(None, ge=0.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)


class LanguageOptions(SamplingOptions):
    """Per-language overrides (K, sampling, system prompt, rounds)."""

    k: int | None = Field(None, ge=1)
    system_prompt: str | None = None
    max_rounds: int | None = Field(None, ge=0)


def sampling_params(base: Any, override: SamplingOptions | None, *, n: int, seed: int | None = None) -> SamplingParams:
    """SamplingParams from a generator config (``temperature``/``top_p``/``max_tokens``) and overrides.

    Generators pass ``seed=ctx.sample_seed(...)`` so the seed actually used is in the provenance.
    """
    o = override or SamplingOptions()
    return SamplingParams(
        n=n,
        seed=seed,
        temperature=o.temperature if o.temperature is not None else base.temperature,
        top_p=o.top_p if o.top_p is not None else base.top_p,
        max_tokens=o.max_tokens if o.max_tokens is not None else base.max_tokens,
    )


def with_system(system_prompt: str | None, messages: list[Message]) -> list[Message]:
    """Prepend the steering system prompt when one is configured."""
    if system_prompt:
        return [{"role": "system", "content": system_prompt}, *messages]
    return list(messages)


def fenced(code: str, language: str) -> str:
    return f"```{language}\n{code.rstrip()}\n```"


def clip(text: str, limit: int = 2000) -> str:
    """Keep feedback short enough for a correction prompt: head and tail of long output."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... [{len(text) - limit} characters cut] ...\n{text[-half:]}"


# ---------------------------------------------------------------------------------------------
# Source items
class StdioCase(BaseModel):
    """A language-neutral test: the program gets ``stdin`` and must print exactly ``stdout``."""

    model_config = ConfigDict(extra="forbid")
    stdin: str = ""
    stdout: str


class CodeItem(BaseModel):
    """A real program with its tests (the translation and backtranslation seed rows).

    ``code`` holds the functions; ``tests`` are assertion statements over them; ``io`` is the
    driver that reads stdin and prints, so ``code + io`` is a complete program for ``cases``.
    """

    model_config = ConfigDict(extra="allow")
    id: str | None = None
    language: str = "python"
    code: str = Field(..., min_length=1)
    entry_point: str = ""
    tests: list[str] = Field(default_factory=list)
    io: str = ""
    cases: list[StdioCase] = Field(default_factory=list)

    def program(self, with_tests: bool) -> str:
        """The whole source program: the code plus either its assertions or its stdin driver."""
        tail = "\n".join(self.tests) if with_tests else self.io
        return f"{self.code.rstrip()}\n\n{tail.rstrip()}\n" if tail.strip() else self.code
