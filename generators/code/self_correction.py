"""Execution-feedback self-correction: snippet -> problem -> solution -> static checks -> unit tests -> run -> fix.

The Llama 3 recipe (section 4.3.1; 2.7M examples, ~20% of solutions wrong at first and fixed this
way): the model writes a programming problem inspired by a code snippet, solves it in a given
language with comments, the solution goes through static checks (parser + linter), the model writes
unit tests, solution and tests run in the sandbox, and on any failure the model gets its faulty
solution and the verifier feedback (stdout, stderr, exit code, failing test) as the next user turn
and revises the solution, or the test when the test is wrong, for up to ``max_rounds`` turns.

Per (snippet, language) one record: the prompt is the problem; each of the K candidates is a whole
dialog (solution, test request, tests, feedback turns, revisions) with the verdicts of its last
check. Stages (``record.metadata['stages']``): of the first attempt ``extracted``, ``parsed``
(static checks), ``tests_written``, ``compiled``, ``passed_first_try``; of the dialog ``passed``,
``corrected_after_<k>`` (turns it took), ``solution_corrected`` (passed with a changed solution, not
only fixed tests), ``unresolved``, and the turn counts ``correction_turns``, ``solution_fixes``,
``test_fixes``.

Only dialogs whose final program passes every check pass. Each corrected dialog also yields a DPO
pair, faulty first solution (rejected) vs fixed final solution (chosen), as two single-turn
candidates tagged ``metadata.kind = dpo_faulty / dpo_fixed``; ``record.pairs`` lists them (see
``_pairs`` for the fallback when no sample was fixed).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from generators.code import _prompts as P
from generators.code._checks import attach_failure, failure_feedback, require_chain, run_checks
from generators.code._common import (
    LanguageOptions,
    SamplingOptions,
    Stages,
    canonical_language,
    clip,
    count_check_stages,
    extract_code,
    fenced,
    sampling_params,
    with_system,
)
from synthgen.context import Context
from synthgen.errors import ConfigError
from synthgen.llm.base import SamplingParams
from synthgen.plugins import Generator
from synthgen.records import Candidate, Message, PreferencePair, Record, Verdict, content_hash

DEFAULT_SYSTEM = "You are an expert programmer. You write correct, well-commented code and thorough tests."


class SnippetItem(BaseModel):
    """A code snippet that inspires a problem; its language is informative only."""

    model_config = ConfigDict(extra="allow")
    id: str | None = None
    snippet: str = Field(..., min_length=1)
    snippet_language: str = ""


class SelfCorrectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    languages: list[str] = Field(default_factory=lambda: ["python"], description="languages to solve in")
    k: int = Field(2, ge=1, description="solutions (dialogs) per problem and language")
    max_rounds: int = Field(3, ge=0, description="correction turns after the first attempt")
    temperature: float = Field(0.8, ge=0.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=1)
    problem: SamplingOptions = Field(default_factory=lambda: SamplingOptions(temperature=0.9, max_tokens=512))
    tests: SamplingOptions = Field(default_factory=lambda: SamplingOptions(temperature=0.4))
    fix: SamplingOptions = Field(default_factory=lambda: SamplingOptions(temperature=0.6))
    system_prompt: str | None = Field(DEFAULT_SYSTEM, description="steering system prompt; null for none")
    min_problem_chars: int = Field(40, ge=1, description="shorter problem statements are rejected")
    feedback_chars: int = Field(2000, ge=200, description="verifier feedback longer than this is cut")
    max_pairs: int = Field(2, ge=0, description="faulty-vs-fixed DPO pairs per record")
    per_language: dict[str, LanguageOptions] = Field(default_factory=dict)


@dataclass
class _Dialog:
    """One sample's state through the loop."""

    messages: list[Message] = field(default_factory=list)
    solution: str | None = None
    tests: str | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    first_failure: list[Verdict] | None = None
    first_solution: str | None = None
    fixes: list[str] = field(default_factory=list)  # what each "Fix:" answer revised: solution | tests
    correction_turns: int = 0
    passed_after: int | None = None  # correction turns it took; 0 = right at the first attempt
    turn_sampling: list[dict] = field(default_factory=list)  # sampling of each later assistant turn


class CodeSelfCorrectionGenerator(Generator):
    name = "code_self_correction"
    version = "0.1"
    capability = "code"
    Config = SelfCorrectionConfig
    Item = SnippetItem
    roles = ("policy",)

    def __init__(self, config: SelfCorrectionConfig | None = None) -> None:
        super().__init__(config)
        cfg: SelfCorrectionConfig = self.config  # type: ignore[assignment]
        self.languages = []
        for i, lang in enumerate(cfg.languages):
            name = canonical_language(lang, field=f"generator.options.languages[{i}]")
            if name not in P.SUPPORTED:
                raise ConfigError(f"language {lang!r} is not supported by code_self_correction; supported: "
                                  f"{', '.join(P.SUPPORTED)}", field=f"generator.options.languages[{i}]")
            self.languages.append(name)
        self.per_language = {canonical_language(k, field=f"generator.options.per_language.{k}"): v
                             for k, v in cfg.per_language.items()}

    async def generate(self, item: SnippetItem, ctx: Context) -> list[Record]:
        require_chain(ctx, self.name)
        cfg: SelfCorrectionConfig = self.config  # type: ignore[assignment]
        lang = item.snippet_language.strip().lower() or ""
        request = P.PROBLEM_REQUEST.format(snippet=fenced(item.snippet, lang))
        problem_prompt = with_system(cfg.system_prompt, [{"role": "user", "content": request}])
        params = sampling_params(cfg, cfg.problem, n=1, seed=ctx.sample_seed("problem"))
        reply = (await ctx.generate("policy", [problem_prompt], params))[0][0]
        problem = reply.text.strip()
        generation = {"messages": problem_prompt + [{"role": "assistant", "content": reply.text}],
                      "sampling": params.as_dict(), "finish_reason": reply.finish_reason}
        error = _problem_error(problem, cfg.min_problem_chars)
        return list(await asyncio.gather(*(self._solve(item, problem, generation, error, language, ctx)
                                           for language in self.languages)))

    async def _solve(self, item: SnippetItem, problem: str, generation: dict, error: str, language: str,
                     ctx: Context) -> Record:
        cfg: SelfCorrectionConfig = self.config  # type: ignore[assignment]
        opts = self.per_language.get(language, LanguageOptions())
        k = opts.k or cfg.k
        params = sampling_params(cfg, opts, n=k, seed=ctx.sample_seed("solve", language))
        system = opts.system_prompt if opts.system_prompt is not None else cfg.system_prompt
        prompt = with_system(system, [{"role": "user", "content": P.solve_request(problem or "(none)", language)}])
        record = Record(id=content_hash(self.name, self.version, ctx.item_id, language, problem),
                        capability=self.capability, source_id=ctx.item_id, messages=prompt,
                        metadata={"language": language, "problem": problem, "problem_generation": generation,
                                  "snippet": item.snippet, "snippet_language": item.snippet_language})
        record.provenance = ctx.provenance(params=params, parents=[ctx.item_id])
        stages = Stages("problems", "generated", "extracted", "parsed", "tests_written", "compiled",
                        "passed_first_try", "passed", "corrected", "solution_corrected", "unresolved", "correction_turns",
                        "solution_fixes", "test_fixes")
        if error:
            record.metadata["problem_error"] = error
            record.metadata["stages"] = stages.as_dict()
            return record
        stages.add("problems")
        max_rounds = opts.max_rounds if opts.max_rounds is not None else cfg.max_rounds
        replies = (await ctx.generate("policy", [prompt], params))[0]
        dialogs = await asyncio.gather(*(
            self._loop(record, prompt, reply.text, language, index, max_rounds, ctx, stages)
            for index, reply in enumerate(replies)))
        for index, dialog in enumerate(dialogs):
            stages.add("generated")
            cand = record.add_candidate(dialog.messages, provenance=ctx.provenance(params=params, parents=[record.id]),
                                        metadata={"kind": "dialog", "sample": index, "code": dialog.solution,
                                                  "tests": dialog.tests, "fixes": dialog.fixes,
                                                  "rounds": dialog.correction_turns,
                                                  "corrected_after": dialog.passed_after,
                                                  "solution_corrected": _solution_corrected(dialog),
                                                  "turn_sampling": dialog.turn_sampling})
            cand.verdicts = list(dialog.verdicts)
            if dialog.passed_after is None:
                stages.add("unresolved")
            else:
                stages.add("passed")
                if dialog.passed_after == 0:
                    stages.add("passed_first_try")
                else:
                    stages.add("corrected")
                    stages.add(f"corrected_after_{dialog.passed_after}")
                    stages.add("solution_corrected", int(_solution_corrected(dialog)))
        self._pairs(record, dialogs, language, params, ctx)
        record.metadata["stages"] = stages.as_dict()
        return record

    async def _loop(self, record: Record, prompt: list[Message], first_reply: str, language: str, index: int,
                    max_rounds: int, ctx: Context, stages: Stages) -> _Dialog:
        """Check, ask for tests, run, feed the failure back; up to ``max_rounds`` correction turns."""
        cfg: SelfCorrectionConfig = self.config  # type: ignore[assignment]
        d = _Dialog(messages=[{"role": "assistant", "content": first_reply}])
        reply, expect = first_reply, "solution"  # what the last reply should contain: solution | tests | fix
        for turn in range(max_rounds + 1):
            first = turn == 0
            target = P.fix_target(reply) if expect == "fix" else expect
            if expect == "fix":
                d.fixes.append(target)
                stages.add("test_fixes" if target == "tests" else "solution_fixes")
            found = extract_code(reply, language)
            if found.code is None:
                prefix = "Tests: " if target == "tests" else ""
                verdicts = [Verdict(verifier="extract", passed=False, score=0.0, feedback=prefix + found.reason)]
            else:
                if first:
                    stages.add("extracted")
                setattr(d, "tests" if target == "tests" else "solution", found.code)
                verdicts = await self._evaluate(record, prompt, d, language, index, turn, ctx,
                                                stages if first else None)
            d.verdicts = verdicts
            if verdicts and all(v.passed for v in verdicts):
                d.passed_after = turn
                return d
            if first:
                d.first_failure, d.first_solution = verdicts, d.solution
            if turn == max_rounds:
                break
            stages.add("correction_turns")
            d.correction_turns += 1
            feedback = clip(failure_feedback(verdicts), cfg.feedback_chars)
            if d.solution is not None and d.tests is None and verdicts[0].feedback.startswith("Tests: "):
                ask, expect = P.tests_feedback_request(feedback, language), "tests"
            elif d.tests is None:
                ask, expect = P.feedback_request(feedback, language, tests_written=False), "solution"
            else:
                ask, expect = P.feedback_request(feedback, language, tests_written=True), "fix"
            reply = await self._ask(ctx, prompt, d, ask, cfg.fix, ("fix", language, index, turn))
        return d

    async def _evaluate(self, record: Record, prompt: list[Message], d: _Dialog, language: str, index: int,
                        turn: int, ctx: Context, stages: Stages | None) -> list[Verdict]:
        """Static checks of a solution without tests; then the tests turn; then the full run."""
        cfg: SelfCorrectionConfig = self.config  # type: ignore[assignment]
        if d.solution is None:  # the model answered with tests before any solution parsed
            return [Verdict(verifier="extract", passed=False, score=0.0,
                            feedback=f"No ```{language} solution has been given yet.")]
        if d.tests is None:
            verdicts = await self._check(record, d, language, ctx, stages, index, turn)
            if not all(v.passed for v in verdicts):
                return verdicts
            tests_reply = await self._ask(ctx, prompt, d, P.tests_request(language), cfg.tests,
                                          ("tests", language, index, turn))
            tests = extract_code(tests_reply, language)
            if tests.code is None:
                return [Verdict(verifier="extract", passed=False, score=0.0, feedback=f"Tests: {tests.reason}")]
            d.tests = tests.code
            if stages is not None:
                stages.add("tests_written")
        return await self._check(record, d, language, ctx, stages, index, turn)

    async def _ask(self, ctx: Context, prompt: list[Message], d: _Dialog, user_text: str, sampling: SamplingOptions,
                   seed_key: tuple) -> str:
        """One more user turn and the model's answer, both appended to the dialog."""
        cfg: SelfCorrectionConfig = self.config  # type: ignore[assignment]
        d.messages.append({"role": "user", "content": user_text})
        params = sampling_params(cfg, sampling, n=1, seed=ctx.sample_seed(*seed_key))
        d.turn_sampling.append(params.as_dict())
        reply = (await ctx.generate("policy", [prompt + d.messages], params))[0][0]
        d.messages.append({"role": "assistant", "content": reply.text})
        return reply.text

    async def _check(self, record: Record, d: _Dialog, language: str, ctx: Context, stages: Stages | None,
                     index: int, turn: int) -> list[Verdict]:
        """Static checks of the solution alone; with tests, the whole chain on solution + tests."""
        assert d.solution is not None
        if d.tests is None:
            probe = Candidate(id=content_hash(record.id, index, turn, "solution"),
                              messages=[{"role": "assistant", "content": fenced(d.solution, language)}])
            verdicts = await run_checks(ctx, record, probe, only=["static"])
            if stages is not None and all(v.passed for v in verdicts):
                stages.add("parsed")
            return verdicts
        # code_exec appends the model's tests (candidate.metadata["unit_tests"]) to the solution
        probe = Candidate(id=content_hash(record.id, index, turn, "program"),
                          messages=[{"role": "assistant", "content": fenced(d.solution, language)}],
                          metadata={"unit_tests": d.tests})
        verdicts = await run_checks(ctx, record, probe)
        if stages is not None:
            inner = Stages()
            count_check_stages(inner, verdicts)
            for name in ("compiled",):
                stages.add(name, inner.counts.get(name, 0))
        return verdicts

    def _pairs(self, record: Record, dialogs: list[_Dialog], language: str, params: SamplingParams,
               ctx: Context) -> None:
        """DPO pairs of single assistant turns (never whole dialogs, whose user turns are no response).

        Faulty first solution (rejected) vs the same sample's fixed solution (chosen); when no sample
        was fixed, a passing solution vs another sample's failed first reply. The RM ranking is the
        first pair, so the selection stage never ranks multi-turn dialogs either.
        """
        cfg: SelfCorrectionConfig = self.config  # type: ignore[assignment]
        prov = ctx.provenance(params=params, parents=[record.id])

        def add(winner: _Dialog, chosen: str, rejected: str, rejected_verdicts: list[Verdict], reason: str) -> None:
            bad = record.add_candidate([{"role": "assistant", "content": rejected}],
                                       metadata={"kind": "dpo_faulty"}, provenance=prov)
            bad.verdicts = list(rejected_verdicts)
            if bad.passed or not bad.verdicts:
                attach_failure(bad, "self_correction", "this attempt failed the checks")
            good = record.add_candidate([{"role": "assistant", "content": chosen}],
                                        metadata={"kind": "dpo_fixed", "corrected_after": winner.passed_after},
                                        provenance=prov)
            good.verdicts = list(winner.verdicts)
            record.pairs.append(PreferencePair(chosen=good.id, rejected=bad.id, margin=1.0, reason=reason))

        for winner in dialogs:
            if len(record.pairs) >= cfg.max_pairs:
                break
            if _solution_corrected(winner):
                add(winner, fenced(winner.solution or "", language), fenced(winner.first_solution or "", language),
                    winner.first_failure or [], f"fixed after {winner.passed_after} correction turn(s) vs faulty")
        passing = [d for d in dialogs if d.passed_after is not None]
        failing = [d for d in dialogs if d.passed_after is None]
        if not record.pairs and cfg.max_pairs and passing and failing:
            loser = failing[0]
            add(passing[0], fenced(passing[0].solution or "", language), loser.messages[0]["content"],
                loser.first_failure or [], "passing solution vs a failed first attempt")
        if record.pairs:
            record.ranking = [record.pairs[0].chosen, record.pairs[0].rejected]


def _solution_corrected(d: _Dialog) -> bool:
    """True when the dialog passed with a different solution than its first (not just fixed tests)."""
    return bool(d.passed_after) and d.first_solution is not None and d.first_solution != d.solution


def _problem_error(problem: str, min_chars: int) -> str:
    if not problem:
        return "the problem statement is empty"
    if len(problem) < min_chars:
        return f"the problem statement has {len(problem)} characters (< {min_chars})"
    return ""
