"""The ArchiveStore contract, run against every store (tests/storage/conftest.py)."""

from __future__ import annotations

import hashlib
import os
import pathlib

import pytest

from app.storage.base import FixityError, ObjectMissing, StoreError
from tests.storage.conftest import StoreCase

DATA = b"%PDF-1.7 a snapshot " + os.urandom(256 * 1024)


def test_put_names_the_object_by_its_sha256_and_reads_it_back(case: StoreCase) -> None:
    key = case.store.put(DATA, mime_type="application/pdf")
    assert key == hashlib.sha256(DATA).hexdigest()
    assert case.store.exists(key)
    assert case.store.get(key) == DATA
    assert case.store.verify(key) == key
    assert list(case.store.keys()) == [key]


def test_a_file_is_stored_in_chunks_under_the_same_key(
    case: StoreCase, tmp_path: pathlib.Path
) -> None:
    """Streamed media (a podcast's audio) is stored from its spool file, never read whole."""
    spooled = tmp_path / "spooled.mp3"
    spooled.write_bytes(DATA * 5)
    key = case.store.put_file(spooled, mime_type="audio/mpeg")
    assert key == hashlib.sha256(DATA * 5).hexdigest()
    assert case.store.get(key) == DATA * 5
    assert case.store.put_file(spooled, mime_type="audio/mpeg") == key
    assert case.store.put(DATA * 5, mime_type="audio/mpeg") == key
    assert case.copies(key) == 1


def test_a_duplicate_write_keeps_one_copy(case: StoreCase) -> None:
    first = case.store.put(DATA, mime_type="application/pdf")
    second = case.store.put(DATA, mime_type="application/pdf")
    assert first == second
    assert case.copies(first) == 1
    assert list(case.store.keys()) == [first]


def test_a_flipped_byte_is_caught_by_a_read_and_by_verify(case: StoreCase) -> None:
    key = case.store.put(DATA, mime_type="application/pdf")
    case.tamper(key)
    with pytest.raises(FixityError) as caught:
        case.store.get(key)
    assert caught.value.key == key
    assert caught.value.actual != key
    assert case.store.verify(key) == caught.value.actual


def test_an_interrupted_write_leaves_no_partial_object(case: StoreCase) -> None:
    with pytest.raises(StoreError):
        case.interrupted_put(DATA)
    key = hashlib.sha256(DATA).hexdigest()
    assert not case.store.exists(key)
    assert list(case.store.keys()) == []
    assert case.copies(key) == 0
    # The next attempt stores the whole object.
    assert case.store.put(DATA, mime_type="application/pdf") == key
    assert case.store.get(key) == DATA


def test_a_missing_object_is_reported_as_missing(case: StoreCase) -> None:
    key = hashlib.sha256(b"never stored").hexdigest()
    assert not case.store.exists(key)
    with pytest.raises(ObjectMissing):
        case.store.get(key)
    with pytest.raises(ObjectMissing):
        case.store.verify(key)
    with pytest.raises(ObjectMissing):
        case.store.set_retention(key, retain_until=None, legal_hold=False)


@pytest.mark.parametrize("key", ["", "../../etc/passwd", "A" * 64, "0" * 63, "g" * 64])
def test_keys_that_are_not_sha256_are_refused(case: StoreCase, key: str) -> None:
    with pytest.raises(StoreError):
        case.store.get(key)
    with pytest.raises(StoreError):
        case.store.exists(key)


def test_delete_removes_an_unlocked_object(case: StoreCase) -> None:
    key = case.store.put(DATA, mime_type="application/pdf")
    case.store.delete(key)
    assert not case.store.exists(key)
    assert case.copies(key) == 0
    with pytest.raises(ObjectMissing):
        case.store.get(key)
