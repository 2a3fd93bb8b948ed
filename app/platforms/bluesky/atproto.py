"""AT Protocol identities and URIs: at:// URIs, DID documents, PDS endpoints, and the
short-lived identity cache the Bluesky collector keeps."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from app.platforms.bluesky.text import is_web_url

POST_COLLECTION = "app.bsky.feed.post"
REPOST_COLLECTION = "app.bsky.feed.repost"
_COLLECTIONS = (POST_COLLECTION, REPOST_COLLECTION)
_DID = re.compile(r"^did:(plc|web):[a-zA-Z0-9._:%-]{1,2048}$")
_HANDLE = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*$")
_RKEY = re.compile(r"^[a-zA-Z0-9._:~-]{1,512}$")


@dataclass(frozen=True)
class AtUri:
    authority: str  # a handle or a DID
    collection: str
    rkey: str

    def with_authority(self, authority: str) -> str:
        return f"at://{authority}/{self.collection}/{self.rkey}"


def parse_at_uri(value: str) -> AtUri:
    """`at://<handle or DID>/<collection>/<rkey>`, or ValueError saying what is wrong."""
    text = value.strip()
    if not text.startswith("at://"):
        raise ValueError(f"'{value}' is not an at:// URI")
    parts = text[len("at://") :].split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            f"'{value}' is not an at:// URI of the form at://<repo>/<collection>/<rkey>"
        )
    authority, collection, rkey = parts
    if not (_DID.match(authority) or _HANDLE.match(authority.lower())):
        raise ValueError(f"'{authority}' in '{value}' is neither a handle nor a DID")
    if not _RKEY.match(rkey) or rkey in (".", ".."):
        raise ValueError(f"'{rkey}' in '{value}' is not a record key")
    if _DID.match(authority) is None:
        authority = authority.lower()
    return AtUri(authority, collection, rkey)


def did_document_url(did: str, plc_url: str) -> str:
    """Where the DID document of `did` is served."""
    if did.startswith("did:plc:"):
        return f"{plc_url.rstrip('/')}/{did}"
    if did.startswith("did:web:"):
        # did:web:example.com%3A8443 is https://example.com:8443/.well-known/did.json;
        # atproto accepts only the bare host form (no path segments).
        host = unquote(did[len("did:web:") :])
        name, _, port = host.partition(":")
        if not _HANDLE.match(name.lower()) or (port and not port.isdigit()):
            raise ValueError(f"'{did}' is not a did:web atproto accepts (a host name only)")
        return f"https://{host}/.well-known/did.json"
    raise ValueError(f"'{did}' uses a DID method atproto does not accept")


def pds_endpoint(document: Any) -> str | None:
    """The `#atproto_pds` service endpoint of a DID document, when it is a web URL."""
    if not isinstance(document, dict):
        return None
    services = document.get("service")
    if not isinstance(services, list):
        return None
    did = document.get("id")
    for service in services:
        if not isinstance(service, dict):
            continue
        service_id = service.get("id")
        if service_id == "#atproto_pds" or (
            isinstance(did, str) and service_id == f"{did}#atproto_pds"
        ):
            endpoint = service.get("serviceEndpoint")
            if isinstance(endpoint, str) and is_web_url(endpoint):
                return endpoint.rstrip("/")
    return None


def handle_from_document(document: Any) -> str | None:
    """The handle the DID document claims (`alsoKnownAs: ["at://<handle>"]`)."""
    if not isinstance(document, dict):
        return None
    for alias in document.get("alsoKnownAs") or []:
        if isinstance(alias, str) and alias.startswith("at://"):
            handle = alias[len("at://") :].lower()
            if _HANDLE.match(handle):
                return handle
    return None


def post_web_url(author: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{author}/post/{rkey}"


def _rkey_of(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


def _authority_of(uri: str) -> str:
    return uri[len("at://") :].split("/", 1)[0] if uri.startswith("at://") else uri


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


@dataclass(frozen=True)
class Identity:
    did: str
    pds: str
    handle: str | None  # as the DID document claims it
    cached: bool = False


class _IdentityCache:
    """Handle → DID and DID → (PDS, handle), for a short while: a capture pass meets the
    same few accounts many times, and identities change rarely (a stale entry is dropped
    and re-resolved when the PDS does not answer as expected)."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._dids: dict[str, tuple[str, float]] = {}
        self._identities: dict[str, tuple[Identity, float]] = {}

    def did(self, handle: str) -> str | None:
        with self._lock:
            entry = self._dids.get(handle)
            if entry is None or entry[1] <= self._clock():
                return None
            return entry[0]

    def identity(self, did: str) -> Identity | None:
        with self._lock:
            entry = self._identities.get(did)
            if entry is None or entry[1] <= self._clock():
                return None
            return entry[0]

    def remember(self, identity: Identity, handle: str | None) -> None:
        if self._ttl <= 0:
            return
        expires = self._clock() + self._ttl
        with self._lock:
            self._identities[identity.did] = (identity, expires)
            if handle is not None:
                self._dids[handle] = (identity.did, expires)

    def forget(self, did: str, handle: str | None) -> None:
        with self._lock:
            self._identities.pop(did, None)
            if handle is not None:
                self._dids.pop(handle, None)


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        return " ".join(str(body.get(key) or "") for key in ("error", "message")).strip()
    return str(body)[:200]
