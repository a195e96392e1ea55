"""code_exec through the sandbox vs the same programs as bare host subprocesses (no isolation).

200 assertion-style Python solutions (20 problems x 10 instances, half of them wrong in a subtle
way) are verified by ``code_exec`` through the Docker pool (or ``--backend bubblewrap``), with
``--workers`` jobs at once. The baseline runs the very same files (the harness + program that
code_exec assembles) with the host's ``/usr/bin/python3`` in temporary directories, ``--workers``
at once. Both must accept exactly the correct half. Goal: sandbox time <= 1.5x bare.
Run: ``.venv/bin/python benchmarks/verify_code.py [--backend docker|bubblewrap] [--workers 2]``

``--suite layouts``: the benchmark-style records of ``tests/verifiers/fixtures/code_layouts.py``
(HumanEval, HumanEval-X, MultiPL-E layouts with imports in the prompt, every language, correct and
mutant answers) through ``code_exec``, one at a time: verdicts right per language and seconds per
verdict (compile + run); the last
line compares TypeScript transpile-only with type-checked verification in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from synthgen.context import RunContext, TimedSandbox, Timers
from synthgen.records import Record
from verifiers.code_exec import CodeExecVerifier
from verifiers.code_programs import assertion_job

# (name, correct body, wrong body, reference implementation used to write the tests)
PROBLEMS = [
    ("add", "return a + b", "return a + b + (1 if a > 50 else 0)", lambda a, b: a + b),
    ("sub", "return a - b", "return abs(a - b)", lambda a, b: a - b),
    ("mul", "return a * b", "return a * b if a < 50 else a + b", lambda a, b: a * b),
    ("max2", "return a if a >= b else b", "return a if a < b else b", lambda a, b: max(a, b)),
    ("min2", "return a if a <= b else b", "return b", lambda a, b: min(a, b)),
    ("span", "return list(range(a, b + 1))", "return list(range(a, b))", lambda a, b: list(range(a, b + 1))),
    ("total", "return sum(range(a, b + 1))", "return sum(range(a, b))", lambda a, b: sum(range(a, b + 1))),
    ("gcd", "import math\n    return math.gcd(a, b)", "return min(a, b)", None),
    ("mod", "return a % b if b else 0", "return a // b if b else 0", lambda a, b: a % b if b else 0),
    ("digits", "return len(str(abs(a))) + len(str(abs(b)))", "return len(str(a)) + len(str(b))",
     lambda a, b: len(str(abs(a))) + len(str(abs(b)))),
    ("avg", "return (a + b) / 2", "return (a + b) // 2", lambda a, b: (a + b) / 2),
    ("pow2", "return a ** 2 + b ** 2", "return a * 2 + b * 2", lambda a, b: a ** 2 + b ** 2),
    ("evens", "return [x for x in range(a, b + 1) if x % 2 == 0]",
     "return [x for x in range(a, b) if x % 2 == 0]", lambda a, b: [x for x in range(a, b + 1) if x % 2 == 0]),
    ("clamp", "return max(0, min(a, b))", "return min(a, b)", lambda a, b: max(0, min(a, b))),
    ("concat", "return str(a) + str(b)", "return str(a + b)", lambda a, b: str(a) + str(b)),
    ("between", "return a <= 10 <= b", "return a < 10 < b", lambda a, b: a <= 10 <= b),
    ("sign", "return (a > b) - (a < b)", "return 1 if a > b else -1", lambda a, b: (a > b) - (a < b)),
    ("diffsq", "return (a - b) * (a + b)", "return (a - b) ** 2", lambda a, b: (a - b) * (a + b)),
    ("rev", "return int(str(abs(a))[::-1])", "return int(str(a)[::-1].lstrip('-') or 0) + (a < 0)",
     lambda a, b: int(str(abs(a))[::-1])),
    ("both", "return a and b", "return a or b", lambda a, b: a and b),
]


def _gcd(a: int, b: int) -> int:
    import math
    return math.gcd(a, b)


def build_cases() -> list[tuple[Record, bool]]:
    cases = []
    for i in range(10):
        for p, (name, good, bad, ref) in enumerate(PROBLEMS):
            ref = ref or _gcd
            args = [(i * 7 + p, 10), (60 + i, i), (i, 60 + i), (10, 10), (-i - 1, 3)]
            tests = "def check(candidate):\n" + "".join(
                f"    assert candidate({a}, {b}) == {ref(a, b)!r}\n" for a, b in args)
            correct = (i + p) % 2 == 0
            body = good if correct else bad
            record = Record(id=f"{name}-{i}", messages=[{"role": "user", "content": f"Write {name}(a, b)."}],
                            metadata={"language": "python", "tests": tests, "entry_point": name})
            record.add_candidate([{"role": "assistant",
                                   "content": f"```python\ndef {name}(a, b):\n    {body}\n```"}])
            cases.append((record, correct))
    return cases


async def run_sandbox(cases, backend: str, workers: int) -> tuple[float, list[bool]]:
    if backend == "docker":
        from sandboxes.docker_pool import DockerConfig, DockerSandbox
        sandbox = DockerSandbox(DockerConfig(pool_size=workers))
    else:
        from sandboxes.bwrap import BubblewrapSandbox, BwrapConfig
        sandbox = BubblewrapSandbox(BwrapConfig(workers=workers))
    verifier = CodeExecVerifier()
    async with sandbox:
        ctx = RunContext(sandbox=TimedSandbox(sandbox, Timers(), asyncio.Semaphore(workers))).for_item("bench")
        # warm-up (pool start and first-job costs are not what we measure)
        await asyncio.gather(*(verifier.verify(r, r.candidates[0], ctx) for r, _ in cases[:workers * 2]))
        start = time.perf_counter()
        verdicts = await asyncio.gather(*(verifier.verify(r, r.candidates[0], ctx) for r, _ in cases))
        return time.perf_counter() - start, [v.passed for v in verdicts]


async def run_bare(cases, workers: int, python: str) -> tuple[float, list[bool]]:
    limit = asyncio.Semaphore(workers)
    root = tempfile.mkdtemp(prefix="verify-code-bare-")

    async def one(k: int, record: Record) -> bool:
        solution = record.candidates[0].text.split("```python\n", 1)[1].rsplit("```", 1)[0]
        job = assertion_job("python", solution, record.metadata["tests"],
                            entry_point=record.metadata["entry_point"])
        async with limit:
            work = os.path.join(root, str(k))
            os.makedirs(work)
            for name, content in job.files.items():
                with open(os.path.join(work, name), "w") as f:  # noqa: ASYNC230 - the baseline writes files too
                    f.write(content)
            proc = await asyncio.create_subprocess_exec(python, job.main_file, cwd=work,
                                                        stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.PIPE)
            await proc.communicate()
            shutil.rmtree(work)
            return proc.returncode == 0

    try:
        await asyncio.gather(*(one(k, r) for k, (r, _) in enumerate(cases[:workers * 2])))
        start = time.perf_counter()
        results = await asyncio.gather(*(one(k + 1000, r) for k, (r, _) in enumerate(cases)))
        return time.perf_counter() - start, list(results)
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def run_layouts(backend: str, workers: int) -> None:
    import statistics
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fixtures live under tests/
    from tests.verifiers.fixtures.code_layouts import CASES
    from verifiers.code_exec import CodeExecConfig

    if backend == "docker":
        from sandboxes.docker_pool import DockerConfig, DockerSandbox
        sandbox = DockerSandbox(DockerConfig(pool_size=workers))
    else:
        from sandboxes.bwrap import BubblewrapSandbox, BwrapConfig
        sandbox = BubblewrapSandbox(BwrapConfig(workers=workers))
    runs = []
    for case in CASES:
        for name, code in [("correct", case["correct"]), *case["wrong"].items()]:
            meta = {"language": case["language"], "prefix": case["prefix"], "tests": case["tests"]}
            if case.get("entry_point"):
                meta["entry_point"] = case["entry_point"]
            record = Record(id=f"{case['id']}-{name}", messages=[{"role": "user", "content": "x"}], metadata=meta)
            record.add_candidate([{"role": "assistant", "content": f"```{case['language']}\n{code}```"}])
            runs.append((case["language"], name == "correct", record))
    async with sandbox:
        ctx = RunContext(sandbox=TimedSandbox(sandbox, Timers(), asyncio.Semaphore(workers))).for_item("bench")

        async def timed(verifier, record):
            t0 = time.perf_counter()
            verdict = await verifier.verify(record, record.candidates[0], ctx)
            return verdict.passed, time.perf_counter() - t0

        # One at a time: seconds per verdict (compile + run), not time spent queued behind others.
        await timed(CodeExecVerifier(), runs[0][2])  # warm-up
        results = [await timed(CodeExecVerifier(), r) for _, _, r in runs]
        ts = [r for lang, _, r in runs if lang == "typescript"] * 3
        checked = [await timed(CodeExecVerifier(), r) for r in ts]
        loose = [await timed(CodeExecVerifier(CodeExecConfig(typescript_check=False)), r) for r in ts]
    print(f"{'language':<12}{'correct accepted':>18}{'mutants rejected':>18}{'median s':>10}")
    right = 0
    for lang in dict.fromkeys(lang for lang, _, _ in runs):
        mine = [(good, res) for (lg, good, _), res in zip(runs, results) if lg == lang]
        acc = sum(1 for good, (ok, _) in mine if good and ok)
        rej = sum(1 for good, (ok, _) in mine if not good and not ok)
        n_good = sum(1 for good, _ in mine if good)
        right += acc + rej
        med = statistics.median(sec for _, (_, sec) in mine)
        print(f"{lang:<12}{f'{acc}/{n_good}':>18}{f'{rej}/{len(mine) - n_good}':>18}{med:>10.2f}")
    t_checked = statistics.median(sec for _, sec in checked)
    t_loose = statistics.median(sec for _, sec in loose)
    same = [a[0] for a in checked] == [b[0] for b in loose]
    print(f"verdicts right: {right}/{len(runs)}; TypeScript verdicts equal in both modes: {same}")
    print(f"ratio TypeScript type-checked / transpile-only = {t_checked / t_loose:.2f}x "
          f"({t_checked:.2f}s vs {t_loose:.2f}s per verdict)")


async def main(args: argparse.Namespace) -> None:
    if args.suite == "layouts":
        await run_layouts(args.backend, args.workers)
        return
    cases = build_cases()
    truth = [c for _, c in cases]
    bare_s, bare_ok = await run_bare(cases, args.workers, args.python)
    sb_s, sb_ok = await run_sandbox(cases, args.backend, args.workers)
    n = len(cases)
    print(f"{n} Python solutions ({sum(truth)} correct), {args.workers} at once")
    print(f"{'mode':<36}{'seconds':>10}{'per s':>10}{'accepted':>10}{'agree':>8}")
    for label, secs, ok in ((f"bare subprocess ({args.python})", bare_s, bare_ok),
                            (f"code_exec via {args.backend}", sb_s, sb_ok)):
        agree = sum(a == b for a, b in zip(ok, truth))
        print(f"{label:<36}{secs:>10.2f}{n / secs:>10.1f}{sum(ok):>10}{agree:>7}/{n}")
    if sb_ok != truth or bare_ok != truth:
        print("WARNING: a verdict disagrees with the known answer")
    print(f"ratio code_exec({args.backend}) / bare = {sb_s / bare_s:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["docker", "bubblewrap"], default="docker")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--python", default="/usr/bin/python3", help="interpreter of the bare baseline")
    parser.add_argument("--suite", choices=["python", "layouts"], default="python")
    asyncio.run(main(parser.parse_args()))
