"""Fixtures: one warm pool per backend for the whole session, driven from a background event loop.

The pools are the real backends (Docker engine + sandbox image, host bubblewrap). Docker tests skip
locally when the engine or image is missing, but fail under CI=true: a CI run must not go green
without having run them. bubblewrap tests skip, with the reason, where bwrap cannot run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence

import pytest

from sandboxes.types import ExecRequest, ExecResult, Sandbox

os.environ.setdefault("OMP_NUM_THREADS", "1")
# A secret in the engine's environment before any sandbox starts: no process a job can see may hold it.
CANARY = "synthgen-canary-" + os.urandom(8).hex()
os.environ["SYNTHGEN_TEST_SECRET"] = CANARY
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ("docker", "bubblewrap")


class LoopThreadRunner:
    """Runs a real sandbox on its own event loop thread so sync tests can share one session pool."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro, timeout: float = 300):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def run(self, request: ExecRequest) -> ExecResult:
        return self.call(self.sandbox.run(request))

    def run_many(self, requests: Sequence[ExecRequest]) -> list[ExecResult]:
        return self.call(self.sandbox.run_many(requests), timeout=1800)

    def generation(self) -> object:
        """Changes whenever a container or bubblewrap worker is replaced."""
        sb = self.sandbox
        if hasattr(sb, "_procs"):
            return tuple(p.pid if p is not None else None for p in sb._procs)
        return sb.stats["replacements"]

    def close(self) -> None:
        self.call(self.sandbox.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def current_image() -> str:
    """The image built from this checkout (its hash tag) when present, else the default tag.

    Several checkouts or long-running processes may share one Docker engine and retag ``latest``;
    the hash tag always matches the supervisor and recipes under test.
    """
    from sandboxes.image_build import DEFAULT_IMAGE, IMAGE_REPO, image_hash

    tag = f"{IMAGE_REPO}:{image_hash()}"
    found = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False)
    return tag if found.returncode == 0 else DEFAULT_IMAGE


def docker_unavailable_reason() -> str | None:
    if shutil.which("docker") is None:
        return "docker CLI not installed (bash scripts/install_system_deps.sh)"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "Docker engine not running (bash scripts/start_dockerd.sh)"
    from sandboxes.image_build import DEFAULT_IMAGE

    if (
        subprocess.run(
            ["docker", "image", "inspect", DEFAULT_IMAGE], capture_output=True, check=False
        ).returncode
        != 0
    ):
        return f"sandbox image {DEFAULT_IMAGE} missing (synthgen sandbox build)"
    return None


def bwrap_unavailable_reason() -> str | None:
    if shutil.which("bwrap") is None:
        return "bubblewrap not installed (bash scripts/install_system_deps.sh)"
    probe = subprocess.run(
        [
            "bwrap",
            "--unshare-all",
            "--ro-bind",
            "/usr",
            "/usr",
            "--symlink",
            "usr/bin",
            "/bin",
            "--symlink",
            "usr/lib",
            "/lib",
            "--symlink",
            "usr/lib64",
            "/lib64",
            "true",
        ],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return f"bwrap cannot create namespaces here: {probe.stderr.decode(errors='replace').strip()}"
    return None


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but the sandbox backend cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_runner() -> Iterator[LoopThreadRunner]:
    reason = docker_unavailable_reason()
    if reason:
        skip_or_fail(reason)
    from sandboxes.docker_pool import DockerConfig, DockerSandbox

    runner = LoopThreadRunner(DockerSandbox(DockerConfig(pool_size=2, image=current_image())))
    runner.call(runner.sandbox.start())
    yield runner
    pool_id = runner.sandbox._pool_id
    runner.close()
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=synthgen.sandbox.pool={pool_id}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert not left, f"containers of the test pool left behind: {left}"


@pytest.fixture(scope="session")
def bwrap_runner() -> Iterator[LoopThreadRunner]:
    reason = bwrap_unavailable_reason()
    if reason:
        # The hostile and isolation suites must run on both backends in CI: fail there, skip locally.
        skip_or_fail(reason)
    from sandboxes.bwrap import BubblewrapSandbox, BwrapConfig

    runner = LoopThreadRunner(BubblewrapSandbox(BwrapConfig(workers=2)))
    runner.call(runner.sandbox.start())
    yield runner
    runner.close()


@pytest.fixture(params=BACKENDS)
def backend(request) -> LoopThreadRunner:
    """Each test using this runs once per backend."""
    return request.getfixturevalue("docker_runner" if request.param == "docker" else "bwrap_runner")
