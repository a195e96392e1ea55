"""`synthgen serve`: the OpenAI-compatible server as a real process, hostile requests included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

CHAT = [{"role": "user", "content": "hello"}]


def post(served: str, path: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{served}{path}", timeout=60, **kwargs)


def test_models_lists_the_served_name(served):
    data = httpx.get(f"{served}/models").json()
    assert [m["id"] for m in data["data"]] == ["tiny-test"] and data["object"] == "list"


def test_chat_completion_shape_and_usage(served):
    r = post(served, "/chat/completions", json={"model": "tiny-test", "messages": CHAT, "n": 3, "max_tokens": 6,
                                                  "seed": 1, "temperature": 0.9, "top_p": 0.95})
    assert r.status_code == 200
    data = r.json()
    assert data["object"] == "chat.completion" and data["model"] == "tiny-test"
    assert [c["index"] for c in data["choices"]] == [0, 1, 2]
    assert all(c["message"]["role"] == "assistant" and c["finish_reason"] in ("stop", "length")
               for c in data["choices"])
    usage = data["usage"]
    assert usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 18
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    again = post(served, "/chat/completions", json={"messages": CHAT, "n": 3, "max_tokens": 6, "seed": 1,
                                                    "temperature": 0.9, "top_p": 0.95}).json()
    assert [c["message"] for c in again["choices"]] == [c["message"] for c in data["choices"]]


def test_completions_with_prompt_list_and_stop(served):
    r = post(served, "/completions", json={"prompt": ["def f(x):", "The quick"], "n": 2, "max_tokens": 8,
                                           "stop": "e", "seed": 3})
    data = r.json()
    assert r.status_code == 200 and data["object"] == "text_completion"
    assert [c["index"] for c in data["choices"]] == [0, 1, 2, 3]
    assert all("e" not in c["text"] for c in data["choices"])


@pytest.mark.parametrize("payload,status,fragment", [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b'{"messages": []}', 400, "messages"),
    (b'{"messages": [{"role": "user", "content": "x"}], "n": 0}', 400, "n"),
    (b'{"messages": [{"role": "user", "content": "x"}], "stream": true}', 400, "stream"),
    (b'{"messages": [{"content": "no role"}]}', 400, "role"),
    (b'{"messages": [{"role": "user", "content": "x"}], "temperature": -1}', 400, "temperature"),
    (b'{"messages": "not a list"}', 400, "messages"),
])
def test_bad_requests_get_openai_errors(served, payload, status, fragment):
    r = post(served, "/chat/completions", content=payload, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert fragment in r.json()["error"]["message"]


def test_serve_rejects_a_missing_model_dir(tmp_path: Path):
    exe = Path(sys.executable).parent / "synthgen"
    proc = subprocess.run([str(exe), "serve", str(tmp_path / "absent"), "--port", "1"], check=False,
                          capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr
