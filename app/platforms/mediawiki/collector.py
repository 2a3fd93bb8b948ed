"""MediaWiki: one revision of a wiki page, read from the wiki's action API.

`target.external_id` is "<wiki host>/<revision id>". The first capture sends:
- GET the account's user page (or the flagged URL) once, to find api.php (see api.py); the API
  URL is then kept in the post's fetch state, so later polls skip this;
- action=query&prop=revisions&revids=REV — the wikitext, user, comment, timestamp, size, sha1,
  tags, and the hidden flags of revision deletion;
- action=parse&oldid=REV — the revision's rendered HTML, its files, links and categories;
- action=compare&fromrev=PARENT&torev=REV — the diff against its parent (none for a page's
  first revision);
- action=query&prop=imageinfo&iistart=<revision time> — each file the revision shows, in the
  version current when the revision was saved (downloaded by the capture pipeline).

A revision never changes, so later polls send only the revisions query and look for its
removal: page deletion (`badrevids` ... `missing`) and revision deletion (`texthidden`,
`userhidden`, `commenthidden`, `suppressed`) are `Deleted` outcomes saying which, and a user
account that no longer exists is `AccountGone`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from app.platforms.collected import (
    AccountGone,
    Author,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    MediaRef,
    TransientFailure,
    Unchanged,
)
from app.platforms.common import Abort, parse_time
from app.platforms.fetcher import Fetcher, FetchingCollector, FetchSession
from app.platforms.htmltext import summarise_html
from app.platforms.mediawiki import urls
from app.platforms.mediawiki.api import call, discover_api

REVISION_PROPS = "ids|flags|timestamp|user|userid|size|sha1|contentmodel|comment|tags|content"
CHECK_PROPS = "ids|flags|timestamp|user|userid|size|sha1|comment"
MAX_KNOWN_WIKIS = 1000
MAX_FILES = 50  # one imageinfo query; a revision showing more keeps the first 50
_MEDIA_ROLES = {"image": "image", "video": "video", "audio": "audio"}


def hidden_parts(revision: dict[str, Any]) -> list[str]:
    """Which parts of a revision revision deletion hides, in MediaWiki's words."""
    slot = (revision.get("slots") or {}).get("main") or {}
    parts = []
    # Without the content requested, a hidden text shows as `sha1hidden` (its hash is hidden
    # with it), which is what the cheap check of later polls reads.
    if any(d.get(k) for d in (revision, slot) for k in ("texthidden", "sha1hidden")):
        parts.append("texthidden")
    for flag in ("userhidden", "commenthidden", "suppressed"):
        if revision.get(flag):
            parts.append(flag)
    return parts


_HIDDEN_WORDS = {
    "texthidden": "its text is hidden",
    "userhidden": "its user name is hidden",
    "commenthidden": "its edit summary is hidden",
    "suppressed": "it is suppressed (hidden from the wiki's administrators too)",
}


def describe_hidden(parts: list[str], revision_id: int, wiki: str) -> str:
    said = "; ".join(_HIDDEN_WORDS[p] for p in parts)
    return (
        f"revision deletion on {wiki}: revision {revision_id} is still listed but {said} "
        f"({', '.join(parts)})"
    )


class MediaWikiCollector(FetchingCollector):
    platform = urls.PLATFORM_ID
    version = f"{urls.PLATFORM_ID}/1"

    def __init__(self, fetcher: Fetcher | None = None) -> None:
        super().__init__(fetcher)
        # The API each wiki's pages named, found once per process: a pass over many
        # revisions of one wiki reads its user page once, not once a revision.
        self._apis: dict[str, str] = {}

    def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult:
        result: CollectResult = self.fetcher.run(client, lambda http: self._collect(target, http))
        return result

    # --- the capture ------------------------------------------------------------------------

    def _api(self, target: CaptureTarget, http: FetchSession) -> tuple[str, dict[str, Any]]:
        known = target.validators.get("api_url")
        if known:
            return known, {"api": known, "from": "the post's fetch state"}
        page = target.account_profile_url or target.url
        wiki = urlsplit(page).netloc.lower()
        if wiki in self._apis:
            return self._apis[wiki], {"api": self._apis[wiki], "from": f"{wiki}'s pages, earlier"}
        try:
            api, record = discover_api(http, page)
        except Abort:
            if page == target.url:
                raise
            api, record = discover_api(http, target.url)
        if len(self._apis) < MAX_KNOWN_WIKIS:
            self._apis[wiki] = api
        return api, record

    def _collect(self, target: CaptureTarget, http: FetchSession) -> CollectResult:
        try:
            wiki, revision_id = urls.split_external_id(target.external_id)
        except ValueError as exc:
            return TransientFailure(error=str(exc))
        account_name = _account_name(target)
        api, discovery = self._api(target, http)
        check_only = target.previous_platform_version_id == str(revision_id)
        params = {
            "action": "query",
            "prop": "revisions",
            "revids": str(revision_id),
            "rvprop": CHECK_PROPS if check_only else REVISION_PROPS,
            "rvslots": "main",
        }
        try:
            answer, error = call(http, api, "revision", **params)
        except Abort as exc:
            if "edit_uri" in discovery or not isinstance(exc.result, TransientFailure):
                raise
            # An API remembered from an earlier capture no longer answers: the wiki may have
            # moved it, so its pages are asked once more.
            self._apis.pop(urlsplit(target.account_profile_url or target.url).netloc.lower(), None)
            api, discovery = self._api(target.model_copy(update={"validators": {}}), http)
            answer, error = call(http, api, "revision", **params)
        if error is not None:
            return TransientFailure(
                error=f"the wiki refused the revision query ({error['code']}: {error['info']})"
            )
        query = answer.get("query") or {}
        page, revision = _find_revision(query, revision_id)
        if revision is None:
            return self._gone(http, api, wiki, revision_id, account_name, answer, query)
        hidden = hidden_parts(revision)
        if hidden:
            return Deleted(
                reason=describe_hidden(hidden, revision_id, wiki), source={"revision": answer}
            )
        user = str(revision.get("user") or "")
        if account_name and user and user != account_name:
            gone = self._account_gone(http, api, wiki, account_name, answer)
            if gone is not None:
                return gone
        if check_only:
            # A rediscovered API is remembered with the post only by a full capture; this
            # process remembers it meanwhile.
            return Unchanged()
        return self._capture(
            target, http, api, wiki, revision_id, page, revision, answer, discovery
        )

    def _gone(
        self,
        http: FetchSession,
        api: str,
        wiki: str,
        revision_id: int,
        account_name: str | None,
        answer: dict[str, Any],
        query: dict[str, Any],
    ) -> CollectResult:
        bad = query.get("badrevids") or {}
        entry = bad.get(str(revision_id)) if isinstance(bad, dict) else None
        if not isinstance(entry, dict) or not entry.get("missing"):
            return TransientFailure(
                error=f"the wiki's answer to the revision query names neither revision "
                f"{revision_id} nor its removal"
            )
        if account_name:
            gone = self._account_gone(http, api, wiki, account_name, answer)
            if gone is not None:
                return gone
        return Deleted(
            reason=f"page deletion on {wiki}: revision {revision_id} is no longer shown "
            "(badrevids, missing): its page was deleted, or the revision with it",
            source={"revision": answer},
        )

    def _account_gone(
        self,
        http: FetchSession,
        api: str,
        wiki: str,
        account_name: str,
        revision_answer: dict[str, Any],
    ) -> AccountGone | None:
        """Does the registered user still exist? Any failure here leaves the question to the
        revision's own answer."""
        try:
            answer, error = call(
                http, api, "user", action="query", list="users", ususers=account_name
            )
        except Abort:
            return None
        users = (answer.get("query") or {}).get("users") or []
        if error is not None or not users or not isinstance(users[0], dict):
            return None
        if users[0].get("missing") or users[0].get("hidden"):
            state = "hidden" if users[0].get("hidden") else "missing"
            return AccountGone(
                reason=f"the user {account_name} no longer exists on {wiki} ({state}): "
                "renamed, merged or hidden",
                source={"revision": revision_answer, "user": answer},
            )
        return None

    def _capture(
        self,
        target: CaptureTarget,
        http: FetchSession,
        api: str,
        wiki: str,
        revision_id: int,
        page: dict[str, Any],
        revision: dict[str, Any],
        answer: dict[str, Any],
        discovery: dict[str, Any],
    ) -> CollectResult:
        source: dict[str, Any] = {"discovery": discovery, "revision": answer}
        extra: dict[str, Any] = {"wiki": wiki, "api_url": api}

        parsed, error = call(
            http,
            api,
            "parse",
            action="parse",
            oldid=str(revision_id),
            prop="text|images|externallinks|categories|displaytitle|revid",
            disablelimitreport="1",
            disableeditsection="1",
        )
        if error is not None:
            return TransientFailure(
                error=f"the wiki could not render revision {revision_id} "
                f"({error['code']}: {error['info']})"
            )
        source["parse"] = parsed
        rendered = parsed.get("parse") or {}
        html = rendered.get("text") if isinstance(rendered.get("text"), str) else None

        parent_id = int(revision.get("parentid") or 0)
        diff: str | None = None
        if parent_id:
            compared, error = call(
                http,
                api,
                "compare",
                action="compare",
                fromrev=str(parent_id),
                torev=str(revision_id),
                prop="diff|diffsize|ids|title|size",
            )
            source["compare"] = compared
            if error is not None:
                # The parent may be revision-deleted: the revision itself is still captured.
                extra["diff_error"] = f"{error['code']}: {error['info']}"
            else:
                body = (compared.get("compare") or {}).get("body")
                diff = body if isinstance(body, str) else None
        else:
            extra["diff_note"] = "the page's first revision: there is no parent to compare with"

        media = self._files(http, api, rendered, revision, source, extra)

        slot = (revision.get("slots") or {}).get("main") or {}
        wikitext = slot.get("content") if isinstance(slot.get("content"), str) else ""
        user = str(revision.get("user") or "")
        userid = revision.get("userid")
        account_name = _account_name(target)
        if account_name and user != account_name:
            extra["warning"] = (
                f"revision {revision_id} was made by {user or 'an unknown user'}, not by the "
                f"registered account {account_name}"
            )
        extra.update(
            {
                "revision_id": revision_id,
                "parent_id": parent_id,
                "page_id": page.get("pageid"),
                "namespace": page.get("ns"),
                "comment": revision.get("comment"),
                "size": revision.get("size"),
                "sha1": revision.get("sha1"),
                "minor": bool(revision.get("minor")),
                "tags": revision.get("tags") or [],
                "content_model": slot.get("contentmodel") or revision.get("contentmodel"),
                "categories": [
                    c.get("category")
                    for c in rendered.get("categories") or []
                    if isinstance(c, dict)
                ],
            }
        )
        if diff is not None:
            extra["diff"] = diff
        links = [link for link in rendered.get("externallinks") or [] if isinstance(link, str)]
        profile = target.account_profile_url if user == account_name else None
        return CollectedPost(
            platform=self.platform,
            post_id=str(revision_id),
            url=target.url,
            author=Author(
                handle=urls.handle_of(user, wiki) if user else f"?@{wiki}",
                display_name=user or None,
                platform_id=str(userid) if isinstance(userid, int) and userid > 0 else None,
                profile_url=profile,
            ),
            text=wikitext,
            html=html,
            title=str(page.get("title") or "") or None,
            created_at=parse_time(revision.get("timestamp")),
            platform_version_id=str(revision_id),
            visibility="public",
            media=media,
            links=links or summarise_html(html or "").links,
            extra=extra,
            source=source,
            validators={"api_url": api},
        )

    def _files(
        self,
        http: FetchSession,
        api: str,
        rendered: dict[str, Any],
        revision: dict[str, Any],
        source: dict[str, Any],
        extra: dict[str, Any],
    ) -> list[MediaRef]:
        """The files the revision shows, as they were when it was saved."""
        names = [n for n in rendered.get("images") or [] if isinstance(n, str)]
        if not names:
            return []
        if len(names) > MAX_FILES:
            extra["files_not_captured"] = names[MAX_FILES:]
            names = names[:MAX_FILES]
        params = {
            "action": "query",
            "prop": "imageinfo",
            "titles": "|".join(f"File:{n}" for n in names),
            "iiprop": "url|sha1|mime|size|timestamp|user",
            "iilimit": "1",
        }
        if isinstance(revision.get("timestamp"), str):
            params["iistart"] = revision["timestamp"]
        answer, error = call(http, api, "imageinfo", **params)
        source["imageinfo"] = answer
        if error is not None:
            extra["files_error"] = f"{error['code']}: {error['info']}"
            return []
        refs: list[MediaRef] = []
        files: list[dict[str, Any]] = []
        for page in (answer.get("query") or {}).get("pages") or []:
            if not isinstance(page, dict):
                continue
            infos = page.get("imageinfo") or []
            if not infos or not isinstance(infos[0], dict) or not infos[0].get("url"):
                files.append({"title": page.get("title"), "missing": True})
                continue
            info = infos[0]
            mime = str(info.get("mime") or "")
            files.append(
                {
                    "title": page.get("title"),
                    "url": info.get("url"),
                    "sha1": info.get("sha1"),
                    "mime": mime or None,
                    "size": info.get("size"),
                    "timestamp": info.get("timestamp"),
                    "user": info.get("user"),
                }
            )
            role = _MEDIA_ROLES.get(mime.split("/")[0])
            if role is None:
                continue  # a PDF or other document: named in extra["files"], not downloaded
            refs.append(
                MediaRef(
                    url=str(info["url"]),
                    role=role,
                    mime_type=mime or None,
                    alt_text=str(page.get("title") or "") or None,
                    width=info.get("width") if isinstance(info.get("width"), int) else None,
                    height=info.get("height") if isinstance(info.get("height"), int) else None,
                )
            )
        extra["files"] = files
        return refs


def _account_name(target: CaptureTarget) -> str | None:
    try:
        return urls.split_handle(target.account_handle)[0]
    except Exception:  # a handle from before this platform's form: no comparison
        return None


def _find_revision(
    query: dict[str, Any], revision_id: int
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    for page in query.get("pages") or []:
        if not isinstance(page, dict):
            continue
        for revision in page.get("revisions") or []:
            if isinstance(revision, dict) and revision.get("revid") == revision_id:
                return page, revision
    return {}, None
