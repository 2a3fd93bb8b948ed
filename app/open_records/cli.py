"""`postvault requests package ID`: make a request's response package from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.audit.service import Actor
from app.config import Settings
from app.migrate import migrated_database
from app.open_records import package as package_service
from app.open_records.models import PackageStatus, RecordsRequest, ResponsePackage
from app.storage.service import store_from_settings


def _package(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    database = migrated_database(settings)
    store = store_from_settings(settings)
    actor = Actor.system("cli")
    try:
        with database.session() as session:
            request = session.get(RecordsRequest, args.request_id)
            if request is None:
                sys.stderr.write(f"postvault: no request {args.request_id}\n")
                return 2
            number = request.number
            package = ResponsePackage(
                request_id=request.id,
                status=PackageStatus.queued,
                progress=0,
                total=0,
                created_by_id=request.created_by_id,
            )
            session.add(package)
            session.flush()
            package_id = package.id
        with tqdm(unit="item", desc=f"request {number}", disable=None) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            result = package_service.run_package(
                database, store, package_id=package_id, actor=actor, progress=progress
            )
        if result.status != PackageStatus.done or result.sha256 is None:
            sys.stderr.write(f"postvault: package {package_id} failed: {result.error}\n")
            return 1
        data = store.get(result.sha256)
        out: Path = args.output or Path(f"request-{number}.zip")
        out.write_bytes(data)
        sys.stdout.write(
            f"package {package_id}: {out} ({len(data)} bytes, SHA-256 {result.sha256})\n"
        )
        return 0
    finally:
        database.dispose()


def register(sub: Any) -> None:
    requests = sub.add_parser("requests", help="open-records requests").add_subparsers(
        dest="requests_command", required=True
    )
    package = requests.add_parser(
        "package", help="make the response package (BagIt ZIP) with a progress bar"
    )
    package.add_argument("request_id", type=int)
    package.add_argument(
        "--output", type=Path, help="where to write the ZIP (default request-<number>.zip)"
    )
    package.set_defaults(handler=_package)
