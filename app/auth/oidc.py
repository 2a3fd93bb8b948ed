"""Single sign-on with the city's OpenID Connect provider.

The authorization-code flow with PKCE (S256): `begin` makes the state, nonce and code
verifier, kept in a signed, short-lived cookie of the browser that started the sign-in;
`finish` checks the state against that cookie, exchanges the code at the token endpoint,
and validates the ID token: its signature against the provider's published keys, `iss`,
`aud`, `exp`/`iat` (with a bounded clock skew) and the `nonce`. A code is single-use at the
provider, so a replayed callback fails there.

JOSE (keys, signatures, claims) is joserfc, authlib's successor for JOSE; authlib gives the
PKCE challenge. The token request is one POST through the fetcher's guarded transport
(authlib's httpx integration now wants a fork of httpx that the rest of PostVault does not use).

The provider is one the city's administrator configured (POSTVAULT_OIDC_ISSUER), often on the
city's own network, so its host and port are allowed through the fetcher's guard; only
that host and port, and only http(s).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.config import Settings
from app.errors import DomainError, Invalid
from app.platforms.http import FetchPolicy, GuardedTransport

PENDING_COOKIE = "pv_oidc"
PENDING_MAX_AGE_SECONDS = 600
SCOPES = "openid email profile groups"
_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
_SALT = "postvault.oidc.pending"


class SignInFailed(DomainError):
    """The provider's answer cannot be trusted or used; nothing was signed in."""

    status_code = 400


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    nonce: str
    code_verifier: str
    next_path: str


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None


def is_configured(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


class OidcClient:
    """One per app: the provider's metadata and keys are fetched once and cached (keys are
    fetched again when a token names a key id PostVault has not seen: key rotation)."""

    def __init__(self, settings: Settings, secret_key: str) -> None:
        if not is_configured(settings):
            raise Invalid("single sign-on is not configured (POSTVAULT_OIDC_ISSUER)")
        assert settings.oidc_issuer is not None
        assert settings.oidc_client_id is not None
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.client_secret = (
            settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
        )
        self.leeway = settings.oidc_clock_skew_seconds
        self.timeout = settings.fetch_timeout_seconds
        parts = urlsplit(self.issuer)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Invalid(f"POSTVAULT_OIDC_ISSUER '{self.issuer}' is not an http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self.policy = FetchPolicy(
            allow_hosts=frozenset({f"{parts.hostname}:{port}"}),
            max_bytes=1024 * 1024,
            timeout=self.timeout,
        )
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self._metadata: ProviderMetadata | None = None
        self._keys: Any = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        return httpx.Client(
            transport=GuardedTransport(self.policy), timeout=self.timeout, trust_env=False
        )

    def metadata(self) -> ProviderMetadata:
        with self._lock:
            if self._metadata is None:
                url = f"{self.issuer}/.well-known/openid-configuration"
                try:
                    with self._http() as http:
                        answer = http.get(url)
                    answer.raise_for_status()
                    document = answer.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise SignInFailed(
                        f"the sign-in provider's discovery document could not be read: {exc}"
                    ) from exc
                if str(document.get("issuer", "")).rstrip("/") != self.issuer:
                    raise SignInFailed(
                        "the sign-in provider's discovery document names another issuer"
                    )
                self._metadata = ProviderMetadata(
                    issuer=str(document["issuer"]),
                    authorization_endpoint=str(document["authorization_endpoint"]),
                    token_endpoint=str(document["token_endpoint"]),
                    jwks_uri=str(document["jwks_uri"]),
                    end_session_endpoint=document.get("end_session_endpoint"),
                )
            return self._metadata

    def _key_set(self, *, refresh: bool = False) -> Any:
        with self._lock:
            if self._keys is None or refresh:
                assert self._metadata is not None
                try:
                    with self._http() as http:
                        answer = http.get(self._metadata.jwks_uri)
                    answer.raise_for_status()
                    self._keys = KeySet.import_key_set(answer.json())
                except (httpx.HTTPError, ValueError, JoseError) as exc:
                    raise SignInFailed(
                        f"the sign-in provider's keys could not be read: {exc}"
                    ) from exc
            return self._keys

    # --- the pending sign-in, in a signed cookie -------------------------------------------

    def begin(self, *, redirect_uri: str, next_path: str) -> tuple[str, str]:
        """The provider's authorization URL and the cookie value that remembers this try."""
        meta = self.metadata()
        pending = PendingSignIn(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            code_verifier=secrets.token_urlsafe(48),
            next_path=next_path,
        )
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": create_s256_code_challenge(pending.code_verifier),
            "code_challenge_method": "S256",
        }
        cookie = self._serializer.dumps(
            [pending.state, pending.nonce, pending.code_verifier, pending.next_path]
        )
        return f"{meta.authorization_endpoint}?{urlencode(query)}", cookie

    def pending(self, cookie: str | None) -> PendingSignIn:
        if not cookie:
            raise SignInFailed(
                "this sign-in was not started in this browser, or it took longer than "
                "10 minutes; start again"
            )
        try:
            state, nonce, verifier, next_path = self._serializer.loads(
                cookie, max_age=PENDING_MAX_AGE_SECONDS
            )
        except (BadSignature, ValueError, TypeError):
            raise SignInFailed("this sign-in has expired or was altered; start again") from None
        return PendingSignIn(str(state), str(nonce), str(verifier), str(next_path))

    # --- the callback ----------------------------------------------------------------------

    def finish(
        self, *, pending: PendingSignIn, state: str, code: str, redirect_uri: str
    ) -> tuple[dict[str, Any], str]:
        """The validated ID token's claims and the raw ID token (for sign-out)."""
        if not secrets.compare_digest(state, pending.state):
            raise SignInFailed("the sign-in answer does not belong to this sign-in (state)")
        if not code:
            raise SignInFailed("the sign-in provider sent no authorization code")
        meta = self.metadata()
        try:
            with self._http() as http:
                answer = http.post(
                    meta.token_endpoint,
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": redirect_uri,
                        "code_verifier": pending.code_verifier,
                    },
                    auth=(self.client_id, self.client_secret or ""),
                    headers={"Accept": "application/json"},
                )
            token = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInFailed(f"the sign-in provider could not be reached: {exc}") from None
        if answer.status_code != 200 or not isinstance(token, dict):
            error = token.get("error") if isinstance(token, dict) else None
            raise SignInFailed(
                f"the sign-in provider refused the code: {error or f'HTTP {answer.status_code}'}"
            )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("the sign-in provider sent no ID token")
        return self.validate_id_token(id_token, nonce=pending.nonce), id_token

    def validate_id_token(
        self, id_token: str, *, nonce: str, now: float | None = None
    ) -> dict[str, Any]:
        self.metadata()
        assert self._metadata is not None
        registry = jwt.JWTClaimsRegistry(
            now=int(now) if now is not None else None,
            leeway=self.leeway,
            iss={"essential": True, "value": self._metadata.issuer},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        token = None
        for refresh in (False, True):
            try:
                token = jwt.decode(id_token, self._key_set(refresh=refresh), algorithms=_ALGORITHMS)
                break
            except JoseError as exc:
                # A key id PostVault has not seen: the provider rotated its keys.
                if refresh or "key" not in str(exc).lower():
                    raise SignInFailed(f"the ID token is not valid: {exc}") from None
        assert token is not None
        try:
            registry.validate(token.claims)
        except JoseError as exc:
            raise SignInFailed(f"the ID token is not valid: {exc}") from None
        claims = dict(token.claims)
        aud = claims.get("aud")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.client_id:
            raise SignInFailed("the ID token is not valid: it was issued to another client")
        return dict(claims)

    def end_session_url(self, *, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        end = self.metadata().end_session_endpoint
        if not end:
            return None
        query = {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{end}?{urlencode(query)}"
