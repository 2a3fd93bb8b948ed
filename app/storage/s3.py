"""An S3-compatible store (AWS S3, MinIO, Ceph RGW) with Object Lock where the bucket has it.

Objects are named `<prefix>objects/ab/cd/<sha256>`. A put sends the body's SHA-256 so the
server can refuse a body damaged in transit, and asks the server to create the key only if it
does not exist (`If-None-Match: *`), so an object is never replaced. Where the bucket has
Object Lock, objects are put in COMPLIANCE mode until their retention due date: then the store
itself refuses to delete or overwrite them before that date, whatever PostVault asks.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.config import Settings
from app.storage.base import FixityError, ObjectMissing, StoreError, sha256_file, sha256_hex

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

log = logging.getLogger("postvault.storage")

_HEX = frozenset("0123456789abcdef")
_MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
_EXISTS_CODES = {"412", "PreconditionFailed", "409", "ConditionalRequestConflict"}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _lock_date(day: dt.date) -> dt.datetime:
    """Object Lock dates are instants: the start of the due day, in UTC."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


class S3Store:
    def __init__(
        self,
        bucket: str,
        *,
        client: S3Client | None = None,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
    ) -> None:
        if not bucket:
            raise StoreError("the S3 store needs a bucket (POSTVAULT_S3_BUCKET)")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        if client is None:
            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                region_name=region,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=Config(
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=120,
                ),
            )
        self.client: S3Client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        secret = settings.s3_secret_access_key
        return cls(
            settings.s3_bucket or "",
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
            prefix=settings.s3_prefix,
        )

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def object_key(self, sha256: str) -> str:
        if len(sha256) != 64 or not _HEX.issuperset(sha256):
            raise StoreError(f"'{sha256}' is not a SHA-256 key")
        return f"{self.prefix}objects/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def _where(self, sha256: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(sha256)}"

    @cached_property
    def lock_enabled(self) -> bool:
        """Whether the bucket has Object Lock (asked once per store)."""
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) != "ObjectLockConfigurationNotFoundError":
                log.warning(
                    "cannot read the Object Lock configuration of bucket %s (%s): objects are "
                    "stored without a lock",
                    self.bucket,
                    _code(exc) or exc,
                )
            return False
        except BotoCoreError as exc:
            raise StoreError(f"the S3 store at bucket {self.bucket} is unreachable: {exc}") from exc
        enabled = config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        return enabled == "Enabled"

    def _head(self, sha256: str) -> dict[str, Any] | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(sha256))
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return None
            raise StoreError(f"cannot look up {self._where(sha256)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"cannot look up {self._where(sha256)}: {exc}") from exc
        return dict(head)

    def put(self, data: bytes, *, mime_type: str, retain_until: dt.date | None = None) -> str:
        key = sha256_hex(data)
        if self._head(key) is not None:
            return key  # content-addressed: the same bytes are already there
        arguments: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.object_key(key),
            "Body": data,
            "ContentType": mime_type,
            "ChecksumAlgorithm": "SHA256",
            "ChecksumSHA256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
            # Create only: a concurrent writer of the same bytes cannot replace the object.
            "IfNoneMatch": "*",
        }
        if retain_until is not None and retain_until > dt.datetime.now(dt.UTC).date():
            if self.lock_enabled:
                arguments["ObjectLockMode"] = "COMPLIANCE"
                arguments["ObjectLockRetainUntilDate"] = _lock_date(retain_until)
        try:
            self.client.put_object(**arguments)
        except ClientError as exc:
            if _code(exc) in _EXISTS_CODES:
                return key
            raise StoreError(f"writing {self._where(key)} failed: {exc}") from exc
        except BotoCoreError as exc:
            # The upload did not complete; S3 never exposes a partial object under the key.
            raise StoreError(f"writing {self._where(key)} failed: {exc}") from exc
        return key

    def put_file(self, path: Path, *, mime_type: str, retain_until: dt.date | None = None) -> str:
        key = sha256_file(path)
        if self._head(key) is not None:
            return key
        arguments: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.object_key(key),
            "ContentType": mime_type,
            "ChecksumAlgorithm": "SHA256",
            "ChecksumSHA256": base64.b64encode(bytes.fromhex(key)).decode(),
            "IfNoneMatch": "*",
        }
        if retain_until is not None and retain_until > dt.datetime.now(dt.UTC).date():
            if self.lock_enabled:
                arguments["ObjectLockMode"] = "COMPLIANCE"
                arguments["ObjectLockRetainUntilDate"] = _lock_date(retain_until)
        try:
            with path.open("rb") as body:  # botocore streams a file body, never whole
                self.client.put_object(Body=body, **arguments)
        except ClientError as exc:
            if _code(exc) in _EXISTS_CODES:
                return key
            raise StoreError(f"writing {self._where(key)} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"writing {self._where(key)} failed: {exc}") from exc
        return key

    def _body(self, sha256: str) -> Any:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.object_key(sha256))["Body"]
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                raise ObjectMissing(
                    f"object {sha256} is missing from {self._where(sha256)}"
                ) from None
            raise StoreError(f"cannot read {self._where(sha256)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"cannot read {self._where(sha256)}: {exc}") from exc

    def get(self, sha256: str) -> bytes:
        body = self._body(sha256)
        try:
            data: bytes = body.read()
        except (BotoCoreError, OSError) as exc:
            raise StoreError(f"cannot read {self._where(sha256)}: {exc}") from exc
        finally:
            body.close()
        actual = sha256_hex(data)
        if actual != sha256:
            raise FixityError(sha256, actual)
        return data

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def verify(self, sha256: str) -> str:
        body = self._body(sha256)
        digest = hashlib.sha256()
        try:
            for chunk in body.iter_chunks(1 << 20):
                digest.update(chunk)
        except (BotoCoreError, OSError) as exc:
            raise StoreError(f"cannot read {self._where(sha256)}: {exc}") from exc
        finally:
            body.close()
        return digest.hexdigest()

    def delete(self, sha256: str) -> None:
        """Delete every version of the object (called only by an approved disposition).

        A locked version makes the store refuse; the error says so and nothing is hidden
        behind a delete marker.
        """
        object_key = self.object_key(sha256)
        try:
            listing = self.client.list_object_versions(Bucket=self.bucket, Prefix=object_key)
            versions = [
                v["VersionId"]
                for group in ("Versions", "DeleteMarkers")
                for v in listing.get(group, [])  # type: ignore[attr-defined]
                if v.get("Key") == object_key and v.get("VersionId")
            ]
            if not versions:
                self.client.delete_object(Bucket=self.bucket, Key=object_key)
            for version_id in versions:
                self.client.delete_object(Bucket=self.bucket, Key=object_key, VersionId=version_id)
        except ClientError as exc:
            if _code(exc) in ("AccessDenied", "InvalidRequest"):
                raise StoreError(
                    f"the store refuses to delete {self._where(sha256)}: it is under Object "
                    "Lock (retention or legal hold) until its date"
                ) from exc
            raise StoreError(f"deleting {self._where(sha256)} failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"deleting {self._where(sha256)} failed: {exc}") from exc

    def keys(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}objects/"):
                for item in page.get("Contents", []):
                    name = item.get("Key", "").rsplit("/", 1)[-1]
                    if len(name) == 64 and _HEX.issuperset(name):
                        yield name
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"cannot list bucket {self.bucket}: {exc}") from exc

    def retention(self, sha256: str) -> tuple[dt.datetime | None, bool]:
        """The object's Object Lock retain-until date and legal hold, as the store reports."""
        head = self._head(sha256)
        if head is None:
            raise ObjectMissing(f"object {sha256} is missing from {self._where(sha256)}")
        until = head.get("ObjectLockRetainUntilDate")
        return (
            until.astimezone(dt.UTC) if until else None,
            head.get("ObjectLockLegalHoldStatus") == "ON",
        )

    def set_retention(self, sha256: str, *, retain_until: dt.date | None, legal_hold: bool) -> None:
        """Lock the object until `retain_until` (never shortening a lock) and set or lift its
        legal hold. A bucket without Object Lock has nothing to set: PostVault's own
        disposition rules protect the object there."""
        head = self._head(sha256)
        if head is None:
            raise ObjectMissing(f"object {sha256} is missing from {self._where(sha256)}")
        if not self.lock_enabled:
            return
        object_key = self.object_key(sha256)
        version: dict[str, str] = {"VersionId": head["VersionId"]} if head.get("VersionId") else {}
        current = head.get("ObjectLockRetainUntilDate")
        today = dt.datetime.now(dt.UTC).date()
        try:
            if retain_until is not None and retain_until > today:
                wanted = _lock_date(retain_until)
                # AWS refuses to shorten a COMPLIANCE lock; asking would only fail. Some
                # S3-compatible servers (moto) would allow it, so PostVault never asks.
                if current is None or wanted > current.astimezone(dt.UTC):
                    self.client.put_object_retention(
                        Bucket=self.bucket,
                        Key=object_key,
                        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": wanted},
                        ChecksumAlgorithm="SHA256",
                        **version,  # type: ignore[arg-type]
                    )
            held = head.get("ObjectLockLegalHoldStatus") == "ON"
            if held != legal_hold:
                self.client.put_object_legal_hold(
                    Bucket=self.bucket,
                    Key=object_key,
                    LegalHold={"Status": "ON" if legal_hold else "OFF"},
                    ChecksumAlgorithm="SHA256",
                    **version,  # type: ignore[arg-type]
                )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"cannot set the retention of {self._where(sha256)}: {exc}") from exc
