"""Code translation: a program with tests -> K translations per target language -> keep those that pass.

The Llama 3 recipe (section 4.3.1): translate code from common languages (Python) to less common
ones, keep only translations that parse, compile and pass the execution tests. The tests are carried
over in one of two ways, chosen per item (``tests: auto``):

- ``stdio``: the language-neutral stdin/stdout cases of the source program are run unchanged on
  the translation (the strongest check: nothing the model writes decides what "correct" means);
- ``asserts``: the model translates the source's assertions too, in a second code block that
  ``code_exec`` appends to the translated code; a translation whose tests have fewer checks than the
  source has assertions is rejected, so a model cannot pass by dropping its tests.

One record per (item, target language): the prompt is the translation request, each candidate one
sampled translation with its verdicts. Failed translations are the rejected side of DPO pairs
against a passing one (built by the selection stage, ``pairs: passed_vs_failed``).
"""

from __future__ import annotations

import asyncio
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from generators.code._checks import attach_failure, require_chain, run_checks, tests_metadata
from generators.code._common import (
    PROGRAM_HINTS,
    CodeItem,
    LanguageOptions,
    Stages,
    canonical_language,
    count_check_stages,
    display,
    extract_code,
    fenced,
    sampling_params,
    with_system,
)
from generators.code._prompts import SOLUTION_HINTS, TEST_HINTS
from synthgen.context import Context
from synthgen.plugins import Generator
from synthgen.records import Record, content_hash

DEFAULT_SYSTEM = ("You are an expert programmer who translates programs between languages faithfully, "
                  "keeping their exact behaviour and output.")

# Constructs that stop a program when a check fails; a translated test suite needs one per assertion.
_CHECK = re.compile(r"\bassert\w*!?|AssertionError|\bthrow\b|\bpanic!|\bexit\s*\(?\s*1|process\.exit\(\s*1|\bdie\(")
_NOT_A_CHECK = re.compile(r"require\(|#include|^\s*(?:import|use|from)\b")


def count_checks(tests: str) -> int:
    """Lines of a translated test block that check something (imports of an assert module do not)."""
    return sum(1 for line in tests.splitlines() if _CHECK.search(line) and not _NOT_A_CHECK.search(line))


class TranslationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target_languages: list[str] = Field(
        default_factory=lambda: ["cpp", "java", "javascript", "typescript", "rust", "php", "bash"],
        description="languages to translate into (sandbox recipe names or aliases)")
    k: int = Field(4, ge=1, description="samples per target language (the paper samples K = 10..30)")
    temperature: float = Field(0.8, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=1)
    system_prompt: str | None = Field(DEFAULT_SYSTEM, description="steering system prompt; null for none")
    tests: Literal["auto", "stdio", "asserts"] = Field(
        "auto", description="how tests carry over: auto = stdio cases when the item has them, else asserts")
    per_language: dict[str, LanguageOptions] = Field(default_factory=dict,
                                                      description="overrides keyed by target language")


class CodeTranslationGenerator(Generator):
    name = "code_translation"
    version = "0.1"
    capability = "code"
    Config = TranslationConfig
    Item = CodeItem
    roles = ("policy",)

    def __init__(self, config: TranslationConfig | None = None) -> None:
        super().__init__(config)
        cfg: TranslationConfig = self.config  # type: ignore[assignment]
        self.targets = [canonical_language(t, field=f"generator.options.target_languages[{i}]")
                        for i, t in enumerate(cfg.target_languages)]
        self.per_language = {canonical_language(k, field=f"generator.options.per_language.{k}"): v
                             for k, v in cfg.per_language.items()}

    async def generate(self, item: CodeItem, ctx: Context) -> list[Record]:
        require_chain(ctx, self.name)
        source_language = canonical_language(item.language, field="source item language")
        mode = self.config.tests
        if mode == "auto":
            mode = "stdio" if item.cases else "asserts"
        if (mode == "stdio" and not item.cases) or (mode == "asserts" and not item.tests):
            # a persistent item problem: the runner records it as a failed record with this reason
            raise ValueError(f"item has no {'cases' if mode == 'stdio' else 'tests'} to carry over "
                             f"(generator.options.tests: {self.config.tests}); add them to the source row")
        targets = [t for t in self.targets if t != source_language]
        return list(await asyncio.gather(*(self._translate(item, ctx, source_language, t, mode) for t in targets)))

    async def _translate(self, item: CodeItem, ctx: Context, source: str, target: str, mode: str) -> Record:
        cfg: TranslationConfig = self.config  # type: ignore[assignment]
        opts = self.per_language.get(target, LanguageOptions())
        k = opts.k or cfg.k
        params = sampling_params(cfg, opts, n=k, seed=ctx.sample_seed("translate", target))
        system = opts.system_prompt if opts.system_prompt is not None else cfg.system_prompt
        program = item.program(with_tests=False) if mode == "stdio" else item.code
        tests = "\n".join(item.tests) if mode == "asserts" else ""
        prompt = with_system(system, [{"role": "user", "content": _prompt(program, tests, source, target)}])
        item_id = ctx.item_id
        record = Record(
            id=content_hash(self.name, self.version, item_id, target, program, tests),
            capability=self.capability,
            source_id=item_id,
            messages=prompt,
            metadata={"language": target, "source_language": source, "source_code": program,
                      "source_tests": tests, "entry_point": item.entry_point, "tests_mode": mode,
                      "tests_origin": "source" if mode == "stdio" else "model_translated",
                      **tests_metadata(cases=item.cases if mode == "stdio" else None)},
        )
        record.provenance = ctx.provenance(params=params, parents=[item_id])
        stages = Stages("generated", "extracted", "tests_carried", "parsed", "compiled", "passed")
        completions = (await ctx.generate("policy", [prompt], params))[0]
        min_checks = len(item.tests) if mode == "asserts" else 0
        for index, completion in enumerate(completions):
            stages.add("generated")
            cand = record.add_candidate(
                [{"role": "assistant", "content": completion.text}],
                metadata={"sample": index, "finish_reason": completion.finish_reason},
                provenance=ctx.provenance(params=params, parents=[record.id]),
            )
            found = extract_code(completion.text, target)
            if found.code is None:
                attach_failure(cand, "extract", found.reason)
                continue
            stages.add("extracted")
            cand.metadata["code"] = found.code
            if mode == "asserts":
                translated = found.blocks[1] if len(found.blocks) > 1 else ""
                checks = count_checks(translated)
                if checks < min_checks:
                    attach_failure(cand, "tests_carried",
                                   f"The translated tests have {checks} checks but the source has {min_checks} "
                                   f"assertions; translate every one of them, in a second ```{target} block.")
                    continue
                cand.metadata["unit_tests"] = translated  # what code_exec appends to the translation
            stages.add("tests_carried")
            verdicts = await run_checks(ctx, record, cand)
            count_check_stages(stages, verdicts)
        record.metadata["stages"] = stages.as_dict()
        return record


def _prompt(program: str, tests: str, source: str, target: str) -> str:
    lines = [f"Translate the following {display(source)} program to {display(target)}."]
    if not tests:
        lines.append("The translation must read the same standard input and print exactly the same output.")
        hint = PROGRAM_HINTS.get(target)
        if hint:
            lines.append(hint)
        lines.append(f"Answer with the complete {display(target)} program in a single ```{target} code block.")
    else:
        lines.append(f"Then translate its tests: every assertion must become a check that stops the program with "
                     f"a non-zero exit status when it fails; do not drop or weaken any. {TEST_HINTS.get(target, '')}")
        lines.append(f"Answer with two ```{target} code blocks: first the translated code ({SOLUTION_HINTS.get(target, 'no entry point')}),"
                     " then the translated tests, which are appended to the code in the same file.")
    lines += ["", fenced(program, source)]
    if tests:
        lines += ["", "Tests:", fenced(tests, source)]
    return "\n".join(lines)
