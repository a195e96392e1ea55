"""Fixtures of the code generator tests: a real sandbox (Docker pool when its image is built, else
bubblewrap) and a run context wired with the real verifiers and a policy backend of the test's choice."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _docker_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        from sandboxes.image_build import DEFAULT_IMAGE

        out = subprocess.run(["docker", "image", "inspect", DEFAULT_IMAGE], check=False, capture_output=True,
                             timeout=20)
        return out.returncode == 0
    except Exception:  # noqa: BLE001 - no engine / no image: fall back to bubblewrap
        return False


@pytest.fixture(scope="session")
def sandbox_backend() -> str:
    """The sandbox plugin name these tests run on: docker when the engine and image are there.

    ``SYNTHGEN_TEST_SANDBOX=bubblewrap`` forces the fallback backend (to test both on one machine)."""
    forced = os.environ.get("SYNTHGEN_TEST_SANDBOX")
    if forced:
        return forced
    if _docker_ready():
        return "docker"
    if shutil.which("bwrap"):
        return "bubblewrap"
    pytest.skip("no sandbox here: neither a Docker engine with the sandbox image nor bubblewrap")


@pytest.fixture(scope="session")
def sandbox_languages(sandbox_backend) -> set[str]:
    """Languages the sandbox can run: every recipe in the image; the host's toolchains under bubblewrap."""
    from sandboxes.recipes import RECIPES

    if sandbox_backend == "bubblewrap":
        from sandboxes.bwrap import host_languages

        return {name for name, ok in host_languages().items() if ok}
    return set(RECIPES)


@pytest.fixture
def require_languages(sandbox_languages):
    def check(*languages: str) -> None:
        missing = sorted(set(languages) - sandbox_languages)
        if missing:
            pytest.skip(f"this sandbox cannot run {', '.join(missing)} here")

    return check


@pytest.fixture
async def code_sandbox(sandbox_backend):
    from synthgen.registry import Registry

    sandbox = Registry().create("sandbox", sandbox_backend, {})
    await sandbox.start()
    try:
        yield sandbox
    finally:
        await sandbox.close()


@pytest.fixture
def make_context(code_sandbox):
    """Build a per-item Context with the given policy backend and the real verifier chain."""
    from synthgen.context import RunContext, TimedLLM, TimedSandbox, Timers
    from synthgen.registry import Registry
    from synthgen.verify_chain import VerifierChain

    def build(policy, verifiers=("static", "code_exec"), *, generator=None, item_id="item-1", seed=0):
        timers = Timers()
        registry = Registry()
        # a verifier is a name, or (name, options)
        specs = [(v, {}) if isinstance(v, str) else v for v in verifiers]
        chain = VerifierChain([registry.create("verifier", n, o) for n, o in specs]) if specs else None
        run = RunContext(run_name="test", seed=seed,
                         llm={"policy": TimedLLM("policy", policy, timers, asyncio.Semaphore(8))},
                         sandbox=TimedSandbox(code_sandbox, timers, asyncio.Semaphore(4)), chain=chain, timers=timers,
                         generator_name=getattr(generator, "name", ""),
                         generator_version=getattr(generator, "version", ""))
        return run.for_item(item_id)

    return build
