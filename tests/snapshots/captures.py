"""Test captures built from real platform responses (tests/fixtures/, see SOURCES.md there).

The normalised `CollectedPost` is built here by hand from the recorded JSON, so these tests do
not depend on the collectors; the source JSON embedded in the PDF is the recorded response.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from app.collectors.base import Author, CollectedPost, EmbeddedPost, LinkCard, MediaRef, Reply
from app.snapshots.schemas import MediaFile, SnapshotView

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

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
