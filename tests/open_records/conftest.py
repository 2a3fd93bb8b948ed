"""Archived posts in a real database and store, as tests/snapshots makes them."""

from tests.snapshots.conftest import archive_post, store

__all__ = ["archive_post", "store"]
