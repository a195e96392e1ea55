"""`--retry-failed`: exactly the failed items are processed again, against a real HTTP endpoint on
127.0.0.1, with the same ids; their new lines replace the failed ones, so records and exports equal a
run that never failed, also when the retry is killed and resumed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from synthgen.config import PipelineConfig
from synthgen.run_outcome import EXIT_NOTHING_PRODUCED, EXIT_OK, describe_outcome
from synthgen.runner import run_pipeline
from synthgen.store import RunStore
from tests.fixtures.plugins_for_tests import registry_for_tests
from tests.synthgen.test_runner import make_cfg

ROOT = Path(__file__).resolve().parents[2]


class ChatServer:
    """An OpenAI-compatible /v1/chat/completions answering '<prompt> #<seed-derived number>'; prompts
    listed in ``refuse`` get HTTP 400 (a non-transient failure), each request waits ``delay_s``."""

    def __init__(self, refuse: set[str] = frozenset(), delay_s: float = 0.0) -> None:
        self.refuse, self.delay_s = set(refuse), delay_s
        self.requests: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                server.requests[prompt] += 1
                time.sleep(server.delay_s)
                if prompt in server.refuse:
                    data, status = {"error": {"message": "refused for the test"}}, 400
                else:
                    seed = body.get("seed") or 0
                    data, status = {"object": "chat.completion", "model": body["model"], "choices": [
                        {"index": i, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": f"{prompt} #{(seed + i) % 997}"}}
                        for i in range(body.get("n", 1))]}, 200
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers():
    made: list[ChatServer] = []

    def make(**kwargs) -> ChatServer:
        made.append(ChatServer(**kwargs))
        return made[-1]

    yield make
    for s in made:
        s.close()


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


def _cfg(tmp_path: Path, n: int, url: str) -> dict:
    raw = make_cfg(tmp_path, n=n, k=3, use_llm=True)
    raw["llms"] = {"policy": {"backend": "openai", "options": {"model": "m", "base_url": url, "max_retries": 0,
                                                               "backoff_initial": 0.01}}}
    raw["runner"].update(retries=0, max_concurrent_items=4)
    return raw


def _run(raw: dict, runs: Path, **kwargs):
    return run_pipeline(PipelineConfig.model_validate(raw), runs_dir=runs, registry=registry_for_tests(),
                        progress=False, **kwargs)


def _sorted_lines(run_dir: Path) -> list[bytes]:
    return sorted(r.to_json() for r in RunStore(run_dir).records())


def test_retry_failed_redoes_exactly_the_failed_items_after_the_endpoint_moved(tmp_path, servers):
    good = servers()
    reference = _run(_cfg(tmp_path, 12, good.url), tmp_path / "ref")
    flaky = servers(refuse={"say 3", "say 7", "say 10"})
    raw = _cfg(tmp_path, 12, flaky.url)
    first = _run(raw, tmp_path / "runs")
    assert first.counts["failed_records"] == 3
    # a new endpoint URL does not change the records: no --force needed, and the failures stay
    moved = servers()
    raw["llms"]["policy"]["options"]["base_url"] = moved.url
    again = _run(raw, tmp_path / "runs")
    assert again.counts["failed_records"] == 3 and not moved.requests
    assert moved.url in (again.run_dir / "config.yaml").read_text()  # the file says what runs now
    retried = _run(raw, tmp_path / "runs", retry_failed=True)
    assert retried.retried == 3 and retried.resumed == 12
    assert moved.requests == Counter({"say 3": 1, "say 7": 1, "say 10": 1})  # exactly the failed items
    assert retried.counts == reference.counts and retried.counts["failed_records"] == 0
    assert _sorted_lines(retried.run_dir) == _sorted_lines(reference.run_dir)
    store = RunStore(retried.run_dir)
    assert len(list(store.raw_entries())) == 12 and len(store.done_index()) == 12
    assert sum(p.read_bytes().count(b"\n") for p in store.shards()) == 15  # the failed lines stay, replaced
    for fmt in ("sft", "dpo", "rm"):
        assert Path(retried.exports[fmt]).read_bytes() == Path(reference.exports[fmt]).read_bytes()
    assert "3 failed ones retried now" in describe_outcome(retried).text
    for idx in store.records_dir.glob("*.idx"):  # sidecars lost: the replaced lines are found from the shards
        idx.unlink()
    assert _sorted_lines(retried.run_dir) == _sorted_lines(reference.run_dir)
    assert len(store.failed_items()) == 0 and not list(store.records_dir.glob("*.idx"))  # a reader writes none
    nothing = _run(raw, tmp_path / "runs", retry_failed=True)  # nothing failed any more: nothing asked
    assert nothing.retried == 0 and sum(moved.requests.values()) == 3


def test_endpoint_down_for_every_item_then_fixed(tmp_path, servers):
    raw = _cfg(tmp_path, 5, _dead_url())
    down = _run(raw, tmp_path / "runs")
    outcome = describe_outcome(down)
    assert outcome.exit_code == EXIT_NOTHING_PRODUCED and "every item failed" in outcome.text
    assert "127.0.0.1" in outcome.text  # the first message names the endpoint
    raw["llms"]["policy"]["options"]["base_url"] = servers().url
    fixed = _run(raw, tmp_path / "runs", retry_failed=True)
    assert fixed.retried == 5 and fixed.counts["failed_records"] == 0
    assert describe_outcome(fixed).exit_code == EXIT_OK


@pytest.mark.slow
def test_a_retry_killed_at_several_points_then_resumed_equals_a_run_that_never_failed(tmp_path, servers):
    good = servers(delay_s=0.03)
    n = 60
    reference = _run(_cfg(tmp_path, n, good.url), tmp_path / "ref")
    raw = _cfg(tmp_path, n, _dead_url())
    raw["runner"]["fsync_every_s"] = 0.0
    assert _run(raw, tmp_path / "killed").counts["failed_records"] == n
    raw["llms"]["policy"]["options"]["base_url"] = good.url
    cfg_path = tmp_path / "pipeline.yaml"
    cfg_path.write_text(yaml.safe_dump(raw))
    script = [sys.executable, "-m", "tests.fixtures.run_fixture_pipeline", str(cfg_path), str(tmp_path / "killed"),
              "--retry-failed"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    records = tmp_path / "killed" / "t" / "records"

    def retried_lines() -> int:  # lines written by the retries (the first run wrote shard 0)
        return sum(p.read_bytes().count(b"\n") for p in records.glob("shard-*.jsonl") if p.name != "shard-00000.jsonl")

    kills = []
    for target in (5, 20, 35, 50):
        proc = subprocess.Popen(script, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while proc.poll() is None and retried_lines() < target and time.monotonic() < deadline:
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills.append(retried_lines())
        proc.wait()
    final = subprocess.run(script, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert final.returncode == 0, final.stderr
    assert len(kills) >= 3 and any(0 < k < n for k in kills), kills
    assert retried_lines() == n  # each failed item retried once: a killed retry's items are not redone
    assert _sorted_lines(tmp_path / "killed" / "t") == _sorted_lines(reference.run_dir)
    for fmt in ("sft", "dpo", "rm"):
        ref = Path(reference.exports[fmt]).read_bytes()
        assert (tmp_path / "killed" / "t" / "export" / f"{fmt}.jsonl").read_bytes() == ref
