"""Warm compilers in the Docker image: a long-lived javac and tsc per container and a precompiled
<bits/stdc++.h>. Same verdicts and messages as the cold compilers, each job compiled in its own dir,
and nothing a job does to a service reaches a later job's result."""

from __future__ import annotations

import asyncio

import pytest

from sandboxes.docker_pool import DockerConfig, DockerSandbox
from sandboxes.types import ExecRequest, ExecStatus, Limits
from tests.sandboxes.conftest import current_image, docker_unavailable_reason, skip_or_fail

pytestmark = pytest.mark.slow

JAVA_OK = {"Main.java": 'public class Main { public static void main(String[] a) { System.out.println("%s"); } }'}
JAVA_BAD = {"Main.java": 'public class Main { public static void main(String[] a) { int x = "s"; } }'}
TS_OK = {"main.ts": "const msg: string = '%s';\nconsole.log(msg);"}
TS_BAD = {"main.ts": "const x: number = 'a';\nconsole.log(x);"}
LIMITS = Limits(wall_time_s=30)


@pytest.fixture(autouse=True)
def _needs_docker():
    reason = docker_unavailable_reason()
    if reason:
        skip_or_fail(reason)


def _fill(files: dict, text: str) -> dict:
    return {k: v.replace("%s", text) for k, v in files.items()}


def _run_all(config: DockerConfig, requests: list[ExecRequest]):
    config = config.model_copy(update={"image": current_image()})

    async def scenario():
        async with DockerSandbox(config) as sb:
            return [await sb.run(r) for r in requests]

    return asyncio.run(scenario())


def test_warm_and_cold_compilers_agree() -> None:
    requests = [
        ExecRequest(language="java", files=_fill(JAVA_OK, "one"), limits=LIMITS),
        ExecRequest(language="java", files=JAVA_BAD, limits=LIMITS),
        ExecRequest(language="typescript", files=_fill(TS_OK, "two"), limits=LIMITS),
        ExecRequest(language="typescript", files=TS_BAD, limits=LIMITS),
    ]
    warm = _run_all(DockerConfig(pool_size=1), requests * 2)  # the first of each starts the service
    cold = _run_all(DockerConfig(pool_size=1, warm_compilers=False), requests)
    for w, c in zip(warm[4:], cold):
        assert (w.status, w.stdout, w.compile_output) == (c.status, c.stdout, c.compile_output), (w, c)
    assert [r.status for r in cold] == [ExecStatus.OK, ExecStatus.COMPILE_ERROR] * 2
    assert "Main.java:1: error: incompatible types" in cold[1].compile_output
    assert "main.ts(1,7): error TS2322" in cold[3].compile_output


ATTACK_SERVICES = """
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
me = os.getpid()
for p in sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, me)):
    cmd = open(f'/proc/{p}/cmdline', 'rb').read()
    print('service', p, b'JavacServer' in cmd or b'tsc_server' in cmd)
    print('attach', libc.ptrace(16, p, None, None))
    for f in ('environ', 'mem', 'maps'):
        try:
            open(f'/proc/{p}/{f}', 'rb').read(16)
            print('READ', f)
        except OSError:
            pass
    os.kill(p, signal.SIG)
"""


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGSTOP"])
def test_a_job_attacking_the_services_cannot_change_later_results(sig: str) -> None:
    attack = ExecRequest(language="python", files={"main.py": ATTACK_SERVICES.replace("signal.SIG)", f"signal.{sig})")})
    requests = [
        ExecRequest(language="java", files=_fill(JAVA_OK, "before"), limits=LIMITS),
        ExecRequest(language="typescript", files=_fill(TS_OK, "before"), limits=LIMITS),
        attack,
        ExecRequest(language="java", files=_fill(JAVA_OK, "after"), limits=LIMITS),
        ExecRequest(language="typescript", files=_fill(TS_OK, "after"), limits=LIMITS),
        ExecRequest(language="java", files=JAVA_BAD, limits=LIMITS),
    ]
    results = _run_all(DockerConfig(pool_size=1), requests)
    assert [r.stdout_text for r in results[:2]] == ["before\n", "before\n"], results[:2]
    out = results[2].stdout_text
    assert results[2].ok and out.count("service") == 2 and "False" not in out, out
    assert "attach 0" not in out and "READ" not in out, out
    assert [r.stdout_text for r in results[3:5]] == ["after\n", "after\n"], results[3:5]
    assert results[5].status is ExecStatus.COMPILE_ERROR and "incompatible types" in results[5].compile_output


def test_service_threads_do_not_eat_the_jobs_process_limit() -> None:
    forks = (
        "import os, time\nn = 0\nfor _ in range(12):\n    if os.fork() == 0:\n        time.sleep(1)\n"
        "        os._exit(0)\n    n += 1\nprint(n)"
    )
    requests = [
        ExecRequest(language="java", files=_fill(JAVA_OK, "x"), limits=LIMITS),
        ExecRequest(language="typescript", files=_fill(TS_OK, "x"), limits=LIMITS),
        ExecRequest(language="python", files={"main.py": forks}, limits=Limits(processes=16)),
    ]
    results = _run_all(DockerConfig(pool_size=1), requests)
    assert results[2].ok and results[2].stdout_text == "12\n", results[2]


def test_precompiled_stdcpp_header_compiles_and_runs() -> None:
    src = "#include <bits/stdc++.h>\nusing namespace std;\nint main(){vector<int> v{3,1,2}; sort(v.begin(), v.end()); cout << v[0] << endl;}\n"
    flags = "g++ -O0 -DX=1 -std=c++17 -o main main.cpp"  # other flags: the PCH is skipped, not misused
    results = _run_all(
        DockerConfig(pool_size=1),
        [
            ExecRequest(language="cpp", files={"main.cpp": src}, limits=LIMITS),
            ExecRequest(language="cpp", files={"main.cpp": src}, compile_cmd=flags, limits=LIMITS),
        ],
    )
    assert all(r.ok and r.stdout_text == "1\n" for r in results), results


def test_a_jobs_memory_limit_holds_beside_running_services() -> None:
    hog = "x = bytearray(300 << 20)\nprint('allocated')"
    requests = [
        ExecRequest(language="java", files=_fill(JAVA_OK, "x"), limits=Limits(wall_time_s=30, memory_mb=128)),
        ExecRequest(language="typescript", files=_fill(TS_OK, "x"), limits=Limits(wall_time_s=30, memory_mb=128)),
        ExecRequest(language="python", files={"main.py": hog}, limits=Limits(memory_mb=128)),
        ExecRequest(language="python", files={"main.py": hog}, limits=Limits(memory_mb=128)),
    ]
    results = _run_all(DockerConfig(pool_size=1), requests)
    assert [r.stdout_text for r in results[:2]] == ["x\n", "x\n"], results[:2]
    assert [r.status for r in results[2:]] == [ExecStatus.MEMORY_LIMIT] * 2, results[2:]
