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
from app.snapshots.version import RENDERER_VERSION
from app.storage import fixity
from app.storage.service import store_from_settings
from app.timestamps import service as timestamps

RERENDER_BATCH = 20


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Re-hash every stored object and verify every timestamp token; exit 1 naming each
    object missing or changed and each token that fails."""
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
            try:
                stamped, token_problems, pending = timestamps.verify_tokens(
                    session, store=store, settings=settings
                )
            except timestamps.TimestampError as exc:
                sys.stderr.write(f"postvault: {exc}\n")
                return 2
    finally:
        database.dispose()
    for token_problem in token_problems:
        _out(
            f"TIMESTAMP {token_problem.object_kind} object {token_problem.object_sha256}: "
            f"{token_problem.problem}"
        )
    if pending:
        _out(f"{pending} objects have a timestamp pending (the TSA has not answered yet)")
    if token_problems:
        sys.stderr.write(
            f"postvault: {len(token_problems)} of {stamped} timestamp tokens failed to verify\n"
        )
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
    if token_problems:
        return 1
    anchored = (
        "signature and chain up to POSTVAULT_TSA_CA_FILE"
        if settings.tsa_ca_file
        else "signature by the certificate each carries; POSTVAULT_TSA_CA_FILE unset, no chain"
    )
    _out(
        f"all {report.checked} stored objects verified intact; {stamped} timestamp tokens "
        f"verified ({anchored})"
    )
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
            elif args.missing_glyphs:
                ids = service.versions_missing_glyphs(session)
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
                        settings=settings,
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
        "verify",
        help="re-hash every stored object and verify every timestamp token; exit 1 if any "
        "object is missing or changed or any token fails",
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
    which = rerender.add_mutually_exclusive_group()
    which.add_argument(
        "--all", action="store_true", help="re-render every version, not only outdated ones"
    )
    which.add_argument(
        "--missing-glyphs",
        action="store_true",
        help="re-render versions whose snapshot could not draw some characters (after "
        "installing fonts: scripts/install-fonts)",
    )
    rerender.add_argument("--quiet", action="store_true", help="no progress bar")
    rerender.set_defaults(handler=cmd_rerender)
