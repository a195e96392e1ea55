"""Fixtures of the tool tests: the real sandbox of the generator tests, a context carrying it, and a
real search server process on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.processes import free_port, stop, wait_http
from tests.generators.conftest import code_sandbox, sandbox_backend  # noqa: F401 - fixtures reused here

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TOOLS_DATA = EXAMPLES / "data" / "tools"


class SandboxOnlyContext:
    """The one thing a tool reads from an item context in these tests: ``sandbox``."""

    def __init__(self, sandbox) -> None:
        self.sandbox = sandbox


@pytest.fixture
def tool_ctx(code_sandbox):  # noqa: F811
    return SandboxOnlyContext(code_sandbox)


@pytest.fixture
def search_server(tmp_path):
    """A real HTTP search API in its own process: yields its base URL."""
    port = free_port()
    log = tmp_path / "search_server.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("search_server_for_tests.py")),
                                 str(port), str(TOOLS_DATA / "corpus.jsonl")], stdout=err, stderr=err)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", proc, "search server", log, timeout=30)
        yield url
    finally:
        stop(proc)
