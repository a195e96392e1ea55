"""A small search API for the http search provider's tests, run as its own process on 127.0.0.1.

GET /search?q=...&count=N  -> {"results": [{"title", "url", "snippet"}]} (word-overlap ranking over a JSONL
corpus); requires ``Authorization: Bearer test-key``. GET /flaky?...: 503 for the first two requests of
each query, then like /search. GET /slow: sleeps 5 s. GET /broken: a body that is not JSON.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

with open(sys.argv[2], encoding="utf-8") as _corpus:
    DOCS = [json.loads(line) for line in _corpus if line.strip()]
SEEN: Counter[str] = Counter()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/health":
            return self._send(200, b"{}")
        if url.path == "/slow":
            time.sleep(5)
            return self._send(200, b'{"results": []}')
        if url.path == "/broken":
            return self._send(200, b"<html>not json")
        if self.headers.get("Authorization") != "Bearer test-key":
            return self._send(401, b'{"error": "bad key"}')
        q = query.get("q", [""])[0]
        if url.path == "/flaky":
            SEEN[q] += 1
            if SEEN[q] <= 2:
                return self._send(503, b'{"error": "busy"}')
        words = set(q.lower().split())
        ranked = sorted(DOCS, key=lambda d: -len(words & set(d["text"].lower().split())))
        count = int(query.get("count", ["3"])[0])
        results = [{"title": d["title"], "url": f"https://docs.example/{d['id']}", "snippet": d["text"]}
                   for d in ranked[:count]]
        return self._send(200, json.dumps({"results": results}).encode())


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
