"""URL helpers every platform's recognition shares (pure, no I/O)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlunsplit

from app.errors import Invalid
from app.platforms.base import UrlParts

HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9.-]+(:\d{1,5})?$")
DIGITS = re.compile(r"^[0-9]{1,30}$")
_TRACKING_PARAMS = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid")


def normalise_web_url(url: str) -> str:
    """Lower-case scheme and host, drop the fragment and tracking parameters."""
    parts = UrlParts.parse(url)
    netloc = parts.netloc
    if parts.scheme not in ("http", "https") or not netloc or not HOST.match(netloc.split("@")[-1]):
        raise Invalid(f"'{url.strip()}' is not an http(s) URL")
    if "@" in netloc:
        raise Invalid("URLs with a user name or password are not accepted")
    kept = [
        (k, v)
        for k, values in parse_qs(parts.query, keep_blank_values=True).items()
        for v in values
        if not k.lower().startswith(_TRACKING_PARAMS)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path or "/", urlencode(kept), ""))
