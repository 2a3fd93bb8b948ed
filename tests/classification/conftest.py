"""Shared fixtures: a real loopback web server standing in for the city's site."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest

from app.classification.service import LinkChecker


class _Publications(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the city's web site: /live exists, everything else is gone
        self.send_response(200 if self.path.startswith("/live") else 404)
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def city_site() -> Iterator[LinkChecker]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Publications)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]

    def check(url: str) -> bool:
        # city.example is served by the loopback site; the path decides.
        response = httpx.get(f"http://127.0.0.1:{port}{urlsplit(url).path}", timeout=5)
        return response.status_code < 400

    yield check
    server.shutdown()
    server.server_close()
