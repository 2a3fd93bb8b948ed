"""At flag time: is the revision on the wiki, and is it the account's?

The URL names only a revision id, so the wiki is asked (one discovery request unless the
API is known, one revisions query). A wiki that cannot be reached does not refuse the flag:
the capture will find out and say so on the post.
"""

from __future__ import annotations

from app.errors import Invalid
from app.platforms.base import PostRef, RegisteredAccount
from app.platforms.common import Abort
from app.platforms.fetcher import FetchSession
from app.platforms.http import FetchRefused, ResponseTooLarge
from app.platforms.mediawiki import urls
from app.platforms.mediawiki.api import call, discover_api
from app.platforms.mediawiki.collector import _find_revision, describe_hidden, hidden_parts
from app.platforms.ratelimit import HostPaused, TransientHTTPError

_UNREACHABLE = (Abort, HostPaused, TransientHTTPError, FetchRefused, ResponseTooLarge, OSError)


def verify_revision(ref: PostRef, account: RegisteredAccount, http: FetchSession) -> None:
    name, wiki = urls.split_handle(account.handle)
    revision_id = int(ref.post_id)
    try:
        try:
            api, _record = discover_api(http, account.profile_url)
        except Abort:
            # A handle-made profile URL assumes /wiki/: the revision's own page names the API.
            api, _record = discover_api(http, ref.canonical_url)
        answer, error = call(
            http,
            api,
            "revision",
            action="query",
            prop="revisions",
            revids=str(revision_id),
            rvprop="ids|user|userid|timestamp|flags",
        )
    except _UNREACHABLE:
        return
    if error is not None:
        return
    query = answer.get("query") or {}
    page, revision = _find_revision(query, revision_id)
    if revision is None:
        if isinstance(query.get("badrevids"), dict) and str(revision_id) in query["badrevids"]:
            raise Invalid(
                f"{wiki} has no revision {revision_id} (it never existed, or its page was "
                "deleted): check the link"
            )
        return
    hidden = hidden_parts(revision)
    if "userhidden" in hidden:
        raise Invalid(
            f"{describe_hidden(hidden, revision_id, wiki)}, so PostVault cannot tell whether "
            f"it is {name}'s"
        )
    user = str(revision.get("user") or "")
    if user != name:
        title = page.get("title") or "its page"
        raise Invalid(
            f"revision {revision_id} of {title} on {wiki} was made by {user or 'an unknown user'}, "
            f"not by your account {name}: flag only your own revisions"
        )
