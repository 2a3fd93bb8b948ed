"""Web accounts and posts by URL (pure): recognised sites' forms, posts under a profile or on
the same site, the author check from page metadata, and "isn't available" pages."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.errors import Invalid
from app.platforms.base import UrlParts
from app.platforms.registry import registry
from app.platforms.web import PLATFORM as WEB
from app.platforms.web import urls
from app.platforms.web.extract import check_author, unavailable_phrase


@dataclass(frozen=True)
class Account:
    id: int
    handle: str
    profile_url: str
    platform_account_id: str | None = None


def account(n: int, profile: str) -> Account:
    ref = WEB.profile_url_for(UrlParts.parse(profile))
    return Account(n, ref.handle, ref.profile_url)


@pytest.mark.parametrize(
    ("profile", "site"),
    [
        ("https://www.facebook.com/pat.employee", "facebook"),
        ("https://www.facebook.com/groups/ourneighbourhood", "facebook"),
        ("https://www.linkedin.com/in/pat-employee/", "linkedin"),
        ("https://nextdoor.com/profile/01AbCdEf/", "nextdoor"),
        ("https://www.reddit.com/user/pat_employee", "reddit"),
        ("https://www.instagram.com/pat.employee/", "instagram"),
    ],
)
def test_recognised_profiles_are_web_accounts(profile: str, site: str) -> None:
    assert WEB.account_from_profile_url(UrlParts.parse(profile)) is not None  # by its form
    ref = registry.account_from_profile_url(profile, platform_id=WEB.id)
    assert ref.platform == WEB.id
    assert ref.proven
    recognised = urls.recognised_site(profile)
    assert recognised is not None
    assert recognised.id == site


def test_a_tiktok_profile_needs_the_platform_named() -> None:
    # /@name is also Mastodon's profile form on any host, and Mastodon is asked first.
    ref = registry.account_from_profile_url(
        "https://www.tiktok.com/@pat.employee", platform_id=WEB.id
    )
    assert ref.platform == WEB.id
    site = urls.recognised_site(ref.profile_url)
    assert site is not None
    assert site.id == "tiktok"


def test_any_site_is_a_web_account_when_the_employee_says_so() -> None:
    ref = registry.account_from_profile_url(
        "https://forum.example.org/members/pat/#top", platform_id=WEB.id
    )
    assert ref.handle == "https://forum.example.org/members/pat"
    with pytest.raises(Invalid, match="http"):
        registry.account_from_profile_url("ftp://forum.example.org/", platform_id=WEB.id)


def test_a_page_under_the_profile_is_its_post() -> None:
    mine = [account(1, "https://www.facebook.com/pat.employee")]
    refs = registry.recognise_post(
        "https://m.facebook.com/pat.employee/posts/pfbid02abc?utm_source=x#c"
    )
    web = next(r for r in refs if r.platform == WEB.id)
    assert web.by_site
    assert web.canonical_url == "https://m.facebook.com/pat.employee/posts/pfbid02abc"
    assert WEB.match_account(web, mine) == mine[0]
    other = next(
        r
        for r in registry.recognise_post("https://www.facebook.com/someone.else/posts/1")
        if r.platform == WEB.id
    )
    assert WEB.match_account(other, mine) is None  # Facebook post URLs name their author


def test_on_sites_whose_urls_do_not_name_the_author_the_same_site_is_enough() -> None:
    mine = [account(1, "https://www.linkedin.com/in/pat-employee")]
    ref = next(
        r
        for r in registry.recognise_post(
            "https://www.linkedin.com/posts/pat-employee_roadwork-activity-7234567890"
        )
        if r.platform == WEB.id
    )
    assert WEB.match_account(ref, mine) == mine[0]
    two = [*mine, account(2, "https://www.linkedin.com/company/city-of-example")]
    with pytest.raises(Invalid, match="account_id"):
        WEB.match_account(ref, two)
    elsewhere = next(
        r for r in registry.recognise_post("https://example.org/x") if r.platform == WEB.id
    )
    assert WEB.match_account(elsewhere, mine) is None


def test_site_hosts_setting_maps_mirrors_and_test_servers() -> None:
    hosts = urls.parse_site_hosts("127.0.0.1:8123=facebook, bad, x:1=unknown")
    assert hosts == {"127.0.0.1:8123": "facebook"}
    site = urls.recognised_site("http://127.0.0.1:8123/p/1", hosts)
    assert site is not None
    assert site.id == "facebook"


def test_the_author_is_checked_from_the_page_metadata() -> None:
    ld = '{"@type": "SocialMediaPosting", "author": {"name": "Pat", "url": "https://www.linkedin.com/in/pat-employee/"}}'
    facts = {"jsonld": [ld], "meta": {}, "authors": []}
    found = check_author(facts, "https://www.linkedin.com/in/pat-employee", "pat-employee")
    assert (found.result, found.source) == ("match", "json-ld")
    other = check_author(facts, "https://www.linkedin.com/in/someone", "someone")
    assert other.result == "mismatch"
    og = {"jsonld": [], "meta": {"article:author": "https://www.facebook.com/pat.employee"}}
    assert check_author(og, "https://www.facebook.com/pat.employee", "x").source == "open-graph"
    rel = {"jsonld": [], "meta": {}, "author_link": "https://blog.example/about/pat"}
    assert check_author(rel, "https://blog.example/about/pat", "pat").result == "match"
    assert check_author({}, "https://blog.example", "x").result == "unknown"


def test_unavailable_pages_of_recognised_sites() -> None:
    assert unavailable_phrase("facebook", "This content isn\u2019t available right now") is not None
    assert unavailable_phrase("reddit", "Sorry, this post was deleted by the person") is not None
    assert unavailable_phrase(None, "This content isn't available right now") is None
    assert unavailable_phrase("tiktok", "A lovely video") is None
