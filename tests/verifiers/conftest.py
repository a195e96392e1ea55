"""Shared helpers for verifier tests: records, candidates and a context without models."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from synthgen.context import RunContext
from synthgen.records import Candidate, Record

FIXTURES = Path(__file__).parent / "fixtures"


def make_pair(response: str | None = None, *, metadata: dict | None = None, prompt: str = "Solve it.",
              tool_calls: list | None = None, candidate_metadata: dict | None = None) -> tuple[Record, Candidate]:
    record = Record(id="r1", messages=[{"role": "user", "content": prompt}], metadata=metadata or {})
    message: dict = {"role": "assistant", "content": response}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    cand = record.add_candidate([message], metadata=candidate_metadata or {})
    return record, cand


@pytest.fixture
def ctx():
    return RunContext().for_item("item")


class SandboxHarness:
    """A real sandbox on a background loop, with a RunContext whose ``sandbox`` is the timed wrapper."""

    def __init__(self, sandbox) -> None:
        import asyncio

        from synthgen.context import TimedSandbox, Timers
        from tests.sandboxes.conftest import LoopThreadRunner

        self.runner = LoopThreadRunner(sandbox)
        self.runner.call(sandbox.start())
        self.timers = Timers()

        async def make_ctx():
            timed = TimedSandbox(sandbox, self.timers, asyncio.Semaphore(4))
            return RunContext(sandbox=timed, timers=self.timers).for_item("code")

        self.ctx = self.runner.call(make_ctx())

    def verify(self, verifier, record, candidate):
        return self.runner.call(verifier.verify(record, candidate, self.ctx))

    def close(self) -> None:
        self.runner.close()


@pytest.fixture(scope="session")
def docker_sandbox():
    from tests.sandboxes.conftest import docker_unavailable_reason, skip_or_fail

    reason = docker_unavailable_reason()
    if reason:
        skip_or_fail(reason)
    from sandboxes.docker_pool import DockerConfig, DockerSandbox

    harness = SandboxHarness(DockerSandbox(DockerConfig(pool_size=2)))
    yield harness
    harness.close()


@pytest.fixture(scope="session")
def bwrap_sandbox():
    from tests.sandboxes.conftest import bwrap_unavailable_reason, skip_or_fail

    reason = bwrap_unavailable_reason()
    if reason:
        skip_or_fail(reason)
    from sandboxes.bwrap import BubblewrapSandbox, BwrapConfig

    harness = SandboxHarness(BubblewrapSandbox(BwrapConfig(workers=2)))
    yield harness
    harness.close()
