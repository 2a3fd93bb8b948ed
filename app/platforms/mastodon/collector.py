"""Mastodon: a status, its edit history, its replies.

`target.external_id` is "<instance host[:port]>/<status id>". Requests (API v1):
- GET /api/v1/statuses/:id — the status (with `Authorization: Bearer` when the account has
  a token);
- GET /api/v1/statuses/:id/history — only when `edited_at` differs from the last capture:
  Mastodon serves its own edit history, oldest first, the last entry being the current text;
- GET /api/v1/statuses/:id/context — replies (`descendants`; ancestors are not captured);
- on a 404, GET /api/v1/accounts/:id (or /accounts/lookup?acct=) to tell a suspended or
  deleted account apart from a deleted status.

Mastodon answers 404 both for a deleted status and for one made private or followers-only, and
also for every status of a suspended account, so a 404 says exactly that; a suspended account
is reported as AccountGone when the account endpoint says so (`"suspended": true`, or 410/404).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

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
    NotVisible,
    Reply,
    TransientFailure,
)
from app.platforms.common import Abort, error_message, json_body, parse_time
from app.platforms.fetcher import FetchingCollector
from app.platforms.htmltext import summarise_html
from app.platforms.mastodon.urls import PLATFORM_ID
from app.platforms.ratelimit import (
    HostPaused,
    RequestStats,
    TransientHTTPError,
)

_STATUS_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
_INSTANCE = re.compile(r"^[a-z0-9.-]{1,253}(:\d{1,5})?$")
_MEDIA_ROLES = {"image": "image", "video": "video", "gifv": "gifv", "audio": "audio"}


def split_external_id(external_id: str) -> tuple[str, str]:
    """("mastodon.social", "1170...") from "mastodon.social/1170...", or ValueError."""
    instance, _, status_id = external_id.strip().rpartition("/")
    instance = instance.lower()
    if not _INSTANCE.match(instance) or not _STATUS_ID.match(status_id):
        raise ValueError(
            f"'{external_id}' is not a Mastodon post id of the form <instance>/<status id>"
        )
    return instance, status_id


def _author(account: Any, instance: str) -> Author:
    acct = str(account.get("acct") or account.get("username") or "")
    handle = acct if "@" in acct else f"{acct}@{instance.split(':')[0]}"
    return Author(
        handle=handle,
        display_name=account.get("display_name") or None,
        platform_id=str(account["id"]) if account.get("id") is not None else None,
        profile_url=account.get("url"),
        avatar_url=account.get("avatar"),
    )


def _media(attachments: Any) -> list[MediaRef]:
    refs: list[MediaRef] = []
    for item in attachments or []:
        # `url` is the instance's copy of the original file; `remote_url` is where a remote
        # instance had it, used only when this instance has no copy.
        url = item.get("url") or item.get("remote_url")
        if not url:
            continue
        original = (item.get("meta") or {}).get("original") or {}
        refs.append(
            MediaRef(
                url=url,
                role=_MEDIA_ROLES.get(str(item.get("type")), "other"),
                alt_text=item.get("description") or None,
                width=original.get("width") if isinstance(original.get("width"), int) else None,
                height=original.get("height") if isinstance(original.get("height"), int) else None,
            )
        )
    return refs


def _embedded(status: Any, instance: str) -> EmbeddedPost:
    html = status.get("content") or ""
    return EmbeddedPost(
        url=status.get("url") or status.get("uri") or "",
        uri=status.get("uri"),
        author=_author(status.get("account") or {}, instance),
        text=summarise_html(html).text,
        html=html or None,
        created_at=parse_time(status.get("created_at")),
        media=_media(status.get("media_attachments")),
    )


def _quote(status: Any, instance: str) -> tuple[EmbeddedPost | None, dict[str, Any]]:
    """Mastodon 4.4+ quote posts: {"state": ..., "quoted_status": {...}} when the quoted post
    is shown in full, {"state": ..., "quoted_status_id": ...} in the shallow form."""
    quote = status.get("quote")
    if not isinstance(quote, dict):
        return None, {}
    facts: dict[str, Any] = {"quote_state": quote.get("state")}
    quoted = quote.get("quoted_status")
    if isinstance(quoted, dict):
        return _embedded(quoted, instance), facts
    if quote.get("quoted_status_id") is not None:
        facts["quoted_status_id"] = str(quote["quoted_status_id"])
    return None, facts


class MastodonCollector(FetchingCollector):
    platform = PLATFORM_ID
    version = f"{PLATFORM_ID}/1"

    @property
    def plain_http_instances(self) -> frozenset[str]:
        """Instances reached over plain HTTP (POSTVAULT_FETCH_PLAIN_HTTP_HOSTS)."""
        return self.fetcher.plain_http_hosts

    def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult:
        return self.fetcher.run(client, lambda http: self._collect(target, client, http.stats))

    # --- requests ---------------------------------------------------------------------

    def _api(self, instance: str) -> str:
        return f"{self.fetcher.base_url(instance)}/api/v1"

    def _get(
        self,
        client: httpx.Client,
        url: str,
        stats: RequestStats,
        token: str | None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.fetcher.session(client, stats).get(url, headers=headers, params=params)

    # --- the capture ------------------------------------------------------------------

    def _collect(
        self, target: CaptureTarget, client: httpx.Client, stats: RequestStats
    ) -> CollectResult:
        try:
            instance, status_id = split_external_id(target.external_id)
        except ValueError as exc:
            return TransientFailure(error=str(exc))
        api = self._api(instance)
        token = target.access_token

        response = self._get(client, f"{api}/statuses/{status_id}", stats, token)
        if response.status_code != 200:
            return self._status_missing(client, target, instance, response, stats)
        status = json_body(response, "status")
        if not isinstance(status, dict) or "id" not in status:
            return TransientFailure(
                error=f"the status answer from {instance} is not a Mastodon status object"
            )
        source: dict[str, Any] = {"status": status}
        extra: dict[str, Any] = {}

        history: list[CollectedPost] = []
        edited_at = parse_time(status.get("edited_at"))
        if edited_at is not None and edited_at != target.previous_edited_at:
            history_response = self._get(
                client, f"{api}/statuses/{status_id}/history", stats, token
            )
            if history_response.status_code == 200:
                entries = json_body(history_response, "edit history")
                source["history"] = entries
                history = self._history(entries, status, instance, edited_at)
            elif history_response.status_code == 404:
                # Instances before Mastodon 3.5 have no history endpoint: keep the current
                # version and say that earlier ones could not be fetched.
                extra["history_unavailable"] = "the instance has no edit history endpoint"
            else:
                raise TransientHTTPError(
                    f"the edit history of {target.external_id} answered HTTP "
                    f"{history_response.status_code}"
                )

        replies, replies_captured, context = self._replies(
            client, api, status_id, stats, token, extra
        )
        if context is not None:
            source["context"] = context

        post = self._post(status, instance, target, extra, context)
        post.history = history
        post.replies = replies
        post.replies_captured = replies_captured
        post.source = source
        return post

    def _status_missing(
        self,
        client: httpx.Client,
        target: CaptureTarget,
        instance: str,
        response: httpx.Response,
        stats: RequestStats,
    ) -> CollectResult:
        code = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:500]
        message = error_message(body)
        detail = f" ({message})" if message else ""
        if code == 404:
            gone = self._account_gone(client, target, instance, stats)
            if gone is not None:
                return gone
            return Deleted(
                reason=f"the instance answers 404{detail}: the status was deleted, or made "
                "private or followers-only (Mastodon does not say which)",
                source={"status": body},
            )
        if code == 410:
            return Deleted(reason=f"the instance answers 410 Gone{detail}", source={"status": body})
        if code in (401, 403):
            if target.access_token:
                return NotVisible(
                    reason=f"the instance refused the account's access token (HTTP {code})"
                    f"{detail}; renew the token"
                )
            return NotVisible(
                reason=f"the instance requires a token to read this status (HTTP {code})"
                f"{detail}; add an access token to the account"
            )
        return TransientFailure(
            error=f"the status {target.external_id} answered HTTP {code}{detail}"
        )

    def _account_gone(
        self,
        client: httpx.Client,
        target: CaptureTarget,
        instance: str,
        stats: RequestStats,
    ) -> AccountGone | None:
        """After a 404 on the status: is the whole account suspended or deleted?

        Any failure here is ignored: the status's own 404 already answers the question well
        enough, and this check only refines it."""
        api = self._api(instance)
        if target.account_platform_id:
            url, params = f"{api}/accounts/{target.account_platform_id}", None
            named = f"account {target.account_platform_id}"
        else:
            username = target.account_handle.removeprefix("@").split("@")[0]
            if not username:
                return None
            url, params = f"{api}/accounts/lookup", {"acct": username}
            named = f"account @{username}"
        try:
            response = self._get(client, url, stats, target.access_token, params)
        except (HostPaused, TransientHTTPError, httpx.HTTPError):
            return None
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        source = {"account": body}
        if response.status_code == 410:
            return AccountGone(
                reason=f"the {named} is gone from {instance} (HTTP 410)", source=source
            )
        if response.status_code == 404:
            return AccountGone(
                reason=f"the {named} no longer exists on {instance} (HTTP 404), so its "
                "statuses are gone",
                source=source,
            )
        if response.status_code == 200 and isinstance(body, dict) and body.get("suspended"):
            return AccountGone(reason=f"the {named} is suspended on {instance}", source=source)
        return None

    def _history(
        self,
        entries: Any,
        status: dict[str, Any],
        instance: str,
        edited_at: Any,
    ) -> list[CollectedPost]:
        if not isinstance(entries, list):
            raise Abort(TransientFailure(error=f"the edit history from {instance} is not a list"))
        created_at = parse_time(status.get("created_at"))
        versions: list[CollectedPost] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            version_time = parse_time(entry.get("created_at"))
            if index == len(entries) - 1 and version_time == edited_at:
                continue  # the newest entry is the current version, captured in full
            html = entry.get("content") or ""
            summary = summarise_html(html)
            extra: dict[str, Any] = {}
            if entry.get("spoiler_text"):
                extra["spoiler_text"] = entry["spoiler_text"]
            if entry.get("sensitive"):
                extra["sensitive"] = True
            if isinstance(entry.get("poll"), dict):
                extra["poll"] = entry["poll"]
            versions.append(
                CollectedPost(
                    platform=self.platform,
                    post_id=str(status["id"]),
                    url=status.get("url") or status.get("uri") or "",
                    author=_author(entry.get("account") or status.get("account") or {}, instance),
                    text=summary.text,
                    html=html or None,
                    language=status.get("language"),
                    created_at=created_at,
                    edited_at=version_time if index > 0 else None,
                    platform_version_id=entry.get("created_at"),
                    visibility=status.get("visibility"),
                    media=_media(entry.get("media_attachments")),
                    links=summary.links,
                    hashtags=summary.hashtags,
                    extra=extra,
                )
            )
        return versions

    def _replies(
        self,
        client: httpx.Client,
        api: str,
        status_id: str,
        stats: RequestStats,
        token: str | None,
        extra: dict[str, Any],
    ) -> tuple[list[Reply], bool, Any]:
        """Replies from /context; a failure here keeps the capture and marks the replies
        as not captured this time."""
        try:
            response = self._get(client, f"{api}/statuses/{status_id}/context", stats, token)
        except (HostPaused, TransientHTTPError) as exc:
            extra["replies_error"] = str(exc)
            return [], False, None
        if response.status_code != 200:
            extra["replies_error"] = f"the context answered HTTP {response.status_code}"
            return [], False, None
        try:
            context = json_body(response, "context")
        except Abort as exc:
            extra["replies_error"] = getattr(exc.result, "error", "malformed context")
            return [], False, None
        descendants = context.get("descendants") if isinstance(context, dict) else None
        if not isinstance(descendants, list):
            extra["replies_error"] = "the context answer has no list of descendants"
            return [], False, context
        instance = api.split("://", 1)[1].split("/", 1)[0]
        replies: list[Reply] = []
        for item in descendants:
            if not isinstance(item, dict) or item.get("id") is None:
                continue
            parent = item.get("in_reply_to_id")
            html = item.get("content") or ""
            replies.append(
                Reply(
                    id=str(item["id"]),
                    url=item.get("url") or item.get("uri"),
                    author=_author(item.get("account") or {}, instance),
                    text=summarise_html(html).text,
                    html=html or None,
                    created_at=parse_time(item.get("created_at")),
                    in_reply_to_id=None
                    if parent is None or str(parent) == status_id
                    else str(parent),
                    media=_media(item.get("media_attachments")),
                )
            )
        return replies, True, context

    def _post(
        self,
        status: dict[str, Any],
        instance: str,
        target: CaptureTarget,
        extra: dict[str, Any],
        context: Any,
    ) -> CollectedPost:
        html = status.get("content") or ""
        summary = summarise_html(html)
        tag_names = [
            str(tag["name"])
            for tag in status.get("tags") or []
            if isinstance(tag, dict) and tag.get("name")
        ]
        card = status.get("card")
        link_card = None
        if isinstance(card, dict) and card.get("url"):
            link_card = LinkCard(
                url=card["url"],
                title=card.get("title") or None,
                description=card.get("description") or None,
                thumb=MediaRef(url=card["image"], role="link_thumb") if card.get("image") else None,
            )
        reblog = status.get("reblog")
        repost_of = _embedded(reblog, instance) if isinstance(reblog, dict) else None
        quote_of, quote_facts = _quote(status, instance)
        extra.update(quote_facts)
        if status.get("spoiler_text"):
            extra["spoiler_text"] = status["spoiler_text"]
        if status.get("sensitive"):
            extra["sensitive"] = True
        if isinstance(status.get("poll"), dict):
            poll = status["poll"]
            extra["poll"] = {
                "options": [o.get("title") for o in poll.get("options") or []],
                "expires_at": poll.get("expires_at"),
                "multiple": poll.get("multiple"),
            }
        mentions = [m.get("acct") for m in status.get("mentions") or [] if isinstance(m, dict)]
        if mentions:
            extra["mentions"] = mentions
        author = _author(status.get("account") or {}, instance)
        if target.account_platform_id and author.platform_id != target.account_platform_id:
            extra["warning"] = (
                f"the status belongs to account {author.platform_id}, not the registered "
                f"account {target.account_platform_id}"
            )
        return CollectedPost(
            platform=self.platform,
            post_id=str(status["id"]),
            url=status.get("url") or status.get("uri") or target.url,
            author=author,
            text=summary.text,
            html=html or None,
            language=status.get("language"),
            created_at=parse_time(status.get("created_at")),
            edited_at=parse_time(status.get("edited_at")),
            platform_version_id=status.get("edited_at") or status.get("created_at"),
            visibility=status.get("visibility"),
            media=_media(status.get("media_attachments")),
            link_card=link_card,
            reply_to=self._reply_to(status, instance, context),
            repost_of=repost_of,
            quote_of=quote_of,
            links=summary.links,
            hashtags=tag_names or summary.hashtags,
            extra=extra,
        )

    @staticmethod
    def _reply_to(status: dict[str, Any], instance: str, context: Any) -> str | None:
        parent = status.get("in_reply_to_id")
        if parent is None:
            return None
        ancestors = context.get("ancestors") if isinstance(context, dict) else None
        for item in ancestors or []:
            if isinstance(item, dict) and str(item.get("id")) == str(parent):
                return str(item.get("url") or item.get("uri"))
        return f"{instance}/{parent}"  # the parent in this collector's external-id form
