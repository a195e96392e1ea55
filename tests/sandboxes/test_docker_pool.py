"""Docker pool specifics: container hardening, replacement, batching, and no leaked containers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from sandboxes.docker_pool import DockerConfig, DockerSandbox, remove_stale_containers
from sandboxes.owner import LABEL_KIND, LABEL_OWNER
from sandboxes.types import ExecRequest, ExecStatus, Limits
from tests.sandboxes.conftest import docker_unavailable_reason, skip_or_fail


@pytest.fixture(autouse=True)
def _needs_docker():
    reason = docker_unavailable_reason()
    if reason:
        skip_or_fail(reason)


def _containers(label: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={label}"], capture_output=True, text=True, check=True
    ).stdout
    return out.split()


def _inspect(container_id: str) -> dict:
    return json.loads(
        subprocess.run(["docker", "inspect", container_id], capture_output=True, text=True, check=True).stdout
    )[0]


def test_pool_containers_are_locked_down(docker_runner) -> None:
    pool_id = docker_runner.sandbox._pool_id
    ids = _containers(f"synthgen.sandbox.pool={pool_id}")
    assert len(ids) == 2
    host = _inspect(ids[0])["HostConfig"]
    config = _inspect(ids[0])["Config"]
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and host["LogConfig"]["Type"] == "none"
    assert host["Memory"] > 0 and host["PidsLimit"] > 0 and host["AutoRemove"] is True
    assert "/work" in host["Tmpfs"] and "size=" in host["Tmpfs"]["/work"]
    assert config["User"] and not config["User"].startswith("0")
    uids = {_inspect(i)["Config"]["User"] for i in ids}
    assert len(uids) == 2, "each slot needs its own uid (RLIMIT_NPROC counts per uid)"


def test_supervisor_is_pid_1_and_survives_signals(docker_runner) -> None:
    code = "import os, signal\nfor s in (signal.SIGTERM, signal.SIGKILL, signal.SIGINT):\n    os.kill(1, s)\nprint('sent')"
    result = docker_runner.run(ExecRequest(language="python", files={"main.py": code}))
    assert result.ok, result
    after = docker_runner.run(
        ExecRequest(language="python", files={"main.py": "print(open('/proc/1/cmdline').read())"})
    )
    assert after.ok and "supervisor.py" in after.stdout_text


def test_run_many_keeps_every_worker_busy(docker_runner) -> None:
    reqs = [
        ExecRequest(language="python", files={"main.py": "import time; time.sleep(0.4)"}) for _ in range(10)
    ]
    t0 = time.monotonic()
    results = docker_runner.run_many(reqs)
    elapsed = time.monotonic() - t0
    assert all(r.ok for r in results)
    assert elapsed < 10 * 0.4 * 0.8, f"10 x 0.4 s on 2 workers took {elapsed:.1f}s: the pool is not parallel"


def test_killed_container_is_replaced() -> None:
    async def scenario():
        async with DockerSandbox(DockerConfig(pool_size=1)) as sb:
            first = await sb.run(ExecRequest(language="python", files={"main.py": "print(1)"}))
            victim = next(iter(sb._slots.values())).container.id
            await asyncio.to_thread(
                subprocess.run, ["docker", "kill", victim], capture_output=True, check=False
            )
            second = await sb.run(ExecRequest(language="python", files={"main.py": "print(2)"}))
            return first, second, sb.stats, sb._pool_id

    first, second, stats, pool_id = asyncio.run(scenario())
    assert first.ok and second.ok and second.stdout_text == "2\n"
    assert stats["replacements"] >= 1
    assert _containers(f"synthgen.sandbox.pool={pool_id}") == []


def test_memory_limit_change_resizes_the_container() -> None:
    code = "x = bytearray(300 << 20)\nprint('allocated')"

    async def scenario():
        async with DockerSandbox(DockerConfig(pool_size=1)) as sb:
            small = await sb.run(
                ExecRequest(language="python", files={"main.py": code}, limits=Limits(memory_mb=128))
            )
            big = await sb.run(
                ExecRequest(language="python", files={"main.py": code}, limits=Limits(memory_mb=768))
            )
            return small, big

    small, big = asyncio.run(scenario())
    assert small.status is ExecStatus.MEMORY_LIMIT, small
    assert big.ok and big.stdout_text == "allocated\n", big


def test_close_leaves_no_container_and_is_idempotent() -> None:
    async def scenario():
        sb = DockerSandbox(DockerConfig(pool_size=2))
        await sb.start()
        await sb.run(ExecRequest(language="bash", files={"main.sh": "sleep 1000 & echo bg"}))
        await sb.close()
        await sb.close()
        return sb._pool_id, sb._sock_dir

    pool_id, sock_dir = asyncio.run(scenario())
    assert _containers(f"synthgen.sandbox.pool={pool_id}") == []
    assert not sock_dir.exists()


def test_sigkilled_parent_leaves_no_container(tmp_path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(
        textwrap.dedent("""
        import asyncio, sys
        from sandboxes.docker_pool import DockerConfig, DockerSandbox
        async def main():
            sb = DockerSandbox(DockerConfig(pool_size=2))
            await sb.start()
            print(sb._pool_id, flush=True)
            await asyncio.sleep(600)
        asyncio.run(main())
    """)
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    pool_id = proc.stdout.readline().strip()
    label = f"synthgen.sandbox.pool={pool_id}"
    assert len(_containers(label)) == 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # The supervisors see their channel close and exit; --rm removes the containers.
    deadline = time.monotonic() + 15
    while _containers(label) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _containers(label) == [], "containers of a SIGKILLed owner must go away"


def test_stale_containers_of_dead_owners_are_removed_at_start() -> None:
    import docker

    client = docker.from_env()
    # A container labelled as ours, owned by a process that no longer exists, that would live forever.
    stale = client.containers.run(
        "synthgen-sandbox:latest",
        entrypoint=["sleep", "1000"],
        detach=True,
        network_mode="none",
        labels={LABEL_KIND: "docker-pool", LABEL_OWNER: f"{os.uname().nodename}:999999:1"},
    )
    alive = client.containers.run(
        "synthgen-sandbox:latest",
        entrypoint=["sleep", "1000"],
        detach=True,
        network_mode="none",
        labels={LABEL_KIND: "docker-pool", LABEL_OWNER: __import__("sandboxes.owner").owner.owner_token()},
    )
    try:
        removed = remove_stale_containers(client)
        assert removed >= 1
        ids = _containers(f"{LABEL_KIND}=docker-pool")
        assert stale.id[:12] not in ids and alive.id[:12] in ids, "only dead owners' containers go"
    finally:
        for c in (stale, alive):
            try:
                c.remove(force=True)
            except docker.errors.NotFound:
                pass
        client.close()


def test_job_cannot_inspect_or_trace_the_supervisor(docker_runner) -> None:
    code = (
        "import ctypes, os\n"
        "for path in ('/proc/1/environ', '/proc/1/mem', '/proc/1/fd/0'):\n"
        "    try:\n"
        "        open(path, 'rb').read(1)\n"
        "        print('OPENED', path)\n"
        "    except OSError as e:\n"
        "        print('denied', path)\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('ptrace', libc.ptrace(16, 1, 0, 0))  # PTRACE_ATTACH\n"
    )
    result = docker_runner.run(ExecRequest(language="python", files={"main.py": code}))
    assert result.ok, result
    assert "OPENED" not in result.stdout_text and "ptrace -1" in result.stdout_text, result.stdout_text


def test_pipelined_slots_keep_results_in_order() -> None:
    async def scenario():
        async with DockerSandbox(DockerConfig(pool_size=2, pipeline_depth=3)) as sb:
            reqs = [ExecRequest(language="python", files={"main.py": f"print({i})"}) for i in range(30)]
            reqs[5] = ExecRequest(
                language="python", files={"main.py": "while True: pass"}, limits=Limits(wall_time_s=1)
            )
            return await sb.run_many(reqs)

    results = asyncio.run(scenario())
    assert results[5].status is ExecStatus.TIMEOUT
    assert [r.stdout_text for i, r in enumerate(results) if i != 5] == [f"{i}\n" for i in range(30) if i != 5]
