#!/usr/bin/env python3
"""End-to-end check of the local atproto dev network (needs httpx).

Starts ./run.sh (or uses an already running network if ATPROTO_PDS_URL and
ATPROTO_PLC_URL[/ATPROTO_APPVIEW_URL] are set), exercises the PDS/PLC/AppView
XRPC endpoints PostVault relies on, prints a summary and writes every observed
response to OUT (default: ./verify-output.json, git-ignored).

    /work/venv/bin/python verify.py              # PDS + PLC only
    ATPROTO_APPVIEW=1 /work/venv/bin/python verify.py   # + AppView
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
OUT = Path(os.environ.get("OUT", HERE / "verify-output.json"))
observed: dict[str, dict] = {}
failures: list[str] = []


def record(name: str, r: httpx.Response) -> httpx.Response:
    try:
        body = r.json()
    except Exception:
        body = f"<{len(r.content)} bytes {r.headers.get('content-type')}>"
    observed[name] = {
        "request": f"{r.request.method} {r.request.url}",
        "status": r.status_code,
        "content-type": r.headers.get("content-type"),
        "body": body,
    }
    return r


def check(cond: bool, msg: str) -> None:
    print(("ok   " if cond else "FAIL ") + msg, flush=True)
    if not cond:
        failures.append(msg)


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"\x00\xff\x00\x00" * 1  # one red pixel, filter byte 0
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw[:4]))
        + chunk(b"IEND", b"")
    )


def start_network():
    if os.environ.get("ATPROTO_PDS_URL"):
        return None, {
            "pds": os.environ["ATPROTO_PDS_URL"],
            "plc": os.environ["ATPROTO_PLC_URL"],
            "appview": os.environ.get("ATPROTO_APPVIEW_URL"),
        }
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [str(HERE / "run.sh")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"network did not start (exit {proc.wait()})")
    info = json.loads(line)
    print(f"network up after {time.monotonic() - t0:.1f}s (wall, incl. run.sh): {line.strip()}")
    return proc, info


def main() -> int:
    proc, info = start_network()
    pds, plc, appview = info["pds"], info["plc"], info.get("appview")
    c = httpx.Client(timeout=30)
    x = lambda nsid: f"{pds}/xrpc/{nsid}"  # noqa: E731
    try:
        # --- accounts -------------------------------------------------------
        suffix = str(int(time.time()))[-5:]
        accts = {}
        for name in ("alice", "bob", "carol"):
            handle = f"{name}{suffix}.test"
            r = record(f"createAccount_{name}", c.post(x("com.atproto.server.createAccount"), json={
                "handle": handle, "email": f"{name}{suffix}@example.test", "password": "hunter22"}))
            check(r.status_code == 200, f"createAccount {handle} -> {r.status_code}")
            accts[name] = r.json()
        r = record("createSession", c.post(x("com.atproto.server.createSession"), json={
            "identifier": accts["alice"]["handle"], "password": "hunter22"}))
        check(r.status_code == 200 and r.json()["did"] == accts["alice"]["did"], "createSession alice")
        alice = {"did": r.json()["did"], "h": {"Authorization": f"Bearer {r.json()['accessJwt']}"}}
        bob = {"did": accts["bob"]["did"], "h": {"Authorization": f"Bearer {accts['bob']['accessJwt']}"}}
        carol = {"did": accts["carol"]["did"], "h": {"Authorization": f"Bearer {accts['carol']['accessJwt']}"}}

        # --- create / get / edit ---------------------------------------------
        now = "2026-01-15T17:00:00.000Z"
        r = record("createRecord", c.post(x("com.atproto.repo.createRecord"), headers=alice["h"], json={
            "repo": alice["did"], "collection": "app.bsky.feed.post",
            "record": {"$type": "app.bsky.feed.post", "text": "Council meeting moved to 7pm. #publicrecord",
                       "langs": ["en"], "createdAt": now}}))
        check(r.status_code == 200, "createRecord")
        post = r.json()
        rkey = post["uri"].rsplit("/", 1)[1]
        q = {"repo": alice["did"], "collection": "app.bsky.feed.post", "rkey": rkey}
        r = record("getRecord_v1", c.get(x("com.atproto.repo.getRecord"), params=q))
        cid1 = r.json().get("cid")
        check(r.status_code == 200 and cid1 == post["cid"], f"getRecord v1 cid={cid1}")
        r = record("putRecord", c.post(x("com.atproto.repo.putRecord"), headers=alice["h"], json={
            **q, "record": {"$type": "app.bsky.feed.post", "text": "Council meeting moved to 8pm (corrected). #publicrecord",
                            "langs": ["en"], "createdAt": now}}))
        check(r.status_code == 200, "putRecord")
        r = record("getRecord_v2", c.get(x("com.atproto.repo.getRecord"), params=q))
        cid2 = r.json().get("cid")
        check(r.status_code == 200 and cid2 != cid1 and "8pm" in r.json()["value"]["text"],
              f"getRecord after edit: new cid={cid2}")
        r = record("getRecord_old_cid", c.get(x("com.atproto.repo.getRecord"), params={**q, "cid": cid1}))
        check(r.status_code == 400, f"getRecord with old cid -> {r.status_code} {r.json().get('error')}")

        # --- blobs -------------------------------------------------------------
        png = tiny_png()
        r = record("uploadBlob", c.post(x("com.atproto.repo.uploadBlob"), content=png,
                                         headers={**alice["h"], "Content-Type": "image/png"}))
        check(r.status_code == 200, "uploadBlob")
        blob = r.json()["blob"]
        r = record("createRecord_image", c.post(x("com.atproto.repo.createRecord"), headers=alice["h"], json={
            "repo": alice["did"], "collection": "app.bsky.feed.post",
            "record": {"$type": "app.bsky.feed.post", "text": "Photo of the agenda", "createdAt": now,
                       "embed": {"$type": "app.bsky.embed.images",
                                 "images": [{"alt": "agenda", "image": blob,
                                             "aspectRatio": {"width": 1, "height": 1}}]}}}))
        check(r.status_code == 200, "createRecord with image embed")
        img_post = r.json()
        r = c.get(x("com.atproto.sync.getBlob"), params={"did": alice["did"], "cid": blob["ref"]["$link"]})
        observed["getBlob"] = {"request": str(r.request.url), "status": r.status_code,
                               "content-type": r.headers.get("content-type"), "len": len(r.content)}
        check(r.status_code == 200 and r.content == png, "sync.getBlob returns the uploaded bytes")

        # --- identity ---------------------------------------------------------
        r = record("resolveHandle", c.get(x("com.atproto.identity.resolveHandle"),
                                          params={"handle": accts["alice"]["handle"]}))
        check(r.status_code == 200 and r.json()["did"] == alice["did"], "resolveHandle")
        r = record("plc_did_doc", c.get(f"{plc}/{alice['did']}"))
        svc = [s for s in r.json().get("service", []) if s["id"] == "#atproto_pds"]
        check(r.status_code == 200 and svc and svc[0]["serviceEndpoint"] == pds,
              f"PLC DID doc #atproto_pds endpoint = {svc and svc[0]['serviceEndpoint']} (expect {pds})")

        # --- AppView ------------------------------------------------------------
        if appview:
            r = record("createRecord_reply", c.post(x("com.atproto.repo.createRecord"), headers=bob["h"], json={
                "repo": bob["did"], "collection": "app.bsky.feed.post",
                "record": {"$type": "app.bsky.feed.post", "text": "Thanks for the update", "createdAt": now,
                           "reply": {"root": {"uri": post["uri"], "cid": cid2},
                                     "parent": {"uri": post["uri"], "cid": cid2}}}}))
            check(r.status_code == 200, "bob replies to alice")
            reply = r.json()
            t0 = time.monotonic()
            seen = None
            while time.monotonic() - t0 < 30:
                r = c.get(f"{appview}/xrpc/app.bsky.feed.getPostThread", params={"uri": post["uri"], "depth": 1})
                if r.status_code == 200 and any(
                        rep.get("post", {}).get("uri") == reply["uri"] for rep in r.json()["thread"].get("replies", [])):
                    seen = time.monotonic() - t0
                    break
                time.sleep(0.05)
            record("appview_getPostThread", r)
            check(seen is not None, f"AppView getPostThread shows the reply (indexed after {seen and round(seen, 3)}s)")
            if seen is not None:
                th = r.json()["thread"]
                check(th["post"]["cid"] == cid2, "AppView thread root has the edited cid")
            r = record("pds_proxy_getPostThread", c.get(x("app.bsky.feed.getPostThread"), headers=alice["h"],
                                                      params={"uri": post["uri"]}))
            check(r.status_code == 200, f"getPostThread via PDS proxy (authenticated) -> {r.status_code}")
            r = record("appview_getPostThread_image", c.get(f"{appview}/xrpc/app.bsky.feed.getPostThread",
                                                            params={"uri": img_post["uri"], "depth": 0}))
            check(r.status_code == 200 and "embed" in r.json()["thread"]["post"], "AppView post with image embed")
            thumb = r.json()["thread"]["post"]["embed"]["images"][0]["thumb"]
            r = c.get(thumb)
            observed["appview_thumb"] = {"request": thumb, "status": r.status_code,
                                         "content-type": r.headers.get("content-type"), "len": len(r.content)}
            check(r.status_code == 200 and r.headers.get("content-type", "").startswith("image/"),
                  f"AppView thumbnail URL {thumb} -> {r.status_code} {r.headers.get('content-type')}")
        else:
            r = record("pds_getPostThread_no_appview", c.get(x("app.bsky.feed.getPostThread"), headers=alice["h"],
                                                            params={"uri": post["uri"]}))
            print(f"info getPostThread on PDS without AppView -> {r.status_code} {r.text[:120]}")

        # --- delete -----------------------------------------------------------
        r = record("deleteRecord", c.post(x("com.atproto.repo.deleteRecord"), headers=alice["h"], json=q))
        check(r.status_code == 200, "deleteRecord")
        r = record("getRecord_after_delete", c.get(x("com.atproto.repo.getRecord"), params=q))
        check(r.status_code == 400 and r.json().get("error") == "RecordNotFound",
              f"getRecord after delete -> {r.status_code} {r.json()}")
        if appview:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 30:
                r = c.get(f"{appview}/xrpc/app.bsky.feed.getPostThread", params={"uri": post["uri"], "depth": 1})
                if r.status_code != 200:
                    break
                time.sleep(0.05)
            record("appview_getPostThread_after_delete", r)
            check(r.status_code == 400, f"AppView getPostThread after delete -> {r.status_code} {r.json()} "
                                        f"after {time.monotonic() - t0:.3f}s")
            r = record("appview_getPosts_after_delete", c.get(
                f"{appview}/xrpc/app.bsky.feed.getPosts", params={"uris": post["uri"]}))
            check(r.status_code == 200 and r.json().get("posts") == [], f"AppView getPosts after delete -> {r.text}")
            r = record("appview_getPostThread_reply_to_deleted", c.get(
                f"{appview}/xrpc/app.bsky.feed.getPostThread", params={"uri": reply["uri"], "depth": 1}))
            check(r.status_code == 200, f"AppView thread of reply to deleted post -> parent "
                                        f"{r.json().get('thread', {}).get('parent', {}).get('$type')}")

        # --- deactivation -----------------------------------------------------
        r = record("carol_createRecord", c.post(x("com.atproto.repo.createRecord"), headers=carol["h"], json={
            "repo": carol["did"], "collection": "app.bsky.feed.post",
            "record": {"$type": "app.bsky.feed.post", "text": "Leaving soon", "createdAt": now}}))
        cpost = r.json()
        cq = {"repo": carol["did"], "collection": "app.bsky.feed.post", "rkey": cpost["uri"].rsplit("/", 1)[1]}
        if appview:
            time.sleep(0.5)
        r = record("deactivateAccount", c.post(x("com.atproto.server.deactivateAccount"), headers=carol["h"], json={}))
        check(r.status_code == 200, f"deactivateAccount -> {r.status_code}")
        r = record("deactivated_getRecord", c.get(x("com.atproto.repo.getRecord"), params=cq))
        print(f"info deactivated getRecord -> {r.status_code} {r.text}")
        r = record("deactivated_getRecord_by_handle", c.get(x("com.atproto.repo.getRecord"),
                                                            params={**cq, "repo": accts["carol"]["handle"]}))
        print(f"info deactivated getRecord (handle) -> {r.status_code} {r.text}")
        r = record("deactivated_describeRepo", c.get(x("com.atproto.repo.describeRepo"), params={"repo": carol["did"]}))
        print(f"info deactivated describeRepo -> {r.status_code} {r.text[:200]}")
        r = record("deactivated_listRecords", c.get(x("com.atproto.repo.listRecords"),
                                                    params={"repo": carol["did"], "collection": "app.bsky.feed.post"}))
        print(f"info deactivated listRecords -> {r.status_code} {r.text[:200]}")
        r = record("deactivated_getRepoStatus", c.get(x("com.atproto.sync.getRepoStatus"), params={"did": carol["did"]}))
        print(f"info deactivated sync.getRepoStatus -> {r.status_code} {r.text}")
        r = record("deactivated_resolveHandle", c.get(x("com.atproto.identity.resolveHandle"),
                                                      params={"handle": accts["carol"]["handle"]}))
        print(f"info deactivated resolveHandle -> {r.status_code} {r.text}")
        r = record("deactivated_plc", c.get(f"{plc}/{carol['did']}"))
        print(f"info deactivated PLC doc -> {r.status_code} (service kept: {bool(r.json().get('service'))})")
        time.sleep(1.0)
        r = record("deactivated_getRecord_after_1s", c.get(x("com.atproto.repo.getRecord"), params=cq))
        print(f"info deactivated getRecord, 1s later -> {r.status_code} {r.text}")
        if appview:
            r = record("deactivated_appview_getPostThread", c.get(
                f"{appview}/xrpc/app.bsky.feed.getPostThread", params={"uri": cpost["uri"]}))
            print(f"info deactivated AppView getPostThread -> {r.status_code} {r.text[:300]}")
            r = record("deactivated_appview_getRecord", c.get(
                f"{appview}/xrpc/com.atproto.repo.getRecord", params=cq))
            print(f"info deactivated AppView com.atproto.repo.getRecord -> {r.status_code} {r.text[:300]}")
            r = record("deactivated_appview_getProfile", c.get(
                f"{appview}/xrpc/app.bsky.actor.getProfile", params={"actor": carol["did"]}))
            print(f"info deactivated AppView getProfile -> {r.status_code} {r.text[:300]}")
        r = record("activateAccount", c.post(x("com.atproto.server.activateAccount"), headers=carol["h"]))
        check(r.status_code == 200, f"activateAccount -> {r.status_code}")
        r = record("reactivated_getRecord", c.get(x("com.atproto.repo.getRecord"), params=cq))
        check(r.status_code == 200, f"getRecord after reactivation -> {r.status_code}")

        # --- admin takedown (com.atproto.admin, Basic admin:admin-pass) -------
        admin = ("admin", "admin-pass")
        r = record("admin_takedown", c.post(x("com.atproto.admin.updateSubjectStatus"), auth=admin, json={
            "subject": {"$type": "com.atproto.admin.defs#repoRef", "did": carol["did"]},
            "takedown": {"applied": True, "ref": "postvault-test"}}))
        check(r.status_code == 200, f"admin.updateSubjectStatus takedown -> {r.status_code}")
        r = record("takendown_getRecord", c.get(x("com.atproto.repo.getRecord"), params=cq))
        print(f"info taken-down getRecord -> {r.status_code} {r.text}")
        if appview:
            time.sleep(1.0)
            r = record("takendown_appview_getRecord", c.get(
                f"{appview}/xrpc/com.atproto.repo.getRecord", params=cq))
            print(f"info taken-down AppView com.atproto.repo.getRecord -> {r.status_code} {r.text[:300]}")
            r = record("takendown_appview_getPostThread", c.get(
                f"{appview}/xrpc/app.bsky.feed.getPostThread", params={"uri": cpost["uri"]}))
            print(f"info taken-down AppView getPostThread -> {r.status_code} {r.text[:300]}")
            r = record("takendown_appview_getProfile", c.get(
                f"{appview}/xrpc/app.bsky.actor.getProfile", params={"actor": carol["did"]}))
            print(f"info taken-down AppView getProfile -> {r.status_code} {r.text[:300]}")
        r = record("takendown_getRepoStatus", c.get(x("com.atproto.sync.getRepoStatus"), params={"did": carol["did"]}))
        print(f"info taken-down sync.getRepoStatus -> {r.status_code} {r.text}")

        # --- deleted account -------------------------------------------------
        r = record("bob_createRecord", c.post(x("com.atproto.repo.createRecord"), headers=bob["h"], json={
            "repo": bob["did"], "collection": "app.bsky.feed.post",
            "record": {"$type": "app.bsky.feed.post", "text": "About to delete my account", "createdAt": now}}))
        bq = {"repo": bob["did"], "collection": "app.bsky.feed.post", "rkey": r.json()["uri"].rsplit("/", 1)[1]}
        time.sleep(0.5)
        r = record("bob_requestAccountDelete", c.post(x("com.atproto.server.requestAccountDelete"), headers=bob["h"]))
        r2 = c.post(x("com.atproto.admin.deleteAccount"), auth=admin, json={"did": bob["did"]})
        record("admin_deleteAccount", r2)
        check(r2.status_code == 200, f"admin.deleteAccount bob -> {r2.status_code}")
        r = record("deleted_account_getRecord", c.get(x("com.atproto.repo.getRecord"), params=bq))
        print(f"info deleted-account getRecord -> {r.status_code} {r.text}")
        time.sleep(1.0)
        r = record("deleted_account_getRecord_after_1s", c.get(x("com.atproto.repo.getRecord"), params=bq))
        print(f"info deleted-account getRecord, 1s later -> {r.status_code} {r.text}")
        if appview:
            r = record("deleted_account_appview_getProfile", c.get(
                f"{appview}/xrpc/app.bsky.actor.getProfile", params={"actor": bob["did"]}))
            print(f"info deleted-account AppView getProfile -> {r.status_code} {r.text[:300]}")
        r = record("deleted_account_getRepoStatus", c.get(x("com.atproto.sync.getRepoStatus"), params={"did": bob["did"]}))
        print(f"info deleted-account sync.getRepoStatus -> {r.status_code} {r.text}")
        r = record("deleted_account_resolveHandle", c.get(x("com.atproto.identity.resolveHandle"),
                                                          params={"handle": accts["bob"]["handle"]}))
        print(f"info deleted-account resolveHandle -> {r.status_code} {r.text}")
        r = record("deleted_account_plc", c.get(f"{plc}/{bob['did']}"))
        print(f"info deleted-account PLC doc -> {r.status_code} {r.text[:200]}")
    finally:
        OUT.write_text(json.dumps(observed, indent=2))
        print(f"responses written to {OUT}")
        if proc is not None:
            t0 = time.monotonic()
            proc.stdin.close()  # start.mjs shuts down on stdin EOF
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.terminate()
                rc = proc.wait(timeout=10)
            print(f"network stopped (exit {rc}) in {time.monotonic() - t0:.1f}s")
    print(f"{len(failures)} failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
