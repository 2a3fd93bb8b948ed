"""A schedule whose series end in transfer, review and destruction, and posts in each, for
the transfer and review tests."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import weasyprint
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.auth.models import User
from app.db import Database
from app.posts.models import FlaggedPost, VersionMedia
from app.retention.assignment import assign_retention
from app.retention.schedules import ScheduleSet, load_schedules
from app.snapshots.models import Snapshot
from app.storage.local import LocalStore
from app.storage.service import put_object
from app.timestamps.models import TimestampStatus, TimestampToken
from tests.factories import TZ, make_account, make_post, make_user

TODAY = dt.date(2026, 11, 25)
WACZ = (
    Path(__file__).resolve().parents[1] / "fixtures" / "webarchive" / "pywacz_valid_example_1.wacz"
)

TOKEN = b"0\x82 an RFC 3161 TimeStampResp stands here"

SCHEDULE = """\
kind: retention_schedule
id: test-transfer
title: Test schedule with transfer and review
jurisdiction: City of Example, Wisconsin
version: "2026.7"
approval:
  body: Wisconsin Public Records Board
  reference: RDA TEST-1
  approved_on: 2026-01-15
  expires_on: 2036-01-15
authority: [Wis. Stat. 19.21(4)(b)]
series:
  - code: T-HIST-01
    title: Posts of enduring value
    description: Transferred to the Wisconsin Historical Society.
    applies_to: record
    default: true
    retention: CR+7Y
    disposition: transfer_to_archives
    whs_notice: not_applicable
    authority: [Wis. Stat. 19.21(4)(b)]
  - code: T-REV-02
    title: Secondary copies, appraised before destruction
    description: Reviewed by the records officer.
    applies_to: secondary_copy
    retention: CR+1Y
    disposition: review
    whs_notice: not_applicable
    authority: [Wis. Stat. 19.21(4)(b)]
  - code: T-TR-03
    title: Transitory posts
    description: Destroyed.
    applies_to: transitory
    retention: CR+90D
    disposition: destroy
    whs_notice: not_applicable
    authority: [Wis. Stat. 19.21(4)(b)]
"""


def transfer_schedules(folder: Path) -> ScheduleSet:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test-transfer.yaml").write_text(SCHEDULE, encoding="utf-8")
    return load_schedules(folder, today=TODAY)


def real_pdf(text: str) -> bytes:
    pdf: bytes = weasyprint.HTML(string=f"<p>{text}</p>").write_pdf()
    return pdf


@dataclass
class TWorld:
    officer_id: int
    admin_id: int
    posts: dict[str, int]


def assign_all(session: Session, posts: list[FlaggedPost], schedules: ScheduleSet) -> None:
    for post in posts:
        assign_retention(
            session, post_id=post.id, actor=Actor.system("tests"), schedules=schedules, timezone=TZ
        )


def build_transfer_world(db: Database, store: LocalStore, schedules: ScheduleSet) -> TWorld:
    """t1: a record due for transfer with a real PDF snapshot, media and a WACZ; t2: a record
    due for transfer but under litigation hold; t3: another record due for transfer; r1, r2:
    secondary copies due for review; x: a transitory post due for destruction."""
    from app.retention.holds import place_hold

    with db.session() as session:
        officer: User = make_user(session, "records_officer")
        admin: User = make_user(session, "admin")
        account = make_account(session, make_user(session))
        t1 = make_post(
            session,
            account=account,
            label="record",
            store=store,
            texts=["Council adopts the 2016 budget", "Council adopts the 2016 budget (amended)"],
            media=[b"\x89PNG photo of the council"],
        )
        version = t1.versions[0]
        pdf = put_object(
            session,
            store,
            real_pdf("Council adopts the budget"),
            mime_type="application/pdf",
            kind="snapshot",
        )
        session.add(
            Snapshot(version_id=version.id, sha256=pdf.sha256, size=pdf.size, renderer_version="t")
        )
        token = put_object(
            session, store, TOKEN, mime_type="application/timestamp-reply", kind="timestamp"
        )
        session.add(
            TimestampToken(
                object_sha256=pdf.sha256,
                object_kind="snapshot",
                status=TimestampStatus.stamped,
                tsa_url="http://127.0.0.1:9/tsa",
                token_sha256=token.sha256,
                serial_number="42",
            )
        )
        wacz = put_object(
            session, store, WACZ.read_bytes(), mime_type="application/wacz", kind="media"
        )
        session.add(
            VersionMedia(version_id=version.id, position=9, sha256=wacz.sha256, role="wacz")
        )
        session.flush()
        t2 = make_post(session, account=account, label="record", store=store, media=[b"t2 media"])
        t3 = make_post(session, account=account, label="record", store=store, media=[b"t3 media"])
        r1 = make_post(session, account=account, label="secondary_copy", store=store)
        r2 = make_post(session, account=account, label="secondary_copy", store=store)
        x = make_post(session, account=account, label="transitory", store=store)
        posts = [t1, t2, t3, r1, r2, x]
        assign_all(session, posts, schedules)
        place_hold(
            session,
            officer=officer,
            kind="litigation",
            reason="Doe v. City",
            authority="2026CV12",
            post_ids=[t2.id],
        )
        names = dict(zip(["t1", "t2", "t3", "r1", "r2", "x"], [p.id for p in posts], strict=True))
        return TWorld(officer.id, admin.id, names)


def unzip(data: bytes, into: Path) -> Path:
    """Extract a bag ZIP and return the bag's folder."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(into)
        root = {n.split("/", 1)[0] for n in archive.namelist()}
    assert len(root) == 1
    return into / root.pop()
