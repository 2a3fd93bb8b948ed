"""A Meta world on loopback: the authorization server is npm's oidc-provider (it signs the
employee in, asks for consent and issues the code, checking PKCE at its token endpoint); the
Graph API is the replay server (long-lived token exchange, /me, /me/accounts, the Page's feed,
posts and comments, media files)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.config import Settings
from app.connections.service import SCOPES, THREADS_SCOPES
from app.db import Database
from app.main import create_app
from tests.collectors.servers import Answer, LoopbackServer, Request, serve, tiny_jpeg
from tests.oidc_provider import OidcProvider, oidc_provider, web_client
from tests.platforms.meta_replay import GraphReplay, recorded

APP_ID = "1187654321098765"
APP_SECRET = "meta-app-secret-for-tests"
REDIRECT = "http://testserver/connections/callback"
PAGE_ID = "2121008874780932"  # "MyLife" in the recorded /me/accounts answer
PAGE_TOKEN = "page-token-mylife-91c2"
IG_ID = "17841407673135339"  # the recorded Instagram media list's account
STORY = "10158349356748553"
PFBID = "pfbid02Zk1bXw8yWBAuhqdqTfTbyBxQ2AQgybWZ1fqsqbVnyKCnP2Ffn8oBPqySzwiKtkpGl"


@dataclass
class MetaWorld:
    provider: OidcProvider
    graph: GraphReplay
    server: LoopbackServer
    settings: Settings

    def media_url(self, name: str) -> str:
        return f"{self.server.base_url}/media/{name}"


def _page_post(world_base: str) -> dict[str, Any]:
    post: dict[str, Any] = copy.deepcopy(recorded("facebook", "page_feed_p1")["data"][0])
    post["permalink_url"] = f"https://www.facebook.com/{PAGE_ID}/posts/{PFBID}"
    image = post["attachments"]["data"][0]["media"]["image"]
    image["src"] = f"{world_base}/media/photo1.jpg"  # the recorded CDN URL, served here
    post["full_picture"] = image["src"]
    return post


def seed_graph(graph: GraphReplay, base: str) -> None:
    accounts: dict[str, Any] = copy.deepcopy(
        recorded("facebook", "facebook_user_accounts_page_tokens")
    )
    accounts["data"][0]["access_token"] = PAGE_TOKEN
    accounts["data"][0]["instagram_business_account"] = {"id": IG_ID, "username": "mylife.city"}
    graph.objects["me"] = {"id": "10224466880011", "name": "Ann Example"}
    graph.objects["me/accounts"] = accounts
    graph.tokens.add(PAGE_TOKEN)
    post = _page_post(base)
    graph.objects[f"{PAGE_ID}/feed"] = {
        "data": [{"id": f"{PAGE_ID}_{STORY}", "permalink_url": post["permalink_url"]}]
    }
    graph.objects[f"{PAGE_ID}_{STORY}"] = post
    graph.objects[f"{PAGE_ID}_{STORY}/comments"] = recorded("facebook", "post_comments_p2")


@contextmanager
def meta_world_for(tmp_path: Path, settings: Settings, redirect: str) -> Iterator[MetaWorld]:
    """The provider (PostVault registered as a client with `redirect`) and the Graph API."""
    graph = GraphReplay(app_secret=APP_SECRET)

    def app(request: Request) -> Answer:
        if request.route.startswith("/media/"):
            return Answer(200, [("Content-Type", "image/jpeg")], tiny_jpeg())
        return graph(request)

    with serve(app) as server:
        seed_graph(graph, server.base_url)
        client = web_client(APP_ID, APP_SECRET, redirect)
        accounts = {"ann": {"email": "ann@city.example", "name": "Ann Example"}}
        with oidc_provider(
            tmp_path, clients=[client], accounts=accounts, scopes=[*SCOPES, *THREADS_SCOPES]
        ) as provider:
            provider_host = provider.issuer.removeprefix("http://")
            world_settings = settings.model_copy(
                update={
                    "meta_app_id": APP_ID,
                    "meta_app_secret": SecretStr(APP_SECRET),
                    "meta_graph_url": f"{server.base_url}/v24.0",
                    "threads_graph_url": f"{server.base_url}/v1.0",
                    "threads_oauth_url": f"{provider.issuer}/auth",
                    "meta_oauth_url": f"{provider.issuer}/auth",
                    "meta_token_url": f"{provider.issuer}/token",
                    "meta_redirect_uri": redirect,
                    "fetch_allow_hosts": f"{server.host},{provider_host}",
                    "fetch_plain_http_hosts": f"{server.host},{provider_host}",
                }
            )
            yield MetaWorld(provider, graph, server, world_settings)


@pytest.fixture
def meta_world(tmp_path: Path, settings: Settings) -> Iterator[MetaWorld]:
    with meta_world_for(tmp_path, settings, REDIRECT) as world:
        yield world


@pytest.fixture
def meta_client(meta_world: MetaWorld, db: Database) -> Iterator[TestClient]:
    app = create_app(meta_world.settings, database=db)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
