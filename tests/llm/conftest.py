"""Fixtures for the LLM backend tests: the tiny model, `synthgen serve` and the fault proxy processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.processes import free_port, serve_process, stop, test_env, wait_http

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).parent


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on (connection refused)."""
    return free_port()


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthgen.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("llm") / "tiny")


@pytest.fixture(scope="module")
def served(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`synthgen serve` on the tiny model in a real subprocess; yields its base URL (with /v1)."""
    with serve_process(tiny_dir, tmp_path_factory.mktemp("serve")) as url:
        yield url


@pytest.fixture(scope="module")
def proxy(served: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fault proxy in front of the server; yields its root URL (no /v1)."""
    port = free_port()
    upstream = served.removesuffix("/v1")
    log = tmp_path_factory.mktemp("proxy") / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, str(HERE / "fault_proxy_for_tests.py"), "--port", str(port),
                                 "--upstream", upstream], stdout=subprocess.DEVNULL, stderr=err, env=test_env())
    try:
        wait_http(f"http://127.0.0.1:{port}/_log", proc, "fault proxy", log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
