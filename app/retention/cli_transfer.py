"""`postvault transfer propose|export|receipt` and `postvault disposition review|decide`."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import sys
import tempfile
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record, record_refusal
from app.auth.models import User
from app.config import Settings
from app.errors import AuditedRefusal, DomainError
from app.migrate import migrated_database
from app.retention import disposition, review, transfer
from app.retention.calendar import local_today
from app.retention.models import ReviewOutcome
from app.retention.run_lease import run_batch_leased
from app.storage.service import store_from_settings


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def _today(args: argparse.Namespace, settings: Settings) -> dt.date:
    if getattr(args, "today", None):
        return dt.date.fromisoformat(args.today)
    return local_today(settings.retention_timezone)


def write_atomically(path: Path, data: bytes, *, sha256: str) -> None:
    """Write to a temporary file beside `path`, fsync, check its hash, then rename into place:
    a crash leaves the old file or the whole new one, never a part."""
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if hashlib.sha256(Path(tmp).read_bytes()).hexdigest() != sha256:
            raise OSError(f"{tmp} does not read back as {sha256}")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _officer(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.is_active:
        raise DomainError(f"no active user {email}")
    return user


def cmd_transfer_propose(args: argparse.Namespace, settings: Settings) -> int:
    db = migrated_database(settings)
    try:
        with db.session() as session:
            batch = transfer.propose_transfer_batch(
                session, actor=Actor.system("cli"), today=_today(args, settings)
            )
            if batch is None:
                _out("nothing is due for transfer: no batch proposed")
                return 0
            items = disposition.batch_items(session, batch.id)
            _out(f"proposed transfer batch {batch.id} with {len(items)} post(s):")
            for item in items:
                _out(f"  post {item.post_id}  {item.series_code}  due {item.due_on}")
            _out("a records officer approves it; `postvault disposition run` builds the package")
    finally:
        db.dispose()
    return 0


def cmd_transfer_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write a transfer batch's package to a file (hash checked), audited."""
    db = migrated_database(settings)
    store = store_from_settings(settings)
    try:
        with db.session() as session:
            try:
                data = transfer.package_bytes(session, batch_id=args.batch, store=store)
            except DomainError as exc:
                _err(f"postvault: {exc.message}")
                return 2
            batch = disposition.get_batch(session, args.batch)
            assert batch.package_sha256 is not None
            out = Path(args.out)
            write_atomically(out, data, sha256=batch.package_sha256)
            record(
                session,
                actor=Actor.system("cli"),
                action="transfer.package_exported",
                object_type="disposition_batch",
                object_id=batch.id,
                details={"size": len(data), "package_sha256": batch.package_sha256},
            )
            _out(f"wrote {out} ({len(data)} bytes), SHA-256 {batch.package_sha256}")
            _out("send it to the archives; record their receipt with `postvault transfer receipt`")
    finally:
        db.dispose()
    return 0


def cmd_transfer_receipt(args: argparse.Namespace, settings: Settings) -> int:
    """Record the archives' receipt, then dispose of the local copies."""
    db = migrated_database(settings)
    store = store_from_settings(settings)
    try:
        try:
            with db.session() as session:
                officer = _officer(session, args.officer)
                actor = Actor.of(officer)
                transfer.record_receipt(
                    session,
                    batch_id=args.batch,
                    officer=officer,
                    reference=args.reference,
                    received_on=dt.date.fromisoformat(args.received_on),
                    received_by=args.received_by,
                    package_sha256=args.sha256.strip().lower(),
                    notes=args.notes,
                    timezone=settings.retention_timezone,
                )
        except DomainError as exc:
            _err(f"postvault: {exc.message}")
            return 2
        _out(f"receipt {args.reference} recorded for transfer batch {args.batch}")
        result = run_batch_leased(
            db,
            batch_id=args.batch,
            store=store,
            actor=actor,
            today=_today(args, settings),
            timezone=settings.retention_timezone,
            lease_seconds=settings.job_lease_seconds,
        )
        _out(
            f"batch {args.batch} {result.status}: local copies of {len(result.destroyed)} "
            f"post(s) destroyed {result.destroyed}; skipped {len(result.skipped)}"
        )
        for post_id, reason in sorted(result.skipped.items()):
            _out(f"  skipped post {post_id}: {reason}")
        if result.certificate_sha256:
            _out(f"  certificate: {result.certificate_sha256}")
        if result.error:
            _err(f"postvault: the run failed: {result.error}")
            return 1
    finally:
        db.dispose()
    return 0


def cmd_review_list(args: argparse.Namespace, settings: Settings) -> int:
    db = migrated_database(settings)
    try:
        with db.session() as session:
            lines = review.review_list(
                session, today=_today(args, settings), include_decided=args.all
            )
    finally:
        db.dispose()
    _out(f"{len(lines)} post(s) of a review series due (nothing is destroyed by a review list)")
    for line in lines:
        held = f"  HELD by {', '.join(line.held_by)}" if line.held_by else ""
        decided = (
            f"  {line.decision} ({line.decision_reason})"
            + (f" until {line.retain_until}" if line.retain_until else "")
            if line.decision
            else ""
        )
        _out(
            f"{line.state:<20} post {line.post_id}  {line.series_code}  due {line.due_on}"
            f"{decided}{held}"
        )
    return 0


def cmd_review_decide(args: argparse.Namespace, settings: Settings) -> int:
    db = migrated_database(settings)
    try:
        with db.session() as session:
            try:
                decision = review.decide(
                    session,
                    post_id=args.post,
                    officer=_officer(session, args.officer),
                    outcome=ReviewOutcome(args.outcome),
                    reason=args.reason,
                    retain_until=(
                        dt.date.fromisoformat(args.retain_until) if args.retain_until else None
                    ),
                    today=_today(args, settings),
                )
            except AuditedRefusal as refusal:
                session.rollback()
                record_refusal(session, refusal)  # the refused attempt stays in the log
                session.commit()
                _err(f"postvault: {refusal.message}")
                return 2
            except DomainError as exc:
                _err(f"postvault: {exc.message}")
                return 2
            _out(
                f"post {args.post}: {decision.outcome}"
                + (f" until {decision.retain_until}" if decision.retain_until else "")
            )
    finally:
        db.dispose()
    return 0


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    disposition_commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    parser = sub.add_parser("transfer", help="transfer records to the state archives")
    commands = parser.add_subparsers(dest="transfer_command", required=True)
    propose = commands.add_parser("propose", help="propose a transfer batch of what is due")
    propose.add_argument("--today", help=argparse.SUPPRESS)
    propose.set_defaults(handler=cmd_transfer_propose)
    export = commands.add_parser("export", help="write a batch's BagIt package to a file")
    export.add_argument("batch", type=int)
    export.add_argument("--out", required=True, help="file to write (replaced atomically)")
    export.set_defaults(handler=cmd_transfer_export)
    receipt = commands.add_parser(
        "receipt", help="record the archives' receipt, then dispose of the local copies"
    )
    receipt.add_argument("batch", type=int)
    receipt.add_argument("--reference", required=True, help="the archives' receipt number")
    receipt.add_argument("--received-on", required=True, help="YYYY-MM-DD")
    receipt.add_argument("--received-by", required=True, help="who at the archives confirmed")
    receipt.add_argument("--sha256", required=True, help="SHA-256 of what the archives received")
    receipt.add_argument("--officer", required=True, help="email of the records officer")
    receipt.add_argument("--notes")
    receipt.add_argument("--today", help=argparse.SUPPRESS)
    receipt.set_defaults(handler=cmd_transfer_receipt)

    listing = disposition_commands.add_parser(
        "review", help="list posts of a review series that wait for a decision"
    )
    listing.add_argument("--all", action="store_true", help="also list decided posts")
    listing.add_argument("--today", help=argparse.SUPPRESS)
    listing.set_defaults(handler=cmd_review_list)
    decide = disposition_commands.add_parser(
        "decide", help="decide a review: retain longer, or approve destruction"
    )
    decide.add_argument("post", type=int)
    decide.add_argument("--outcome", required=True, choices=[o.value for o in ReviewOutcome])
    decide.add_argument("--reason", required=True)
    decide.add_argument("--retain-until", help="YYYY-MM-DD (with --outcome retain)")
    decide.add_argument("--officer", required=True, help="email of the records officer")
    decide.add_argument("--today", help=argparse.SUPPRESS)
    decide.set_defaults(handler=cmd_review_decide)
