"""bubblewrap specifics: long-lived workers are replaced when they die and gone after close."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import pytest

from sandboxes.bwrap import BubblewrapSandbox, BwrapConfig, host_languages
from sandboxes.types import ExecRequest, ExecStatus, Limits
from tests.sandboxes.conftest import bwrap_unavailable_reason


@pytest.fixture(autouse=True)
def _needs_bwrap():
    reason = bwrap_unavailable_reason()
    if reason:
        pytest.skip(reason)


def _uid_processes(uid: int) -> list[str]:
    ps = subprocess.run(
        ["ps", "-o", "stat=,cmd=", "-u", str(uid)], capture_output=True, text=True, check=False
    )
    return [line for line in ps.stdout.splitlines() if not line.strip().startswith("Z")]


def test_host_languages_include_python_and_bash() -> None:
    langs = host_languages()
    assert langs["python"] and langs["bash"]


def test_missing_host_toolchain_is_a_clear_sandbox_error() -> None:
    missing = [name for name, ok in host_languages().items() if not ok]
    if not missing:
        pytest.skip("this host has every toolchain")

    async def scenario():
        async with BubblewrapSandbox(BwrapConfig(workers=1)) as sb:
            return await sb.run(ExecRequest(language=missing[0], files={"x": ""}, main_file="x"))

    result = asyncio.run(scenario())
    assert result.status is ExecStatus.SANDBOX_ERROR and "host" in result.error


def test_dead_worker_is_restarted_and_close_leaves_nothing() -> None:
    async def scenario():
        sb = BubblewrapSandbox(BwrapConfig(workers=1))
        async with sb:
            first = await sb.run(ExecRequest(language="python", files={"main.py": "print(1)"}))
            os.killpg(sb._procs[0].pid, signal.SIGKILL)
            await sb._procs[0].wait()
            second = await sb.run(ExecRequest(language="python", files={"main.py": "print(2)"}))
            during = _uid_processes(sb._uids[0])
        return first, second, during, _uid_processes(sb._uids[0]), sb._cgroups[0]

    first, second, during, after, cgroup = asyncio.run(scenario())
    assert first.ok and second.ok and second.stdout_text == "2\n"
    assert during, "a live worker runs as its own uid"
    assert after == [], f"processes left after close: {after}"
    assert cgroup is None or not cgroup.exists()


def test_memory_limit_can_change_between_jobs_without_restart() -> None:
    code = "x = bytearray(200 << 20)\nprint('allocated')"

    async def scenario():
        async with BubblewrapSandbox(BwrapConfig(workers=1)) as sb:
            small = await sb.run(
                ExecRequest(language="python", files={"main.py": code}, limits=Limits(memory_mb=96))
            )
            big = await sb.run(
                ExecRequest(language="python", files={"main.py": code}, limits=Limits(memory_mb=512))
            )
            return small, big

    small, big = asyncio.run(scenario())
    assert small.status is ExecStatus.MEMORY_LIMIT, small
    assert big.ok, big
