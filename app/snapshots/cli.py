"""`postvault verify` and `postvault snapshots rerender`."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from app.audit.service import Actor
from app.config import Settings
from app.migrate import migrated_database
from app.snapshots import service
from app.snapshots.pool import render_pool
from app.snapshots.render import RENDERER_VERSION
from app.storage import fixity
from app.storage.service import store_from_settings

RERENDER_BATCH = 20


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Re-hash every stored object; exit 1 naming each one missing or changed."""
    database = migrated_database(settings)
    store = store_from_settings(settings)
    try:
        with database.session() as session:
            keys = fixity.objects_to_check(session)
            with tqdm(
                total=len(keys),
                unit="object",
                desc="verifying",
                file=sys.stderr,
                disable=args.quiet,
            ) as bar:
                report = fixity.check_fixity(
                    session, store=store, keys=keys, progress=bar.update, actor=Actor.system("cli")
                )
    finally:
        database.dispose()
    for problem in report.problems:
        what = f"{problem.kind} object" if problem.kind else "object"
        if problem.problem == "mismatch":
            _out(f"MISMATCH {what} {problem.sha256} now hashes to {problem.actual_sha256}")
        elif problem.problem == "missing":
            _out(f"MISSING  {what} {problem.sha256}")
        else:
            _out(f"UNREADABLE {what} {problem.sha256}: {problem.detail}")
    if report.problems:
        sys.stderr.write(
            f"postvault: {len(report.problems)} of {report.checked} objects failed the fixity "
            f"check ({len(report.missing)} missing, {len(report.mismatched)} changed)\n"
        )
        return 1
    _out(f"all {report.checked} stored objects verified intact")
    return 0


def cmd_rerender(args: argparse.Namespace, settings: Settings) -> int:
    """New snapshots from the stored source and media; the old snapshots stay."""
    database = migrated_database(settings)
    store = store_from_settings(settings)
    pool = render_pool(settings.render_workers)
    rendered = unchanged = 0
    failed: list[tuple[int, str]] = []
    try:
        with database.session() as session:
            if args.all:
                ids = service.all_renderable_versions(session)
            else:
                ids = service.versions_to_render(session, outdated_too=True)
        with tqdm(
            total=len(ids), unit="version", desc="rendering", file=sys.stderr, disable=args.quiet
        ) as bar:
            for start in range(0, len(ids), RERENDER_BATCH):
                # One transaction per batch: an interruption keeps the batches already done.
                with database.session() as session:
                    report = service.rerender_versions(
                        session,
                        store=store,
                        version_ids=ids[start : start + RERENDER_BATCH],
                        render_many=pool.render_many,
                        actor=Actor.system("cli"),
                        progress=bar.update,
                    )
                rendered += report.rendered
                unchanged += report.unchanged
                failed += report.failed
    finally:
        database.dispose()
    for version_id, message in failed:
        _out(f"FAILED version {version_id}: {message}")
    _out(
        f"renderer {RENDERER_VERSION}: {rendered} new snapshots, {unchanged} unchanged, "
        f"{len(failed)} failed"
    )
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verify = sub.add_parser(
        "verify", help="re-hash every stored object; exit 1 if any is missing or changed"
    )
    verify.add_argument("--quiet", action="store_true", help="no progress bar")
    verify.set_defaults(handler=cmd_verify)

    snapshots = sub.add_parser("snapshots", help="PDF/A snapshots").add_subparsers(
        dest="snapshots_command", required=True
    )
    rerender = snapshots.add_parser(
        "rerender",
        help="render new snapshots of versions whose snapshot is missing or from an older "
        "renderer (old snapshots are kept)",
    )
    rerender.add_argument(
        "--all", action="store_true", help="re-render every version, not only outdated ones"
    )
    rerender.add_argument("--quiet", action="store_true", help="no progress bar")
    rerender.set_defaults(handler=cmd_rerender)
