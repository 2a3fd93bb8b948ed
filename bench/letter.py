"""CPU seconds and peak memory of a package's letter to the requester alone, laid out as a
render worker lays it out (`render_document`), for a letter listing `--rows` released files.

    python -m bench.letter [--rows 1000] [--repeat 1] [--rows-per-piece N]

One letter size per process: the peak RSS read at the end is this letter's (the process does
nothing else), so run it once per size to compare sizes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import time

from app.open_records import letters
from app.open_records.letters import ReleasedRow, render_document, response_letter_document
from app.open_records.models import RecordsRequest
from app.open_records.separation import Scrubber
from bench.machine import describe


def rows(count: int) -> list[ReleasedRow]:
    """Rows like the package bench's: one per post, a tenth of them redacted."""
    return [
        ReleasedRow(
            name=f"{n + 1:05d}-mastodon-{n}-v1.pdf",
            url=f"https://city.example/@parks/{n}",
            version_number=1,
            reasons=("personal telephone number",) if n % 10 == 0 else (),
            redacted=n % 10 == 0,
        )
        for n in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--rows-per-piece",
        type=int,
        default=0,
        help="lay a long letter out in pieces of this many rows (0: LETTER_ROWS_PER_PIECE)",
    )
    args = parser.parse_args()
    if args.rows_per_piece:
        letters.LETTER_ROWS_PER_PIECE = args.rows_per_piece
    print(describe())
    request = RecordsRequest(
        number="2026-0001",
        received_at=dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC),
        received_time_known=False,
        description="Pool closure posts",
        status="partly_denied",
        decision_reason="Some posts name residents' telephone numbers.",
        requester_name="Pat Q",
    )
    document = response_letter_document(request, rows(args.rows), Scrubber([]))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for _ in range(args.repeat):
        cpu = time.process_time()
        began = time.perf_counter()
        pdf = render_document(document)
        cpu = time.process_time() - cpu
        elapsed = time.perf_counter() - began
        load = "/".join(f"{v:.1f}" for v in os.getloadavg())
        print(
            f"letter of {args.rows} rows ({letters.LETTER_ROWS_PER_PIECE} a piece): CPU {cpu:.1f} s, wall {elapsed:.1f} s, "
            f"PDF {len(pdf) / 1e3:.0f} kB; load after: {load}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"peak RSS: {peak / 1e6:.0f} MB (before the letter: {before / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
