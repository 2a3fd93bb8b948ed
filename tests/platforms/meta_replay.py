"""A loopback Graph API (Facebook, Instagram, Threads) replaying recorded answers from
tests/fixtures/facebook/ and tests/fixtures/instagram/.

It checks what Meta checks: a token in the Authorization header that it issued and has not
revoked or expired, and an `appsecret_proof` that is the HMAC of that token under the app
secret (else the recorded "requires app secret proof" error). Objects are served at their
paths; `oauth/access_token` answers the long-lived token exchange."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.collectors.servers import Answer, Request

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def recorded(platform: str, name: str) -> Any:
    """The recorded body of tests/fixtures/<platform>/<name>.json."""
    return json.loads((FIXTURES / platform / f"{name}.json").read_text())["body"]


def graph_error(code: int, message: str, subcode: int | None = None, status: int = 400) -> Answer:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = "AQt_hJ68vFybS4TnupatNtX"
    return Answer.json({"error": error}, status=status)


@dataclass
class GraphReplay:
    app_secret: str
    version: str = "v24.0"
    objects: dict[str, Any] = field(default_factory=dict)  # path -> body
    errors: dict[str, Answer] = field(default_factory=dict)  # path -> error answer
    tokens: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    long_lived: str = "long-lived-user-token-7f3a"
    threads_long_lived: str = "threads-long-lived-token-3c9d"
    headers: list[tuple[str, str]] = field(default_factory=list)  # added to every answer

    def __call__(self, request: Request) -> Answer:
        route = re.sub(r"^/v[0-9]+\.[0-9]+/", "/", request.route).lstrip("/")
        query = {k: v[0] for k, v in parse_qs(request.query).items()}
        if request.method == "POST":  # a form body, as the token exchanges send
            query.update({k: v[0] for k, v in parse_qs(request.body.decode()).items()})
        if route == "oauth/access_token":
            return self._exchange(query)
        if route == "access_token":  # Threads: short-lived token for a long-lived one
            return self._threads_exchange(query)
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token in self.expired:
            return graph_error(
                190, "Error validating access token: Session has expired.", 463, status=401
            )
        if token not in self.tokens:
            return graph_error(190, "Invalid OAuth access token - Cannot parse access token")
        proof = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if query.get("appsecret_proof") != proof:
            return Answer.json(recorded("facebook", "error_100_app_secret_proof"), status=400)
        if route in self.errors:
            return self.errors[route]
        page = f"{route}?after={query['after']}" if "after" in query else None
        if page in self.objects:
            return Answer.json(self.objects[page], headers=self.headers)
        if route in self.objects:
            return Answer.json(self.objects[route], headers=self.headers)
        return graph_error(
            100,
            f"Unsupported get request. Object with ID '{route}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            33,
        )

    def _threads_exchange(self, query: dict[str, str]) -> Answer:
        if (
            query.get("grant_type") != "th_exchange_token"
            or query.get("client_secret") != self.app_secret
        ):
            return graph_error(101, "Error validating application.")
        body = dict(recorded("threads", "threads_long_lived_token"))
        body["access_token"] = self.threads_long_lived
        self.tokens.add(self.threads_long_lived)
        return Answer.json(body)

    def _exchange(self, query: dict[str, str]) -> Answer:
        if (
            query.get("grant_type") != "fb_exchange_token"
            or query.get("client_secret") != self.app_secret
        ):
            return graph_error(101, "Error validating application.")
        body = dict(recorded("facebook", "facebook_long_lived_user_token"))
        body["access_token"] = self.long_lived
        self.tokens.add(self.long_lived)
        return Answer.json(body)
