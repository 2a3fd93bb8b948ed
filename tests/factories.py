"""Test data, made in one place: users, accounts, posts and their versions as rows; captures
built from real platform responses; and the small archive the disposition tests share."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.audit.service import Actor
from app.auth import service as auth_service
from app.auth.models import User
from app.classification.models import Classification
from app.db import Database, utcnow
from app.platforms.collected import Author, CollectedPost, EmbeddedPost, LinkCard, MediaRef, Reply
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus, VersionMedia
from app.retention.assignment import assign_retention
from app.retention.holds import place_hold
from app.retention.schedules import ScheduleSet, load_schedules
from app.snapshots.models import Snapshot
from app.snapshots.schemas import MediaFile, SnapshotView
from app.storage.base import ArchiveStore
from app.storage.local import LocalStore
from app.storage.service import put_object
from tests.conftest import Person

# --- Rows for retention: inserted directly, files written through a real LocalStore -----------


PROJECT_SCHEDULES = Path(__file__).resolve().parents[1] / "retention_schedules"
TZ = "America/Chicago"
_counter = itertools.count(1)


def utc(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


def schedules() -> ScheduleSet:
    return load_schedules(PROJECT_SCHEDULES, today=dt.date(2026, 11, 25))


def make_user(session: Session, role: str = "employee") -> User:
    n = next(_counter)
    return auth_service.create_user(
        session,
        email=f"{role}{n}@city.example",
        name=f"{role.title()} {n}",
        role=role,
        actor=Actor.system("tests"),
    )


def make_account(session: Session, owner: User, platform: str = "bluesky") -> SocialAccount:
    n = next(_counter)
    account = SocialAccount(
        owner_id=owner.id,
        platform=platform,
        handle=f"user{n}.example",
        profile_url=f"https://example.test/user{n}",
    )
    session.add(account)
    session.flush()
    return account


def make_post(
    session: Session,
    *,
    account: SocialAccount,
    created: dt.datetime | None = None,
    texts: Sequence[str] = ("Pool hours change on Monday",),
    removed_at: dt.datetime | None = None,
    store: ArchiveStore | None = None,
    media: Sequence[bytes] = (),
    snapshots: bool = True,
    label: str | None = None,
    flagged_at: dt.datetime | None = None,
    store_source: bool = False,
) -> FlaggedPost:
    """A captured post with one version per text; media and a PDF snapshot per version go
    through the store when one is given."""
    n = next(_counter)
    created = created or utc(2015, 3, 1, 12)
    post = FlaggedPost(
        account_id=account.id,
        flagged_by_id=account.owner_id,
        url=f"https://bsky.app/profile/{account.handle}/post/p{n}",
        platform=account.platform,
        external_id=f"post-{n}",
        status=PostStatus.captured if removed_at is None else PostStatus.removed,
        flagged_at=flagged_at or created + dt.timedelta(hours=1),
        first_captured_at=created + dt.timedelta(hours=2),
        removed_at=removed_at,
    )
    session.add(post)
    session.flush()
    for number, text in enumerate(texts, start=1):
        source = json.dumps({"text": text, "n": n, "v": number}, sort_keys=True)
        version = CapturedVersion(
            post_id=post.id,
            number=number,
            captured_at=created + dt.timedelta(hours=2, minutes=number),
            content_hash=hashlib.sha256(f"{n}:{number}:{text}".encode()).hexdigest(),
            source_sha256=hashlib.sha256(source.encode()).hexdigest(),
            source_json=source,
            normalized={"text": text},
            text=text,
            author_handle=account.handle,
            platform_created_at=created,
            collector="test",
            collector_version="1",
        )
        session.add(version)
        session.flush()
        if store is not None and store_source:
            put_object(session, store, source.encode(), mime_type="application/json", kind="source")
        if store is not None:
            for position, data in enumerate(media):
                obj = put_object(session, store, data, mime_type="image/png", kind="media")
                session.add(
                    VersionMedia(version_id=version.id, position=position, sha256=obj.sha256)
                )
            if snapshots:
                pdf = b"%PDF-1.7 snapshot of " + version.content_hash.encode()
                obj = put_object(session, store, pdf, mime_type="application/pdf", kind="snapshot")
                session.add(
                    Snapshot(
                        version_id=version.id,
                        sha256=obj.sha256,
                        size=obj.size,
                        renderer_version="test",
                    )
                )
        if label is not None:
            session.add(
                Classification(
                    version_id=version.id,
                    label=label,
                    rule_id="test",
                    reasons=["test"],
                    classifier_version="1",
                    config_hash="0" * 64,
                )
            )
        session.flush()
    return post


def assign(session: Session, post: FlaggedPost) -> None:
    assign_retention(
        session, post_id=post.id, actor=Actor.system("tests"), schedules=schedules(), timezone=TZ
    )


def object_keys_of(session: Session, post_id: int) -> set[str]:
    from sqlalchemy import select

    from app.storage.models import StoredObject

    versions = select(CapturedVersion.id).where(CapturedVersion.post_id == post_id)
    sources = select(CapturedVersion.source_sha256).where(CapturedVersion.post_id == post_id)
    return (
        set(session.scalars(select(Snapshot.sha256).where(Snapshot.version_id.in_(versions))))
        | set(
            session.scalars(
                select(VersionMedia.sha256).where(VersionMedia.version_id.in_(versions))
            )
        )
        | set(session.scalars(select(StoredObject.sha256).where(StoredObject.sha256.in_(sources))))
    )


# --- A small archive of posts in every retention situation, for the disposition tests ---------


TODAY = dt.date(2026, 11, 25)
SHARED_MEDIA = b"\x89PNG shared between a and c"


@dataclass
class World:
    officer_id: int
    posts: dict[str, int]

    def name_of(self, post_id: int) -> str:
        return {v: k for k, v in self.posts.items()}[post_id]


def build_world(db: Database, store: LocalStore) -> World:
    """a, b: transitory and due; c: a record still online (never due) sharing a's media;
    d: due but under litigation hold; e: transitory not due yet; f: a removed record due
    since 2022, whose series needs Historical Society notice."""
    with db.session() as session:
        officer: User = make_user(session, "records_officer")
        account = make_account(session, make_user(session))
        posts = {
            "a": make_post(
                session,
                account=account,
                label="transitory",
                store=store,
                media=[SHARED_MEDIA, b"media only a"],
                texts=["Happy Friday", "Happy Friday!"],
                store_source=True,
            ),
            "b": make_post(
                session, account=account, label="transitory", store=store, media=[b"media b"]
            ),
            "c": make_post(
                session, account=account, label="record", store=store, media=[SHARED_MEDIA]
            ),
            "d": make_post(
                session, account=account, label="transitory", store=store, media=[b"media d"]
            ),
            "e": make_post(
                session,
                account=account,
                label="transitory",
                store=store,
                created=utc(2026, 11, 1, 12),
                media=[b"media e"],
            ),
            "f": make_post(
                session,
                account=account,
                label="record",
                store=store,
                removed_at=utc(2016, 6, 1),
                media=[b"media f"],
            ),
        }
        for post in posts.values():
            assign(session, post)
        place_hold(
            session,
            officer=officer,
            kind="litigation",
            reason="Doe v. City",
            authority="2026CV12",
            post_ids=[posts["d"].id],
        )
        return World(officer.id, {k: p.id for k, p in posts.items()})


# --- Real-shaped captures put into the database the way the capture pipeline stores them ------


def account_for(session: Session, *, owner: User, platform: str, handle: str) -> SocialAccount:
    found = session.scalar(
        select(SocialAccount).where(
            SocialAccount.platform == platform, SocialAccount.handle == handle
        )
    )
    if found is not None:
        return found
    account = SocialAccount(
        owner_id=owner.id,
        platform=platform,
        handle=handle,
        profile_url=f"https://{platform}/{handle}",
    )
    session.add(account)
    session.flush()
    return account


def add_capture(
    session: Session,
    *,
    owner: User,
    post: CollectedPost,
    handle: str | None = None,
    external_id: str | None = None,
    flagged: FlaggedPost | None = None,
) -> CapturedVersion:
    """A new version of `flagged` (or of a new flagged post) holding `post`."""
    if flagged is None:
        account = account_for(
            session, owner=owner, platform=post.platform, handle=handle or post.author.handle
        )
        flagged = FlaggedPost(
            account_id=account.id,
            flagged_by_id=owner.id,
            url=post.url,
            platform=post.platform,
            external_id=external_id or post.post_id,
            status=PostStatus.captured,
        )
        session.add(flagged)
        session.flush()
    normalized = post.model_dump(mode="json")
    canonical = json.dumps(normalized, sort_keys=True, separators=(",", ":"))
    number = 1 + len(
        session.scalars(
            select(CapturedVersion.id).where(CapturedVersion.post_id == flagged.id)
        ).all()
    )
    version = CapturedVersion(
        post_id=flagged.id,
        number=number,
        captured_at=utcnow(),
        content_hash=hashlib.sha256(canonical.encode()).hexdigest(),
        source_sha256=hashlib.sha256(b"{}").hexdigest(),
        source_json="{}",
        normalized=normalized,
        text=post.text,
        author_handle=post.author.handle,
        collector=post.platform,
        collector_version="test",
    )
    session.add(version)
    session.flush()
    return version


# --- Captures built from real platform responses (tests/fixtures/, see SOURCES.md there) ------
# The normalised `CollectedPost` is built here by hand from the recorded JSON, so these tests do
# not depend on the collectors; the source JSON embedded in the PDF is the recorded response.


FIXTURES = Path(__file__).resolve().parent / "fixtures"

ARABIC = "مرحبا بكم في اجتماع المجلس"
CHINESE = "市议会会议今晚举行"
PAHAWH_HMONG = "\U00016b00\U00016b01\U00016b02\U00016b03"  # Pahawh Hmong letters
RPA_HMONG = "Nyob zoo, peb lub nroog"  # Hmong in the Latin (RPA) script
EMOJI = "\U0001f389"  # party popper


def load(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / path).read_text(encoding="utf-8"))
    return data


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def photo(kind: str = "jpeg", size: tuple[int, int] = (1600, 1200), seed: int = 0) -> bytes:
    """A deterministic picture with detail (gradients and shapes), as JPEG or PNG."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(0, height, 4):
        shade = (y * 255) // height
        draw.rectangle((0, y, width, y + 3), fill=(shade, (shade + 80 + seed) % 256, 255 - shade))
    for i in range(40):
        x = (i * 97 + seed * 13) % width
        y = (i * 61 + seed * 7) % height
        draw.ellipse((x, y, x + 120, y + 90), outline=(255, 255, 255), width=5)
    out = io.BytesIO()
    if kind == "png":
        image.save(out, format="PNG")
    else:
        image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _dt(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def bluesky_capture(
    *, image_kind: str = "png", reply_count: int = 5
) -> tuple[CollectedPost, list[MediaFile]]:
    """The recorded Bluesky post with an image, with its quote and replies in many scripts."""
    with_image = load("bluesky/getPostThread_with_image.json")
    reply_thread = load("bluesky/getPostThread_reply.json")
    quote_thread = load("bluesky/getPostThread_quote.json")
    view = with_image["body"]["thread"]["post"]
    record = view["record"]
    author = Author(
        handle=view["author"]["handle"],
        display_name="Mayor of Example City",
        platform_id=view["author"]["did"],
        profile_url=f"https://bsky.app/profile/{view['author']['handle']}",
        avatar_url="https://cdn.bsky.app/img/avatar/plain/mayor.jpg",
    )
    picture = photo(image_kind)
    avatar = photo("jpeg", (200, 200), seed=3)
    image_url = view["embed"]["images"][0]["fullsize"]
    rkey = view["uri"].rsplit("/", 1)[1]
    post_url = f"https://bsky.app/profile/{author.handle}/post/{rkey}"
    reply_view = reply_thread["body"]["thread"]["post"]
    texts = [
        reply_view["record"]["text"],
        f"{ARABIC} — {CHINESE}",
        f"{RPA_HMONG} {PAHAWH_HMONG}",
        f"Thank you! {EMOJI} See https://example.gov/detour for the map",
        "Is the 12 bus affected?",
        "Replying to the question above: yes, route 12 moves to Oak St.",
        "Another question about parking",
        "Late reply",
    ]
    replies = []
    for i in range(reply_count):
        replies.append(
            Reply(
                id=f"at://did:plc:reply{i}/app.bsky.feed.post/3n343cpwrnk{i}p",
                url=f"https://bsky.app/profile/citizen{i}.test/post/3n343cpwrnk{i}p",
                author=Author(
                    handle=reply_view["author"]["handle"] if i == 0 else f"citizen{i}.test",
                    display_name=f"Resident {i}",
                    platform_id=reply_view["author"]["did"] if i == 0 else f"did:plc:reply{i}",
                ),
                text=texts[i % len(texts)],
                created_at=_dt(reply_view["record"]["createdAt"]) + dt.timedelta(minutes=i),
                in_reply_to_id=(
                    "at://did:plc:reply4/app.bsky.feed.post/3n343cpwrnk4p" if i == 5 else None
                ),
            )
        )
    quoted = quote_thread["body"]["thread"]["post"]["embed"]["record"]
    post = CollectedPost(
        platform="bluesky",
        post_id=view["uri"],
        url=post_url,
        author=author,
        text=f"{record['text']} https://example.gov/notice",
        created_at=_dt(record["createdAt"]),
        platform_version_id=view["cid"],
        language="en",
        media=[
            MediaRef(
                url=image_url,
                role="image",
                mime_type=f"image/{image_kind}",
                alt_text=view["embed"]["images"][0]["alt"],
                sha256=sha(picture),
                size=len(picture),
            )
        ],
        link_card=LinkCard(
            url="https://example.gov/notice",
            title="Main Street closure notice",
            description="Weekend closure between 1st and 5th Avenue.",
        ),
        quote_of=EmbeddedPost(
            url=f"https://bsky.app/profile/{quoted['author']['handle']}/post/3n343cptuus2p",
            uri=quoted["uri"],
            author=Author(handle=quoted["author"]["handle"], platform_id=quoted["author"]["did"]),
            text=quoted["value"]["text"],
            created_at=_dt(quoted["value"]["createdAt"]),
        ),
        links=["https://example.gov/notice"],
        replies=replies,
        source={
            "getPostThread": with_image["body"],
            "getPostThread#reply": reply_thread["body"],
            "getPostThread#quote": quote_thread["body"],
        },
    )
    media = [
        MediaFile(
            sha256=sha(picture),
            mime_type=f"image/{image_kind}",
            data=picture,
            role="image",
            alt_text="detour map",
            source_url=image_url,
            owner="post",
        ),
        MediaFile(
            sha256=sha(avatar),
            mime_type="image/jpeg",
            data=avatar,
            role="avatar",
            source_url=author.avatar_url,
            owner="avatar",
        ),
    ]
    return post, media


def mastodon_capture(*, hostile_host: str = "127.0.0.1:9") -> tuple[CollectedPost, list[MediaFile]]:
    """The recorded Mastodon status with media, its HTML made hostile (scripts, remote images)."""
    status = load("mastodon/status_with_media.json")["body"]
    attachment = status["media_attachments"][0]
    picture = photo("jpeg", (600, 600), seed=5)
    html = (
        status["content"]
        + f'<p>See <a href="https://example.gov/a" onclick="steal()">the notice</a>'
        f'<img src="http://{hostile_host}/tracker.png">'
        f"<script>document.write('bad')</script>"
        f'<iframe src="http://{hostile_host}/frame"></iframe>'
        f'<span style="background:url(http://{hostile_host}/bg.png)">styled</span></p>'
    )
    account = status["account"]
    post = CollectedPost(
        platform="mastodon",
        post_id=f"localhost:3000/{status['id']}",
        url=status["url"],
        author=Author(
            handle=account["acct"],
            display_name=account["display_name"],
            platform_id=account["id"],
            profile_url=account["url"],
            avatar_url=account["avatar"],
        ),
        text="Status with media See the notice styled",
        html=html,
        created_at=_dt(status["created_at"]),
        visibility=status["visibility"],
        language=status["language"],
        media=[
            MediaRef(
                url=attachment["url"],
                role="image",
                mime_type="image/jpeg",
                sha256=sha(picture),
                size=len(picture),
                width=600,
                height=600,
            )
        ],
        link_card=LinkCard(
            url="https://example.gov/a",
            title="Notice",
            thumb=MediaRef(url=f"http://{hostile_host}/card.jpg", role="link_thumb"),
        ),
        replies=[
            Reply(
                id="117020606035900001",
                author=Author(handle="neighbour@example.social", display_name="Neighbour"),
                text="Thanks",
                html='<p>Thanks <img src="http://' + hostile_host + '/r.png"></p>',
                created_at=_dt(status["created_at"]) + dt.timedelta(minutes=3),
            )
        ],
        source={"GET /api/v1/statuses/117020606035908211": status},
    )
    media = [
        MediaFile(
            sha256=sha(picture),
            mime_type="image/jpeg",
            data=picture,
            role="image",
            source_url=attachment["url"],
            owner="post",
        )
    ]
    return post, media


def make_view(
    post: CollectedPost,
    media: list[MediaFile],
    *,
    version_number: int = 1,
    version_count: int = 1,
    **extra: Any,
) -> SnapshotView:
    source = canonical_json(post.source)
    fields: dict[str, Any] = {
        "post": post,
        "platform": post.platform,
        "post_url": post.url,
        "post_id": post.post_id,
        "version_number": version_number,
        "version_count": version_count,
        "captured_at": dt.datetime(2026, 1, 15, 17, 5, 0, tzinfo=dt.UTC),
        "collector": post.platform,
        "collector_version": "1.0",
        "source_json": source,
        "source_sha256": sha(source),
        "media": media,
    }
    fields.update(extra)
    return SnapshotView(**fields)


# --- Data made through the API, the way an employee makes it -----------------------------------


BSKY_POST = "https://bsky.app/profile/alice.bsky.social/post/3l6oveex3ii2l"


def register(client: TestClient, who: Person, **body: str) -> dict[str, object]:
    response = client.post("/api/v1/accounts", json=body, headers=who.headers)
    assert response.status_code in (200, 201), response.text
    data: dict[str, object] = response.json()
    return data


def flag(client: TestClient, who: Person, url: str, note: str | None = None) -> dict[str, object]:
    response = client.post("/api/v1/posts", json={"url": url, "note": note}, headers=who.headers)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data
