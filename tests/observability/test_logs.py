"""Logs as JSON lines with POSTVAULT_LOG_FORMAT=json: a real `postvault serve`, a request with
its own X-Request-ID, and every line of the log parsed as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.test_serve import free_port


def test_json_logs_carry_the_request_id(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "POSTVAULT_RUN_SCHEDULER": "false",
        "POSTVAULT_LOG_FORMAT": "json",
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "postvault serve did not answer within 60 s"
                time.sleep(0.3)
            answer = httpx.get(f"{base}/api/v1/posts", headers={"X-Request-ID": "req-4711"})
            assert answer.status_code == 401
            assert answer.headers["x-request-id"] == "req-4711"
            made = httpx.get(f"{base}/healthz")
            assert len(made.headers["x-request-id"]) == 32  # made here when none is given
            # A header that is not a short token is not echoed into the logs.
            odd = httpx.get(f"{base}/healthz", headers={"X-Request-ID": "a b\tc" * 30})
            assert odd.headers["x-request-id"] != "a b\tc" * 30
        finally:
            server.terminate()
            server.wait(30)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    mine = [e for e in entries if e.get("request_id") == "req-4711"]
    assert mine, lines
    assert any("/api/v1/posts" in e["message"] and "401" in e["message"] for e in mine)
