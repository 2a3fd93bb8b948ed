"""Fixtures for browser captures: one capturer (one chromium) for the module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.platforms.web.browser import BrowserCapturer, CaptureLimits
from tests.web.browser import CHROMIUM, SKIP_VARIABLE


def chromium_or_skip() -> str:
    """Debian's chromium; missing fails loudly unless the browser tests are skipped on purpose."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get(SKIP_VARIABLE):
        pytest.skip(f"BROWSER TESTS SKIPPED because {SKIP_VARIABLE} is set")
    pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser")


@pytest.fixture(scope="module")
def capturer() -> Iterator[BrowserCapturer]:
    with BrowserCapturer(chromium_or_skip(), CaptureLimits(timeout_seconds=30)) as browser:
        yield browser
