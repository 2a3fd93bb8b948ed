"""Trusted timestamps (RFC 3161) of stored objects: a time-stamping authority vouches that
an object with this SHA-256 existed at a time, independently of PostVault's own audit log.

Any stored object can be timestamped (`timestamp_object`); the snapshot service does it for
every new snapshot, and a web-archive capture can do the same. The request carries the
object's SHA-256 and a random nonce; the answer is kept only if it is a granted TimeStampResp
whose nonce and message imprint are the ones sent (and, with `POSTVAULT_TSA_CA_FILE`, whose
signature verifies up to that chain). The TimeStampResp is stored in the archive store as an
object of its own (kind "timestamp", the same retention as the object) and served as is.

A TSA that is down, slow or answers garbage never blocks a capture: the token row stays
"pending" with the error, and `timestamp_retry_job` asks again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.config import Settings
from app.db import utcnow
from app.platforms.http import (
    FetchPolicy,
    FetchRefused,
    ResponseTooLarge,
    make_client,
    policy_from_settings,
    read_capped,
)
from app.storage.base import ArchiveStore, StoreError
from app.storage.service import put_object
from app.timestamps.models import TimestampStatus, TimestampToken

log = logging.getLogger("postvault.timestamps")

SYSTEM = Actor.system("timestamps")
REPLY_MEDIA_TYPE = "application/timestamp-reply"
QUERY_MEDIA_TYPE = "application/timestamp-query"
SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
MAX_REPLY_BYTES = 1024 * 1024
RETRY_BATCH = 50

Poster = Callable[[str, bytes], bytes]


class TimestampError(Exception):
    """The TSA gave no token PostVault can keep; the message says why."""


@dataclass(frozen=True)
class TrustAnchors:
    roots: list[x509.Certificate]
    intermediates: list[x509.Certificate]


def load_anchors(path: Path | None) -> TrustAnchors | None:
    """The TSA's chain from a PEM file: self-signed certificates are roots, others
    intermediates (and the TSA's own certificate may be among them)."""
    if path is None:
        return None
    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise TimestampError(f"POSTVAULT_TSA_CA_FILE {path} cannot be read: {exc}") from None
    roots = [c for c in certificates if c.issuer == c.subject]
    if not roots:
        raise TimestampError(f"POSTVAULT_TSA_CA_FILE {path} holds no self-signed root")
    return TrustAnchors(roots, [c for c in certificates if c.issuer != c.subject])


def _tsa_policy(settings: Settings) -> FetchPolicy:
    """The SSRF guard's policy, with the operator's own TSA allowed (TSAs commonly answer on
    plain HTTP: the reply is signed, so the channel needs no trust)."""
    base = policy_from_settings(settings)
    assert settings.tsa_url is not None
    parts = urlsplit(settings.tsa_url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return FetchPolicy(
        allow_hosts=base.allow_hosts | {host, f"{host}:{port}"},
        max_bytes=MAX_REPLY_BYTES,
        timeout=settings.tsa_timeout_seconds,
        user_agent=base.user_agent,
    )


def http_poster(settings: Settings) -> Poster:
    """POST a TimeStampReq to the configured TSA through the SSRF-guarded client."""

    def post(url: str, query: bytes) -> bytes:
        try:
            with (
                make_client(_tsa_policy(settings)) as client,
                client.stream(
                    "POST", url, content=query, headers={"Content-Type": QUERY_MEDIA_TYPE}
                ) as response,
            ):
                body = read_capped(response, MAX_REPLY_BYTES)
                if response.status_code != 200:
                    raise TimestampError(f"the TSA answered HTTP {response.status_code}")
                return body
        except (httpx.HTTPError, FetchRefused, ResponseTooLarge) as exc:
            raise TimestampError(f"the TSA could not be reached: {exc}") from None

    return post


_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def check_signature(token: bytes) -> None:
    """The token's CMS signature verifies with the TSA certificate the token carries, and its
    signed message digest is that of the TSTInfo it holds.

    This proves the token is intact and was signed by that certificate's key, not that the
    certificate is to be trusted: that needs the chain (POSTVAULT_TSA_CA_FILE).
    """
    try:
        signed = cms.ContentInfo.load(token)["content"]
        signers = signed["signer_infos"]
        if len(signers) != 1:
            raise TimestampError(f"the token has {len(signers)} signers, not one")
        signer = signers[0]
        sid = signer["sid"].chosen
        certificate = next(
            (
                c.chosen
                for c in signed["certificates"] or []
                if c.name == "certificate"
                and c.chosen.issuer == sid["issuer"]
                and c.chosen.serial_number == sid["serial_number"].native
            ),
            None,
        )
        if certificate is None:
            raise TimestampError("the token does not carry its signer's certificate")
        hash_name = signer["digest_algorithm"]["algorithm"].native
        if hash_name not in _HASHES:
            raise TimestampError(f"the token is signed over {hash_name}, not SHA-2")
        content = signed["encap_content_info"]["content"].contents
        attributes = signer["signed_attrs"]
        digests = [
            a["values"][0].native for a in attributes if a["type"].native == "message_digest"
        ]
        if digests != [hashlib.new(hash_name, content).digest()]:
            raise TimestampError("the token's signed digest is not that of its content")
        # The signature covers the attributes DER-encoded as a SET OF (RFC 5652 5.4).
        message = b"\x31" + attributes.dump()[1:]
        signature = signer["signature"].native
        algorithm = signer["signature_algorithm"].signature_algo
        key = x509.load_der_x509_certificate(certificate.dump()).public_key()
        chosen = _HASHES[hash_name]()
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(chosen))
        elif isinstance(key, rsa.RSAPublicKey):
            pad: padding.AsymmetricPadding = (
                padding.PSS(padding.MGF1(chosen), padding.PSS.AUTO)
                if algorithm == "rsassa_pss"
                else padding.PKCS1v15()
            )
            key.verify(signature, message, pad, chosen)
        else:
            raise TimestampError("the token is signed with a key type PostVault cannot check")
    except InvalidSignature:
        raise TimestampError(
            "the token's signature does not verify with the certificate it carries"
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError(f"the token's signature cannot be read: {exc}") from None


def check_reply(
    reply: bytes,
    *,
    sha256: str,
    nonce: int | None,
    anchors: TrustAnchors | None,
) -> TimeStampResponse:
    """The decoded reply if it is a granted token over `sha256` (and `nonce` when given),
    whose signature verifies with the certificate it carries and, when `anchors` are given,
    up to them; TimestampError naming the first problem otherwise."""
    try:
        response = decode_timestamp_response(reply)
    except ValueError as exc:
        raise TimestampError(f"the answer is not an RFC 3161 TimeStampResp ({exc})") from None
    if PKIStatus(response.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        detail = "; ".join(response.status_string) or "no reason given"
        raise TimestampError(f"the TSA refused the request (status {response.status}: {detail})")
    info = response.tst_info
    imprint = info.message_imprint
    if imprint.hash_algorithm != SHA256_OID or imprint.message != bytes.fromhex(sha256):
        raise TimestampError("the token's message imprint is not the object's SHA-256")
    if nonce is not None and info.nonce != nonce:
        raise TimestampError("the token's nonce is not the one sent")
    check_signature(response.time_stamp_token())
    if anchors is not None:
        builder = VerifierBuilder()
        for root in anchors.roots:
            builder = builder.add_root_certificate(root)
        for intermediate in anchors.intermediates:
            builder = builder.add_intermediate_certificate(intermediate)
        try:
            builder.build().verify(response, bytes.fromhex(sha256))
        except (VerificationError, ValueError) as exc:
            raise TimestampError(f"the token's signature does not verify: {exc}") from None
    return response


def _token_row(session: Session, sha256: str) -> TimestampToken | None:
    return session.scalar(select(TimestampToken).where(TimestampToken.object_sha256 == sha256))


def _attempt(
    session: Session,
    *,
    store: ArchiveStore,
    settings: Settings,
    row: TimestampToken,
    data: bytes,
    post: Poster,
    retain_until: dt.date | None,
    actor: Actor,
) -> None:
    assert settings.tsa_url is not None
    row.attempts += 1
    row.tsa_url = settings.tsa_url
    request = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    try:
        reply = post(settings.tsa_url, request.as_bytes())
        response = check_reply(
            reply,
            sha256=row.object_sha256,
            nonce=request.nonce,
            anchors=load_anchors(settings.tsa_ca_file),
        )
        stored = put_object(
            session,
            store,
            reply,
            mime_type=REPLY_MEDIA_TYPE,
            kind="timestamp",
            retain_until=retain_until,
        )
    except (TimestampError, StoreError) as exc:
        row.last_error = str(exc)[:1000]
        log.warning(
            "timestamp of %s object %s pending (attempt %d): %s",
            row.object_kind,
            row.object_sha256,
            row.attempts,
            exc,
        )
        session.flush()
        return
    info = response.tst_info
    row.status = TimestampStatus.stamped
    row.token_sha256 = stored.sha256
    row.gen_time = info.gen_time
    row.serial_number = str(info.serial_number)
    row.policy = info.policy.dotted_string
    row.stamped_at = utcnow()
    row.last_error = None
    session.flush()
    record(
        session,
        actor=actor,
        action="timestamp.stamped",
        object_type="stored_object",
        object_id=row.object_sha256,
        details={
            "kind": row.object_kind,
            "token_sha256": stored.sha256,
            "gen_time": info.gen_time.isoformat(),
            "serial_number": row.serial_number,
            "tsa_url": settings.tsa_url,
            "attempts": row.attempts,
        },
    )


def timestamp_object(
    session: Session,
    *,
    store: ArchiveStore,
    settings: Settings,
    data: bytes,
    kind: str,
    retain_until: dt.date | None = None,
    post: Poster | None = None,
    actor: Actor = SYSTEM,
) -> TimestampToken | None:
    """Ask the TSA (when one is configured) for a timestamp of a stored object's bytes.

    Never raises for the TSA's sake: a failure leaves the row "pending" for the retry job.
    """
    if settings.tsa_url is None:
        return None
    sha256 = hashlib.sha256(data).hexdigest()
    row = _token_row(session, sha256)
    if row is None:
        row = TimestampToken(
            object_sha256=sha256,
            object_kind=kind,
            status=TimestampStatus.pending,
            tsa_url=settings.tsa_url,
            attempts=0,
            requested_at=utcnow(),
        )
        session.add(row)
        session.flush()
    if row.status == TimestampStatus.stamped:
        return row
    _attempt(
        session,
        store=store,
        settings=settings,
        row=row,
        data=data,
        post=post or http_poster(settings),
        retain_until=retain_until,
        actor=actor,
    )
    return row


def retry_pending(
    session: Session,
    *,
    store: ArchiveStore,
    settings: Settings,
    post: Poster | None = None,
    limit: int = RETRY_BATCH,
) -> tuple[int, int]:
    """Ask again for the pending timestamps (oldest first); (stamped now, still pending)."""
    if settings.tsa_url is None:
        return 0, 0
    rows = list(
        session.scalars(
            select(TimestampToken)
            .where(TimestampToken.status == TimestampStatus.pending)
            .order_by(TimestampToken.id)
            .limit(limit)
        )
    )
    poster = post or http_poster(settings)
    stamped = 0
    for row in rows:
        try:
            data = store.get(row.object_sha256)  # verified: never stamp changed bytes
        except StoreError as exc:
            row.last_error = f"the object cannot be read back intact: {exc}"[:1000]
            continue
        _attempt(
            session,
            store=store,
            settings=settings,
            row=row,
            data=data,
            post=poster,
            retain_until=None,
            actor=SYSTEM,
        )
        stamped += row.status == TimestampStatus.stamped
    return stamped, len(rows) - stamped


def token_of(session: Session, sha256: str) -> TimestampToken | None:
    return _token_row(session, sha256)


@dataclass(frozen=True)
class TokenProblem:
    object_sha256: str
    object_kind: str
    problem: str


def verify_tokens(
    session: Session, *, store: ArchiveStore, settings: Settings
) -> tuple[int, list[TokenProblem], int]:
    """Check every stored token: its bytes intact, a granted TimeStampResp, its imprint the
    object's SHA-256, its signature up to POSTVAULT_TSA_CA_FILE when set.
    Returns (tokens checked, problems, timestamps still pending)."""
    anchors = load_anchors(settings.tsa_ca_file)
    problems: list[TokenProblem] = []
    checked = 0
    pending = 0
    for row in session.scalars(select(TimestampToken).order_by(TimestampToken.id)):
        if row.status != TimestampStatus.stamped or row.token_sha256 is None:
            pending += 1
            continue
        checked += 1
        try:
            reply = store.get(row.token_sha256)
            check_reply(reply, sha256=row.object_sha256, nonce=None, anchors=anchors)
        except StoreError as exc:
            problems.append(
                TokenProblem(row.object_sha256, row.object_kind, f"token unreadable: {exc}")
            )
        except TimestampError as exc:
            problems.append(TokenProblem(row.object_sha256, row.object_kind, str(exc)))
    return checked, problems, pending
