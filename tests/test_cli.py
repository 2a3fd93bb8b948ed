"""The `postvault` command: settings errors in one line, users and tokens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        check=False,
    )


def test_wrong_setting_stops_with_one_line(tmp_path: Path) -> None:
    for name, value in [
        ("POSTVAULT_PORT", "eighty"),
        ("POSTVAULT_DATABASE_URL", "mysql://x"),
        ("POSTVAULT_STORAGE_BACKEND", "ftp"),
    ]:
        result = run(["migrate"], {name: value}, tmp_path)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert name in lines[0]


@pytest.mark.usefixtures("db")
def test_users_create_and_token(tmp_path: Path, settings: Settings) -> None:
    env = {
        "POSTVAULT_DATABASE_URL": settings.database_url,
        "POSTVAULT_ARCHIVE_DIR": str(tmp_path / "a"),
    }
    created = run(
        [
            "users",
            "create",
            "--email",
            "Officer@City.example",
            "--name",
            "Olive",
            "--role",
            "records_officer",
        ],
        env,
        tmp_path,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1].split()[-1]
    assert token.startswith("pv_")
    again = run(
        ["users", "create", "--email", "officer@city.example", "--name", "Olive"], env, tmp_path
    )
    assert again.returncode == 2
    assert "already exists" in again.stderr
    second = run(["users", "token", "officer@city.example"], env, tmp_path)
    assert second.returncode == 0
    token2 = second.stdout.strip().split()[-1]
    assert token2 != token
    unknown = run(["users", "token", "nobody@city.example"], env, tmp_path)
    assert unknown.returncode == 2
    assert "no user with email nobody@city.example" in unknown.stderr
    bad_role = run(
        ["users", "create", "--email", "x@city.example", "--name", "X", "--role", "mayor"],
        env,
        tmp_path,
    )
    assert bad_role.returncode == 2
    assert "mayor" in bad_role.stderr
