"""Render a snapshot in another process with another font configuration.

fontconfig reads its configuration once per process, so a machine with fewer fonts is played
by a subprocess whose FONTCONFIG_FILE names a restricted folder (tests/snapshots/fonts.py).
Run as a module it reads a pickled SnapshotView (made by this test run) on stdin and writes the PDF to stdout.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

from app.snapshots.schemas import SnapshotView

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def render_with_fonts(view: SnapshotView, fontconfig: Path) -> bytes:
    done = subprocess.run(
        [sys.executable, "-m", "tests.snapshots.render_elsewhere"],
        input=pickle.dumps(view),
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "FONTCONFIG_FILE": str(fontconfig)},
        cwd=PROJECT_ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode("utf-8", errors="replace")
    return done.stdout


def main() -> None:
    from app.snapshots.render import render_snapshot

    view = pickle.loads(sys.stdin.buffer.read())
    assert isinstance(view, SnapshotView)
    sys.stdout.buffer.write(render_snapshot(view))


if __name__ == "__main__":
    main()
