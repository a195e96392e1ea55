"""check_answer from plain scripts, and the math verifier's workers starting with it."""

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.verifiers.conftest import make_pair
from verifiers.math_answer import MathConfig, MathVerifier, check_answer
from verifiers.math_equiv import equivalent

ROOT = Path(__file__).resolve().parents[2]


def _run_script(tmp_path: Path, body: str, *args: str) -> subprocess.CompletedProcess:
    script = tmp_path / "check_one.py"
    script.write_text(textwrap.dedent(f"""\
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        print("START", flush=True)
        """) + textwrap.dedent(body))
    return subprocess.run([sys.executable, *args, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)


def test_check_answer_from_a_script_without_main_guard(tmp_path):
    # A spawn pool re-runs an unguarded script in every worker: each would print START and call
    # check_answer again. Ours runs the script once and gets the right verdicts.
    proc = _run_script(tmp_path, """\
        from verifiers.math_answer import check_answer
        print("RESULT", check_answer("so the answer is \\\\boxed{0.5}", "\\\\frac{1}{2}").passed,
              check_answer("\\\\boxed{0.6}", "\\\\frac{1}{2}").passed, flush=True)
        """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["START", "RESULT True False"], proc.stdout + proc.stderr[-2000:]


def test_math_verifier_in_an_unguarded_script_run_with_dash_m(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "job.py").write_text(textwrap.dedent(f"""\
        import asyncio, sys
        sys.path.insert(0, {str(ROOT)!r})
        print("START", flush=True)
        from synthgen.records import Record
        from verifiers.math_answer import MathVerifier
        v = MathVerifier()
        r = Record(id="r", metadata={{"answer": "7"}})
        c = r.add_candidate([{{"role": "assistant", "content": "\\\\boxed{{7}}"}}])
        print("RESULT", asyncio.run(v.verify(r, c)).passed, flush=True)
        asyncio.run(v.close())
        """))
    proc = subprocess.run([sys.executable, "-m", "pkg.job"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.stdout.splitlines() == ["START", "RESULT True"], proc.stdout + proc.stderr[-2000:]


def test_check_answer_in_process_helpers_agree():
    result = check_answer("We get $x = 3$.", "3")
    assert result.passed and result.answer == "x = 3" and result.method
    wrong = check_answer("\\boxed{4}", "3")
    assert not wrong.passed and wrong.answer == "4" and wrong.reason
    nothing = check_answer("I do not know.", "3")
    assert not nothing.passed and nothing.answer is None
    assert equivalent("3", "x = 3").equal and not equivalent("3", "4").equal


def test_check_answer_deadline():
    result = check_answer("\\boxed{9^{9^{9^{9}}}}", "2", timeout_s=2)
    assert not result.passed and result.method == "timeout"
    assert check_answer("\\boxed{2}", "2").passed  # a fresh worker after the kill


def test_workers_start_with_the_verifier():
    verifier = MathVerifier(MathConfig(workers=2))
    try:
        executor = verifier._pool._executor
        assert executor is not None and len(executor._processes) == 2  # before any check
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and verifier._pool._executor._pending_work_items:
            time.sleep(0.05)  # the warm-up (imports) finishes in the background
        record, cand = make_pair("\\boxed{\\frac{1}{2}}", metadata={"answer": "0.5"})
        start = time.perf_counter()
        assert asyncio.run(verifier.verify(record, cand)).passed
        assert time.perf_counter() - start < 2.0  # no process start, no sympy import on this call
    finally:
        asyncio.run(verifier.close())
