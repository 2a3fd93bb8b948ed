"""A loopback podcast host serving the recorded feeds (tests/fixtures/podcast/) with their
hosts rewritten to itself, the episode pages, the artwork and the audio file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.collectors.servers import FIXTURES, Answer, LoopbackServer, Request, tiny_jpeg

PODIGEE = (FIXTURES / "podcast" / "rss_parser_podigee_itunes_episode.rss").read_text("utf-8")
TAVERNCAST = (FIXTURES / "podcast" / "rss_parser_taverncast_itunes.rss").read_text("utf-8")
FEED_PATH = "/feed/mp3"
EPISODE_PATH = "/t1-trailer"
AUDIO_PATH = "/cdn/media/podcast_16544_baywatch_berlin_episode_1_trailer.mp3"
TRAILER_NOTES = "Baywatch Berlin startet am 22. November. Mit Klaas Heufer-Umlauf und den anderen."


def tiny_mp3(frames: int = 200) -> bytes:
    """MPEG-1 layer III frames (128 kbit/s, 44.1 kHz): 417 bytes each, silent."""
    frame = b"\xff\xfb\x90\x64" + bytes(413)
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + frame * frames


@dataclass
class PodcastHost:
    """`feed` is the recorded document as served (edit it to change the show); `script`
    answers a path once per listed Answer before the normal answer."""

    feed: str = ""
    audio: bytes = field(default_factory=tiny_mp3)
    pages: dict[str, int] = field(default_factory=dict)
    script: dict[str, list[Answer]] = field(default_factory=dict)
    server: LoopbackServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = LoopbackServer(self.app)

    def __enter__(self) -> PodcastHost:
        self.server.start()
        self.feed = self.rewrite(PODIGEE)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def base(self) -> str:
        return self.server.base_url

    @property
    def feed_url(self) -> str:
        return f"{self.base}{FEED_PATH}"

    @property
    def episode_url(self) -> str:
        return f"{self.base}{EPISODE_PATH}"

    def rewrite(self, recorded: str) -> str:
        """The recorded feed with every host it names served here instead."""
        text = recorded.replace("https://images.podigee-cdn.net", f"{self.base}/img")
        text = text.replace("https://cdn.podigee.com", f"{self.base}/cdn")
        text = text.replace("https://baywatch-berlin.podigee.io", self.base)
        text = re.sub(r"http://(www\.)?taverncast\.com", self.base, text)
        return text.replace(
            "http://www.podtrac.com/pts/redirect.mp3?", f"{self.base}/cdn/redirect?"
        )

    # --- named edits of the recording ---------------------------------------------------------

    def edit_notes(self, new: str) -> None:
        self.feed = self.feed.replace(TRAILER_NOTES, new)

    def add_season(self, season: int) -> None:
        self.feed = self.feed.replace(
            "<itunes:episode>1</itunes:episode>",
            f"<itunes:episode>1</itunes:episode>\n      <itunes:season>{season}</itunes:season>",
        )

    def remove_episode(self) -> None:
        """The trailer taken out of the feed, another episode in its place (the show goes on)."""
        self.feed = self.feed.replace("cc973b648d6fb41e4e5ef7e4b4ee7604", "next-episode-guid")
        self.feed = self.feed.replace(EPISODE_PATH, "/t2-next-episode")

    def empty(self) -> None:
        self.feed = re.sub(r"<item>.*</item>", "", self.feed, flags=re.S)

    def truncate(self) -> None:
        self.feed = self.feed[: self.feed.index("<enclosure")]

    # --- serving ----------------------------------------------------------------------------

    def app(self, request: Request) -> Answer:
        scripted = self.script.get(request.route)
        if scripted:
            return scripted.pop(0)
        status = self.pages.get(request.route)
        if status is not None and status != 200:
            return Answer(status, [("Content-Type", "text/html")], b"gone")
        if request.route == FEED_PATH:
            return Answer(
                200, [("Content-Type", "application/rss+xml; charset=utf-8")], self.feed.encode()
            )
        if request.route.startswith("/cdn/media/") or request.route == "/cdn/redirect":
            return Answer(200, [("Content-Type", "audio/mpeg")], self.audio)
        if request.route.startswith("/img/") or request.route.endswith(".png"):
            return Answer(200, [("Content-Type", "image/jpeg")], tiny_jpeg())
        return Answer(200, [("Content-Type", "text/html")], b"<html><body>episode</body></html>")
