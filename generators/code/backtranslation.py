"""Code backtranslation: real code -> documentation -> code regenerated from the text alone -> keep the faithful.

The Llama 3 recipe (section 4.3.1) for documentation and explanation data: the model writes
docs or an explanation for real code, then regenerates the code from that text alone (a fresh
conversation that never sees the original); the original is the reference. Faithfulness is
self-verified two ways: the original's tests run on the regenerated code (through the pipeline's
``static`` / ``code_exec`` verifiers), and an LLM judge compares the two programs when the chain
has an ``llm_judge`` verifier. The combined score decides what is kept: ``threshold`` and the best
``keep_top_fraction`` of each item's samples.

The training example is the documentation turn (prompt: the code and the request; response: the
docs). The regeneration dialog, its code and verdicts are kept in the candidate's metadata.
"""

from __future__ import annotations

import asyncio
import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from generators.code._checks import (
    failure_feedback,
    require_chain,
    run_checks,
    tests_metadata,
    verifier_names,
)
from generators.code._common import (
    CodeItem,
    SamplingOptions,
    Stages,
    canonical_language,
    count_check_stages,
    display,
    extract_code,
    fenced,
    sampling_params,
    with_system,
)
from synthgen.context import Context
from synthgen.llm.base import Completion
from synthgen.plugins import Generator
from synthgen.records import Candidate, Record, Verdict, content_hash

DEFAULT_SYSTEM = "You are an expert programmer who writes precise, complete documentation."

_REQUESTS = {
    "documentation": ("Write documentation for the following {lang} code: what it does, its parameters, its "
                      "return value, and how it handles edge cases. Be precise enough that a programmer could "
                      "re-implement it from your text alone. Write prose only; do not include any code."),
    "explanation": ("Explain step by step what the following {lang} code does and why, including its edge "
                    "cases. Be precise enough that a programmer could re-implement it from your explanation "
                    "alone. Write prose only; do not include any code."),
}


class BacktranslationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    style: Literal["documentation", "explanation"] = "documentation"
    k: int = Field(4, ge=1, description="documentation samples per item")
    temperature: float = Field(0.8, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=1)
    regenerate: SamplingOptions = Field(
        default_factory=lambda: SamplingOptions(temperature=0.2),
        description="sampling of the code regeneration call (low temperature: it is a check, not data)")
    system_prompt: str | None = Field(DEFAULT_SYSTEM, description="steering system prompt for the docs turn")
    regenerate_system_prompt: str | None = "You are an expert programmer."
    exec_weight: float = Field(0.7, ge=0.0, description="weight of the test pass fraction in the score")
    judge_weight: float = Field(0.3, ge=0.0, description="weight of the llm_judge score (when the chain has one)")
    threshold: float = Field(0.8, ge=0.0, le=1.0, description="minimum self-verification score to keep")
    keep_top_fraction: float = Field(1.0, gt=0.0, le=1.0,
                                     description="keep at most this fraction of each item's samples (best first)")
    require_tests_pass: bool = Field(True, description="a regenerated program failing the tests is never kept")


class CodeBacktranslationGenerator(Generator):
    name = "code_backtranslation"
    version = "0.1"
    capability = "code"
    Config = BacktranslationConfig
    Item = CodeItem
    roles = ("policy",)

    async def generate(self, item: CodeItem, ctx: Context) -> list[Record]:
        require_chain(ctx, self.name)
        cfg: BacktranslationConfig = self.config  # type: ignore[assignment]
        language = canonical_language(item.language, field="source item language")
        if not item.tests:  # a persistent item problem: the runner records a failed record with the reason
            raise ValueError("item has no `tests`: backtranslation checks the regenerated code with the original's "
                             "assertions; add them to the source row")
        params = sampling_params(cfg, None, n=cfg.k, seed=ctx.sample_seed("document"))
        request = _REQUESTS[cfg.style].format(lang=display(language))
        user = f"{request}\n\n{fenced(item.code, language)}"
        prompt = with_system(cfg.system_prompt, [{"role": "user", "content": user}])
        record = Record(
            id=content_hash(self.name, self.version, ctx.item_id, cfg.style, item.code),
            capability=self.capability, source_id=ctx.item_id, messages=prompt,
            metadata={"language": language, "task": cfg.style, "entry_point": item.entry_point,
                      "original_code": item.code},
        )
        record.provenance = ctx.provenance(params=params, parents=[ctx.item_id])
        stages = Stages("generated", "documented", "regenerated", "parsed", "compiled", "passed",
                        "judged", "kept")
        docs = (await ctx.generate("policy", [prompt], params))[0]
        for index, completion in enumerate(docs):
            stages.add("generated")
            record.add_candidate([{"role": "assistant", "content": completion.text}],
                                 metadata={"sample": index, "finish_reason": completion.finish_reason},
                                 provenance=ctx.provenance(params=params, parents=[record.id]))
        await asyncio.gather(*(self._self_verify(item, language, record, cand, ctx, stages)
                               for cand in record.candidates))
        self._keep_best(record, stages)
        record.metadata["stages"] = stages.as_dict()
        return [record]

    async def _self_verify(self, item: CodeItem, language: str, record: Record, cand: Candidate, ctx: Context,
                           stages: Stages) -> None:
        cfg: BacktranslationConfig = self.config  # type: ignore[assignment]
        doc = cand.text.strip()
        problem = _doc_problem(doc, item)
        if problem:
            _final(cand, 0.0, False, problem, {"stage": "documented"})
            return
        stages.add("documented")
        request = (f"Write a {display(language)} function named `{item.entry_point}` that does exactly what this "
                   f"documentation describes. Answer with the code only, in a single ```{language} block.\n\n{doc}"
                   if item.entry_point else
                   f"Write {display(language)} code that does exactly what this documentation describes. Answer "
                   f"with the code only, in a single ```{language} block.\n\n{doc}")
        regen_prompt = with_system(cfg.regenerate_system_prompt, [{"role": "user", "content": request}])
        params = sampling_params(cfg, cfg.regenerate, n=1, seed=ctx.sample_seed("regenerate", cand.id))
        completion: Completion = (await ctx.generate("policy", [regen_prompt], params))[0][0]
        regen = {"messages": regen_prompt + [{"role": "assistant", "content": completion.text}],
                 "sampling": params.as_dict()}
        cand.metadata["regeneration"] = regen
        found = extract_code(completion.text, language)
        if found.code is None:
            _final(cand, 0.0, False, f"regeneration failed: {found.reason}", {"stage": "regenerated"})
            return
        stages.add("regenerated")
        regen["code"] = found.code
        # The check runs on a scratch record that carries the original's tests; the docs candidate
        # itself holds prose, which no code verifier could judge.
        check_record = Record(id=content_hash(record.id, cand.id, "check"), capability=record.capability,
                              messages=regen_prompt,
                              metadata={"language": language, "entry_point": item.entry_point,
                                        # llm_judge compares the regenerated code with this reference
                                        "reference": fenced(item.code, language),
                                        **tests_metadata(asserts=item.tests)})
        check = Candidate(id=content_hash(cand.id, "regenerated"),
                          messages=[{"role": "assistant", "content": fenced(found.code, language)}])
        names = [n for n in verifier_names(ctx) if n != "llm_judge"]
        verdicts = await run_checks(ctx, check_record, check, only=names)
        count_check_stages(stages, verdicts)
        exec_passed = bool(verdicts) and all(v.passed for v in verdicts)
        exec_score = _exec_fraction(verdicts)
        judge_score = None
        # the judge is the expensive check: skip it when failing tests already rule the sample out
        if "llm_judge" in verifier_names(ctx) and (exec_passed or not cfg.require_tests_pass):
            judged = await run_checks(ctx, check_record, check, only=["llm_judge"])
            if judged and judged[0].score is not None:
                judge_score = float(judged[0].score)
                stages.add("judged")
        regen["verdicts"] = [v.model_dump(mode="json") for v in check.verdicts]
        if judge_score is None:
            score = exec_score
        else:
            total = cfg.exec_weight + cfg.judge_weight or 1.0
            score = (cfg.exec_weight * exec_score + cfg.judge_weight * judge_score) / total
        ok = score >= cfg.threshold and (exec_passed or not cfg.require_tests_pass)
        feedback = "" if ok else (failure_feedback(verdicts) or f"self-verification score {score:.2f} "
                                                                 f"is below the threshold {cfg.threshold}")
        _final(cand, score, ok, feedback, {"stage": "scored", "exec_passed": exec_passed, "exec_score": exec_score,
                                           "judge_score": judge_score})

    def _keep_best(self, record: Record, stages: Stages) -> None:
        """Keep the best ``keep_top_fraction`` of the samples that reached the threshold."""
        cfg: BacktranslationConfig = self.config  # type: ignore[assignment]
        budget = max(1, math.floor(cfg.keep_top_fraction * len(record.candidates)))
        passing = sorted((c for c in record.candidates if c.passed), key=lambda c: -c.scores["self_verification"])
        for rank, cand in enumerate(passing):
            if rank >= budget:
                verdict = cand.verdict("backtranslation")
                assert verdict is not None
                verdict.passed = False
                verdict.feedback = f"below the top {cfg.keep_top_fraction:.0%} of this item's samples"
        stages.add("kept", min(budget, len(passing)))


def _final(cand: Candidate, score: float, passed: bool, feedback: str, details: dict) -> None:
    cand.scores["self_verification"] = score
    cand.scores["verify"] = score  # selection ranks passing candidates by it
    cand.verdicts = [v for v in cand.verdicts if v.verifier != "backtranslation"]
    cand.verdicts.append(Verdict(verifier="backtranslation", passed=passed, score=score, feedback=feedback,
                                 details=details))


def _doc_problem(doc: str, item: CodeItem) -> str:
    """Why a documentation sample cannot be used ('' when it can)."""
    if not doc:
        return "The documentation is empty."
    if "```" in doc:
        return "The documentation contains code; it must be prose only."
    body = [ln.strip() for ln in item.code.splitlines() if len(ln.strip()) >= 25]
    if any(line in doc for line in body):
        return "The documentation copies lines of the original code."
    return ""


def _exec_fraction(verdicts: list[Verdict]) -> float:
    """Fraction of tests passed, from code_exec's score when it gives one, else pass/fail."""
    for v in verdicts:
        if v.verifier == "code_exec":
            return float(v.score) if v.score is not None else float(v.passed)
    return 1.0 if verdicts and all(v.passed for v in verdicts) else 0.0

