"""Issue 13 item 10 on the web pages: an account's profile address or a post's address that is
not http(s) (stored before validation existed, or by a hostile import) is shown as text, never
as a link."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.accounts.models import SocialAccount
from app.db import Database
from app.posts.models import FlaggedPost
from tests.conftest import MakePerson
from tests.web.support import employee_with_post, sign_in

HOSTILE = "javascript:alert(document.cookie)"


def hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


def test_pages_link_only_to_http_addresses(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person, post_id = employee_with_post(db, make_person)
    with db.session() as session:
        post = session.get(FlaggedPost, post_id)
        assert post is not None
        post.url = HOSTILE
        account = session.get(SocialAccount, post.account_id)
        assert account is not None
        account.profile_url = "JaVaScRiPt:alert(1)"
    sign_in(client, person.user.email)
    for path in ("/accounts", f"/posts/{post_id}"):
        page = client.get(path)
        assert page.status_code == 200, page.text
        links = hrefs(page.text)
        assert links, path
        assert not [h for h in links if h.lower().lstrip().startswith(("javascript", "data"))], path
    assert HOSTILE in client.get(f"/posts/{post_id}").text.replace("&#39;", "'")
