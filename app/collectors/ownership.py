"""Is a captured post by the account it was flagged under?

A Mastodon status id is global to its instance, so `https://instance/@b/123` names status 123
whoever wrote it: without this check, employee B could archive a colleague's status under B's
own account. A mismatch is a capture outcome the records officer sees, and nothing is stored.
"""

from __future__ import annotations

from app.accounts.models import SocialAccount
from app.platforms.collected import CollectedPost
from app.platforms.mastodon.urls import PLATFORM_ID as MASTODON


def _mastodon_name(handle: str) -> tuple[str, str]:
    """(user, host) of user@host[:port], lower-case; the port is not part of the account."""
    user, _, host = handle.strip().lower().removeprefix("@").partition("@")
    return user, host.split(":")[0]


def author_mismatch(account: SocialAccount, captured: CollectedPost) -> str | None:
    """A sentence when the captured post's author is not the registered account, else None.

    The platform's stable account id decides when both sides have one (a Bluesky DID, a
    Mastodon account id, a YouTube channel id); Mastodon handles are compared otherwise.
    Feed entries are the account's by construction (found in its own feed), and Bluesky
    posts are fetched from the account's own repository.
    """
    author = captured.author
    known = account.platform_account_id
    if known and author.platform_id and known != author.platform_id:
        return (
            f"the post is by {author.handle}, not by the registered account {account.handle}; "
            "nothing was archived"
        )
    if account.platform == MASTODON and _mastodon_name(author.handle) != _mastodon_name(
        account.handle
    ):
        return (
            f"the post is by {author.handle}, not by the registered account {account.handle}; "
            "nothing was archived"
        )
    return None
