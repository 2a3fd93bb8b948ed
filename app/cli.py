"""The `postvault` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from app.classification.config import ConfigError
from app.config import Settings, SettingsError, load_settings
from app.errors import DomainError
from app.migrate import migrated_database
from app.observability.logs import configure_logging, uvicorn_log_config
from app.pipeline import check_configuration, install_hooks
from app.retention.schedules import ScheduleError

Handler = Callable[[argparse.Namespace, Settings], int]


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")


def _fail(text: str) -> int:
    sys.stderr.write(f"postvault: {text}\n")
    return 2


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from app.migrate import upgrade_to_head

    upgrade_to_head(settings.database_url)
    _print(f"database is at the newest schema ({settings.database_url.split('@')[-1]})")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.main import create_app
    from app.migrate import upgrade_to_head

    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    if overrides:
        settings = settings.model_copy(update=overrides)
    settings.archive_dir.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(settings.database_url)
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            log_config=uvicorn_log_config(settings.log_format),
            timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds)),
        )
    )
    uvicorn_exit = server.handle_exit

    def handle_exit(sig: int, frame: Any) -> None:
        # The scheduler stops claiming work the moment the signal comes, while uvicorn
        # drains open requests; the shutdown grace counts from here.
        app.state.lifecycle.request_stop()
        uvicorn_exit(sig, frame)

    server.handle_exit = handle_exit  # type: ignore[method-assign]
    server.run()
    return 0


def cmd_worker(_args: argparse.Namespace, settings: Settings) -> int:
    from app.pipeline import build_capture_context
    from app.worker import run_worker

    database = migrated_database(settings)
    context = build_capture_context(database, settings)
    try:
        run_worker(database, settings, context)
    finally:
        context.client.close()
        database.dispose()
    return 0


def _tick(bar: Any) -> None:
    bar.update(1)


def cmd_capture(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from app.collectors.service import count_due, run_due
    from app.db import utcnow
    from app.pipeline import build_capture_context

    if not args.due:
        return _fail("say which posts: --due captures every post whose poll is due")
    database = migrated_database(settings)
    context = build_capture_context(database, settings)
    try:
        total = count_due(database, utcnow())
        with tqdm(total=total, unit="post", desc="capturing", disable=None) as bar:
            summary = run_due(context, on_progress=lambda _report: _tick(bar))
    finally:
        context.client.close()
        database.dispose()
    outcomes = (
        ", ".join(f"{k}: {v}" for k, v in sorted(summary.outcomes.items())) or "nothing was due"
    )
    _print(f"captured {summary.claimed} posts ({outcomes}; {summary.http_requests} HTTP requests)")
    return 1 if summary.outcomes.get("failed") else 0


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    from app.audit.service import Actor
    from app.auth import service

    db = migrated_database(settings)
    try:
        with db.session() as session:
            actor = Actor.system("cli")
            user = service.create_user(
                session, email=args.email, name=args.name, role=args.role, actor=actor
            )
            token = service.issue_token(session, user=user, actor=actor, label="cli")
        _print(f"created {user.role} {user.email} (id {user.id})")
        _print(
            f"to sign in on the web pages, give them a password: "
            f"postvault users set-password {user.email}"
        )
        _print(f"API token (shown once): {token}")
    finally:
        db.dispose()
    return 0


def _read_new_password() -> str:
    """From a terminal: asked twice without echo. From a pipe: the first line."""
    import getpass

    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Same password again: ") != first:
            raise ValueError("the two passwords differ; nothing was changed")
        return first
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


def cmd_users_set_password(args: argparse.Namespace, settings: Settings) -> int:
    from app.audit.service import Actor
    from app.auth import service

    try:
        password = _read_new_password()
    except ValueError as exc:
        return _fail(str(exc))
    except EOFError:
        return _fail("no password given on standard input")
    db = migrated_database(settings)
    try:
        with db.session() as session:
            user = service.get_user_by_email(session, args.email)
            service.set_password(session, user=user, password=password, actor=Actor.system("cli"))
        _print(f"password set for {user.email}; they can sign in on the web pages")
    finally:
        db.dispose()
    return 0


def cmd_users_token(args: argparse.Namespace, settings: Settings) -> int:
    from app.audit.service import Actor
    from app.auth import service

    db = migrated_database(settings)
    try:
        with db.session() as session:
            user = service.get_user_by_email(session, args.email)
            token = service.issue_token(session, user=user, actor=Actor.system("cli"), label="cli")
        _print(f"API token for {user.email} (shown once): {token}")
    finally:
        db.dispose()
    return 0


def cmd_users_deactivate(args: argparse.Namespace, settings: Settings) -> int:
    from app.audit.service import Actor
    from app.auth import service

    db = migrated_database(settings)
    try:
        with db.session() as session:
            user = service.get_user_by_email(session, args.email)
            changed = service.deactivate_user(session, user=user, actor=Actor.system("cli"))
    finally:
        db.dispose()
    if changed:
        _print(f"deactivated {user.email}: their sign-ins and API tokens no longer work")
    else:
        _print(f"{user.email} was already deactivated; nothing was changed")
    return 0


def cmd_users_set_role(args: argparse.Namespace, settings: Settings) -> int:
    from app.audit.service import Actor
    from app.auth import service

    db = migrated_database(settings)
    try:
        with db.session() as session:
            user = service.get_user_by_email(session, args.email)
            changed = service.set_role(
                session, user=user, role=args.role, actor=Actor.system("cli")
            )
    finally:
        db.dispose()
    if changed:
        _print(f"{user.email} is now {args.role}; their web sessions ended")
    else:
        _print(f"{user.email} already has the role {args.role}; nothing was changed")
    return 0


def _when(value: Any) -> str:
    return "never" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def cmd_users_tokens(args: argparse.Namespace, settings: Settings) -> int:
    from app.auth import service

    db = migrated_database(settings)
    try:
        with db.session() as session:
            user = service.get_user_by_email(session, args.email)
            tokens = service.list_tokens(session, user=user)
            rows = [
                (
                    str(t.id),
                    t.label or "-",
                    _when(t.created_at),
                    _when(t.last_used_at),
                    "revoked " + _when(t.revoked_at) if t.revoked_at else "active",
                )
                for t in tokens
            ]
    finally:
        db.dispose()
    if not rows:
        _print(f"{user.email} has no API tokens")
        return 0
    header = ("id", "label", "created", "last used", "state")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        _print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


def cmd_users_revoke_token(args: argparse.Namespace, settings: Settings) -> int:
    from app.audit.service import Actor
    from app.auth import service

    if not 1 <= args.token_id <= 2**31 - 1:
        return _fail(f"{args.token_id} is not a token id; see postvault users tokens EMAIL")
    db = migrated_database(settings)
    try:
        with db.session() as session:
            token = service.get_token(session, args.token_id)
            changed = service.revoke_token(session, token=token, actor=Actor.system("cli"))
    finally:
        db.dispose()
    if changed:
        _print(f"API token {args.token_id} is revoked; it no longer works")
    else:
        _print(f"API token {args.token_id} was already revoked; nothing was changed")
    return 0


def cmd_audit_verify(_args: argparse.Namespace, settings: Settings) -> int:
    from app.anchors.service import verify_anchored
    from app.storage.service import store_from_settings

    db = migrated_database(settings)
    try:
        with db.session() as session:
            report = verify_anchored(
                session, store=store_from_settings(settings), settings=settings
            )
    finally:
        db.dispose()
    if report.ok:
        _print(
            f"audit chain intact: {report.chain.events_checked} events verified, "
            f"{report.anchors_checked} anchor(s) outside the database match"
        )
        return 0
    if not report.chain.ok:
        sys.stderr.write(
            f"postvault: audit chain broken at event {report.first_broken_event_id}: "
            f"{report.problem} ({report.chain.events_checked} events verified before it)\n"
        )
    else:
        sys.stderr.write(
            f"postvault: audit chain does not match anchor {report.anchor_id}: {report.problem} "
            f"({report.anchors_checked - 1} anchor(s) matched before it)\n"
        )
    return 1


def _domain_commands() -> list[Callable[[Any], None]]:
    """Each domain's `register(subparsers)`; its handlers take (args, settings) -> exit code."""
    from app.backup.cli import register as backup_register
    from app.classification import cli as classification_cli
    from app.open_records.cli import register as requests_register
    from app.retention.cli import register as retention_register
    from app.snapshots.cli import register as snapshots_register

    registers: list[Callable[[Any], None]] = [
        classification_cli.register,
        retention_register,
        snapshots_register,
        requests_register,
        backup_register,
    ]
    return registers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="postvault", description="PostVault: public-records archive for social media posts"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API, web pages and scheduler")
    serve.add_argument("--host", help="address to listen on (default POSTVAULT_HOST)")
    serve.add_argument("--port", type=int, help="port to listen on (default POSTVAULT_PORT)")
    serve.set_defaults(handler=cmd_serve)

    worker = sub.add_parser("worker", help="run the scheduler alone (several may share PostgreSQL)")
    worker.set_defaults(handler=cmd_worker)

    capture = sub.add_parser("capture", help="run one capture pass now, with a progress bar")
    capture.add_argument("--due", action="store_true", help="capture every post whose poll is due")
    capture.set_defaults(handler=cmd_capture)

    migrate = sub.add_parser("migrate", help="upgrade the database to the newest schema")
    migrate.set_defaults(handler=cmd_migrate)

    users = sub.add_parser("users", help="manage users").add_subparsers(
        dest="users_command", required=True
    )
    create = users.add_parser("create", help="create a user and print a first API token")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument(
        "--role", default="employee", choices=["employee", "records_officer", "admin"]
    )
    create.set_defaults(handler=cmd_users_create)
    token = users.add_parser("token", help="issue another API token for a user")
    token.add_argument("email")
    token.set_defaults(handler=cmd_users_token)
    set_password = users.add_parser(
        "set-password",
        help="set a user's web sign-in password, read from standard input "
        "(asked twice without echo on a terminal; the first line of a pipe)",
    )
    set_password.add_argument("email")
    set_password.set_defaults(handler=cmd_users_set_password)
    deactivate = users.add_parser(
        "deactivate", help="stop a user signing in or using any API token (audited)"
    )
    deactivate.add_argument("email")
    deactivate.set_defaults(handler=cmd_users_deactivate)
    set_role = users.add_parser("set-role", help="give a user another role (ends their sessions)")
    set_role.add_argument("email")
    set_role.add_argument("role", choices=["employee", "records_officer", "admin"])
    set_role.set_defaults(handler=cmd_users_set_role)
    tokens = users.add_parser("tokens", help="list a user's API tokens with their last use")
    tokens.add_argument("email")
    tokens.set_defaults(handler=cmd_users_tokens)
    revoke = users.add_parser("revoke-token", help="revoke an API token by its id (audited)")
    revoke.add_argument("token_id", type=int, help="the id shown by `postvault users tokens`")
    revoke.set_defaults(handler=cmd_users_revoke_token)

    # Each domain adds its own commands beside its code (app/<domain>/cli.py: register()).
    for register in _domain_commands():
        register(sub)

    audit = sub.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True
    )
    verify = audit.add_parser(
        "verify",
        help="walk the hash chain, check it against its anchors outside the database, name the first problem",
    )
    verify.set_defaults(handler=cmd_audit_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _fail(str(exc))
    configure_logging(settings.log_format)
    handler: Handler = args.handler
    try:
        from app.crypto import install_secrets_key

        try:
            install_secrets_key(settings)
        except ValueError as exc:
            return _fail(str(exc))
        if args.command != "schedules":
            # A bad schedule or classifier file stops every command but the checker itself.
            check_configuration(settings)
            install_hooks(settings)
        return handler(args, settings)
    except (ScheduleError, ConfigError) as exc:
        return _fail(str(exc))
    except DomainError as exc:
        return _fail(exc.message)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
