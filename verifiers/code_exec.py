"""The ``code_exec`` verifier: run the candidate's program with tests in the sandbox.

Reads (field names configurable):
- language: ``record.metadata["language"]``, else ``language`` in the config (any sandbox recipe:
  python, c, cpp, java, javascript, typescript, php, rust, bash, sql);
- the solution: ``candidate.text`` through :func:`verifiers.code_extract.extract_code`;
- tests: ``record.metadata["tests"]``, either
  * a string: an assertion program appended to the solution (HumanEval-like; with
    ``record.metadata["entry_point"]`` and a ``def check(candidate)`` in the tests, ``check(entry_point)``
    is called), or
  * a list of ``{"stdin": ..., "stdout": ...}`` cases: the solution is a whole program, run once per
    case (all cases at once through ``ctx.sandbox.run_many``), output compared exactly or with
    whitespace normalised; score = fraction of cases passed;
  * absent: model-written unit tests, from ``candidate.metadata["unit_tests"]`` or the second fenced
    block of the language in the response, appended to the solution like an assertion program;
- ``record.metadata["prefix"]`` (optional): code placed before the solution (a HumanEval prompt that
  the completion continues, a SQL schema and its rows);
- build options (optional), per record or per language in the config: ``compile_flags`` and
  ``link_flags`` (appended to the recipe's compile command), ``compile_cmd`` / ``run_cmd`` (replace
  the recipe's). C/C++ programs that include OpenSSL or GMP headers get those libraries linked.
  TypeScript is type-checked by ``tsc`` unless ``typescript_check`` is off (transpile only).
  Compilation has its own time limit (``compile_time_limit_s``), so a 1 s program limit never
  kills ``tsc`` or ``javac``.

Pass rule: the program's exit status (and the tests' assertions): JavaScript and TypeScript run
with a ``console.assert`` that exits 1 on failure, so logging to stderr does not fail a program.

Code only ever runs through ``ctx.sandbox``. Statuses map to failed verdicts whose feedback says
what happened: compile errors (the compiler output), runtime errors (the failing assertion with
actual and expected values, the traceback), timeouts, memory and output limits. A ``sandbox_error``
the candidate caused (its program broke a fresh sandbox twice, or cannot be run as given) fails that
candidate alone, with the reason; only a sandbox that is down (``SandboxFailure.SANDBOX_DOWN``: every
slot failing) raises :class:`synthgen.errors.TransientError`, so the runner retries the item later.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from sandboxes.recipes import get_recipe
from sandboxes.types import ExecRequest, ExecResult, ExecStatus, Limits, SandboxFailure
from synthgen.errors import TransientError
from synthgen.plugins import PluginConfig, Verifier
from synthgen.records import Candidate, Record, Verdict
from verifiers.code_extract import canonical_language, code_blocks, extract_code
from verifiers.code_programs import Job, assertion_job, auto_link_flags, program_job

TAIL = 1500  # characters of compiler / stderr output kept in feedback
# TypeScript without type checking (syntax errors still fail): esbuild from the image takes
# milliseconds; where it is missing (bubblewrap on a bare host), the typescript module's transpiler.
TS_TRANSPILE_ONLY = (
    "if command -v esbuild >/dev/null; then esbuild --format=cjs --target=es2020 --platform=node "
    "--log-level=error --color=false --outdir=. *.ts; else node /opt/synthgen/ts/transpile.js *.ts; fi"
)
BUILD_OPTIONS = ("compile_flags", "link_flags", "compile_cmd", "run_cmd")


class CodeExecConfig(PluginConfig):
    language: str | None = Field(None, description="used when the record has no language")
    language_field: str = "language"
    tests_field: str = "tests"
    entry_point_field: str = "entry_point"
    prefix_field: str = "prefix"
    model_tests_field: str = Field("unit_tests", description="candidate.metadata key of model-written tests")
    test_style: Literal["auto", "assert", "io", "model"] = Field(
        "auto", description="auto: a list of cases -> io, a string -> assert, no tests -> model")
    output_match: Literal["exact", "whitespace"] = "whitespace"
    time_limit_s: float = Field(10.0, gt=0, description="wall and CPU limit of the program")
    compile_time_limit_s: float = Field(
        60.0, gt=0, description="wall and CPU limit of the compile step, separate from the program's")
    memory_mb: int = Field(512, ge=16)
    max_failures_in_feedback: int = Field(3, ge=1)
    typescript_check: bool = Field(True, description="type-check TypeScript with tsc; off: transpile only")
    compile_flags: dict[str, str] = Field(
        default_factory=dict, description="extra compile flags per language, e.g. {cpp: '-std=c++20'}")
    link_flags: dict[str, str] = Field(
        default_factory=dict, description="extra link flags per language, e.g. {c: '-lpthread'}")
    compile_cmd: dict[str, str] = Field(
        default_factory=dict, description="replaces the recipe's compile command ({main}, {stem})")
    run_cmd: dict[str, str] = Field(default_factory=dict, description="replaces the recipe's run command")
    options_from_record: bool = Field(
        True, description="read compile_flags/link_flags/compile_cmd/run_cmd from record.metadata too")


def _tail(text: str, n: int = TAIL) -> str:
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


def _clip(text: str, n: int = 300) -> str:
    return text if len(text) <= n else text[:n] + f"... ({len(text)} chars)"


def outputs_match(actual: str, expected: str, mode: str) -> bool:
    if mode == "exact":
        return actual == expected
    # whitespace: same tokens line by line, ignoring trailing spaces and blank lines at the end
    def norm(s: str) -> list[list[str]]:
        lines = [line.split() for line in s.replace("\r\n", "\n").split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        return lines
    return norm(actual) == norm(expected)


def describe_failure(result: ExecResult, limits: Limits) -> str:
    """What went wrong with one job, as feedback a model can act on."""
    status = result.status
    if status is ExecStatus.COMPILE_ERROR:
        return "compilation failed:\n" + _tail(result.compile_output or result.stderr_text)
    if status is ExecStatus.TIMEOUT:
        return f"time limit exceeded: no result within {limits.wall_time_s:g}s (infinite loop or too slow)"
    if status is ExecStatus.MEMORY_LIMIT:
        return f"memory limit exceeded ({limits.memory_mb} MB)"
    if status is ExecStatus.OUTPUT_LIMIT:
        return f"output limit exceeded ({limits.output_bytes} bytes): the program prints too much"
    if status is ExecStatus.SANDBOX_ERROR:
        return f"the sandbox could not run this program: {result.error or _tail(result.stderr_text)}"
    parts = [f"runtime error (exit code {result.exit_code})" if result.exit_code else "the tests failed"]
    if result.stderr_text.strip():
        parts.append(_tail(result.stderr_text))
    # Some test programs report their failures on stdout: show it too.
    if result.stdout_text.strip():
        parts.append("stdout:\n" + _tail(result.stdout_text, 500))
    return "\n".join(parts)


def _as_command(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value or "").strip()


class CodeExecVerifier(Verifier):
    name: ClassVar[str] = "code_exec"
    Config: ClassVar[type[CodeExecConfig]] = CodeExecConfig

    async def verify(self, record: Record, candidate: Candidate, ctx: Any) -> Verdict:
        cfg: CodeExecConfig = self.config
        language = canonical_language(str(record.metadata.get(cfg.language_field) or cfg.language or ""))
        if not language:
            return self._fail(f"no language: set record.metadata[{cfg.language_field!r}] or `language`",
                              {"error": "no_language"})
        solution = extract_code(candidate.text, language)
        if not solution.strip():
            return self._fail(f"no {language} code found: put the program in a ```{language} block",
                              {"language": language, "error": "no_code"})
        tests = record.metadata.get(cfg.tests_field)
        style = cfg.test_style
        if style == "auto":
            style = "io" if isinstance(tests, list) else "assert" if isinstance(tests, str) and tests.strip() \
                else "model"
        prefix = str(record.metadata.get(cfg.prefix_field) or "")
        limits = Limits(wall_time_s=cfg.time_limit_s, cpu_time_s=cfg.time_limit_s, memory_mb=cfg.memory_mb,
                        compile_wall_time_s=cfg.compile_time_limit_s, compile_cpu_time_s=cfg.compile_time_limit_s)
        details: dict[str, Any] = {"language": language, "style": style}
        if style == "io":
            if not isinstance(tests, list) or not tests:
                return self._fail(f"record.metadata[{cfg.tests_field!r}] has no stdin/stdout cases", details)
            verdict = await self._io(ctx, record, language, solution, prefix, tests, limits, details)
        else:
            if style == "model":
                tests = candidate.metadata.get(cfg.model_tests_field)
                if not tests:
                    blocks = code_blocks(candidate.text, language)
                    tests = blocks[1] if len(blocks) > 1 else ""
                if not str(tests).strip():
                    return self._fail("no unit tests: add a second ```" + language +
                                      " block with tests that exercise the solution", details)
            elif not isinstance(tests, str) or not tests.strip():
                return self._fail(f"record.metadata[{cfg.tests_field!r}] has no test program", details)
            entry = record.metadata.get(cfg.entry_point_field)
            job = assertion_job(language, solution, str(tests), prefix=prefix, entry_point=entry)
            verdict = await self._assert(ctx, record, language, job, limits, details)
        return verdict  # its time is in the run's timers (verify:code_exec, sandbox), not in the record

    def _fail(self, feedback: str, details: dict[str, Any]) -> Verdict:
        return Verdict(verifier=self.name, passed=False, score=0.0, feedback=feedback, details=details)

    def _commands(self, language: str, job: Job, record: Record) -> tuple[str | None, str | None]:
        """(compile command, run command) with the config's and the record's options applied."""
        cfg: CodeExecConfig = self.config
        per_lang = {opt: {canonical_language(k): v for k, v in getattr(cfg, opt).items()} for opt in BUILD_OPTIONS}
        rec = {opt: _as_command(record.metadata.get(opt)) if cfg.options_from_record else ""
               for opt in BUILD_OPTIONS}
        compile_cmd = rec["compile_cmd"] or per_lang["compile_cmd"].get(language) or job.compile_cmd
        if not compile_cmd and language == "typescript" and not cfg.typescript_check:
            compile_cmd = TS_TRANSPILE_ONLY
        compile_cmd = compile_cmd or get_recipe(language).compile_cmd
        if compile_cmd and compile_cmd != TS_TRANSPILE_ONLY:  # flags are tsc's, not esbuild's
            extra = [per_lang["compile_flags"].get(language, ""), rec["compile_flags"],
                     *auto_link_flags(language, job.files), per_lang["link_flags"].get(language, ""),
                     rec["link_flags"]]
            compile_cmd = " ".join([compile_cmd, *(e for e in extra if e)])
        run_cmd = rec["run_cmd"] or per_lang["run_cmd"].get(language) or job.run_cmd
        return compile_cmd, run_cmd or None

    def _request(self, language: str, job: Job, limits: Limits, record: Record, stdin: str = "") -> ExecRequest:
        compile_cmd, run_cmd = self._commands(language, job, record)
        return ExecRequest(language=language, files=dict(job.files), main_file=job.main_file, stdin=stdin,
                           limits=limits, compile_cmd=compile_cmd, run_cmd=run_cmd)

    @staticmethod
    def _check_sandbox(result: ExecResult) -> None:
        # Only a sandbox that is down is worth regenerating the item for; a failure this candidate
        # caused (it broke its sandbox on two fresh slots, or its request is invalid) fails it alone.
        if result.status is ExecStatus.SANDBOX_ERROR and result.error_kind is SandboxFailure.SANDBOX_DOWN:
            raise TransientError(f"sandbox down: {result.error or result.stderr_text[:200]}")

    async def _assert(self, ctx: Any, record: Record, language: str, job: Job, limits: Limits,
                      details: dict[str, Any]) -> Verdict:
        result = await ctx.sandbox.run(self._request(language, job, limits, record))
        self._check_sandbox(result)
        details.update(status=result.status.value, exit_code=result.exit_code,
                       stderr=_tail(result.stderr_text), stdout=_tail(result.stdout_text, 500),
                       compile_output=_tail(result.compile_output))
        if result.ok:
            return Verdict(verifier=self.name, passed=True, score=1.0, details=details)
        return Verdict(verifier=self.name, passed=False, score=0.0, details=details,
                       feedback=describe_failure(result, limits))

    async def _io(self, ctx: Any, record: Record, language: str, solution: str, prefix: str, cases: list[Any],
                  limits: Limits, details: dict[str, Any]) -> Verdict:
        cfg: CodeExecConfig = self.config
        job = program_job(language, solution, prefix=prefix)
        requests = []
        for case in cases:
            stdin = case.get("stdin", case.get("input", "")) if isinstance(case, dict) else ""
            requests.append(self._request(language, job, limits, record, stdin=str(stdin or "")))
        results = await ctx.sandbox.run_many(requests)
        per_case: list[dict[str, Any]] = []
        failures: list[str] = []
        for i, (case, result) in enumerate(zip(cases, results)):
            self._check_sandbox(result)
            expected = str(case.get("stdout", case.get("output", ""))) if isinstance(case, dict) else ""
            actual = result.stdout_text
            passed = result.ok and outputs_match(actual, expected, cfg.output_match)
            per_case.append({"index": i, "passed": passed, "status": result.status.value,
                             "expected": _clip(expected), "actual": _clip(actual)})
            if passed:
                continue
            if result.status is ExecStatus.COMPILE_ERROR:
                # every case fails the same way: say it once
                failures = [describe_failure(result, limits)]
                per_case += [{"index": j, "passed": False, "status": "compile_error"}
                             for j in range(i + 1, len(cases))]
                break
            if len(failures) < cfg.max_failures_in_feedback:
                stdin = str(case.get("stdin", case.get("input", "")))
                if result.ok:
                    failures.append(f"test {i + 1} failed: input {_clip(stdin, 200)!r}\n"
                                    f"  expected output: {_clip(expected, 300)!r}\n"
                                    f"  actual output:   {_clip(actual, 300)!r}")
                else:
                    failures.append(f"test {i + 1} (input {_clip(stdin, 200)!r}): "
                                    + describe_failure(result, limits))
        n_pass = sum(c["passed"] for c in per_case)
        details.update(cases=per_case, passed_cases=n_pass, total_cases=len(cases))
        score = n_pass / len(cases)
        if n_pass == len(cases):
            return Verdict(verifier=self.name, passed=True, score=1.0, details=details)
        header = f"{n_pass}/{len(cases)} tests passed"
        return Verdict(verifier=self.name, passed=False, score=score, details=details,
                       feedback=header + "\n" + "\n".join(failures))
