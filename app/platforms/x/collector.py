"""X (Twitter): a post, every version of its edits, its replies, through the API v2.

`target.external_id` is the tweet id of the flagged URL. Requests (bearer token):
- GET /2/tweets/:id with the fields and expansions of a record (parse.LOOKUP_PARAMS): the
  tweet, its author, media, referenced tweets and, through `edit_history_tweet_ids`, every
  version of an edited tweet;
- GET /2/tweets?ids= for versions the archive lacks that the first answer did not include;
- GET /2/tweets/search/recent?query=conversation_id:<id> [OR ...] for the replies, while
  X's recent search covers the post (7 days after it was posted on most tiers); the replies
  kept are those whose chain of replies leads to the post.

Outcomes: a "Not Found Error" about the tweet itself is a deletion (X says the same for a
tweet that never existed); a problem about a *referenced* tweet (a quoted tweet deleted) is a
partial error kept with the capture; a protected author is NotVisible; a suspended author is
AccountGone; 401/403 name the setting to check.

Reads: every poll first reserves the most it could read from POSTVAULT_X_MONTHLY_READ_BUDGET
(see budget.py) and is deferred instead of sent when the budget cannot cover it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import httpx

from app.platforms.collected import (
    AccountGone,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    NotVisible,
    RateLimited,
    TransientFailure,
    Unchanged,
)
from app.platforms.common import Abort, json_body
from app.platforms.fetcher import Fetcher, FetchSession
from app.platforms.ratelimit import HostPaused, TransientHTTPError, host_key
from app.platforms.x import parse
from app.platforms.x.budget import Deferred, ReadBudget, Reservation
from app.platforms.x.urls import PLATFORM_ID

TOKEN_SETTING = "POSTVAULT_X_BEARER_TOKEN"
NO_TOKEN = f"not captured: set {TOKEN_SETTING}"
REPLY_WINDOW = dt.timedelta(days=7)
# The most tweets one lookup can return: the tweet, up to five other versions (X allows five
# edits), and the quoted and replied-to tweets.
LOOKUP_WORST_READS = 8
FIRST_PAGE = 10  # X's smallest page: most posts have few replies
NEXT_PAGES = 100
MAX_REPLY_PAGES = 10
SNOWFLAKE_EPOCH_MS = 1288834974657
_TWEET_ID = re.compile(r"^[0-9]{1,20}$")


def snowflake_time(tweet_id: str) -> dt.datetime | None:
    """When a tweet was made, from its id (X's ids since 2010 carry their time in ms)."""
    try:
        millis = (int(tweet_id) >> 22) + SNOWFLAKE_EPOCH_MS
    except ValueError:
        return None
    if millis <= SNOWFLAKE_EPOCH_MS:
        return None  # an id from before X's snowflake ids
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC)


def reply_window_note(created_at: dt.datetime | None) -> str:
    until = (
        f" (until {(created_at + REPLY_WINDOW).isoformat(timespec='minutes')})"
        if created_at
        else ""
    )
    return (
        "X's recent search finds replies for 7 days after a post is published"
        f"{until}: PostVault collects replies in that window; later replies are not captured"
    )


@dataclass
class _Spend:
    """The reads and requests of one poll, settled against the budget at the end."""

    reads: int = 0
    requests: int = 0


class XCollector:
    platform = PLATFORM_ID
    version = "x/1"

    def __init__(
        self,
        *,
        fetcher: Fetcher,
        api_url: str,
        bearer_token: str | None,
        budget: ReadBudget | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.api_url = api_url.rstrip("/")
        self.token = bearer_token or None
        self.budget = budget or ReadBudget(monthly=None)

    def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult:
        result: CollectResult = self.fetcher.run(client, lambda http: self._collect(target, http))
        return result

    # --- requests ---------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return host_key(self.api_url)

    def _get(self, http: FetchSession, path: str, params: dict[str, str]) -> httpx.Response:
        return http.get(
            f"{self.api_url}{path}",
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
            params=params,
        )

    def _reserve(self, reads: int, *, first: bool, spread: str = "") -> Reservation | None:
        try:
            return self.budget.reserve(reads, now=self.fetcher.clock(), first_capture=first)
        except Deferred as exc:
            retry_at = exc.retry_at
            if not first:
                # A re-poll the budget cannot take now waits at least until tomorrow, at an
                # hour of its own (by id), so deferred polls do not all come back at once.
                now = self.fetcher.clock()
                tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
                offset = dt.timedelta(minutes=int(spread) % 1440 if spread.isdigit() else 0)
                retry_at = max(retry_at, tomorrow + offset)
            raise Abort(RateLimited(host=self.host, retry_at=retry_at, reason=str(exc))) from exc

    def _call(
        self,
        http: FetchSession,
        path: str,
        params: dict[str, str],
        what: str,
        spend: _Spend,
    ) -> tuple[httpx.Response, parse.Answer | None, Any]:
        """One API call, its reads added to `spend`: (response, its answer when 200/404
        JSON, its body)."""
        before = http.stats.requests
        try:
            response = self._get(http, path, params)
        finally:
            spend.requests += http.stats.requests - before
        if response.status_code >= 500:
            return response, None, None
        try:
            body = json_body(response, what)
        except Abort:
            spend.reads += 1  # a broken answer may still have been counted by X
            raise
        if response.status_code not in (200, 404):
            return response, None, body
        try:
            answer = parse.read_answer(body)
        except parse.MalformedAnswer as exc:
            spend.reads += 1
            raise Abort(
                TransientFailure(
                    error=f"the {what} answer from the X API is not a tweet answer "
                    f"(HTTP {response.status_code}): {exc}"
                )
            ) from exc
        spend.reads += answer.reads
        return response, answer, body

    def _budgeted(
        self,
        http: FetchSession,
        path: str,
        params: dict[str, str],
        what: str,
        *,
        reserve: int,
        first: bool,
    ) -> tuple[httpx.Response, parse.Answer | None, Any]:
        """A call beyond the poll's own reservation (more versions, further reply pages)."""
        reservation = self._reserve(reserve, first=first)
        spend = _Spend()
        try:
            return self._call(http, path, params, what, spend)
        finally:
            self.budget.settle(reservation, reads=spend.reads, requests=spend.requests)

    # --- the capture ------------------------------------------------------------------------

    def _collect(self, target: CaptureTarget, http: FetchSession) -> CollectResult:
        if not self.token:
            return NotVisible(reason=NO_TOKEN)
        tweet_id = target.external_id.strip()
        if not _TWEET_ID.match(tweet_id):
            return TransientFailure(error=f"'{tweet_id}' is not an X post id")
        first = target.previous_platform_version_id is None
        # One reservation for the lookup and the first page of replies (while the post's
        # id says it is young enough to search), settled once: two writes a poll.
        searchable = self._searchable(snowflake_time(tweet_id))
        need = LOOKUP_WORST_READS + (self._first_page() if searchable else 0)
        reservation = self._reserve(need, first=first, spread=tweet_id)
        spend = _Spend()
        try:
            return self._poll(target, http, tweet_id, first, spend)
        finally:
            self.budget.settle(reservation, reads=spend.reads, requests=spend.requests)

    def _searchable(self, created_at: dt.datetime | None) -> bool:
        return created_at is not None and self.fetcher.clock() - created_at <= REPLY_WINDOW

    def _first_page(self) -> int:
        return FIRST_PAGE if self.budget.enabled else NEXT_PAGES

    def _poll(
        self, target: CaptureTarget, http: FetchSession, tweet_id: str, first: bool, spend: _Spend
    ) -> CollectResult:
        response, answer, body = self._call(
            http, f"/2/tweets/{tweet_id}", parse.LOOKUP_PARAMS, "tweet lookup", spend
        )
        if answer is None:
            return self._refused(response.status_code, body)
        source: dict[str, Any] = {"tweet_lookup": body}
        if tweet_id not in answer.tweets:
            return self._missing(tweet_id, answer, source)

        post = parse.build_post(tweet_id, answer)
        chain = parse.edit_chain(answer.tweets[tweet_id])
        missing = parse.missing_versions(chain, answer, target.previous_platform_version_id)
        if missing:
            _r, more, more_body = self._budgeted(
                http,
                "/2/tweets",
                {**parse.SEARCH_PARAMS, "ids": ",".join(missing)},
                "edit versions lookup",
                reserve=len(missing),
                first=first,
            )
            source["versions_lookup"] = more_body
            if more is not None:
                answer.merge(more)
                post = parse.build_post(tweet_id, answer)

        post.extra["replies_window"] = reply_window_note(post.created_at)
        if not self._searchable(post.created_at):
            if target.previous_platform_version_id == post.platform_version_id:
                # The post is still there and no version is new; its replies can no longer be
                # searched, so there is nothing else to compare.
                return Unchanged()
            post.replies_captured = False
        else:
            reserved = self._searchable(snowflake_time(tweet_id))
            self._replies(
                http, post, chain, answer, source, first=first, spend=spend, reserved=reserved
            )
        post.source = source
        return post

    def _refused(self, status: int, body: Any) -> CollectResult:
        problem = parse.Problem.of(body if isinstance(body, dict) else {})
        detail = problem.describe() or f"HTTP {status}"
        if status == 401:
            return NotVisible(
                reason=f"X refused the bearer token (HTTP 401, {detail}): check {TOKEN_SETTING}"
            )
        if status == 403:
            return NotVisible(
                reason=f"X refused the request (HTTP 403, {detail}): the API access of "
                f"{TOKEN_SETTING} may not include reading posts"
            )
        if status >= 500 or body is None:
            return TransientFailure(error=f"the X API answered HTTP {status}")
        return TransientFailure(error=f"the X API answered HTTP {status}: {detail}")

    def _missing(
        self, tweet_id: str, answer: parse.Answer, source: dict[str, Any]
    ) -> CollectResult:
        problem = answer.problem_for(tweet_id)
        if problem is None:
            return TransientFailure(
                error=f"the X API's answer holds neither tweet {tweet_id} nor an error about it"
            )
        kind = parse.classify_problem(problem)
        said = problem.describe()
        if kind == "deleted":
            return Deleted(
                reason=f"X answers “{said}”: the post was deleted (X says the same of an id that never existed)",
                source=source,
            )
        if kind == "account_gone":
            return AccountGone(
                reason=f"X answers “{said}”: the author's account is suspended", source=source
            )
        if kind == "not_visible":
            return NotVisible(
                reason=f"X answers “{said}”: the author's posts are protected or withheld"
            )
        return TransientFailure(error=f"X answered about tweet {tweet_id}: {said}")

    def _replies(
        self,
        http: FetchSession,
        post: CollectedPost,
        chain: list[str],
        answer: parse.Answer,
        source: dict[str, Any],
        *,
        first: bool,
        spend: _Spend,
        reserved: bool,
    ) -> None:
        """Replies by recent search on the conversations of every version. A failure keeps
        a first capture (marked as without replies) and fails a later poll, which is retried,
        so a passing rate limit does not make a version that merely lacks its replies."""
        conversations = list(
            dict.fromkeys(
                str(answer.tweets[i].get("conversation_id") or i)
                for i in chain
                if i in answer.tweets
            )
        ) or [chain[-1]]
        query = " OR ".join(f"conversation_id:{c}" for c in conversations)
        pages: list[Any] = []
        found = parse.Answer(body={}, data=[])
        token: str | None = None
        try:
            for page_number in range(MAX_REPLY_PAGES):
                size = self._first_page() if page_number == 0 else NEXT_PAGES
                params = {**parse.SEARCH_PARAMS, "query": query, "max_results": str(size)}
                if token:
                    params["next_token"] = token
                if page_number == 0 and reserved:  # reserved with the lookup
                    response, page, body = self._call(
                        http, "/2/tweets/search/recent", params, "replies search", spend
                    )
                else:
                    response, page, body = self._budgeted(
                        http,
                        "/2/tweets/search/recent",
                        params,
                        "replies search",
                        reserve=size,
                        first=first,
                    )
                if page is None:
                    raise TransientHTTPError(
                        f"the replies search answered HTTP {response.status_code}: "
                        f"{parse.Problem.of(body if isinstance(body, dict) else {}).describe()}"
                    )
                pages.append(body)
                found.data.extend(page.data)
                found.merge(page)
                token = parse._str(page.meta.get("next_token"))
                if not token:
                    break
            else:
                post.extra["replies_note"] = f"only the newest {len(found.data)} replies were read"
        except (HostPaused, TransientHTTPError, Abort) as exc:
            if not first:
                raise
            post.replies_captured = False
            post.extra["replies_error"] = (
                getattr(getattr(exc, "result", None), "reason", None)
                or getattr(getattr(exc, "result", None), "error", None)
                or str(exc)
            )
            source["replies_search"] = pages
            return
        source["replies_search"] = pages
        roots = set(chain)
        parents = {str(t["id"]): parse._referenced(t, "replied_to") for t in found.data}

        def leads_to_post(tweet_id: str) -> bool:
            seen: set[str] = set()
            current: str | None = tweet_id
            while current is not None and current not in seen:
                seen.add(current)
                parent = parents.get(current)
                if parent in roots:
                    return True
                current = parent
            return False

        found.data = [t for t in found.data if leads_to_post(str(t["id"]))]
        post.replies = parse.replies_of(roots, found)
