"""Fixtures for the LLM backend tests: the tiny model, `synthgen serve` and the fault proxy processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).parent
SYNTHGEN = Path(sys.executable).parent / "synthgen"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unused_port() -> int:
    """A port nothing listens on (connection refused)."""
    return free_port()


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthgen.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("llm") / "tiny")


def wait_http(url: str, proc: subprocess.Popen, what: str, log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up at {url} within {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def served(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`synthgen serve` on the tiny model in a real subprocess; yields its base URL (with /v1)."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    with log.open("w") as err:  # a file, not a pipe: an unread pipe would block the server when full
        proc = subprocess.Popen([str(SYNTHGEN), "serve", str(tiny_dir), "--port", str(port),
                                 "--served-model-name", "tiny-test"],
                                stdout=subprocess.DEVNULL, stderr=err, env=_env())
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", proc, "synthgen serve", log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def proxy(served: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fault proxy in front of the server; yields its root URL (no /v1)."""
    port = free_port()
    upstream = served.removesuffix("/v1")
    log = tmp_path_factory.mktemp("proxy") / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, str(HERE / "fault_proxy_for_tests.py"), "--port", str(port),
                                 "--upstream", upstream], stdout=subprocess.DEVNULL, stderr=err, env=_env())
    try:
        wait_http(f"http://127.0.0.1:{port}/_log", proc, "fault proxy", log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
