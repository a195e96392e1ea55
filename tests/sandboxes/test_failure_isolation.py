"""A candidate that kills its supervisor fails alone: its job is retried once on a fresh slot, then
failed with the reason, while sibling jobs run on undisturbed; only a sandbox that is down makes
``code_exec`` ask for the item to be regenerated."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from sandboxes.types import ExecRequest, ExecStatus, SandboxFailure
from synthgen.context import RunContext
from synthgen.errors import TransientError
from tests.sandboxes.conftest import (
    BACKENDS,
    bwrap_unavailable_reason,
    current_image,
    docker_unavailable_reason,
    skip_or_fail,
)
from verifiers.code_exec import CodeExecConfig, CodeExecVerifier

pytestmark = pytest.mark.slow


def make_sandbox(kind: str, size: int = 2):
    if kind == "docker":
        reason = docker_unavailable_reason()
        if reason:
            skip_or_fail(reason)
        from sandboxes.docker_pool import DockerConfig, DockerSandbox

        return DockerSandbox(DockerConfig(pool_size=size, image=current_image()))
    reason = bwrap_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from sandboxes.bwrap import BubblewrapSandbox, BwrapConfig

    return BubblewrapSandbox(BwrapConfig(workers=size))


def supervisor_running(marker: str) -> int | None:
    """Host pid of the supervisor (init of its sandbox) whose current job's files hold ``marker``."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                nspid = next(line for line in f if line.startswith("NSpid:")).split()
            if nspid[-1] != "1" or len(nspid) < 3:
                continue
            job_dir = f"/proc/{entry}/root/work/job"
            for name in os.listdir(job_dir):
                with open(os.path.join(job_dir, name), errors="replace") as f:
                    if marker in f.read():
                        return int(entry)
        except (OSError, StopIteration, UnicodeDecodeError):
            continue
    return None


async def kill_supervisor_of(marker: str, times: int) -> int:
    """Kill, ``times`` times, the supervisor running the job marked ``marker`` (each retry anew)."""
    killed: set[int] = set()
    deadline = time.monotonic() + 30
    while len(killed) < times and time.monotonic() < deadline:
        pid = await asyncio.to_thread(supervisor_running, marker)
        if pid is not None and pid not in killed:
            await asyncio.sleep(0.2)  # the job is under way
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
        await asyncio.sleep(0.02)
    return len(killed)


def victim(marker: str) -> ExecRequest:
    return ExecRequest(language="python", files={"main.py": f"# {marker}\nimport time\ntime.sleep(1.5)\nprint('v')"})


SIBLING = ExecRequest(language="python", files={"main.py": "import time\ntime.sleep(0.2)\nprint('sib')"})


async def _timed(sb, request: ExecRequest):
    t0 = time.monotonic()
    result = await sb.run(request)
    return result, time.monotonic() - t0


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("kills", [1, 2])
def test_killed_supervisor_costs_one_retry_and_nothing_for_siblings(kind: str, kills: int) -> None:
    marker = "victim-" + os.urandom(6).hex()

    async def scenario():
        async with make_sandbox(kind) as sb:
            baseline = await asyncio.gather(*(_timed(sb, SIBLING) for _ in range(6)))
            job = asyncio.create_task(_timed(sb, victim(marker)))
            killer = asyncio.create_task(kill_supervisor_of(marker, kills))
            await asyncio.sleep(0.1)
            siblings = await asyncio.gather(*(_timed(sb, SIBLING) for _ in range(6)))
            return baseline, await job, await killer, siblings

    baseline, (result, victim_s), killed, siblings = asyncio.run(scenario())
    assert killed == kills
    assert all(r.ok and r.stdout_text == "sib\n" for r, _ in siblings), siblings
    if kills == 1:
        assert result.ok and result.stdout_text == "v\n", result
    else:
        assert result.status is ExecStatus.SANDBOX_ERROR and result.error_kind is SandboxFailure.JOB, result
        assert "twice" in result.error
    base = max(s for _, s in baseline)
    worst = max(s for _, s in siblings)
    print(f"\n{kind} kills={kills}: victim {victim_s:.2f}s; siblings worst {worst:.2f}s vs {base:.2f}s alone")
    assert worst < base + 3.0, "siblings waited on the victim's failures"


def test_code_exec_fails_the_candidate_alone_and_keeps_its_siblings() -> None:
    """Two candidates of one item: the one that breaks its sandbox twice fails with the reason."""
    marker = "victim-" + os.urandom(6).hex()
    verifier = CodeExecVerifier(CodeExecConfig(language="python"))
    from synthgen.records import Record

    record = Record(id="r", messages=[{"role": "user", "content": "f"}], metadata={"tests": "assert f() == 1"})
    good = record.add_candidate([{"role": "assistant", "content": "```python\ndef f():\n    return 1\n```"}])
    bad = record.add_candidate(
        [{"role": "assistant", "content": f"```python\n# {marker}\nimport time\ndef f():\n    time.sleep(2)\n    return 1\n```"}]
    )

    async def scenario():
        async with make_sandbox("bubblewrap") as sb:
            ctx = RunContext(sandbox=sb).for_item("r")
            killer = asyncio.create_task(kill_supervisor_of(marker, 2))
            verdicts = await asyncio.gather(verifier.verify(record, good, ctx), verifier.verify(record, bad, ctx))
            return verdicts, await killer

    (ok, failed), killed = asyncio.run(scenario())
    assert killed == 2
    assert ok.passed
    assert not failed.passed and "sandbox could not run this program" in failed.feedback, failed


def test_code_exec_asks_for_a_retry_only_when_the_sandbox_is_down() -> None:
    from sandboxes.jobs import sandbox_error

    CodeExecVerifier._check_sandbox(sandbox_error("broke twice", kind=SandboxFailure.JOB))
    CodeExecVerifier._check_sandbox(sandbox_error("bad", kind=SandboxFailure.BAD_REQUEST))
    with pytest.raises(TransientError, match="sandbox down"):
        CodeExecVerifier._check_sandbox(sandbox_error("no container", kind=SandboxFailure.SANDBOX_DOWN))


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_sandbox_that_cannot_start_is_reported_down(kind: str) -> None:
    async def scenario():
        sb = make_sandbox(kind, size=1)
        async with sb:
            first = await sb.run(SIBLING)
            # From now on no sandbox can start: a missing image / interpreter.
            if kind == "docker":
                sb.config.image = "synthgen-sandbox:does-not-exist"
            else:
                sb.config.python = "/usr/bin/does-not-exist"
            os.kill(await asyncio.to_thread(_only_supervisor, sb), signal.SIGKILL)
            return first, await sb.run(SIBLING)

    first, down = asyncio.run(scenario())
    assert first.ok
    assert down.status is ExecStatus.SANDBOX_ERROR and down.error_kind is SandboxFailure.SANDBOX_DOWN, down
    assert "down" in down.error


def _only_supervisor(sb) -> int:
    """Host pid of the one live supervisor of a one-slot sandbox."""
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/status") as f:
                status = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        uid = int(status.split("Uid:")[1].split()[0])
        nspid = status.split("NSpid:")[1].split("\n")[0].split()
        if b"supervisor.py" in cmd and nspid[-1] == "1" and uid in _uids(sb):
            return int(entry)
    raise AssertionError("no supervisor found")


def _uids(sb) -> list[int]:
    return list(sb._uids)
