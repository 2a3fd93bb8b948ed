"""What the store itself guarantees: Object Lock on moto's S3 server, read-only local files."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from app.config import Settings
from app.storage.base import StoreError
from app.storage.local import LocalStore
from app.storage.s3 import S3Store
from app.storage.service import store_from_settings
from tests.storage.conftest import CREDENTIALS, make_bucket, s3_client, s3_store

DATA = b"a snapshot that must outlive its deletion request"
TODAY = dt.datetime.now(dt.UTC).date()


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def test_a_compliance_locked_object_cannot_be_deleted_before_its_date(moto_endpoint: str) -> None:
    store = s3_store(moto_endpoint, make_bucket(moto_endpoint, locked=True))
    due = TODAY + dt.timedelta(days=7 * 365)
    key = store.put(DATA, mime_type="application/pdf", retain_until=due)
    assert store.retention(key) == (_midnight(due), False)
    with pytest.raises(StoreError, match="Object Lock"):
        store.delete(key)
    assert store.get(key) == DATA
    # Straight to the S3 API, bypassing PostVault: the server refuses as well.
    client = s3_client(moto_endpoint)
    version = client.head_object(Bucket=store.bucket, Key=store.object_key(key))["VersionId"]
    with pytest.raises(client.exceptions.ClientError, match="AccessDenied"):
        client.delete_object(Bucket=store.bucket, Key=store.object_key(key), VersionId=version)
    assert store.get(key) == DATA


def test_retention_is_extended_but_never_shortened(moto_endpoint: str) -> None:
    store = s3_store(moto_endpoint, make_bucket(moto_endpoint, locked=True))
    first = TODAY + dt.timedelta(days=400)
    key = store.put(DATA, mime_type="application/pdf", retain_until=first)
    later = TODAY + dt.timedelta(days=800)
    store.set_retention(key, retain_until=later, legal_hold=False)
    assert store.retention(key) == (_midnight(later), False)
    # moto would accept a shorter date (AWS refuses one); PostVault never asks for it.
    store.set_retention(key, retain_until=first, legal_hold=False)
    assert store.retention(key) == (_midnight(later), False)


def test_a_legal_hold_blocks_deletion_until_it_is_lifted(moto_endpoint: str) -> None:
    store = s3_store(moto_endpoint, make_bucket(moto_endpoint, locked=True))
    key = store.put(DATA, mime_type="application/pdf")
    assert store.retention(key) == (None, False)
    store.set_retention(key, retain_until=None, legal_hold=True)
    assert store.retention(key) == (None, True)
    with pytest.raises(StoreError, match="Object Lock"):
        store.delete(key)
    store.set_retention(key, retain_until=None, legal_hold=False)
    store.delete(key)
    assert not store.exists(key)


def test_a_due_date_in_the_past_sets_no_lock(moto_endpoint: str) -> None:
    store = s3_store(moto_endpoint, make_bucket(moto_endpoint, locked=True))
    key = store.put(DATA, mime_type="application/pdf", retain_until=TODAY - dt.timedelta(days=1))
    assert store.retention(key) == (None, False)
    store.delete(key)
    assert not store.exists(key)


def test_a_bucket_without_object_lock_stores_without_a_lock(moto_endpoint: str) -> None:
    store = s3_store(moto_endpoint, make_bucket(moto_endpoint, locked=False))
    assert not store.lock_enabled
    key = store.put(DATA, mime_type="application/pdf", retain_until=TODAY + dt.timedelta(days=30))
    store.set_retention(key, retain_until=TODAY + dt.timedelta(days=60), legal_hold=True)
    assert store.retention(key) == (None, False)


def test_the_mime_type_is_kept_on_s3(moto_endpoint: str) -> None:
    store = s3_store(moto_endpoint, make_bucket(moto_endpoint, locked=False))
    key = store.put(DATA, mime_type="application/pdf")
    head = s3_client(moto_endpoint).head_object(Bucket=store.bucket, Key=store.object_key(key))
    assert head["ContentType"] == "application/pdf"
    assert store.object_key(key) == f"archive/objects/{key[:2]}/{key[2:4]}/{key}"


def test_an_unreachable_s3_store_is_a_store_error() -> None:
    store = S3Store(
        "pv-nowhere",
        endpoint_url="http://127.0.0.1:9",
        access_key_id="x",
        secret_access_key="y",
    )
    with pytest.raises(StoreError, match="pv-nowhere"):
        store.put(DATA, mime_type="application/pdf")


def test_local_objects_are_read_only_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    key = store.put(DATA, mime_type="application/pdf")
    mode = store.path_for(key).stat().st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_store_from_settings_builds_the_configured_store(
    tmp_path: Path, moto_endpoint: str
) -> None:
    local = store_from_settings(Settings(archive_dir=tmp_path / "a"))
    assert isinstance(local, LocalStore)
    assert local.root == tmp_path / "a"
    bucket = make_bucket(moto_endpoint, locked=True)
    s3 = store_from_settings(
        Settings(
            storage_backend="s3",
            s3_endpoint_url=moto_endpoint,
            s3_bucket=bucket,
            s3_access_key_id=CREDENTIALS["aws_access_key_id"],
            s3_secret_access_key=CREDENTIALS["aws_secret_access_key"],
            s3_prefix="pv",
        )
    )
    assert isinstance(s3, S3Store)
    assert s3.lock_enabled
    key = s3.put(DATA, mime_type="application/pdf")
    assert s3.object_key(key).startswith("pv/objects/")
    with pytest.raises(StoreError, match="POSTVAULT_S3_BUCKET"):
        store_from_settings(Settings(storage_backend="s3"))


def test_an_unwritable_archive_folder_is_a_store_error(tmp_path: Path) -> None:
    # Root ignores permissions, so the only portable refusal is a file where a folder goes.
    (tmp_path / "objects").write_bytes(b"")
    with pytest.raises(StoreError, match="cannot write"):
        LocalStore(tmp_path).put(DATA, mime_type="application/pdf")
    assert os.path.isfile(tmp_path / "objects")
