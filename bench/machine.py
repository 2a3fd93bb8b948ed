"""One line describing the machine a benchmark ran on: cores, load, Python and the libraries
whose speed the figures depend on. Every benchmark prints it with its figures."""

from __future__ import annotations

import os
import platform
import sqlite3
from importlib import metadata

LIBRARIES = ("weasyprint", "pydyf", "pypdf", "sqlalchemy", "psycopg", "pillow", "playwright")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def pango_version() -> str:
    try:
        from weasyprint.text.ffi import pango

        number = int(pango.pango_version())
        return f"{number // 10000}.{number // 100 % 100}.{number % 100}"
    except Exception:  # the figure is informative; a missing Pango must not stop a benchmark
        return "?"


def describe(extra: dict[str, str] | None = None) -> str:
    """`machine: 2 cores, load 3.1/2.0/1.2, Linux x86_64, Python 3.11.2; weasyprint 70.0 ...`"""
    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    cores = os.cpu_count() or 0
    libraries = [f"{name} {v}" for name in LIBRARIES if (v := _version(name))]
    parts = [
        f"machine: {cores} cores (load {load})",
        f"{platform.system()} {platform.machine()}",
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
        f"Pango {pango_version()}",
        *libraries,
        *(f"{k} {v}" for k, v in (extra or {}).items()),
    ]
    return "; ".join(parts)
