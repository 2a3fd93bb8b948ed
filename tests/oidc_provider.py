"""A real OpenID Connect provider on loopback for the tests: npm's `oidc-provider` (installed
into tools/oidc-provider by scripts/install-oidc-provider), started per test with the clients
and accounts the test gives, and a person who signs in on its own login and consent pages.

`OidcProvider.accounts` may be changed between two sign-ins (the provider reads the file at
every sign-in): that is how a test moves someone between groups.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

TOOLS = Path(__file__).resolve().parent.parent / "tools" / "oidc-provider"


@dataclass
class OidcProvider:
    issuer: str
    config_path: Path
    config: dict[str, Any] = field(default_factory=dict)

    def set_account(self, login: str, **claims: Any) -> None:
        self.config.setdefault("accounts", {})[login] = claims
        self.config_path.write_text(json.dumps(self.config))


def web_client(
    client_id: str, secret: str, redirect_uri: str, post_logout_uri: str | None = None
) -> dict[str, Any]:
    """Client metadata of a confidential web application (authorization code + PKCE)."""
    return {
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uris": [redirect_uri],
        "post_logout_redirect_uris": [post_logout_uri] if post_logout_uri else [],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }


@contextmanager
def oidc_provider(
    tmp_path: Path,
    *,
    clients: list[dict[str, Any]],
    accounts: dict[str, dict[str, Any]] | None = None,
    id_token_ttl: int = 3600,
    scopes: list[str] | None = None,
) -> Iterator[OidcProvider]:
    node = shutil.which("node")
    assert node, "node is not installed (scripts/install-oidc-provider installs it)"
    assert (TOOLS / "node_modules" / "oidc-provider").is_dir(), (
        "oidc-provider is not installed: run scripts/install-oidc-provider"
    )
    config = {
        "port": 0,
        "clients": clients,
        "accounts": accounts or {},
        "id_token_ttl": id_token_ttl,
        "scopes": scopes or [],
    }
    path = tmp_path / f"oidc-provider-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(config))
    log_path = path.with_suffix(".log")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [node, str(TOOLS / "server.mjs"), str(path)],
            cwd=TOOLS,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            issuer = None
            while issuer is None:
                match = re.search(r"^listening (\S+)$", log_path.read_text(), re.MULTILINE)
                if match:
                    issuer = match.group(1)
                    break
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "oidc-provider did not start within 30 s"
                time.sleep(0.1)
            yield OidcProvider(issuer, path, config)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
_INPUT = re.compile(r"<input([^>]*)>")
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def _form(html: str) -> tuple[str, dict[str, str]]:
    match = _FORM.search(html)
    assert match, f"no form on the provider's page: {html[:500]}"
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(match.group(2)):
        attrs = dict(_ATTR.findall(tag))
        if "name" in attrs:
            fields[attrs["name"]] = unescape(attrs.get("value", ""))
    return unescape(match.group(1)), fields


def sign_in_at_provider(
    authorization_url: str, *, login: str, http: httpx.Client | None = None
) -> str:
    """Walk the provider's login and consent pages as a person would; return the redirect
    back to the application (its callback URL with code and state)."""
    own = http is None
    http = http or httpx.Client(timeout=10)
    try:
        url = authorization_url
        for _ in range(12):
            answer = http.get(url)
            if answer.is_redirect:
                url = urljoin(url, answer.headers["location"])
                if not url.startswith(authorization_url.split("/auth")[0]):
                    return url
                continue
            assert answer.status_code == 200, answer.text[:500]
            action, fields = _form(answer.text)
            if "login" in fields or "password" in fields:
                fields.update(login=login, password="any password")
            posted = http.post(urljoin(url, action), data=fields)
            assert posted.is_redirect, posted.text[:500]
            url = urljoin(url, posted.headers["location"])
            if not url.startswith(authorization_url.split("/auth")[0]):
                return url
        raise AssertionError("the provider's sign-in did not come back to the application")
    finally:
        if own:
            http.close()
