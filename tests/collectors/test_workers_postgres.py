"""Three `postvault worker` processes share a few hundred due posts on PostgreSQL; one is
killed with SIGKILL mid-run. Every post is captured, no poll twice, the dead worker's claims
are taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.accounts import service as accounts_service
from app.audit.service import Actor
from app.auth import service as auth_service
from app.collectors.models import CaptureAttempt
from app.config import Settings
from app.db import Database
from app.posts import service as posts_service
from app.posts.models import CapturedVersion, FlaggedPost
from tests.conftest import is_postgres
from tests.platforms.mastodon_like import mastodon_instance

POSTS = 240

pytestmark = pytest.mark.skipif(
    not is_postgres(),
    reason="several worker processes need PostgreSQL (SKIP LOCKED); .ci/run runs this lane",
)


def test_three_workers_one_killed(db: Database, settings: Settings, tmp_path: Path) -> None:
    with mastodon_instance() as instance:
        instance.latency = 0.02  # slow enough that the kill lands mid-run
        with db.session() as session:
            user = auth_service.create_user(
                session,
                email="w@city.example",
                name="W",
                role="employee",
                actor=Actor.system("tests"),
            )
            accounts_service.register_account(
                session, owner=user, platform="mastodon", handle=f"parks@{instance.netloc}"
            )
            for i in range(POSTS):
                status_id = str(700000 + i)
                instance.add(status_id, f"<p>Post number {i} about the budget hearing</p>")
                posts_service.flag_post(
                    session, user=user, url=instance.post_url(status_id), note=None
                )

        env = {
            **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
            "POSTVAULT_DATABASE_URL": settings.database_url,
            "POSTVAULT_ARCHIVE_DIR": str(tmp_path / "archive"),
            "POSTVAULT_FETCH_ALLOW_HOSTS": instance.netloc,
            "POSTVAULT_MASTODON_PLAIN_HTTP_INSTANCES": instance.netloc,
            "POSTVAULT_CAPTURE_INTERVAL_SECONDS": "1",
            "POSTVAULT_CAPTURE_BATCH_SIZE": "5",
            "POSTVAULT_CAPTURE_LEASE_SECONDS": "4",
        }
        logs = [(tmp_path / f"worker{i}.log").open("w") for i in range(3)]
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker"],
                env={**env, "POSTVAULT_WORKER_ID": f"worker-{i}"},
                stdout=logs[i],
                stderr=subprocess.STDOUT,
            )
            for i in range(3)
        ]
        try:
            victim_claims: set[int] = set()
            deadline = time.monotonic() + 60
            # Once the victim has captured some posts, freeze it (so its claims cannot change
            # while we read them), note what it holds, and kill it.
            while time.monotonic() < deadline:
                with db.session() as session:
                    done_by_victim = (
                        session.scalar(
                            select(func.count())
                            .select_from(CaptureAttempt)
                            .where(
                                CaptureAttempt.worker == "worker-0",
                                CaptureAttempt.finished_at.is_not(None),
                            )
                        )
                        or 0
                    )
                if done_by_victim >= 5:
                    os.kill(workers[0].pid, signal.SIGSTOP)
                    with db.session() as session:
                        claims = set(
                            session.scalars(
                                select(FlaggedPost.id).where(FlaggedPost.lease_owner == "worker-0")
                            )
                        )
                    if claims:
                        os.kill(workers[0].pid, signal.SIGKILL)
                        workers[0].wait(timeout=10)
                        victim_claims = claims
                        break
                    os.kill(workers[0].pid, signal.SIGCONT)
                time.sleep(0.05)
            assert victim_claims, "worker-0 never held a claim to kill it with"

            # A guard against a hang, not a speed target: a loaded machine is slower.
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                with db.session() as session:
                    captured = (
                        session.scalar(select(func.count(func.distinct(CapturedVersion.post_id))))
                        or 0
                    )
                if captured == POSTS:
                    break
                assert all(w.poll() is None for w in workers[1:]), "a surviving worker exited"
                time.sleep(0.2)
        finally:
            if workers and workers[0].poll() is None:
                # The test stopped before the kill: worker-0 must not go on capturing into the
                # next test's database (it may be stopped with SIGSTOP).
                os.kill(workers[0].pid, signal.SIGCONT)
                workers[0].kill()
                workers[0].wait(timeout=10)
            for w in workers[1:]:
                w.send_signal(signal.SIGTERM)
            for w in workers[1:]:
                try:
                    w.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    w.kill()
            for log in logs:
                log.close()

    logs_text = "\n".join((tmp_path / f"worker{i}.log").read_text() for i in range(3))
    with db.session() as session:
        versions_per_post = dict(
            session.execute(
                select(CapturedVersion.post_id, func.count()).group_by(CapturedVersion.post_id)
            ).all()
        )
        assert len(versions_per_post) == POSTS, logs_text[-3000:]
        assert set(versions_per_post.values()) == {1}, "a post was captured twice for one poll"
        first_polls = session.execute(
            select(CaptureAttempt.post_id, func.count())
            .where(CaptureAttempt.poll_slot == "scheduled:0")
            .group_by(CaptureAttempt.post_id)
        ).all()
        assert len(first_polls) == POSTS
        assert {n for _, n in first_polls} == {1}
        taken_over = session.execute(
            select(FlaggedPost.id).where(
                FlaggedPost.id.in_(victim_claims), FlaggedPost.polls_done >= 1
            )
        ).all()
        assert len(taken_over) == len(victim_claims), (
            "the killed worker's claims were not taken over"
        )
        finishers = set(
            session.scalars(
                select(CaptureAttempt.worker).where(CaptureAttempt.post_id.in_(victim_claims))
            )
        )
        assert finishers <= {"worker-1", "worker-2"}
        workers_seen = set(session.scalars(select(CaptureAttempt.worker).distinct()))
        assert {"worker-1", "worker-2"} <= workers_seen
