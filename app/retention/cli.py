"""`postvault schedules check` and `postvault disposition propose|run|report`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from app.audit.service import Actor
from app.config import Settings
from app.migrate import migrated_database
from app.retention import cli_transfer, disposition, report
from app.retention.calendar import local_today
from app.retention.request_files import (
    RequestFilesPolicy,
    request_file_report,
    request_files_policy,
)
from app.retention.run_lease import run_batch_leased
from app.retention.schedules import ScheduleError, load_schedules
from app.storage.service import store_from_settings


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def cmd_schedules_check(args: argparse.Namespace, settings: Settings) -> int:
    folder = Path(args.dir) if args.dir else settings.schedules_dir
    try:
        schedules = load_schedules(folder)
    except ScheduleError as exc:
        for line in exc.errors:
            _err(f"error: {line}")
        _err(f"postvault: {len(exc.errors)} problem(s) in {folder}")
        return 1
    for schedule in schedules.schedules:
        _out(f"{schedule.path.name}: {schedule.id} version {schedule.version}")
        for series in schedule.series:
            _out(
                f"  {series.code} ({series.applies_to}{', default' if series.default else ''}): "
                f"{series.retention} then {series.disposition}; WHS notice {series.whs_notice}"
            )
    for notice in schedules.approval_notices(local_today(settings.retention_timezone)):
        _err(f"warning: {notice.message}")
    for schedule in schedules.examples:
        _err(
            f"warning: {schedule.path.name} is an EXAMPLE schedule: adopt or replace it before "
            "relying on it"
        )
    _out(f"{len(schedules.schedules)} schedule(s), {len(schedules.all_series)} series: valid")
    return 0


def _today(args: argparse.Namespace, settings: Settings) -> dt.date:
    if getattr(args, "today", None):
        return dt.date.fromisoformat(args.today)
    return local_today(settings.retention_timezone)


def _request_files(settings: Settings) -> tuple[RequestFilesPolicy | None, str | None]:
    try:
        schedules = load_schedules(settings.schedules_dir)
    except ScheduleError as exc:
        return None, f"the schedules are invalid ({exc}): request files are kept"
    return request_files_policy(
        schedules, settings.request_files_series, timezone=settings.retention_timezone
    )


def cmd_disposition_propose(args: argparse.Namespace, settings: Settings) -> int:
    db = migrated_database(settings)
    policy, problem = _request_files(settings)
    if problem:
        _err(f"warning: {problem}")
    try:
        with db.session() as session:
            batch = disposition.propose_batch(
                session,
                actor=Actor.system("cli"),
                today=_today(args, settings),
                request_files=policy,
            )
            if batch is None:
                _out("nothing is due: no batch proposed")
                return 0
            items = disposition.batch_items(session, batch.id)
            requests = disposition.request_items(session, batch.id)
            _out(
                f"proposed disposition batch {batch.id} with {len(items)} post(s) and the "
                f"files of {len(requests)} request(s):"
            )
            for item in items:
                _out(f"  post {item.post_id}  {item.series_code}  due {item.due_on}")
            for request_item in requests:
                _out(
                    f"  request {request_item.request_id} files  {request_item.series_code}  "
                    f"due {request_item.due_on}"
                )
    finally:
        db.dispose()
    return 0


def cmd_disposition_run(args: argparse.Namespace, settings: Settings) -> int:
    db = migrated_database(settings)
    today = _today(args, settings)
    try:
        if args.batch is not None:
            batch_ids = [args.batch]
        else:
            with db.session() as session:
                batch_ids = disposition.runnable_batch_ids(session, today=today)
        if not batch_ids:
            _out("no approved batch can run today")
        store = store_from_settings(settings)
        for batch_id in batch_ids:
            result = run_batch_leased(
                db,
                batch_id=batch_id,
                store=store,
                actor=Actor.system("cli"),
                today=today,
                timezone=settings.retention_timezone,
                lease_seconds=settings.job_lease_seconds,
            )
            _out(
                f"batch {batch_id} {result.status}: destroyed {len(result.destroyed)} post(s) "
                f"{result.destroyed}; skipped {len(result.skipped)}"
            )
            for post_id, reason in sorted(result.skipped.items()):
                _out(f"  skipped post {post_id}: {reason}")
            if result.certificate_sha256:
                _out(f"  certificate of destruction: {result.certificate_sha256}")
    finally:
        db.dispose()
    return 0


def cmd_disposition_report(args: argparse.Namespace, settings: Settings) -> int:
    db = migrated_database(settings)
    today = _today(args, settings)
    until = dt.date.fromisoformat(args.until) if args.until else None
    policy, problem = _request_files(settings)
    try:
        with db.session() as session:
            lines = report.disposition_report(session, today=today, until=until)
            request_lines = request_file_report(
                session, policy, today=today, horizon=until or today
            )
    finally:
        db.dispose()
    doomed = [line for line in lines if line.would_destroy]
    _out(
        f"as of {today}: {len(doomed)} post(s) would be destroyed by {until or today} "
        "(nothing is changed by this report)"
    )
    for line in lines:
        mark = "DESTROY" if line.would_destroy else "keep   "
        _out(f"{mark} post {line.post_id}  {line.series_code}  {line.state}  {line.url}")
    if problem:
        _out(f"warning: {problem}")
    for rline in request_lines:
        mark = "DESTROY" if rline.would_destroy else "keep   "
        _out(f"{mark} request {rline.number} files  {rline.series_code or '-'}  {rline.state}")
        for flag in rline.flagged:
            _out(f"  FLAG request {rline.number}: {flag}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schedules = sub.add_parser("schedules", help="retention schedules").add_subparsers(
        dest="schedules_command", required=True
    )
    check = schedules.add_parser(
        "check", help="validate the schedule files; exits non-zero on any error"
    )
    check.add_argument("dir", nargs="?", help="folder to check (default POSTVAULT_SCHEDULES_DIR)")
    check.set_defaults(handler=cmd_schedules_check)

    disposition = sub.add_parser("disposition", help="propose, run and report destruction")
    commands = disposition.add_subparsers(dest="disposition_command", required=True)
    propose = commands.add_parser("propose", help="propose a batch of posts past due, unheld")
    propose.add_argument("--today", help=argparse.SUPPRESS)
    propose.set_defaults(handler=cmd_disposition_propose)
    run = commands.add_parser("run", help="run approved batches (or resume a stopped one)")
    run.add_argument("batch", nargs="?", type=int, help="batch id (default: every runnable one)")
    run.add_argument("--today", help=argparse.SUPPRESS)
    run.set_defaults(handler=cmd_disposition_run)
    report = commands.add_parser("report", help="print what would be destroyed and when")
    report.add_argument("--until", help="also count posts falling due by this date (YYYY-MM-DD)")
    report.add_argument("--today", help=argparse.SUPPRESS)
    report.set_defaults(handler=cmd_disposition_report)
    cli_transfer.register(sub, commands)
