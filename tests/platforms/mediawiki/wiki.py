"""A real MediaWiki on loopback: Debian's `mediawiki` package (1.39) on SQLite, installed into a
temporary directory with `maintenance/install.php` and served by `php -S 127.0.0.1:PORT`.

The tests edit, upload, delete and revision-delete through the wiki's own action API, logged in
as the users `install.php` and `createAndPromote.php` made, with CSRF tokens, exactly as a
person's browser or a bot would. Without the package these tests fail loudly under CI and skip
loudly elsewhere (run scripts/install-mediawiki).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

MEDIAWIKI = Path("/usr/share/mediawiki")
SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"
SITENAME = "PostVault Test Wiki"
ADMIN = "Admin"
PASSWORDS = {
    ADMIN: "Admin-password-for-tests-1",
    "Alice": "Alice-password-for-tests-1",
    "Bob": "Bob-password-for-tests-1",
    "Carol": "Carol-password-for-tests-1",  # renamed by a test: her own revisions only
}

# Appended to the LocalSettings.php install.php writes: pretty /wiki/ URLs (the form people
# copy), uploads into the temporary directory, and the rights revision deletion needs. The
# test users edit quickly, so rate limits are off for logged-in users.
EXTRA_SETTINGS = """
$wgArticlePath = "/wiki/$1";
$wgUsePathInfo = true;
$wgEnableUploads = true;
$wgUseImageMagick = false;
$wgUploadDirectory = "{root}/images";
$wgUploadPath = "/images";
$wgCacheDirectory = "{root}/cache";
$wgGroupPermissions['sysop']['deleterevision'] = true;
$wgGroupPermissions['sysop']['deletedhistory'] = true;
$wgGroupPermissions['sysop']['suppressrevision'] = true;
$wgGroupPermissions['sysop']['viewsuppressed'] = true;
$wgGroupPermissions['user']['noratelimit'] = true;
$wgJobRunRate = 0;
wfLoadExtension( 'Renameuser' );
$wgShowExceptionDetails = true;
"""

# `php -S` has no rewrite rules: /wiki/<title> goes to index.php (as Apache's rewrite would),
# uploaded files are served from the temporary upload directory, and everything else (api.php,
# index.php, load.php, skins) from the package. Every request is logged to requests.log (the
# server's own log leaves out those the router answers), so tests and the benchmark can
# count what PostVault sent.
ROUTER = """<?php
file_put_contents(
    '{root}/requests.log',
    $_SERVER['REQUEST_METHOD'] . ' ' . $_SERVER['REQUEST_URI'] . "\n",
    FILE_APPEND | LOCK_EX
);
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if (str_starts_with($path, '/wiki/')) {{
    $_SERVER['SCRIPT_NAME'] = '/index.php';
    $_SERVER['SCRIPT_FILENAME'] = '{mediawiki}/index.php';
    chdir('{mediawiki}');
    require '{mediawiki}/index.php';
    return true;
}}
if (str_starts_with($path, '/images/')) {{
    $file = realpath('{root}' . $path);
    if ($file !== false && str_starts_with($file, '{root}/images/') && is_file($file)) {{
        header('Content-Type: ' . mime_content_type($file));
        header('Content-Length: ' . filesize($file));
        readfile($file);
        return true;
    }}
    http_response_code(404);
    return true;
}}
return false;
"""


class WikiUnavailable(RuntimeError):
    pass


def unavailable(reason: str) -> NoReturn:
    """Fail (under CI) or skip (locally) with a message nobody can miss."""
    banner = "!" * 78
    message = (
        f"\n{banner}\nThe local MediaWiki cannot run, so the MediaWiki tests did not run:\n"
        f"{reason}\nInstall it with scripts/install-mediawiki (Debian's mediawiki, php-cli, "
        f"php-sqlite3).\n{banner}"
    )
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(
        args, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise WikiUnavailable(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def ensure_installed() -> None:
    php = shutil.which("php")
    if php is None or not (MEDIAWIKI / "maintenance" / "install.php").is_file():
        done = subprocess.run(
            ["bash", str(SCRIPTS / "install-mediawiki")],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise WikiUnavailable(f"scripts/install-mediawiki failed:\n{done.stderr[-2000:]}")
    if shutil.which("php") is None or not (MEDIAWIKI / "maintenance" / "install.php").is_file():
        raise WikiUnavailable(f"php or {MEDIAWIKI}/maintenance/install.php is missing")


@dataclass
class Wiki:
    """A running wiki: where it is, and how to log in."""

    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    sessions: dict[str, WikiUser] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.netloc}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api.php"

    def page_url(self, title: str) -> str:
        return f"{self.base_url}/wiki/{title.replace(' ', '_')}"

    def requests_served(self) -> list[str]:
        """Every request the wiki answered so far ("GET /api.php?..."), oldest first."""
        log = self.root / "requests.log"
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []

    def user(self, name: str) -> WikiUser:
        """A logged-in API session as `name` (Admin, Alice, Bob), kept for the session."""
        if name not in self.sessions:
            self.sessions[name] = WikiUser.login(self, name, PASSWORDS[name])
        return self.sessions[name]

    def rename_user(self, old: str, new: str) -> None:
        """Rename a user (Extension:Renameuser, bundled with the package): their revisions
        are then attributed to the new name and the old one no longer exists."""
        _run(
            [
                "php",
                str(MEDIAWIKI / "extensions" / "Renameuser" / "maintenance" / "renameUser.php"),
                f"--oldname={old}",
                f"--newname={new}",
            ],
            {**os.environ, "MW_CONFIG_FILE": str(self.root / "LocalSettings.php")},
            f"renameUser.php {old} {new}",
        )
        self.sessions.pop(old, None)

    def close(self) -> None:
        for session in self.sessions.values():
            session.http.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class ApiError(RuntimeError):
    pass


@dataclass
class WikiUser:
    wiki: Wiki
    name: str
    http: httpx.Client
    csrf: str = ""

    @classmethod
    def login(cls, wiki: Wiki, name: str, password: str) -> WikiUser:
        http = httpx.Client(timeout=60.0)
        user = cls(wiki, name, http)
        token = user.get(action="query", meta="tokens", type="login")["query"]["tokens"]
        answer = user.post(
            action="clientlogin",
            username=name,
            password=password,
            logintoken=token["logintoken"],
            loginreturnurl=wiki.base_url + "/",
        )
        if answer.get("clientlogin", {}).get("status") != "PASS":
            raise ApiError(f"login as {name} failed: {answer}")
        user.csrf = user.get(action="query", meta="tokens")["query"]["tokens"]["csrftoken"]
        return user

    def get(self, **params: Any) -> dict[str, Any]:
        response = self.http.get(
            self.wiki.api_url, params={**params, "format": "json", "formatversion": "2"}
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def post(self, files: dict[str, Any] | None = None, **params: Any) -> dict[str, Any]:
        response = self.http.post(
            self.wiki.api_url,
            data={**params, "format": "json", "formatversion": "2"},
            files=files,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if "error" in body:
            raise ApiError(f"{params.get('action')} as {self.name}: {body['error']}")
        return body

    # --- what the tests do to the wiki ------------------------------------------------------

    def edit(self, title: str, text: str, summary: str = "") -> int:
        """Save `text` as the new revision of `title`; returns the revision id."""
        answer = self.post(action="edit", title=title, text=text, summary=summary, token=self.csrf)[
            "edit"
        ]
        if answer.get("result") != "Success" or "newrevid" not in answer:
            raise ApiError(f"edit of {title} as {self.name}: {answer}")
        return int(answer["newrevid"])

    def upload(self, filename: str, data: bytes, comment: str = "") -> str:
        """Upload a file; returns its URL on the wiki."""
        answer = self.post(
            files={"file": (filename, data, "application/octet-stream")},
            action="upload",
            filename=filename,
            comment=comment,
            ignorewarnings="1",
            token=self.csrf,
        )["upload"]
        if answer.get("result") != "Success":
            raise ApiError(f"upload of {filename}: {answer}")
        return str(answer["imageinfo"]["url"])

    def delete_page(self, title: str, reason: str = "test deletion") -> None:
        self.post(action="delete", title=title, reason=reason, token=self.csrf)

    def undelete_page(self, title: str, reason: str = "test undeletion") -> None:
        self.post(action="undelete", title=title, reason=reason, token=self.csrf)

    def hide_revision(
        self, revid: int, *, hide: str = "content", suppress: bool = False, unhide: str = ""
    ) -> None:
        """Revision deletion: hide (or show again) the text, the user name or the summary."""
        params: dict[str, Any] = {
            "action": "revisiondelete",
            "type": "revision",
            "ids": str(revid),
            "reason": "test revision deletion",
            "token": self.csrf,
            "suppress": "yes" if suppress else "nochange",
        }
        if hide:
            params["hide"] = hide
        if unhide:
            params["show"] = unhide
        answer = self.post(**params)["revisiondelete"]
        if answer.get("status") != "Success":
            raise ApiError(f"revision deletion of {revid}: {answer}")


@contextmanager
def run_wiki(root: Path) -> Iterator[Wiki]:
    """Install a fresh wiki under `root` and serve it until the block ends."""
    ensure_installed()
    port = _free_port()
    (root / "data").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "cache").mkdir()
    env = {**os.environ, "MW_CONFIG_FILE": str(root / "LocalSettings.php")}
    _run(
        [
            "php",
            str(MEDIAWIKI / "maintenance" / "install.php"),
            "--dbtype=sqlite",
            f"--dbpath={root / 'data'}",
            "--dbname=wiki",
            f"--server=http://127.0.0.1:{port}",
            "--scriptpath=",
            "--lang=en",
            f"--pass={PASSWORDS[ADMIN]}",
            f"--confpath={root}",
            SITENAME,
            ADMIN,
        ],
        env,
        "maintenance/install.php",
    )
    with (root / "LocalSettings.php").open("a", encoding="utf-8") as settings:
        settings.write(EXTRA_SETTINGS.format(root=root))
    for name in ("Alice", "Bob", "Carol"):
        _run(
            [
                "php",
                str(MEDIAWIKI / "maintenance" / "createAndPromote.php"),
                name,
                PASSWORDS[name],
            ],
            env,
            f"createAndPromote.php {name}",
        )
    (root / "router.php").write_text(
        ROUTER.format(root=root, mediawiki=MEDIAWIKI), encoding="utf-8"
    )
    log = (root / "php-server.log").open("wb")
    process = subprocess.Popen(
        [
            "php",
            "-d",
            "opcache.enable_cli=1",  # MediaWiki boots on every request: cache its bytecode
            "-S",
            f"127.0.0.1:{port}",
            "-t",
            str(MEDIAWIKI),
            str(root / "router.php"),
        ],
        env={**env, "PHP_CLI_SERVER_WORKERS": "2"},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wiki = Wiki(root=root, port=port, process=process)
    try:
        _wait_ready(wiki)
        yield wiki
    finally:
        wiki.close()
        log.close()


def _wait_ready(wiki: Wiki, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if wiki.process is not None and wiki.process.poll() is not None:
            raise WikiUnavailable(
                f"php -S exited: {(wiki.root / 'php-server.log').read_text(errors='replace')}"
            )
        try:
            response = httpx.get(
                wiki.api_url,
                params={"action": "query", "meta": "siteinfo", "format": "json"},
                timeout=5.0,
            )
            if response.status_code == 200 and "query" in response.json():
                return
            last = f"HTTP {response.status_code}"
        except (httpx.HTTPError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise WikiUnavailable(f"the wiki did not answer within {timeout:.0f} s: {last}")
