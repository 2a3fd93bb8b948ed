"""The README tour: `postvault serve` on its embedded defaults in an empty folder."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_on_embedded_defaults(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "POSTVAULT_RUN_SCHEDULER": "false"}
    log = (tmp_path / "serve.log").open("w")
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
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "postvault serve did not answer within 60 s"
            time.sleep(0.3)
        assert (tmp_path / "var" / "postvault.db").exists()
        assert (tmp_path / "var" / "archive").is_dir()

        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "app.cli",
                "users",
                "create",
                "--email",
                "ann@city.example",
                "--name",
                "Ann",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        token = created.stdout.strip().splitlines()[-1].split()[-1]
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=auth, timeout=10) as http:
            assert (
                http.post(
                    "/api/v1/accounts",
                    json={"platform": "mastodon", "handle": "ann@mastodon.social"},
                ).status_code
                == 201
            )
            flagged = http.post(
                "/api/v1/posts",
                json={"url": "https://mastodon.social/@ann/117020586180926938", "note": "parks"},
            )
            assert flagged.status_code == 201, flagged.text
            listed = http.get("/api/v1/posts").json()
            assert listed["total"] == 1
            assert listed["items"][0]["id"] == flagged.json()["id"]
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
