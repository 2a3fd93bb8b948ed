"""Browser captures of a loopback page shaped like a social post (cookie wall, "view more
comments", an image): captures per minute with one browser, and the peak memory of the
browser (chromium and Playwright's driver) and of the worker process.

    python -m bench.webcapture [--captures 40] [--chromium /usr/bin/chromium]

Each capture is the whole web collector: a fresh context, the guarded fetches, consent and
comment expansion, scrolling, the full-page screenshot, the main text, the WARC and the WACZ
packaged by py-wacz. Goal: at least 20 a minute on 2 cores, peak under 1 GiB.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

from app.config import Settings
from app.platforms.collected import CaptureTarget, CollectedPost
from app.platforms.web.collector import WebCollector, browser_policy, shared_capturer
from tests.platforms.web.sites import SiteState, social_site


def _tree_rss_bytes(root: int) -> int:
    """Proportional memory (PSS) of every process below `root` (not `root` itself)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    below: set[int] = set()
    frontier = [root]
    while frontier:
        current = frontier.pop()
        for pid, parent in parents.items():
            if parent == current and pid not in below:
                below.add(pid)
                frontier.append(pid)
    total = 0
    for pid in below:
        try:
            # PSS: chromium's processes share most of their pages; RSS would count them again
            # in every process.
            with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as status:
                for line in status:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


class PeakSampler:
    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_bytes(os.getpid()))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--captures", type=int, default=40)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    photo = io.BytesIO()
    Image.new("RGB", (640, 400), (40, 110, 160)).save(photo, format="PNG")
    with (
        tempfile.TemporaryDirectory() as tmp,
        social_site(SiteState(image=photo.getvalue())) as site,
    ):
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'unused.db'}",
            archive_dir=Path(tmp) / "archive",
            fetch_allow_hosts=site.netloc,
            chromium=args.chromium,
        )
        collector = WebCollector(settings)
        capturer = shared_capturer(settings)
        # The browser's start is paid once per worker, not per capture: warm it up first.
        capturer.capture(f"{site.base_url}/pat.employee/posts/0", browser_policy(settings))
        sizes: list[int] = []
        with PeakSampler() as sampler:
            started = time.perf_counter()
            for n in range(1, args.captures + 1):
                target = CaptureTarget(
                    post_id=n,
                    platform="web",
                    external_id=f"{site.base_url}/pat.employee/posts/{n}",
                    url=f"{site.base_url}/pat.employee/posts/{n}",
                    account_handle=f"{site.base_url}/pat.employee",
                    account_profile_url=f"{site.base_url}/pat.employee",
                )
                result = collector.collect(target, None)  # type: ignore[arg-type]
                if not isinstance(result, CollectedPost):
                    raise SystemExit(f"capture {n} failed: {result}")
                sizes.append(sum(len(f.data) for f in result.files if f.role == "wacz"))
            elapsed = time.perf_counter() - started
        worker_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        capturer.close()

    per_minute = args.captures / elapsed * 60
    print(f"captures: {args.captures} in {elapsed:.1f} s with one browser")
    print(f"captures per minute: {per_minute:.1f} (goal >= 20)")
    print(f"seconds per capture: {elapsed / args.captures:.2f}")
    print(f"WACZ size: {min(sizes)}-{max(sizes)} bytes")
    print(f"peak memory, browser (chromium + driver): {sampler.peak / 2**20:.0f} MiB")
    print(f"peak memory, worker process: {worker_peak / 2**20:.0f} MiB")
    print(f"peak memory, together: {(sampler.peak + worker_peak) / 2**20:.0f} MiB (goal < 1024)")


if __name__ == "__main__":
    main()
