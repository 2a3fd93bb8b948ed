"""`postvault classify`: run the rules again over the archive (after a configuration change)."""

from __future__ import annotations

import argparse
import sys
from typing import Never

from tqdm import tqdm

from app.audit.service import Actor
from app.classification.config import CONFIG_FILE_NAME, load_classifier_config
from app.classification.reclassify import reclassify_all, versions_to_classify
from app.classification.service import classify_version
from app.config import Settings
from app.migrate import migrated_database


def _advance(bar: tqdm[Never], n: int) -> None:
    bar.update(n)


def cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    config = load_classifier_config(settings.schedules_dir / CONFIG_FILE_NAME)
    actor = Actor.system("cli")
    db = migrated_database(settings)
    try:
        with db.session() as session:
            if args.version is not None:
                row = classify_version(session, version_id=args.version, config=config, actor=actor)
                sys.stdout.write(f"version {args.version}: {row.label} ({row.rule_id})\n")
                for reason in row.reasons:
                    sys.stdout.write(f"  - {reason}\n")
                return 0
            total = versions_to_classify(session)
            with tqdm(
                total=total, unit="version", desc="classifying", file=sys.stderr, disable=args.quiet
            ) as bar:
                summary = reclassify_all(
                    session, config=config, actor=actor, progress=lambda n: _advance(bar, n)
                )
    finally:
        db.dispose()
    sys.stdout.write(f"configuration {config.config_hash[:12]}\n")
    for line in summary.lines():
        sys.stdout.write(line + "\n")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "classify",
        help="classify captured versions as record or secondary copy",
        description="Run the classification rules again (officers' overrides are never undone).",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every captured version")
    which.add_argument("--version", type=int, help="one captured version, by id")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=cmd_classify)
