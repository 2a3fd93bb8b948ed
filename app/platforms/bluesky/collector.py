"""Bluesky (AT Protocol): the authoritative record from the author's PDS, context from the
AppView.

`target.external_id` is `at://<handle or DID>/<collection>/<rkey>`, the collection being
`app.bsky.feed.post` (or `app.bsky.feed.repost`, when someone flags the at:// URI of a
repost record). Requests:

1. `com.atproto.identity.resolveHandle` on the resolver, unless the URI names a DID or the
   account's DID is known (`target.account_platform_id`): handles change, DIDs do not.
2. The DID document: `GET {plc}/{did}` for did:plc, `https://<host>/.well-known/did.json`
   for did:web. Its `#atproto_pds` service is the author's PDS.
3. `com.atproto.repo.getRecord` on that PDS: the record itself, whose `cid` is the version
   (an edit with putRecord gives a new cid). Media are named by
   `com.atproto.sync.getBlob?did=&cid=` URLs on the same PDS.
4. `app.bsky.feed.getPostThread` on the AppView: replies (records received), the author's
   display name and avatar, and the quoted post. The AppView is an index, not the source:
   when it cannot be reached the record is still captured, with `replies_captured=False`
   and the reason in `extra["appview_error"]`. For a repost, `app.bsky.feed.getPosts`
   gives the reposted post instead.

What a missing record means is asked of the PDS, not guessed: getRecord answers
`400 RecordNotFound` for a deleted post, but for a deactivated, taken-down or deleted
account it answers `400 "Could not find repo"` or (with no AppView behind the PDS)
`502 UpstreamFailure`, and `com.atproto.sync.getRepoStatus` then says `active: false`
with a status, or `400 RepoNotFound` once the account is deleted. A handle that no longer
resolves (`400 HandleNotFound`) also means the account is gone, or renamed before its DID
was ever recorded. These are outcomes (Deleted, AccountGone), never exceptions.

Replies' images are named by the AppView's image URLs (resolving every replier's PDS would
cost two requests per replier); the flagged post's own media come from its PDS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NoReturn
from urllib.parse import urlencode

import httpx

from app.platforms.bluesky.atproto import (
    _COLLECTIONS,
    _DID,
    REPOST_COLLECTION,
    AtUri,
    Identity,
    _body,
    _dict,
    _error_text,
    _IdentityCache,
    _int,
    _list,
    _str,
    _text,
    did_document_url,
    handle_from_document,
    parse_at_uri,
    pds_endpoint,
)
from app.platforms.bluesky.text import rich_text
from app.platforms.bluesky.urls import PLATFORM_ID
from app.platforms.bluesky.views import (
    _author_from_view,
    _bare_embedded,
    _embedded_from_view,
    _first,
    _walk_replies,
)
from app.platforms.collected import (
    AccountGone,
    Author,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    EmbeddedPost,
    LinkCard,
    MediaRef,
    Reply,
    TransientFailure,
)
from app.platforms.common import Abort, error_message, parse_time
from app.platforms.fetcher import Fetcher, FetchingCollector
from app.platforms.http import FetchRefused, ResponseTooLarge, describe_url
from app.platforms.ratelimit import (
    HostPaused,
    RequestStats,
    TransientHTTPError,
)

# getRepoStatus statuses that mean the account's posts are not available any more; the
# others (throttled, desynchronized) are passing states of a live account.
_GONE_STATUSES = {"deactivated", "takendown", "suspended", "deleted"}
# What the AppView may fail with while the record itself was captured.
_APPVIEW_FAILURES = (
    HostPaused,
    TransientHTTPError,
    FetchRefused,
    ResponseTooLarge,
    httpx.HTTPError,
)


class BlueskyCollector(FetchingCollector):
    platform = PLATFORM_ID
    version = f"{PLATFORM_ID}/1"

    def __init__(
        self,
        *,
        resolver_url: str,
        plc_url: str,
        appview_url: str,
        fetcher: Fetcher | None = None,
        thread_depth: int = 10,
        identity_ttl_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(fetcher)
        self.resolver_url = resolver_url.rstrip("/")
        self.plc_url = plc_url.rstrip("/")
        self.appview_url = appview_url.rstrip("/")
        self.thread_depth = thread_depth
        self._identities = _IdentityCache(identity_ttl_seconds, clock)

    def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult:
        return self.fetcher.run(client, lambda http: self._collect(target, client, http.stats))

    # --- requests ---------------------------------------------------------------------

    def _get(
        self,
        client: httpx.Client,
        url: str,
        stats: RequestStats,
        source: dict[str, Any],
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """GET with the shared limiter and retries; every answer is kept in `source` under
        the request that produced it."""
        key = f"GET {url}" + (f"?{urlencode(params)}" if params else "")
        try:
            response = self.fetcher.session(client, stats).get(
                url, headers={"Accept": "application/json"}, params=params
            )
        except (HostPaused, TransientHTTPError) as exc:
            source[key] = {"error": str(exc)}
            raise
        source[key] = {"status": response.status_code, "body": _body(response)}
        return response

    def _xrpc(self, base: str, nsid: str) -> str:
        return f"{base}/xrpc/{nsid}"

    # --- identity ---------------------------------------------------------------------

    def _resolve_handle(
        self, client: httpx.Client, handle: str, stats: RequestStats, source: dict[str, Any]
    ) -> str:
        response = self._get(
            client,
            self._xrpc(self.resolver_url, "com.atproto.identity.resolveHandle"),
            stats,
            source,
            {"handle": handle},
        )
        body = _body(response)
        if response.status_code == 200 and isinstance(body, dict):
            did = _str(body.get("did"))
            if did is not None and _DID.match(did):
                return did
            raise Abort(TransientFailure(error=f"resolveHandle for {handle} gave no usable DID"))
        if response.status_code == 400:
            self._gone(
                f"the handle {handle} no longer resolves to an account "
                f"({_error_text(body) or 'HTTP 400'}): the account was deactivated or deleted, "
                "or its handle changed before PostVault recorded its DID",
                source,
            )
        raise Abort(
            TransientFailure(
                error=f"resolveHandle for {handle} answered HTTP {response.status_code}: "
                f"{_error_text(body)}"
            )
        )

    def _gone(self, reason: str, source: dict[str, Any]) -> NoReturn:
        raise Abort(AccountGone(reason=reason, source=dict(source)))

    def _identity(
        self,
        client: httpx.Client,
        target: CaptureTarget,
        uri: AtUri,
        stats: RequestStats,
        source: dict[str, Any],
        *,
        fresh: bool,
    ) -> Identity:
        handle: str | None = None
        if uri.authority.startswith("did:"):
            did = uri.authority
        elif target.account_platform_id and _DID.match(target.account_platform_id):
            did = target.account_platform_id
        else:
            handle = uri.authority
            cached_did = None if fresh else self._identities.did(handle)
            did = cached_did or self._resolve_handle(client, handle, stats, source)
        if not fresh:
            cached = self._identities.identity(did)
            if cached is not None:
                return Identity(cached.did, cached.pds, cached.handle, cached=True)
        try:
            document_url = did_document_url(did, self.plc_url)
        except ValueError as exc:
            raise Abort(TransientFailure(error=str(exc))) from exc
        response = self._get(client, document_url, stats, source)
        body = _body(response)
        if response.status_code in (404, 410):
            self._gone(
                f"the DID {did} has no DID document any more (HTTP {response.status_code} "
                f"from {describe_url(document_url)}): the identity was deleted or tombstoned",
                source,
            )
        if response.status_code != 200:
            raise Abort(
                TransientFailure(
                    error=f"the DID document of {did} answered HTTP {response.status_code}"
                )
            )
        pds = pds_endpoint(body)
        if pds is None:
            self._gone(
                f"the DID document of {did} names no #atproto_pds service: the account has "
                "no PDS hosting it",
                source,
            )
        identity = Identity(did, pds, handle_from_document(body))
        self._identities.remember(identity, handle)
        return identity

    # --- the capture ------------------------------------------------------------------

    def _collect(
        self, target: CaptureTarget, client: httpx.Client, stats: RequestStats
    ) -> CollectResult:
        try:
            uri = parse_at_uri(target.external_id)
        except ValueError as exc:
            return TransientFailure(error=str(exc))
        if uri.collection not in _COLLECTIONS:
            return TransientFailure(
                error=f"{target.external_id} is a {uri.collection} record; PostVault captures "
                f"{' and '.join(_COLLECTIONS)} records"
            )
        source: dict[str, Any] = {}
        identity = self._identity(client, target, uri, stats, source, fresh=False)
        answer = self._try_get_record(client, identity, uri, stats, source)
        if identity.cached and not (isinstance(answer, httpx.Response) and answer.is_success):
            # The cached PDS may be stale (the account moved): resolve again, once.
            handle = None if uri.authority.startswith("did:") else uri.authority
            self._identities.forget(identity.did, handle)
            identity = self._identity(client, target, uri, stats, source, fresh=True)
            answer = self._try_get_record(client, identity, uri, stats, source)
        if isinstance(answer, TransientHTTPError):
            # A PDS answers 502 for an account it no longer serves when it has no AppView
            # to forward the request to; the repository status tells that apart.
            gone = self._repo_gone(client, identity, stats, source)
            if gone is not None:
                return gone
            raise answer
        response = answer
        if response.status_code != 200:
            return self._record_missing(client, identity, uri, response, stats, source)
        body = _body(response)
        if not isinstance(body, dict) or not isinstance(body.get("value"), dict):
            return TransientFailure(
                error=f"getRecord for {uri.with_authority(identity.did)} gave no record value"
            )
        if uri.collection == REPOST_COLLECTION:
            return self._repost(client, target, identity, uri, body, stats, source)
        return self._post(client, target, identity, uri, body, stats, source)

    def _try_get_record(
        self,
        client: httpx.Client,
        identity: Identity,
        uri: AtUri,
        stats: RequestStats,
        source: dict[str, Any],
    ) -> httpx.Response | TransientHTTPError:
        try:
            return self._get(
                client,
                self._xrpc(identity.pds, "com.atproto.repo.getRecord"),
                stats,
                source,
                {"repo": identity.did, "collection": uri.collection, "rkey": uri.rkey},
            )
        except TransientHTTPError as exc:
            return exc

    def _repo_gone(
        self,
        client: httpx.Client,
        identity: Identity,
        stats: RequestStats,
        source: dict[str, Any],
    ) -> AccountGone | None:
        """Ask the PDS whether the account itself is gone; None when it is active or the
        question cannot be answered now."""
        try:
            response = self._get(
                client,
                self._xrpc(identity.pds, "com.atproto.sync.getRepoStatus"),
                stats,
                source,
                {"did": identity.did},
            )
        except (HostPaused, TransientHTTPError):
            return None
        body = _body(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("active") is False:
            status = _str(body.get("status")) or "inactive"
            if status not in _GONE_STATUSES:
                return None
            return AccountGone(
                reason=f"the account {identity.did} is {status} on its PDS "
                f"(com.atproto.sync.getRepoStatus: active=false, status={status})",
                source=dict(source),
            )
        if response.status_code in (400, 404) and (
            error_message(body) == "RepoNotFound"
            or "could not find repo" in _error_text(body).lower()
        ):
            return AccountGone(
                reason=f"the account {identity.did} was deleted: its PDS has no repository "
                f"for it any more ({_error_text(body)})",
                source=dict(source),
            )
        return None

    def _record_missing(
        self,
        client: httpx.Client,
        identity: Identity,
        uri: AtUri,
        response: httpx.Response,
        stats: RequestStats,
        source: dict[str, Any],
    ) -> CollectResult:
        body = _body(response)
        # The account's state decides first: a deleted account's records briefly answer
        # RecordNotFound too, and "the post was deleted" would then be the wrong reason.
        gone = self._repo_gone(client, identity, stats, source)
        if gone is not None:
            return gone
        error = error_message(body)
        text = _error_text(body)
        if response.status_code == 400 and error == "RecordNotFound":
            return Deleted(
                reason=f"the PDS has no record {uri.with_authority(identity.did)} any more "
                f"(RecordNotFound): the post was deleted",
                source=dict(source),
            )
        if response.status_code == 400 and (
            error in ("RepoNotFound", "RepoDeactivated", "RepoTakendown", "RepoSuspended")
            or "could not find repo" in text.lower()
        ):
            return AccountGone(
                reason=f"the PDS does not serve the account {identity.did} any more ({text})",
                source=dict(source),
            )
        return TransientFailure(
            error=f"getRecord for {uri.with_authority(identity.did)} answered HTTP "
            f"{response.status_code}: {text}"
        )

    # --- records to the normalised form ----------------------------------------------

    def _blob_url(self, identity: Identity, blob: Any) -> str | None:
        blob = _dict(blob)
        cid = _str(_dict(blob.get("ref")).get("$link")) or _str(blob.get("cid"))  # legacy blobs
        if cid is None:
            return None
        query = urlencode({"did": identity.did, "cid": cid})
        return f"{self._xrpc(identity.pds, 'com.atproto.sync.getBlob')}?{query}"

    def _record_media(
        self, identity: Identity, embed: dict[str, Any]
    ) -> tuple[list[MediaRef], LinkCard | None]:
        """Media and link card named by a record's own embed (blobs on the author's PDS)."""
        kind = embed.get("$type")
        if kind == "app.bsky.embed.recordWithMedia":
            return self._record_media(identity, _dict(embed.get("media")))
        media: list[MediaRef] = []
        if kind == "app.bsky.embed.images":
            for image in _list(embed.get("images")):
                image = _dict(image)
                blob = _dict(image.get("image"))
                url = self._blob_url(identity, blob)
                if url is None:
                    continue
                ratio = _dict(image.get("aspectRatio"))
                media.append(
                    MediaRef(
                        url=url,
                        role="image",
                        mime_type=_str(blob.get("mimeType")),
                        alt_text=_str(image.get("alt")),
                        width=_int(ratio.get("width")),
                        height=_int(ratio.get("height")),
                    )
                )
            return media, None
        if kind == "app.bsky.embed.video":
            blob = _dict(embed.get("video"))
            url = self._blob_url(identity, blob)
            if url is not None:
                ratio = _dict(embed.get("aspectRatio"))
                media.append(
                    MediaRef(
                        url=url,
                        role="video",
                        mime_type=_str(blob.get("mimeType")),
                        alt_text=_str(embed.get("alt")),
                        width=_int(ratio.get("width")),
                        height=_int(ratio.get("height")),
                    )
                )
            return media, None
        if kind == "app.bsky.embed.external":
            external = _dict(embed.get("external"))
            link = _str(external.get("uri"))
            if link is None:
                return media, None
            thumb_blob = _dict(external.get("thumb"))
            thumb_url = self._blob_url(identity, thumb_blob) if thumb_blob else None
            card = LinkCard(
                url=link,
                title=_str(external.get("title")),
                description=_str(external.get("description")),
                thumb=MediaRef(
                    url=thumb_url, role="link_thumb", mime_type=_str(thumb_blob.get("mimeType"))
                )
                if thumb_url
                else None,
            )
            return media, card
        return media, None

    def _post(
        self,
        client: httpx.Client,
        target: CaptureTarget,
        identity: Identity,
        uri: AtUri,
        record_body: dict[str, Any],
        stats: RequestStats,
        source: dict[str, Any],
    ) -> CollectedPost:
        value: dict[str, Any] = record_body["value"]
        at_uri = _str(record_body.get("uri")) or uri.with_authority(identity.did)
        text = _text(value.get("text"))
        rich = rich_text(text, value.get("facets"))
        embed = _dict(value.get("embed"))
        media, link_card = self._record_media(identity, embed)
        extra: dict[str, Any] = {"did": identity.did, "pds": identity.pds, "rkey": uri.rkey}
        langs = [lang for lang in _list(value.get("langs")) if isinstance(lang, str)]
        if langs:
            extra["langs"] = langs
        if rich.mentions:
            extra["mentions"] = rich.mentions
        self_labels = [
            label.get("val")
            for label in _list(_dict(value.get("labels")).get("values"))
            if isinstance(label, dict)
        ]
        if self_labels:
            extra["self_labels"] = self_labels

        thread, appview_error = self._thread(client, at_uri, stats, source)
        replies: list[Reply] = []
        thread_post: dict[str, Any] = {}
        if thread is not None:
            thread_post = _dict(thread.get("post"))
            skipped: list[str] = []
            _walk_replies(_list(thread.get("replies")), None, replies, skipped)
            replies.sort(key=lambda reply: (reply.created_at is None, reply.created_at, reply.id))
            if skipped:
                extra["replies_not_shown"] = skipped
        else:
            extra["appview_error"] = appview_error

        quote_of = self._quote(embed, thread_post)
        if quote_of is not None and quote_of[1]:
            extra["quote_state"] = quote_of[1]
        author = self._author(target, identity, _dict(thread_post.get("author")))
        reply_to = _str(_dict(_dict(value.get("reply")).get("parent")).get("uri"))
        return CollectedPost(
            platform=self.platform,
            post_id=uri.with_authority(identity.did),
            url=target.url,
            author=author,
            text=text,
            html=rich.html,
            language=langs[0] if langs else None,
            created_at=parse_time(value.get("createdAt")),
            platform_version_id=_str(record_body.get("cid")),
            visibility="public",
            media=media,
            link_card=link_card,
            reply_to=reply_to,
            quote_of=quote_of[0] if quote_of is not None else None,
            links=rich.links,
            hashtags=rich.hashtags,
            replies=replies,
            replies_captured=thread is not None,
            extra=extra,
            source=source,
        )

    def _repost(
        self,
        client: httpx.Client,
        target: CaptureTarget,
        identity: Identity,
        uri: AtUri,
        record_body: dict[str, Any],
        stats: RequestStats,
        source: dict[str, Any],
    ) -> CollectedPost:
        value: dict[str, Any] = record_body["value"]
        subject_uri = _str(_dict(value.get("subject")).get("uri")) or ""
        extra: dict[str, Any] = {"did": identity.did, "pds": identity.pds, "rkey": uri.rkey}
        subject: dict[str, Any] | None = None
        try:
            response = self._get(
                client,
                self._xrpc(self.appview_url, "app.bsky.feed.getPosts"),
                stats,
                source,
                {"uris": subject_uri},
            )
            posts = _list(_dict(_body(response)).get("posts"))
            if response.status_code == 200 and posts and isinstance(posts[0], dict):
                subject = posts[0]
            elif response.status_code == 200:
                extra["repost_state"] = "the reposted post is not found (deleted or hidden)"
            else:
                extra["appview_error"] = f"getPosts answered HTTP {response.status_code}"
        except _APPVIEW_FAILURES as exc:
            extra["appview_error"] = str(exc)
        repost_of = (
            _embedded_from_view(subject, subject.get("record"), subject.get("embed"))
            if subject is not None
            else _bare_embedded(subject_uri)
        )
        return CollectedPost(
            platform=self.platform,
            post_id=uri.with_authority(identity.did),
            url=target.url,
            author=self._author(target, identity, {}),
            created_at=parse_time(value.get("createdAt")),
            platform_version_id=_str(record_body.get("cid")),
            visibility="public",
            repost_of=repost_of,
            extra=extra,
            source=source,
        )

    def _thread(
        self, client: httpx.Client, at_uri: str, stats: RequestStats, source: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, str]:
        """The AppView's thread view of the post, or None and why it is missing."""
        try:
            response = self._get(
                client,
                self._xrpc(self.appview_url, "app.bsky.feed.getPostThread"),
                stats,
                source,
                {"uri": at_uri, "depth": str(self.thread_depth), "parentHeight": "0"},
            )
        except _APPVIEW_FAILURES as exc:
            return None, f"the AppView could not be reached: {exc}"
        body = _body(response)
        thread = _dict(_dict(body).get("thread"))
        if response.status_code == 200 and isinstance(thread.get("post"), dict):
            return thread, ""
        if response.status_code == 200:
            return None, f"the AppView shows the thread as {thread.get('$type') or 'unknown'}"
        return None, (
            f"the AppView answered HTTP {response.status_code} ({_error_text(body)}); it may "
            "not have indexed the post yet"
        )

    def _author(self, target: CaptureTarget, identity: Identity, view: dict[str, Any]) -> Author:
        if view.get("did") == identity.did:
            return _author_from_view(view)
        handle = identity.handle or target.account_handle
        return Author(
            handle=handle,
            platform_id=identity.did,
            profile_url=f"https://bsky.app/profile/{handle}",
        )

    def _quote(
        self, embed: dict[str, Any], thread_post: dict[str, Any]
    ) -> tuple[EmbeddedPost, str] | None:
        """The quoted post: the AppView's view of it when there is one, else its URI."""
        kind = embed.get("$type")
        if kind == "app.bsky.embed.record":
            quoted_uri = _str(_dict(embed.get("record")).get("uri"))
        elif kind == "app.bsky.embed.recordWithMedia":
            quoted_uri = _str(_dict(_dict(embed.get("record")).get("record")).get("uri"))
        else:
            return None
        if quoted_uri is None:
            return None
        view = _dict(thread_post.get("embed"))
        if view.get("$type") == "app.bsky.embed.recordWithMedia#view":
            view = _dict(view.get("record"))
        quoted = _dict(view.get("record"))
        quoted_kind = quoted.get("$type")
        if quoted_kind == "app.bsky.embed.record#viewRecord" and quoted.get("uri") == quoted_uri:
            return _embedded_from_view(
                quoted, quoted.get("value"), _first(quoted.get("embeds"))
            ), ""
        if quoted_kind == "app.bsky.embed.record#viewNotFound":
            state = "the quoted post is not found (deleted)"
        elif quoted_kind == "app.bsky.embed.record#viewBlocked":
            state = "the quoted post is hidden by a block"
        elif quoted_kind == "app.bsky.embed.record#viewDetached":
            state = "the quoted post's author detached it from this quote"
        elif not thread_post:
            state = "the quoted post's context was not captured (AppView unavailable)"
        else:
            state = f"the AppView shows the quoted record as {quoted_kind or 'nothing'}"
        return _bare_embedded(quoted_uri), state
